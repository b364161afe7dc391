/*
 * worker_launcher.c
 *		The launcher: one background worker that starts a worker for each
 *		database that has the extension (doc/worker.md, "Databases"), as
 *		TimescaleDB's launcher does, within max_worker_processes.
 *
 * It connects to no database, so it reads only pg_database.  A database it
 * has not seen gets a worker that looks for the extension and, finding
 * none, exits at once without taking a slot; the launcher then leaves that
 * database alone until asked (worker_shmem.c: CREATE EXTENSION and every
 * call that wakes the worker ask for their database; CREATE DATABASE and a
 * statement that needed a database to itself ask for a scan, worker_ddl.c).
 * A worker that stops while its database keeps its slot (an error, a
 * crash, worker_ddl.c stopping it) is started again 5 s later.  A scan
 * every 5 minutes catches what no request announced.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_database.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "tcop/tcopprot.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "worker_launcher.h"
#include "worker_shmem.h"

#define RESTART_MS 5000
#define NO_FREE_WORKER_RETRY_MS 60000
#define SCAN_EVERY_MS (5 * 60 * 1000)

PGDLLEXPORT void imagestream_launcher_main(Datum arg);

typedef enum DbState
{
	DB_START,					/* start a worker at start_at */
	DB_RUNNING,					/* its worker runs (or looks for the extension) */
	DB_IDLE						/* no extension: nothing until asked */
} DbState;

typedef struct DbWorker
{
	Oid			database;		/* hash key */
	DbState		state;
	TimestampTz start_at;
	BackgroundWorkerHandle *handle; /* while DB_RUNNING */
	bool		asked;			/* asked for while DB_RUNNING: look again */
	bool		seen;			/* in the last scan of pg_database */
} DbWorker;

static HTAB *databases;

void
launcher_register(void)
{
	BackgroundWorker bgw;

	memset(&bgw, 0, sizeof(bgw));
	bgw.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	/* not on a hot standby: the launcher starts when recovery ends */
	bgw.bgw_start_time = BgWorkerStart_RecoveryFinished;
	bgw.bgw_restart_time = 5;
	snprintf(bgw.bgw_library_name, BGW_MAXLEN, "imagestream");
	snprintf(bgw.bgw_function_name, BGW_MAXLEN, "imagestream_launcher_main");
	snprintf(bgw.bgw_name, BGW_MAXLEN, "imagestream launcher");
	snprintf(bgw.bgw_type, BGW_MAXLEN, "imagestream launcher");
	RegisterBackgroundWorker(&bgw);
}

static DbWorker *
database_entry(Oid database)
{
	bool		found;
	DbWorker   *d = hash_search(databases, &database, HASH_ENTER, &found);

	if (!found)
	{
		d->state = DB_START;
		d->start_at = 0;
		d->handle = NULL;
		d->asked = false;
	}
	return d;
}

/*
 * Every database one can connect to, as autovacuum's launcher lists them:
 * new ones get a worker; those gone are forgotten, and so are their slots.
 * (Templates are not served: a worker would stop CREATE DATABASE from
 * copying them.)
 */
static void
scan_databases(void)
{
	HASH_SEQ_STATUS seq;
	DbWorker   *d;
	Relation	rel;
	TableScanDesc scan;
	HeapTuple	tuple;

	hash_seq_init(&seq, databases);
	while ((d = hash_seq_search(&seq)) != NULL)
		d->seen = false;

	StartTransactionCommand();
	(void) GetTransactionSnapshot();
	rel = table_open(DatabaseRelationId, AccessShareLock);
	scan = table_beginscan_catalog(rel, 0, NULL);
	while (HeapTupleIsValid(tuple = heap_getnext(scan, ForwardScanDirection)))
	{
		Form_pg_database db = (Form_pg_database) GETSTRUCT(tuple);

		/* (datconnlimit -2: a DROP DATABASE interrupted half way) */
		if (db->datallowconn && !db->datistemplate && db->datconnlimit != -2)
			database_entry(db->oid)->seen = true;
	}
	table_endscan(scan);
	table_close(rel, AccessShareLock);
	CommitTransactionCommand();

	hash_seq_init(&seq, databases);
	while ((d = hash_seq_search(&seq)) != NULL)
		if (!d->seen && d->state != DB_RUNNING)
		{
			slot_forget(d->database);
			(void) hash_search(databases, &d->database, HASH_REMOVE, NULL);
		}
}

