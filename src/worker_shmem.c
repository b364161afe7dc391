/*
 * worker_shmem.c
 *		Shared memory of the background workers, and waking one at commit.
 *
 * A transaction that records work for the worker (a pending tag, an
 * import_now request) marks that it should wake it; the transaction callback
 * sets the latch of its database's worker only once the transaction has
 * committed, so the worker never looks before the work is visible, and a
 * rolled back transaction wakes nobody.  A database with no worker yet (the
 * extension was just created in it) asks the launcher for one instead.
 *
 * One spinlock guards it all: it is taken for a copy of a few hundred bytes
 * at most, a few times per chunk of imports.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "commands/dbcommands.h"
#include "utils/builtins.h"
#include "fmgr.h"

#include "worker_shmem.h"

WorkerSlots *worker_slots = NULL;
WorkerShared *worker_shared = NULL;

static bool wake_at_commit = false;
static bool scan_at_commit = false;
static bool callback_registered = false;

/* a slot for every background worker the server can run */
static Size
slots_size(void)
{
	return MAXALIGN(add_size(offsetof(WorkerSlots, slot),
							 mul_size(max_worker_processes, sizeof(WorkerShared))));
}

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
	RequestAddinShmemSpace(slots_size());
}
#endif

static void
worker_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	worker_slots = ShmemInitStruct("imagestream workers", slots_size(), &found);
	if (!found)
	{
		memset(worker_slots, 0, slots_size());
		SpinLockInit(&worker_slots->mutex);
		worker_slots->nslots = max_worker_processes;
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
	RequestAddinShmemSpace(slots_size());
#endif
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = worker_shmem_startup;
}

static void
wake_callback(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_COMMIT && wake_at_commit && worker_slots)
	{
		Latch	   *latch = NULL;

		SpinLockAcquire(&worker_slots->mutex);
		for (int i = 0; i < worker_slots->nslots; i++)
			if (worker_slots->slot[i].database == MyDatabaseId && worker_slots->slot[i].pid != 0)
				latch = worker_slots->slot[i].latch;
		SpinLockRelease(&worker_slots->mutex);
		if (latch)
			SetLatch(latch);
		else
			launcher_request(MyDatabaseId);
	}
	if (event == XACT_EVENT_COMMIT && scan_at_commit && worker_slots)
		launcher_request(InvalidOid);
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT ||
		event == XACT_EVENT_PARALLEL_COMMIT || event == XACT_EVENT_PARALLEL_ABORT)
		wake_at_commit = scan_at_commit = false;
}

static void
register_callback(void)
{
	if (!callback_registered)
	{
		RegisterXactCallback(wake_callback, NULL);
		callback_registered = true;
	}
}

void
worker_wake_at_commit(void)
{
	if (worker_slots == NULL)
		return;
	register_callback();
	wake_at_commit = true;
}

/*
 * The launcher looks at every database when this transaction commits (a
 * database created, dropped or renamed is in pg_database only then).
 */
void
launcher_scan_at_commit(void)
{
	if (worker_slots == NULL)
		return;
	register_callback();
	scan_at_commit = true;
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
	SpinLockAcquire(&worker_slots->mutex);
	memcpy((char *) worker_shared + from, (char *) &fresh + from, sizeof(WorkerShared) - from);
	SpinLockRelease(&worker_slots->mutex);
}

/* The worker leaves: no row, and nobody sets its latch. */
void
status_clear(void)
{
	if (worker_shared == NULL)
		return;					/* its slot was released */
	SpinLockAcquire(&worker_slots->mutex);
	worker_shared->pid = 0;
	worker_shared->latch = NULL;
	SpinLockRelease(&worker_slots->mutex);
}

