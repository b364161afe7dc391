/*
 * worker.c
 *		The background worker's loop (doc/worker.md, doc/settings.md).
 *
 * Each cycle reads the due tags in a short transaction (worker_due.c: all
 * importable tags when the worker starts or after a cycle failed, then only
 * those the due queue names and those whose time has come), groups them by
 * upstream reference into checks (one request each, whatever the number of
 * tags that follow it), takes the checks in the fair order as far as the
 * import budget allows (worker_schedule.c), and makes them chunk by chunk:
 * the sources fetched with no transaction open, each chunk's results that
 * change something recorded in a short transaction while the next chunk's
 * requests go on (worker_chunks.c).  Then, until a tag is due, it lists the
 * streams' scheduled repositories and the tag policies' repositories a page
 * at a time (worker_listing.c).  The schedule (when each tag or listing is
 * next due, how often it failed)
 * lives in this process's memory, so a check that finds nothing new writes
 * nothing at all.
 *
 * Errors, and why they are caught where they are.  worker_spi, autoprewarm
 * and pg_cron's launcher catch nothing: an error ends the process and the
 * postmaster starts it again.  Here that would forget the schedule (every
 * back-off, every Retry-After, the registries found unreachable), so that
 * after each restart the failing tags would be asked again at once.  So:
 *  - an error raised while one source is prepared, fetched or read is that
 *    tag's failure (run_isolated, fetch_many), not the cycle's;
 *  - an error of one recording statement loses that statement's work only
 *    (a subtransaction each); should a chunk's transaction fail as a whole,
 *    its tags are recorded one transaction each (worker_record.c);
 *  - any other error ends the cycle, below: it is logged, the next chunk's
 *    requests are cancelled, the transaction aborted, and a new cycle
 *    starts 5 s later with the schedule intact (a cycle fails, say, while
 *    ALTER EXTENSION UPDATE replaces what it reads); that cycle reads all
 *    tags again, since what the failed one took from the due queue may be
 *    lost with it.
 * SIGTERM (die) and postmaster death end the process, as in those workers;
 * a cancel request ends the cycle.
 */
#include "postgres.h"

#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_database.h"
#include "commands/extension.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "portability/instr_time.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "change_actor.h"
#include "http.h"
#include "settings.h"
#include "worker_chunks.h"
#include "worker_due.h"
#include "worker_listing.h"
#include "worker_periodic.h"
#include "worker_schedule.h"
#include "worker_shmem.h"


/* Started by the launcher (worker_launcher.c), one per database. */
PGDLLEXPORT void imagestream_worker_main(Datum arg);

/*
 * What the loop keeps across cycles.  It is allocated once, and the loop's
 * error handler reaches it through a pointer that never changes, so that
 * what a failed cycle left in it is what the handler sees.
 */
typedef struct WorkerLoop
{
	MemoryContext loop_ctx;		/* reset each cycle */
	WorkerSchedule schedule;
	ChunkPipeline chunks;
	WorkerListings listings;
	Size		memory_high;	/* the most a cycle held since the last trim */
} WorkerLoop;

static void
detach_status(int code, Datum arg)
{
	status_clear();
}

/* This database's name, for the log. */
static char MyDatabaseName[NAMEDATALEN];

/*
 * Is this database one to serve: it has the extension, and is no template
 * (a connection to a template stops CREATE DATABASE from copying it)?
 */
static bool
database_served(void)
{
	HeapTuple	tuple;
	bool		served = false;

	StartTransactionCommand();
	tuple = SearchSysCache1(DATABASEOID, ObjectIdGetDatum(MyDatabaseId));
	if (HeapTupleIsValid(tuple))
	{
		Form_pg_database db = (Form_pg_database) GETSTRUCT(tuple);

		strlcpy(MyDatabaseName, NameStr(db->datname), NAMEDATALEN);
		served = !db->datistemplate && OidIsValid(get_extension_oid("imagestream", true));
		ReleaseSysCache(tuple);
	}
	CommitTransactionCommand();
	return served;
}

/*
 * glibc keeps what a large cycle freed: once a large block is freed it
 * raises its mmap threshold, so later blocks of that size come from the
 * heap, which it gives back only from its top.  A burst of work (100,000
 * pending tags imported at once) left the worker at its peak for good
 * (make bench: RssAnon 79 MB, its contexts 17 MB).  So when a cycle held
 * (all contexts, before the loop's is reset) less than a quarter of the
 * most one held since the last trim, and TRIM_MIN_BYTES less at least,
 * malloc_trim gives the free pages back; a steady load, large or small,
 * never trims.
 */
#define TRIM_MIN_BYTES (16 * 1024 * 1024)