/*
 * Asked for a database: one that was idle is looked at again, and so is one
 * whose worker may have looked before the extension was there.
 */
static void
want(Oid database)
{
	DbWorker   *d = database_entry(database);

	if (d->state == DB_IDLE)
	{
		d->state = DB_START;
		d->start_at = 0;
	}
	else if (d->state == DB_RUNNING)
		d->asked = true;
}

static void
start_worker(DbWorker *d, TimestampTz now)
{
	BackgroundWorker bgw;

	memset(&bgw, 0, sizeof(bgw));
	bgw.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	bgw.bgw_start_time = BgWorkerStart_RecoveryFinished;
	/* the launcher starts it again, knowing whether its database wants it */
	bgw.bgw_restart_time = BGW_NEVER_RESTART;
	snprintf(bgw.bgw_library_name, BGW_MAXLEN, "imagestream");
	snprintf(bgw.bgw_function_name, BGW_MAXLEN, "imagestream_worker_main");
	snprintf(bgw.bgw_name, BGW_MAXLEN, "imagestream worker of database %u", d->database);
	snprintf(bgw.bgw_type, BGW_MAXLEN, "imagestream worker");
	bgw.bgw_main_arg = ObjectIdGetDatum(d->database);
	bgw.bgw_notify_pid = MyProcPid;
	if (!RegisterDynamicBackgroundWorker(&bgw, &d->handle))
	{
		ereport(WARNING,
				(errmsg("no background worker is free for the imagestream worker of database %u",
						d->database),
				 errhint("Raise max_worker_processes: each database with the extension has a worker.")));
		d->handle = NULL;
		d->start_at = TimestampTzPlusMilliseconds(now, NO_FREE_WORKER_RETRY_MS);
		return;
	}
	d->state = DB_RUNNING;
}

/* Starts what is due and notes what stopped; returns the ms until the next start. */
static long
supervise(TimestampTz now)
{
	HASH_SEQ_STATUS seq;
	DbWorker   *d;
	long		wait = SCAN_EVERY_MS;

	hash_seq_init(&seq, databases);
	while ((d = hash_seq_search(&seq)) != NULL)
	{
		if (d->state == DB_RUNNING)
		{
			pid_t		pid;

			if (GetBackgroundWorkerPid(d->handle, &pid) != BGWH_STOPPED)
				continue;
			pfree(d->handle);
			d->handle = NULL;
			/*
			 * A worker that took a slot wants to run, 5 s later; one that
			 * found no extension does not, unless asked for meanwhile.
			 */
			if (slot_kept(d->database))
			{
				d->state = DB_START;
				d->start_at = TimestampTzPlusMilliseconds(now, RESTART_MS);
			}
			else
			{
				d->state = d->asked ? DB_START : DB_IDLE;
				d->start_at = now;
			}
			d->asked = false;
		}
		if (d->state == DB_START && d->start_at <= now)
			start_worker(d, now);
		if (d->state == DB_START)
			wait = Min(wait, (long) ((d->start_at - now) / 1000) + 1);
	}
	return wait;
}

static void
detach_launcher(int code, Datum arg)
{
	launcher_detach();
}

void
imagestream_launcher_main(Datum arg)
{
	HASHCTL		ctl;
	TimestampTz scan_at = 0;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	/* no database: it reads the shared catalog pg_database only */
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);
	pgstat_report_appname("imagestream launcher");

	if (worker_slots == NULL)
		ereport(ERROR, (errmsg("imagestream launcher started without its shared memory")));
	ctl.keysize = sizeof(Oid);
	ctl.entrysize = sizeof(DbWorker);
	databases = hash_create("imagestream databases", 16, &ctl, HASH_ELEM | HASH_BLOBS);
	launcher_attach(MyLatch);
	before_shmem_exit(detach_launcher, 0);

	for (;;)
	{
		Oid			wanted[LAUNCHER_WANTED];
		bool		scan_all;
		int			nwanted;
		TimestampTz now;
		long		wait;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		nwanted = launcher_take(wanted, &scan_all);
		now = GetCurrentTimestamp();
		if (scan_all || now >= scan_at)
		{
			scan_databases();
			scan_at = TimestampTzPlusMilliseconds(now, SCAN_EVERY_MS);
		}
		for (int i = 0; i < nwanted; i++)
			want(wanted[i]);
		wait = supervise(now);
		wait = Min(wait, (long) ((scan_at - now) / 1000) + 1);
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 Max(wait, 10), PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}