/* Checks done: their counts added, the HTTP counters that go with them. */
void
status_add(const CheckCounts *add, uint64 requests, uint64 bytes_received, int in_flight)
{
	Assert(add->checked >= 0 && add->imports >= 0 && add->failures >= 0);
	SpinLockAcquire(&worker_slots->mutex);
	worker_shared->tags_checked += add->checked;
	worker_shared->imports += add->imports;
	worker_shared->failures += add->failures;
	worker_shared->requests = requests;
	worker_shared->bytes_received = bytes_received;
	worker_shared->in_flight = in_flight;
	SpinLockRelease(&worker_slots->mutex);
}

/*
 * A cycle ended at at: the tags it found scheduled, when it is due next, and
 * how long it took to find its due work.
 */
void
status_cycle_end(TimestampTz at, int64 scheduled, TimestampTz next_due, double due_read_ms,
				 uint64 requests, uint64 bytes_received, int in_flight)
{
	SpinLockAcquire(&worker_slots->mutex);
	worker_shared->requests = requests;
	worker_shared->bytes_received = bytes_received;
	worker_shared->in_flight = in_flight;
	worker_shared->last_cycle_at = at;
	worker_shared->tags_scheduled = scheduled;
	worker_shared->next_due_at = next_due;
	worker_shared->due_read_ms = due_read_ms;
	SpinLockRelease(&worker_slots->mutex);
}

/* The requests under way, while the worker waits for them. */
void
status_in_flight(int in_flight)
{
	SpinLockAcquire(&worker_slots->mutex);
	worker_shared->in_flight = in_flight;
	SpinLockRelease(&worker_slots->mutex);
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
	PG_RETURN_BOOL(worker_slots != NULL);
}

/*
 * _worker_status(): a row for each database's worker that runs.  (The row
 * has as many columns as the caller's SQL declares: 0.2.0's, in the upgrade
 * window, has no due_read_time nor database.)
 */