static void
reset_loop(WorkerLoop *w)
{
	Size		held = MemoryContextMemAllocated(TopMemoryContext, true);

	MemoryContextReset(w->loop_ctx);
	w->memory_high = Max(w->memory_high, held);
	if (held < w->memory_high / 4 && w->memory_high - held >= TRIM_MIN_BYTES)
	{
#ifdef __GLIBC__
		malloc_trim(0);
#endif
		w->memory_high = held;
	}
}

/* Adds checks to the worker's row, with the requests that made them. */
static void
report_checks(const CheckCounts *counts)
{
	status_add(counts, http_requests, http_bytes_received, http_in_flight);
}

/*
 * One cycle; returns how long to sleep, in ms, or -1: until woken.  Every
 * change that makes work commits with _wake_worker() (the queue's triggers,
 * import_now, registry_event, a scheduled repository, a tag policy) and a
 * reload sets the latch too, so the worker sleeps until its next due time,
 * never polls.
 */
static long
run_cycle(WorkerLoop *w)
{
	TimestampTz now = GetCurrentTimestamp();
	CheckCounts none = {0};
	int64		scheduled;
	TimestampTz next_due;
	DueTag	  **work;
	int			ndue;
	DueCheck   *checks;
	int			nchecks;
	DueListing *listings;
	int			nlistings;
	int			nwork = 0;
	long		sleep_ms;
	Chunk	   *chunk = NULL;
	instr_time	start;
	instr_time	found;			/* the reads of due work (due_read_time) */
	instr_time	listed;
	TimestampTz budget_at = 0;	/* when the budget may allow a check again */

	if (!imagestream_enable_worker)
		return -1;
	INSTR_TIME_SET_CURRENT(start);
	ndue = read_due(&w->schedule, w->loop_ctx, now, &scheduled, &next_due, &work);
	checks = palloc(sizeof(DueCheck) * Max(ndue, 1));
	nchecks = group_checks(work, ndue, CHUNK_TAGS, checks);
	INSTR_TIME_SET_CURRENT(found);
	INSTR_TIME_SUBTRACT(found, start);
	pipeline_cycle_start(&w->chunks);

	/*
	 * What the budget allows, a unit a check, in the fair order: new work
	 * (pending, requested) first, so the checks taken are the first nwork.
	 */
	while (nwork < nchecks)
	{
		if (!budget_take(&w->schedule.budget, imagestream_max_imports_per_minute,
						 GetCurrentTimestamp()))
		{
			budget_at = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), 1000);
			break;
		}
		Assert(nwork == 0 || checks[nwork - 1].forced || !checks[nwork].forced);
		nwork++;
	}
	report_checks(&none);

	/* each chunk's requests run while the one before it is recorded */
	for (int i = 0; i < nwork;)
	{
		int			n = chunk_size(checks, i, nwork);
		int			next_n = chunk_size(checks, i + n, nwork);
		CheckCounts done = {0};

		if (chunk == NULL)
			chunk = chunk_start(&w->chunks, work, checks, i, n);
		chunk = chunk_finish(&w->chunks, chunk, work, checks, i + n, next_n, &done);
		report_checks(&done);
		if (chunk == NULL && next_n > 0)
		{
			next_due = GetCurrentTimestamp();
			break;
		}
		i += n;
		CHECK_FOR_INTERRUPTS();
	}
	Assert(chunk == NULL);
	next_due = Min(next_due, w->chunks.next_wake);

	/*
	 * Then the listings, read only now (a transaction that a pushed tag's
	 * check need not wait for), a page at a time until a tag is due; the
	 * tags new upstream that they add, and the tags whose policy chose
	 * another winner, are imported by the next cycle.
	 */
	INSTR_TIME_SET_CURRENT(start);
	nlistings = listings_read_due(&w->listings, w->loop_ctx, GetCurrentTimestamp(), &next_due,
								  &listings);
	INSTR_TIME_SET_CURRENT(listed);
	INSTR_TIME_ACCUM_DIFF(found, listed, start);
	if (listings_run(&w->schedule, &w->chunks, listings, nlistings, next_due, &next_due))
		next_due = GetCurrentTimestamp();
	/* what the budget left due waits for it (new work wakes the worker anyway) */
	if (budget_at != 0)
		next_due = budget_at;
	/* the tags left over max_cycle_size: the next cycle starts at once */
	if (pipeline_read_all(&w->chunks))
		next_due = GetCurrentTimestamp();
	/* then what is due on a clock: a gated candidate old enough now */
	next_due = Min(next_due, periodic_run(GetCurrentTimestamp()));
	status_cycle_end(GetCurrentTimestamp(), scheduled, next_due, INSTR_TIME_GET_MILLISEC(found),
					 http_requests, http_bytes_received, http_in_flight);
	/* (next_due is at most import_interval away, an int of ms) */
	sleep_ms = (long) ((next_due - GetCurrentTimestamp()) / 1000);
	return Max(10, Min(sleep_ms, PG_INT32_MAX));
}

