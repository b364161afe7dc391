/*
 * isolate.h
 *		Running one source's work so that an error it raises becomes a
 *		result of that source, not the end of every source's work.
 */
#ifndef IMAGESTREAM_ISOLATE_H
#define IMAGESTREAM_ISOLATE_H

#include "postgres.h"

/*
 * Runs fn(arg).  Returns NULL, or the error it raised (copied into the
 * caller's memory context) once the state it left is cleaned up: in a
 * transaction, fn runs in a subtransaction of its own, rolled back on an
 * error; outside one (the worker's fetches), a transaction fn opened and
 * left in error is aborted.  A cancel request is not caught: it ends the
 * caller's work as it would without this.
 */
extern ErrorData *run_isolated(void (*fn) (void *arg), void *arg);

#endif