PG_FUNCTION_INFO_V1(imagestream_worker_status);
Datum
imagestream_worker_status(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	WorkerShared *copy;
	int			n;
	Datum		values[13];
	bool		nulls[13];

	InitMaterializedSRF(fcinfo, 0);
	if (worker_slots == NULL)
		PG_RETURN_VOID();
	n = worker_slots->nslots;
	copy = palloc(sizeof(WorkerShared) * n);
	SpinLockAcquire(&worker_slots->mutex);
	memcpy(copy, worker_slots->slot, sizeof(WorkerShared) * n);
	SpinLockRelease(&worker_slots->mutex);
	for (int i = 0; i < n; i++)
	{
		char	   *database;

		if (copy[i].pid == 0)
			continue;
		memset(nulls, 0, sizeof(nulls));
		values[0] = Int32GetDatum(copy[i].pid);
		values[1] = TimestampTzGetDatum(copy[i].started_at);
		values[2] = TimestampTzGetDatum(copy[i].last_cycle_at);
		nulls[2] = copy[i].last_cycle_at == 0;
		values[3] = Int64GetDatum(copy[i].tags_scheduled);
		values[4] = Int64GetDatum(copy[i].tags_checked);
		values[5] = Int64GetDatum(copy[i].imports);
		values[6] = Int64GetDatum(copy[i].failures);
		values[7] = Int64GetDatum(copy[i].requests);
		values[8] = Int64GetDatum(copy[i].bytes_received);
		values[9] = Int32GetDatum(copy[i].in_flight);
		values[10] = TimestampTzGetDatum(copy[i].next_due_at);
		nulls[10] = copy[i].next_due_at == 0;
		values[11] = Float8GetDatum(copy[i].due_read_ms);
		nulls[11] = copy[i].last_cycle_at == 0;
		/* (a database dropped a moment ago has no name) */
		database = get_database_name(copy[i].database);
		values[12] = database ? CStringGetTextDatum(database) : (Datum) 0;
		nulls[12] = database == NULL;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	PG_RETURN_VOID();
}

/*
 * The slot of database: its own if it has one (a worker that ran before),
 * else a free one.  NULL when a live worker already has it.
 */
WorkerShared *
slot_claim(Oid database)
{
	WorkerShared *mine = NULL;

	SpinLockAcquire(&worker_slots->mutex);
	for (int i = 0; i < worker_slots->nslots; i++)
	{
		WorkerShared *s = &worker_slots->slot[i];

		if (s->database == database)
		{
			mine = s->pid == 0 ? s : NULL;
			break;
		}
		if (s->database == InvalidOid && mine == NULL)
			mine = s;
	}
	if (mine)
		mine->database = database;
	SpinLockRelease(&worker_slots->mutex);
	return mine;
}

/* The database no longer has the extension: its worker is not wanted. */
void
slot_release(void)
{
	SpinLockAcquire(&worker_slots->mutex);
	worker_shared->database = InvalidOid;
	worker_shared->pid = 0;
	worker_shared->latch = NULL;
	SpinLockRelease(&worker_slots->mutex);
	worker_shared = NULL;
}

/* Has database a slot (its worker ran, and may have stopped)? */
bool
slot_kept(Oid database)
{
	bool		kept = false;

	SpinLockAcquire(&worker_slots->mutex);
	for (int i = 0; i < worker_slots->nslots; i++)
		kept |= worker_slots->slot[i].database == database;
	SpinLockRelease(&worker_slots->mutex);
	return kept;
}

/* The database is gone: its slot is free. */
void
slot_forget(Oid database)
{
	SpinLockAcquire(&worker_slots->mutex);
	for (int i = 0; i < worker_slots->nslots; i++)
		if (worker_slots->slot[i].database == database && worker_slots->slot[i].pid == 0)
			worker_slots->slot[i].database = InvalidOid;
	SpinLockRelease(&worker_slots->mutex);
}

/* The pid of database's worker, 0 if none runs. */
pid_t
slot_pid(Oid database)
{
	pid_t		pid = 0;

	SpinLockAcquire(&worker_slots->mutex);
	for (int i = 0; i < worker_slots->nslots; i++)
		if (worker_slots->slot[i].database == database)
			pid = worker_slots->slot[i].pid;
	SpinLockRelease(&worker_slots->mutex);
	return pid;
}

void
launcher_request(Oid database)
{
	Latch	   *latch;
	bool		asked = false;

	if (worker_slots == NULL)
		return;
	SpinLockAcquire(&worker_slots->mutex);
	for (int i = 0; i < worker_slots->nwanted; i++)
		asked |= worker_slots->wanted[i] == database;
	if (!OidIsValid(database) || (!asked && worker_slots->nwanted == LAUNCHER_WANTED))
		worker_slots->scan_all = true;
	else if (!asked)
		worker_slots->wanted[worker_slots->nwanted++] = database;
	latch = worker_slots->launcher_latch;
	SpinLockRelease(&worker_slots->mutex);
	if (latch)
		SetLatch(latch);
}

/* The launcher starts: it looks at every database first. */
void
launcher_attach(Latch *latch)
{
	SpinLockAcquire(&worker_slots->mutex);
	worker_slots->launcher_latch = latch;
	worker_slots->scan_all = true;
	worker_slots->nwanted = 0;
	SpinLockRelease(&worker_slots->mutex);
}

void
launcher_detach(void)
{
	SpinLockAcquire(&worker_slots->mutex);
	worker_slots->launcher_latch = NULL;
	SpinLockRelease(&worker_slots->mutex);
}

/* What the launcher was asked since it last looked; returns how many wanted. */
int
launcher_take(Oid *wanted, bool *scan_all)
{
	int			n;

	SpinLockAcquire(&worker_slots->mutex);
	n = worker_slots->nwanted;
	memcpy(wanted, worker_slots->wanted, sizeof(Oid) * n);
	*scan_all = worker_slots->scan_all;
	worker_slots->nwanted = 0;
	worker_slots->scan_all = false;
	SpinLockRelease(&worker_slots->mutex);
	return n;
}
