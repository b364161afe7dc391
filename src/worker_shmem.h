/*
 * worker_shmem.h
 *		The background worker's shared state: its latch, for waking it when
 *		a transaction that asked for an import commits, and its counters,
 *		shown by imagestream.worker_status.
 */
#ifndef IMAGESTREAM_WORKER_SHMEM_H
#define IMAGESTREAM_WORKER_SHMEM_H

#include "postgres.h"

#include "storage/latch.h"
#include "storage/spin.h"
#include "utils/timestamp.h"

typedef struct WorkerShared
{
	slock_t		mutex;
	pid_t		pid;			/* 0 while no worker runs */
	Latch	   *latch;			/* the worker's PGPROC latch (shared memory) */
	TimestampTz started_at;
	TimestampTz last_cycle_at;
	TimestampTz next_due_at;
	int64		tags_scheduled;
	int64		tags_checked;
	int64		imports;
	int64		failures;
	int64		requests;
	int64		bytes_received;
	int32		in_flight;
	double		due_read_ms;	/* the last cycle's finding of its due work */
} WorkerShared;

/* NULL unless the library was preloaded. */
extern WorkerShared *worker_shared;

/* Counters of checks, added to the shared ones. */
typedef struct CheckCounts
{
	int64		checked;
	int64		imports;
	int64		failures;
} CheckCounts;

/*
 * The worker's setters of its row: each copies the values it is given in
 * under the spinlock, and computes nothing there.  requests, bytes_received
 * and in_flight are the worker's HTTP counters as they stand (http.h).
 */
extern void status_start(pid_t pid, Latch *latch, TimestampTz started_at);
extern void status_clear(void);
extern void status_add(const CheckCounts *add, uint64 requests, uint64 bytes_received,
					   int in_flight);
extern void status_cycle_end(TimestampTz at, int64 scheduled, TimestampTz next_due,
							 double due_read_ms, uint64 requests, uint64 bytes_received,
							 int in_flight);
extern void status_in_flight(int in_flight);

extern void worker_shmem_init_hooks(void);

/* Wakes the worker when the current transaction commits. */
extern void worker_wake_at_commit(void);

#endif
