/*
 * worker_due.h
 *		The tags the background worker watches, and which of them are due:
 *		all read when the worker starts, then only those the due queue names
 *		and those the heap finds due (doc/worker.md, "The due queue").
 */
#ifndef IMAGESTREAM_WORKER_DUE_H
#define IMAGESTREAM_WORKER_DUE_H

#include "worker_schedule.h"

/* The empty schedule, in TopMemoryContext; the first cycle reads all tags. */
extern void due_init(WorkerSchedule *s);

/* When in doubt (a cycle failed): the next cycle reads all tags again. */
extern void due_reload(WorkerSchedule *s);

/*
 * Reads what changed, or all importable tags, in a transaction of its own;
 * *due is set to the tags due now (in loop_ctx), in the fair order, and
 * their number returned; *next_due is when the next of the others is, and
 * *scheduled how many are scheduled.  No tags when the extension is not
 * installed.
 */
extern int	read_due(WorkerSchedule *s, MemoryContext loop_ctx, TimestampTz now,
					 int64 *scheduled, TimestampTz *next_due, DueTag ***due);

#endif