/*
 * Each time a request's wait wakes: settings reload at once.  (The wait
 * itself ends the worker on postmaster death, and sets the latch again when
 * it returns, so new work committed meanwhile starts the next cycle at
 * once.  The request and byte counters move with tags_checked, as a chunk
 * ends, so that any reading pairs requests with the checks that made them.)
 */
static void
worker_wait_hook(void)
{
	status_in_flight(http_in_flight);
	if (ConfigReloadPending)
	{
		ConfigReloadPending = false;
		ProcessConfigFile(PGC_SIGHUP);
	}
}

void
imagestream_worker_main(Datum arg)
{
	WorkerLoop *w;
	uint64		seed;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnectionByOid(DatumGetObjectId(arg), InvalidOid, 0);

	/*
	 * The worker runs as the bootstrap superuser: its queries must not find
	 * an operator or function some role planted in a schema of the default
	 * search_path ("$user", public), as CVE-2018-1058 did.
	 */
	SetConfigOption("search_path", "pg_catalog, pg_temp", PGC_SUSET, PGC_S_OVERRIDE);

	/*
	 * No JIT: its queries read tags by id, or all of them once, and a cost
	 * estimate over jit_above_cost (a full read of 100,000 tags) loaded
	 * LLVM for good, 7.6 MB of RssAnon in its relocated data alone.
	 */
	SetConfigOption("jit", "off", PGC_SUSET, PGC_S_OVERRIDE);

	/*
	 * A row a tenant keeps locked (a stream, in a transaction left open)
	 * holds the worker a second at most: the tag whose recording waits for
	 * it is postponed (55P03 is transient, worker_record.c), a listing page
	 * fails and backs off, and every other namespace's work goes on.
	 */
	SetConfigOption("lock_timeout", "1s", PGC_SUSET, PGC_S_OVERRIDE);
	pgstat_report_appname("imagestream worker");
	/* what it records is its own imports, whatever role it connected as */
	change_actor_worker = true;
	http_wait_hook = worker_wait_hook;

	if (worker_slots == NULL)
		ereport(ERROR, (errmsg("imagestream worker started without its shared memory")));
	/* no extension here, or another worker serves the database: nothing to do */
	if (!database_served() || (worker_shared = slot_claim(MyDatabaseId)) == NULL)
		proc_exit(0);
	status_start(MyProcPid, &MyProc->procLatch, GetCurrentTimestamp());
	before_shmem_exit(detach_status, 0);

	if (!pg_strong_random(&seed, sizeof(seed)))
		ereport(ERROR, (errmsg("could not generate the imagestream worker's schedule seed")));
	schedule_seed(seed);
	w = MemoryContextAllocZero(TopMemoryContext, sizeof(WorkerLoop));
	due_init(&w->schedule);
	w->loop_ctx = AllocSetContextCreate(TopMemoryContext, "imagestream worker loop",
										ALLOCSET_DEFAULT_SIZES);
	pipeline_init(&w->chunks, &w->schedule, w->loop_ctx);
	listings_init(&w->listings);
	ereport(LOG, (errmsg("imagestream worker started in database \"%s\"", MyDatabaseName)));

	for (;;)
	{
		volatile long sleep_ms;
		MemoryContext old;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		/* DROP EXTENSION: the launcher does not start it again */
		if (!database_served())
		{
			slot_release();
			proc_exit(0);
		}
		reset_loop(w);
		old = MemoryContextSwitchTo(w->loop_ctx);
		PG_TRY();
		{
			sleep_ms = run_cycle(w);
		}
		PG_CATCH();
		{
			/* a cycle that fails (say, during an upgrade) is retried later */
			ErrorData  *edata;

			MemoryContextSwitchTo(w->loop_ctx);
			edata = CopyErrorData();
			FlushErrorState();
			pipeline_cancel(&w->chunks);
			if (IsTransactionState())
				AbortCurrentTransaction();
			due_reload(&w->schedule);
			ereport(LOG, (errmsg("imagestream worker cycle failed: %s", edata->message)));
			sleep_ms = 5000;
		}
		PG_END_TRY();
		MemoryContextSwitchTo(old);
		/*
		 * Before a sleep of more than a second, the table counts of the
		 * cycle's transactions reach pg_stat_*, as an idle backend's do
		 * (recording sends them at most every second).
		 */
		if (sleep_ms < 0 || sleep_ms > 1000)
			(void) pgstat_report_stat(true);
		(void) WaitLatch(MyLatch,
						 WL_LATCH_SET | WL_EXIT_ON_PM_DEATH | (sleep_ms >= 0 ? WL_TIMEOUT : 0),
						 sleep_ms, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}
