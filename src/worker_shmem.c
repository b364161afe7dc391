/*
 * worker_shmem.c
 *		Shared memory of the background worker, and waking it at commit.
 *
 * A transaction that records work for the worker (a pending tag, an
 * import_now request) marks that it should wake it; the transaction callback
 * sets the worker's latch only once the transaction has committed, so the
 * worker never looks before the work is visible, and a rolled back
 * transaction wakes nobody.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/builtins.h"
#include "fmgr.h"

#include "worker_shmem.h"

WorkerShared *worker_shared = NULL;

static bool wake_at_commit = false;
static bool callback_registered = false;

#if PG_VERSION_NUM >= 150000
static shmem_request_hook_type prev_shmem_request_hook = NULL;
#endif
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

#if PG_VERSION_NUM >= 150000
static void
worker_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(MAXALIGN(sizeof(WorkerShared)));
}
#endif

static void
worker_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	worker_shared = ShmemInitStruct("imagestream worker", sizeof(WorkerShared), &found);
	if (!found)
	{
		memset(worker_shared, 0, sizeof(WorkerShared));
		SpinLockInit(&worker_shared->mutex);
	}
	LWLockRelease(AddinShmemInitLock);
}

void
worker_shmem_init_hooks(void)
{
#if PG_VERSION_NUM >= 150000
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = worker_shmem_request;
#else
	RequestAddinShmemSpace(MAXALIGN(sizeof(WorkerShared)));
#endif
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = worker_shmem_startup;
}

static void
wake_callback(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_COMMIT && wake_at_commit && worker_shared)
	{
		Latch	   *latch;

		SpinLockAcquire(&worker_shared->mutex);
		latch = worker_shared->pid != 0 ? worker_shared->latch : NULL;
		SpinLockRelease(&worker_shared->mutex);
		if (latch)
			SetLatch(latch);
	}
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT ||
		event == XACT_EVENT_PARALLEL_COMMIT || event == XACT_EVENT_PARALLEL_ABORT)
		wake_at_commit = false;
}

void
worker_wake_at_commit(void)
{
	if (worker_shared == NULL)
		return;
	if (!callback_registered)
	{
		RegisterXactCallback(wake_callback, NULL);
		callback_registered = true;
	}
	wake_at_commit = true;
}

/*
 * The worker starts: its row is cleared, then says who it is.  The row is
 * built first, so that the spinlock is held for a copy only.
 */
void
status_start(pid_t pid, Latch *latch, TimestampTz started_at)
{
	WorkerShared fresh;
	const size_t from = offsetof(WorkerShared, pid);

	memset(&fresh, 0, sizeof(fresh));
	fresh.pid = pid;
	fresh.latch = latch;
	fresh.started_at = started_at;
	SpinLockAcquire(&worker_shared->mutex);
	memcpy((char *) worker_shared + from, (char *) &fresh + from, sizeof(WorkerShared) - from);
	SpinLockRelease(&worker_shared->mutex);
}

/* The worker leaves: no row, and nobody sets its latch. */
void
status_clear(void)
{
	SpinLockAcquire(&worker_shared->mutex);
	worker_shared->pid = 0;
	worker_shared->latch = NULL;
	SpinLockRelease(&worker_shared->mutex);
}

/* Checks done: their counts added, the HTTP counters that go with them. */
void
status_add(const CheckCounts *add, uint64 requests, uint64 bytes_received, int in_flight)
{
	Assert(add->checked >= 0 && add->imports >= 0 && add->failures >= 0);
	SpinLockAcquire(&worker_shared->mutex);
	worker_shared->tags_checked += add->checked;
	worker_shared->imports += add->imports;
	worker_shared->failures += add->failures;
	worker_shared->requests = requests;
	worker_shared->bytes_received = bytes_received;
	worker_shared->in_flight = in_flight;
	SpinLockRelease(&worker_shared->mutex);
}

/*
 * A cycle ended at at: the tags it found scheduled, when it is due next, and
 * how long it took to find its due work.
 */
void
status_cycle_end(TimestampTz at, int64 scheduled, TimestampTz next_due, double due_read_ms,
				 uint64 requests, uint64 bytes_received, int in_flight)
{
	SpinLockAcquire(&worker_shared->mutex);
	worker_shared->requests = requests;
	worker_shared->bytes_received = bytes_received;
	worker_shared->in_flight = in_flight;
	worker_shared->last_cycle_at = at;
	worker_shared->tags_scheduled = scheduled;
	worker_shared->next_due_at = next_due;
	worker_shared->due_read_ms = due_read_ms;
	SpinLockRelease(&worker_shared->mutex);
}

/* The requests under way, while the worker waits for them. */
void
status_in_flight(int in_flight)
{
	SpinLockAcquire(&worker_shared->mutex);
	worker_shared->in_flight = in_flight;
	SpinLockRelease(&worker_shared->mutex);
}

/* _wake_worker(): the worker looks for work when this transaction commits. */
PG_FUNCTION_INFO_V1(imagestream_wake_worker);
Datum
imagestream_wake_worker(PG_FUNCTION_ARGS)
{
	worker_wake_at_commit();
	PG_RETURN_VOID();
}

/* _worker_preloaded(): is the library in shared_preload_libraries? */
PG_FUNCTION_INFO_V1(imagestream_worker_preloaded);
Datum
imagestream_worker_preloaded(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(worker_shared != NULL);
}

/*
 * _worker_status(): the worker's row while it runs, none otherwise.  (The
 * row has as many columns as the caller's SQL declares: 0.2.0's, in the
 * upgrade window, has no due_read_time.)
 */
PG_FUNCTION_INFO_V1(imagestream_worker_status);
Datum
imagestream_worker_status(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	WorkerShared copy;
	Datum		values[12];
	bool		nulls[12] = {0};

	InitMaterializedSRF(fcinfo, 0);
	if (worker_shared == NULL)
		PG_RETURN_VOID();
	SpinLockAcquire(&worker_shared->mutex);
	copy = *worker_shared;
	SpinLockRelease(&worker_shared->mutex);
	if (copy.pid == 0)
		PG_RETURN_VOID();
	values[0] = Int32GetDatum(copy.pid);
	values[1] = TimestampTzGetDatum(copy.started_at);
	values[2] = TimestampTzGetDatum(copy.last_cycle_at);
	nulls[2] = copy.last_cycle_at == 0;
	values[3] = Int64GetDatum(copy.tags_scheduled);
	values[4] = Int64GetDatum(copy.tags_checked);
	values[5] = Int64GetDatum(copy.imports);
	values[6] = Int64GetDatum(copy.failures);
	values[7] = Int64GetDatum(copy.requests);
	values[8] = Int64GetDatum(copy.bytes_received);
	values[9] = Int32GetDatum(copy.in_flight);
	values[10] = TimestampTzGetDatum(copy.next_due_at);
	nulls[10] = copy.next_due_at == 0;
	values[11] = Float8GetDatum(copy.due_read_ms);
	nulls[11] = copy.last_cycle_at == 0;
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	PG_RETURN_VOID();
}
