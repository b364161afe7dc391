/*
 * commit_steps.h
 *		Work a transaction leaves to its commit (commit_steps.c), and the
 *		steps that do it.
 */
#ifndef IMAGESTREAM_COMMIT_STEPS_H
#define IMAGESTREAM_COMMIT_STEPS_H

#include "postgres.h"

/* This transaction has work for its commit: have the commit run it. */
extern void commit_steps_arm(void);

/*
 * Each step: whether this transaction left it work, the work (run under the
 * commit lock, after the transaction's own triggers), and forgetting it
 * (at the end of the transaction, however it ends).
 */

/* change_commit.c: number the change log's new rows */
extern bool change_commit_pending(void);
extern void change_commit_run(void);
extern void change_commit_reset(void);

/* grantee_commit.c: the privilege that makes namespace grants count */
extern bool grantee_commit_pending(void);
extern void grantee_commit_run(void);
extern void grantee_commit_reset(void);

#endif
