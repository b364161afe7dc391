/*
 * worker_shmem.h
 *		The background workers' shared state: a slot for each database's
 *		worker (its latch, for waking it when a transaction that asked for an
 *		import commits, and its counters, shown by imagestream.worker_status),
 *		and the launcher's latch with the databases it was asked to look at
 *		(worker_launcher.c).
 */
#ifndef IMAGESTREAM_WORKER_SHMEM_H
#define IMAGESTREAM_WORKER_SHMEM_H

#include "postgres.h"

#include "storage/latch.h"
#include "storage/spin.h"
#include "utils/timestamp.h"

/* One database's worker; every field under WorkerSlots.mutex. */
typedef struct WorkerShared
{
	Oid			database;		/* InvalidOid: a free slot */
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

/* Databases the launcher is asked to look at before its next scan. */
#define LAUNCHER_WANTED 8

typedef struct WorkerSlots
{
	slock_t		mutex;
	Latch	   *launcher_latch; /* NULL while no launcher runs */
	bool		scan_all;		/* look at every database (or wanted overflowed) */
	int			nwanted;
	Oid			wanted[LAUNCHER_WANTED];
	int			nslots;			/* max_worker_processes: no more workers can run */
	WorkerShared slot[FLEXIBLE_ARRAY_MEMBER];
} WorkerSlots;

/* NULL unless the library was preloaded. */
extern WorkerSlots *worker_slots;

/* In a database's worker: its slot, once claimed. */
extern WorkerShared *worker_shared;

/*
 * A database's worker takes the slot of its database (NULL: another worker
 * serves it), and gives it up when the database no longer has the
 * extension; a slot kept after its worker stopped tells the launcher to
 * start it again.
 */
extern WorkerShared *slot_claim(Oid database);
extern void slot_release(void);
extern bool slot_kept(Oid database);
extern void slot_forget(Oid database);
extern pid_t slot_pid(Oid database);

/*
 * Asks the launcher to look at a database (InvalidOid: at every one) now:
 * one whose worker it does not run yet, or that was changed.
 */
extern void launcher_request(Oid database);
extern void launcher_scan_at_commit(void);

/* The launcher's side of it: its latch, and what it was asked. */
extern void launcher_attach(Latch *latch);
extern void launcher_detach(void);
extern int	launcher_take(Oid *wanted, bool *scan_all);

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
