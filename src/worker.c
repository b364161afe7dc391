/*
 * worker.c
 *		The background worker's loop (SPEC section 7).
 *
 * Each cycle reads the importable tags in a short transaction, fetches the
 * due ones with no transaction open (src/fetch.c), and records each result
 * that changes something in a short transaction of its own.  The schedule
 * (when each tag is next due, how often it failed) lives in this process's
 * memory, so a check that finds nothing new writes nothing at all.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/pmsignal.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/typcache.h"

#include "credentials.h"
#include "digest_type.h"
#include "fetch_sql.h"
#include "http.h"
#include "isolate.h"
#include "ref_type.h"
#include "settings.h"
#include "worker.h"
#include "worker_shmem.h"

PGDLLEXPORT void imagestream_worker_main(Datum arg);

/* When a tag is next due; kept across cycles, never written to tables. */
typedef struct TagSchedule
{
	int64		tag_id;			/* hash key */
	TimestampTz next_due;
	TimestampTz not_before;		/* a registry's Retry-After */
	int			failures;
	int			record_failures;	/* its results could not be recorded */
	uint64		seen_cycle;
} TagSchedule;

/* A tag to check this cycle. */
typedef struct DueTag
{
	int64		tag_id;
	int64		stream_id;
	char	   *source;
	bool		insecure;
	bool		preserve;
	char	   *known;			/* digest text, or NULL for a full fetch */
	char	   *prefer_os;
	char	   *prefer_arch;
	bool		forced;			/* pending or requested: record even if unchanged */
	int			rank;			/* among its namespace's due tags, forced or not */
	int			turn;			/* its namespace's place in this cycle's rounds */
} DueTag;

static HTAB *schedule = NULL;
static uint64 cycle = 0;
static double budget = 0;		/* imports allowed now (token bucket) */
static TimestampTz budget_at = 0;

/*
 * The fetch of the next chunk, running while the current one is recorded;
 * released by whoever leaves the cycle early (an error included).
 */
static FetchMany *in_background = NULL;

void
worker_register(void)
{
	BackgroundWorker bgw;

	memset(&bgw, 0, sizeof(bgw));
	bgw.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	/* not on a hot standby: the worker starts when recovery ends */
	bgw.bgw_start_time = BgWorkerStart_RecoveryFinished;
	bgw.bgw_restart_time = 5;
	snprintf(bgw.bgw_library_name, BGW_MAXLEN, "imagestream");
	snprintf(bgw.bgw_function_name, BGW_MAXLEN, "imagestream_worker_main");
	snprintf(bgw.bgw_name, BGW_MAXLEN, "imagestream worker");
	snprintf(bgw.bgw_type, BGW_MAXLEN, "imagestream worker");
	RegisterBackgroundWorker(&bgw);
}

static void
update_status(void (*fn) (WorkerShared *, void *), void *arg)
{
	SpinLockAcquire(&worker_shared->mutex);
	fn(worker_shared, arg);
	SpinLockRelease(&worker_shared->mutex);
}

static void
status_clear(WorkerShared *w, void *arg)
{
	w->pid = 0;
	w->latch = NULL;
}

static void
detach_status(int code, Datum arg)
{
	update_status(status_clear, NULL);
}

static void
status_start(WorkerShared *w, void *arg)
{
	memset(((char *) w) + offsetof(WorkerShared, pid), 0,
		   sizeof(WorkerShared) - offsetof(WorkerShared, pid));
	w->pid = MyProcPid;
	w->latch = &MyProc->procLatch;
	w->started_at = GetCurrentTimestamp();
}

/* Counters of one check, added to the shared ones. */
typedef struct CheckCounts
{
	int64		checked;
	int64		imports;
	int64		failures;
	int64		scheduled;
	TimestampTz next_due;
	bool		cycle_end;
} CheckCounts;

static void
status_add(WorkerShared *w, void *arg)
{
	CheckCounts *c = arg;

	w->tags_checked += c->checked;
	w->imports += c->imports;
	w->failures += c->failures;
	c->checked = c->imports = c->failures = 0;	/* counted once */
	w->requests = http_requests;
	w->bytes_received = http_bytes_received;
	w->in_flight = http_in_flight;
	if (c->cycle_end)
	{
		w->last_cycle_at = GetCurrentTimestamp();
		w->tags_scheduled = c->scheduled;
		w->next_due_at = c->next_due;
	}
}

/*
 * A commit leaves CurrentMemoryContext at TopMemoryContext; the context the
 * transaction began in is restored, so that what the cycle allocates after
 * it stays in the loop context, reset each cycle.
 */
static MemoryContext before_transaction;

static void
begin_transaction(void)
{
	before_transaction = CurrentMemoryContext;
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
}

static void
end_transaction(void)
{
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	MemoryContextSwitchTo(before_transaction);
	pgstat_report_stat(false);
	pgstat_report_activity(STATE_IDLE, NULL);
}

/* The spread start of a scheduled tag inside the interval. */
static TimestampTz
spread_start(int64 tag_id, TimestampTz now)
{
	uint64		h = (uint64) tag_id * UINT64CONST(11400714819323198485);

	return TimestampTzPlusMilliseconds(now, (int64) (h % (uint64) imagestream_import_interval));
}

/* A namespace with due tags, this cycle. */
typedef struct NamespaceTurn
{
	char		name[NAMEDATALEN];	/* hash key (a namespace has at most 63 bytes) */
	int			turn;			/* in the order first seen */
	int			ranks[2];		/* its due tags so far: scheduled, forced */
} NamespaceTurn;

/* Forced tags first; then round by round, each namespace one tag a round. */
static int
fair_cmp(const ListCell *a, const ListCell *b)
{
	const DueTag *x = lfirst(a);
	const DueTag *y = lfirst(b);

	if (x->forced != y->forced)
		return x->forced ? -1 : 1;
	if (x->rank != y->rank)
		return x->rank < y->rank ? -1 : 1;
	return (x->turn > y->turn) - (x->turn < y->turn);
}

/*
 * The due tags in the order the budget and the chunks take them: fair
 * across namespaces (finding S21), so that one namespace's hundreds of
 * pending tags (failing ones included, each backing off on its own) delay
 * another's by one tag per round, not by all of them.  The namespace that
 * goes first in each round changes each cycle.
 */
static List *
fair_order(List *due, int namespaces)
{
	ListCell   *lc;

	if (namespaces > 1)
		foreach(lc, due)
		{
			DueTag	   *d = lfirst(lc);

			d->turn = (int) ((d->turn + cycle) % (uint64) namespaces);
		}
	list_sort(due, fair_cmp);
	return due;
}

/*
 * Reads the importable tags and returns those due now; *next_due is when the
 * next of the others is.  NIL when the extension is not installed.
 */
static List *
read_due(MemoryContext loop_ctx, TimestampTz now, int64 *scheduled, TimestampTz *next_due)
{
	List	   *due = NIL;
	uint64		i;
	HTAB	   *turns;
	HASHCTL		ctl;

	*scheduled = 0;
	*next_due = TimestampTzPlusMilliseconds(now, imagestream_import_interval);
	begin_transaction();
	pgstat_report_activity(STATE_RUNNING, "imagestream worker: reading due tags");
	if (SPI_execute("SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'imagestream'",
					true, 1) != SPI_OK_SELECT || SPI_processed == 0)
	{
		end_transaction();
		return NIL;
	}
	if (SPI_execute(
					"SELECT * FROM (SELECT t.id, t.from_ref, t.insecure, t.import_mode = 'PreserveOriginal', "
					"  t.source_digest::text, "
					"  t.annotations->>'importer.image.openshift.io/prefer-os', "
					"  t.annotations->>'importer.image.openshift.io/prefer-arch', "
					"  t.spec_generation > greatest(coalesce(t.status_generation, 0), "
					"                               coalesce(t.import_generation, 0)) AS pending, "
					"  t.import_requested_at IS NOT NULL AS requested, "
					/* a digest reference has an "@" (no cast: a row stored before 0.3.0 may not parse) */
					"  t.scheduled AND NOT (pg_catalog.strpos(t.from_ref, '@') > 0 "
					"                       AND t.image IS NOT NULL) AS sched, "
					"  t.stream_id, t.namespace "
					"FROM imagestream.tag t "
					"WHERE t.has_spec AND t.from_kind = 'DockerImage' AND NOT t.reference) d "
					/* only the tags the worker has to look at reach this process */
					"WHERE d.pending OR d.requested OR d.sched",
					true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read the tags to import");

	ctl.keysize = NAMEDATALEN;
	ctl.entrysize = sizeof(NamespaceTurn);
	ctl.hcxt = loop_ctx;
	turns = hash_create("imagestream namespaces", 64, &ctl, HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
	cycle++;
	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		int64		id = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
		bool		pending = DatumGetBool(SPI_getbinval(tup, desc, 8, &isnull));
		bool		requested = DatumGetBool(SPI_getbinval(tup, desc, 9, &isnull));
		bool		sched = DatumGetBool(SPI_getbinval(tup, desc, 10, &isnull));
		TagSchedule *entry;
		bool		found;
		char	   *ns;
		NamespaceTurn *turn;

		entry = hash_search(schedule, &id, HASH_ENTER, &found);
		if (!found)
		{
			entry->next_due = spread_start(id, now);
			entry->not_before = 0;
			entry->failures = 0;
			entry->record_failures = 0;
		}
		entry->seen_cycle = cycle;
		/* a shorter interval applies at once */
		if (entry->next_due > TimestampTzPlusMilliseconds(now, imagestream_import_interval))
			entry->next_due = TimestampTzPlusMilliseconds(now, imagestream_import_interval);
		if (sched)
			(*scheduled)++;
		if ((pending || requested || entry->next_due <= now) && entry->not_before <= now)
		{
			MemoryContext old = MemoryContextSwitchTo(loop_ctx);
			DueTag	   *d = palloc0(sizeof(DueTag));

			d->tag_id = id;
			d->stream_id = DatumGetInt64(SPI_getbinval(tup, desc, 11, &isnull));
			d->source = SPI_getvalue(tup, desc, 2);
			d->insecure = DatumGetBool(SPI_getbinval(tup, desc, 3, &isnull));
			d->preserve = DatumGetBool(SPI_getbinval(tup, desc, 4, &isnull));
			/* what the source served last is no guide for a new spec */
			d->known = pending ? NULL : SPI_getvalue(tup, desc, 5);
			d->prefer_os = SPI_getvalue(tup, desc, 6);
			d->prefer_arch = SPI_getvalue(tup, desc, 7);
			d->forced = pending || requested;
			ns = SPI_getvalue(tup, desc, 12);
			turn = hash_search(turns, ns, HASH_ENTER, &found);
			if (!found)
			{
				turn->turn = hash_get_num_entries(turns) - 1;
				turn->ranks[0] = turn->ranks[1] = 0;
			}
			pfree(ns);
			d->rank = turn->ranks[d->forced]++;
			d->turn = turn->turn;
			due = lappend(due, d);
			MemoryContextSwitchTo(old);
		}
		else if (Max(entry->next_due, entry->not_before) < *next_due)
			*next_due = Max(entry->next_due, entry->not_before);
	}
	end_transaction();

	/* forget tags that are gone or no longer importable */
	{
		HASH_SEQ_STATUS seq;
		TagSchedule *e;

		hash_seq_init(&seq, schedule);
		while ((e = hash_seq_search(&seq)) != NULL)
			if (e->seen_cycle != cycle)
				hash_search(schedule, &e->tag_id, HASH_REMOVE, NULL);
	}
	return fair_order(due, (int) hash_get_num_entries(turns));
}

/* Is there budget for one more import (max_imports_per_minute, burst twice that)? */
static bool
take_budget(TimestampTz now)
{
	double		rate = imagestream_max_imports_per_minute;

	if (rate < 0)
		return true;
	if (budget_at == 0)
		budget = 2 * rate;		/* start with a full burst */
	else
		budget += rate * (double) (now - budget_at) / (60.0 * USECS_PER_SEC);
	budget = Min(budget, 2 * rate);
	budget_at = now;
	if (budget < 1)
		return false;
	budget -= 1;
	return true;
}

/*
 * Messages about single tags are limited to LOG_BURST a minute, so that a
 * fault common to thousands of tags cannot flood the server log; how many
 * were left out is said when the next minute starts.
 */
#define LOG_BURST 10
static TimestampTz log_window = 0;
static int	log_count = 0;
static int64 log_suppressed = 0;

static bool
log_allowed(void)
{
	TimestampTz now = GetCurrentTimestamp();

	if (now - log_window >= USECS_PER_MINUTE)
	{
		if (log_suppressed > 0)
			ereport(LOG,
					(errmsg("imagestream worker left out " INT64_FORMAT " similar messages in the last minute",
							log_suppressed)));
		log_window = now;
		log_count = 0;
		log_suppressed = 0;
	}
	if (log_count < LOG_BURST)
	{
		log_count++;
		return true;
	}
	log_suppressed++;
	return false;
}

/* Reads the rows of a recording statement, inside its subtransaction. */
typedef void (*RowReader) (void *arg);

/*
 * Runs a recording statement in a subtransaction: an error loses that
 * statement's work only, and is logged (what names it).  read, if given,
 * reads SPI_tuptable before the subtransaction ends.  Returns false on an
 * error, and the error in *error if that is not NULL.
 */
static bool
run_recording(SPIPlanPtr plan, Datum *values, const char *nulls, const char *what,
			  RowReader read, void *arg, ErrorData **error)
{
	MemoryContext ctx = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	volatile bool ok = false;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(ctx);
	PG_TRY();
	{
		if (SPI_execute_plan(plan, values, nulls, false, 0) != SPI_OK_SELECT)
			elog(ERROR, "could not record an import");
		if (read)
			read(arg);
		ReleaseCurrentSubTransaction();
		ok = true;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(ctx);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		if (log_allowed())
			ereport(LOG,
					(errmsg("imagestream worker could not record the import of %s: %s",
							what, edata->message)));
		if (error)
			*error = edata;
		else
			FreeErrorData(edata);
	}
	PG_END_TRY();
	MemoryContextSwitchTo(ctx);
	CurrentResourceOwner = owner;
	return ok;
}

/* The first column of the one row, by value (NULL if none). */
typedef struct FirstValue
{
	Datum		value;
	bool		isnull;
} FirstValue;

static void
read_first(void *arg)
{
	FirstValue *v = arg;

	if (SPI_processed == 1)
		v->value = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &v->isnull);
}

/* Marks the positions (1-based) a statement returned. */
typedef struct Positions
{
	bool	   *marked;
	int			n;
} Positions;

static void
read_positions(void *arg)
{
	Positions  *p = arg;

	for (uint64 r = 0; r < SPI_processed; r++)
	{
		bool		isnull;
		int32		pos = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[r],
													  SPI_tuptable->tupdesc, 1, &isnull));

		if (!isnull && pos >= 1 && pos <= p->n)
			p->marked[pos - 1] = true;
	}
}

/* The OID of the composite type imagestream._fetched. */
static Oid
fetched_type(void)
{
	Oid			typoid = GetSysCacheOid2(TYPENAMENSP, Anum_pg_type_oid, CStringGetDatum("_fetched"),
										 ObjectIdGetDatum(get_namespace_oid("imagestream", false)));

	if (!OidIsValid(typoid))
		elog(ERROR, "type imagestream._fetched is missing");
	return typoid;
}

/* Orders a chunk's results by stream, keeping their order within one. */
static int
by_stream(const void *a, const void *b, void *arg)
{
	DueTag	  **tags = arg;
	int			i = *(const int *) a;
	int			j = *(const int *) b;

	if (tags[i]->stream_id != tags[j]->stream_id)
		return tags[i]->stream_id < tags[j]->stream_id ? -1 : 1;
	return i - j;
}

/* The statements that record a chunk, prepared once per chunk. */
typedef struct RecordPlans
{
	SPIPlanPtr	generation;		/* _worker_stream_generation */
	SPIPlanPtr	many;			/* _worker_apply_many */
	SPIPlanPtr	one;			/* _worker_apply */
	Oid			fetched;		/* imagestream._fetched */
	TupleDesc	desc;
} RecordPlans;

static void
prepare_plans(RecordPlans *p)
{
	Oid			one_types[4] = {INT8OID, TEXTOID, InvalidOid, INT8OID};
	Oid			many_types[5] = {INT8OID, INT8ARRAYOID, TEXTARRAYOID, InvalidOid, INT8OID};

	p->fetched = fetched_type();
	p->desc = lookup_rowtype_tupdesc_copy(p->fetched, -1);
	one_types[2] = p->fetched;
	many_types[3] = get_array_type(p->fetched);
	p->generation = SPI_prepare("SELECT imagestream._worker_stream_generation($1)", 1, one_types);
	p->one = SPI_prepare("SELECT imagestream._worker_apply($1, $2, $3, $4)", 4, one_types);
	p->many = SPI_prepare("SELECT imagestream._worker_apply_many($1, $2, $3, $4, $5)", 5, many_types);
	if (p->generation == NULL || p->one == NULL || p->many == NULL)
		elog(ERROR, "could not prepare the recording of imports");
}

/*
 * After a tag's results were recorded (ok) or could not be: a tag whose
 * results cannot be recorded is not due again, even pending or requested,
 * for 1 s, 2 s, 4 s, ... up to the interval, so that it cannot take the
 * import budget of every cycle.
 */
static void
recorded(int64 tag_id, bool ok)
{
	TagSchedule *entry = hash_search(schedule, &tag_id, HASH_FIND, NULL);

	if (entry == NULL)
		return;
	if (ok)
	{
		entry->record_failures = 0;
		return;
	}
	entry->record_failures = Min(entry->record_failures + 1, 30);
	entry->not_before = Max(entry->not_before,
							TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
														Min((int64) imagestream_import_interval,
															(int64) 1000 << (entry->record_failures - 1))));
}

/* Errors that a later attempt may not meet: a deadlock, a lock not granted, a cancel. */
static bool
transient(const ErrorData *e)
{
	return ERRCODE_TO_CATEGORY(e->sqlerrcode) == ERRCODE_TRANSACTION_ROLLBACK ||
		e->sqlerrcode == ERRCODE_LOCK_NOT_AVAILABLE || e->sqlerrcode == ERRCODE_QUERY_CANCELED;
}

/*
 * Set once a recording statement meets such an error: the chunk's tags not
 * recorded yet are then postponed, not tried in this transaction.  Each try
 * would meet the same lock (an ALTER EXTENSION UPDATE waiting for the
 * stream this transaction locked, and holding a table the recording
 * writes), costing deadlock_timeout a tag while the other transaction waits
 * for this one to end.  Postponed tags back off as any tag whose result
 * could not be recorded.
 */
static bool record_yield = false;
static int	record_postponed = 0;

static void
postpone(int64 tag_id)
{
	record_postponed++;
	recorded(tag_id, false);
}

/*
 * Records one tag's result (values as p->one takes them).  A result that
 * cannot be recorded (a manifest the catalogue refuses, a source stored
 * before 0.3.0 refused it) is recorded as the tag's failure instead, unless
 * the error may pass; the tag backs off if even that fails.
 */
static void
record_one(RecordPlans *p, Datum *values, const char *nulls, const DueTag *d)
{
	ErrorData  *e = NULL;
	bool		ok = run_recording(p->one, values, nulls, d->source, NULL, NULL, &e);

	if (!ok && transient(e))
		record_yield = true;
	else if (!ok)
	{
		FetchResult failure = {FETCH_FAILURE};

		failure.failure.reason = "InternalError";
		failure.failure.message = psprintf("The import could not be recorded: %s%s%s",
										   e->message, e->detail ? ". " : ".",
										   e->detail ? e->detail : "");
		values[2] = fetch_result_datum(&failure, p->desc);
		ok = run_recording(p->one, values, nulls, d->source, NULL, NULL, NULL);
	}
	if (e)
		FreeErrorData(e);
	recorded(d->tag_id, ok);
}

/*
 * The set-based recording costs about 2 ms a call whatever the number of
 * tags, one at a time about 0.3 ms a tag: fewer tags of a stream than this
 * are recorded one at a time.
 */
#define RECORD_TOGETHER_MIN 16

/*
 * Records the results of one stream's tags (idx[0..m-1], in chunk order):
 * the stream moves to one new generation for all of them, as OpenShift's
 * import of a stream's scheduled tags does.  They are recorded together,
 * set-based (if there are RECORD_TOGETHER_MIN or more); the tags that call
 * leaves, and all of them if it fails, one by one, each in a subtransaction
 * of its own.
 */
static void
record_stream(RecordPlans *p, DueTag **tags, FetchResult **results, const int *idx, int m)
{
	Datum	   *ids = palloc(sizeof(Datum) * m);
	Datum	   *sources = palloc(sizeof(Datum) * m);
	Datum	   *full = palloc(sizeof(Datum) * m);
	Datum	   *elems = palloc(sizeof(Datum) * m);
	Positions	alone = {palloc(sizeof(bool) * m), m};
	FirstValue	gen = {(Datum) 0, true};
	Datum		values[5];
	char		nulls[5] = {' ', ' ', ' ', ' ', ' '};
	int16		typlen;
	bool		typbyval;
	char		typalign;
	ErrorData  *e = NULL;

	if (record_yield)
	{
		for (int j = 0; j < m; j++)
			postpone(tags[idx[j]]->tag_id);
		return;
	}
	values[0] = Int64GetDatum(tags[idx[0]]->stream_id);
	/* (if this fails, each tag takes a generation of its own) */
	if (!run_recording(p->generation, values, nulls, tags[idx[0]]->source, read_first, &gen, &e))
	{
		record_yield = transient(e);
		FreeErrorData(e);
		e = NULL;
	}
	for (int j = 0; j < m; j++)
	{
		const FetchResult *r = results[idx[j]];
		/* the tags that one new digest moved share its manifests: sent once */
		bool		shares = j > 0 && r->manifests != NIL && r->manifests == results[idx[j - 1]]->manifests;

		ids[j] = Int64GetDatum(tags[idx[j]]->tag_id);
		sources[j] = CStringGetTextDatum(tags[idx[j]]->source);
		full[j] = shares ? full[j - 1] : fetch_result_datum(r, p->desc);
		elems[j] = shares ? fetch_result_datum_shared(r, p->desc) : full[j];
		alone.marked[j] = gen.isnull || m < RECORD_TOGETHER_MIN;
	}
	if (!gen.isnull && m >= RECORD_TOGETHER_MIN)
	{
		get_typlenbyvalalign(p->fetched, &typlen, &typbyval, &typalign);
		values[1] = PointerGetDatum(construct_array(ids, m, INT8OID, sizeof(int64), FLOAT8PASSBYVAL,
													TYPALIGN_DOUBLE));
		values[2] = PointerGetDatum(construct_array(sources, m, TEXTOID, -1, false, TYPALIGN_INT));
		values[3] = PointerGetDatum(construct_array(elems, m, p->fetched, typlen, typbyval, typalign));
		values[4] = gen.value;
		if (!run_recording(p->many, values, nulls,
						   psprintf("%d tags, together (the first %s)", m, tags[idx[0]]->source),
						   read_positions, &alone, &e))
		{
			memset(alone.marked, true, sizeof(bool) * m);
			record_yield = transient(e);
			FreeErrorData(e);
		}
		for (int j = 0; j < m; j++)
			if (!alone.marked[j])
				recorded(tags[idx[j]]->tag_id, true);
	}
	nulls[3] = gen.isnull ? 'n' : ' ';
	values[3] = gen.value;
	for (int j = 0; j < m; j++)
	{
		if (!alone.marked[j])
			continue;
		if (record_yield)
		{
			postpone(tags[idx[j]]->tag_id);
			continue;
		}
		values[0] = ids[j];
		values[1] = sources[j];
		values[2] = full[j];
		record_one(p, values, nulls, tags[idx[j]]);
		/* the next chunk's requests go on meanwhile */
		if (in_background)
			fetch_many_poll(in_background);
	}
}

/* Records a chunk stream by stream, each stream's tags together. */
static void
record_all(DueTag **tags, FetchResult **results, int n)
{
	RecordPlans plans;
	int		   *order = palloc(sizeof(int) * n);
	int			first = 0;

	prepare_plans(&plans);
	for (int i = 0; i < n; i++)
		order[i] = i;
	qsort_arg(order, n, sizeof(int), by_stream, tags);
	for (int k = 1; k <= n; k++)
	{
		if (k < n && tags[order[k]]->stream_id == tags[order[first]]->stream_id)
			continue;
		record_stream(&plans, tags, results, order + first, k - first);
		first = k;
		if (in_background)
			fetch_many_poll(in_background);
	}
}

/*
 * Records results in one transaction, each tag in a subtransaction of its
 * own.  If the commit itself fails, the error is logged, not fatal; returns
 * false then.
 */
static bool
record_in_transaction(MemoryContext loop_ctx, DueTag **tags, FetchResult **results, int n)
{
	volatile bool ok = false;

	record_yield = false;
	record_postponed = 0;
	PG_TRY();
	{
		begin_transaction();
		pgstat_report_activity(STATE_RUNNING, "imagestream worker: recording imports");
		record_all(tags, results, n);
		end_transaction();
		ok = true;
		if (record_postponed > 0 && log_allowed())
			ereport(LOG,
					(errmsg("imagestream worker postponed recording %d imports to a later cycle",
							record_postponed),
					 errdetail("Recording an import met an error that may pass (a deadlock, a lock not granted), logged above.")));
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(loop_ctx);
		edata = CopyErrorData();
		FlushErrorState();
		AbortCurrentTransaction();
		if (log_allowed())
			ereport(LOG,
					(errmsg("imagestream worker could not record %d imports: %s", n, edata->message)));
		FreeErrorData(edata);
	}
	PG_END_TRY();
	return ok;
}

/*
 * Records a chunk's results.  Should the transaction fail as a whole (one
 * tag's result cannot be built, the commit fails), each tag is recorded in
 * a transaction of its own: one cannot keep the others from being recorded,
 * and a tag that fails alone backs off.
 */
static void
record_results(MemoryContext loop_ctx, DueTag **tags, FetchResult **results, int n)
{
	if (n == 0 || record_in_transaction(loop_ctx, tags, results, n))
		return;
	for (int i = 0; i < n; i++)
		if (n == 1 || !record_in_transaction(loop_ctx, tags + i, results + i, 1))
			recorded(tags[i]->tag_id, false);
}

/* A due tag and the fetch item of its source, for run_isolated. */
typedef struct ItemSource
{
	const DueTag *d;
	FetchItem  *item;
} ItemSource;

/* The registry target and the reference (tag or digest) of a tag's source. */
static void
source_target(void *arg)
{
	ItemSource *s = arg;
	Datum		ref = DirectFunctionCall1(image_ref_in, CStringGetDatum(s->d->source));

	s->item->reference = fetch_target(ref, s->d->insecure, &s->item->target);
}

/*
 * After a tag's fetch: when it is due again (a failure retries after 1 s,
 * 2 s, 4 s, ... up to the interval, or the registry's Retry-After), and
 * whether the result must be recorded.
 */
static bool
after_fetch(const DueTag *d, const FetchResult *r, TimestampTz now, CheckCounts *counts)
{
	TagSchedule *entry = hash_search(schedule, &d->tag_id, HASH_FIND, NULL);
	int64		delay_ms = imagestream_import_interval;

	/* over max_cycle_size: still due, in the next cycle; its import not spent */
	if (r->status == FETCH_DEFERRED)
	{
		budget += 1;
		return false;
	}
	counts->checked++;
	if (r->status == FETCH_FAILURE)
	{
		counts->failures++;
		if (entry)
		{
			entry->failures = Min(entry->failures + 1, 30);
			delay_ms = Min((int64) imagestream_import_interval,
						   (int64) 1000 << (entry->failures - 1));
			if (r->failure.retry_after > 0)
				entry->not_before = TimestampTzPlusMilliseconds(now, (int64) r->failure.retry_after * 1000);
		}
	}
	else if (entry)
		entry->failures = 0;
	if (entry)
		entry->next_due = TimestampTzPlusMilliseconds(now, delay_ms);

	if (r->status == FETCH_UNCHANGED && !d->forced)
		return false;			/* nothing new: nothing written */
	if (r->status == FETCH_SUCCESS)
		counts->imports++;
	return true;
}

static void
cancel_background(void)
{
	if (in_background)
		fetch_many_cancel(in_background);
	in_background = NULL;
}

/* A chunk of due tags, and the fetch of their sources once started. */
typedef struct Chunk
{
	DueTag	  **tags;
	int			n;
	FetchItem  *items;
	FetchMany  *fetch;
} Chunk;

/*
 * Registries found unreachable, not asked again for 30 s (a chunk of their
 * tags would otherwise cost a timeout per wave of requests, each cycle).
 */
#define UNREACHABLE_REMEMBER_MS 30000

/* What the cycle may still read (imagestream.max_cycle_size). */
static ReadBudget cycle_read;

static void
chunk_credentials(void *arg)
{
	Chunk	   *c = arg;

	credentials_attach_items(c->items, c->n);
}

/*
 * Starts the HEAD requests of a chunk (fetch_many_start), once the stored
 * credentials of its registries are looked up (once each).
 */
static Chunk *
chunk_start(List *work, int first, int n)
{
	Chunk	   *c = palloc0(sizeof(Chunk));
	ErrorData  *unread;

	c->n = n;
	c->tags = palloc(sizeof(DueTag *) * n);
	c->items = palloc0(sizeof(FetchItem) * n);
	for (int i = 0; i < n; i++)
	{
		DueTag	   *d = list_nth(work, first + i);
		FetchItem  *item = &c->items[i];
		ItemSource	s = {d, item};
		ParseError	err;
		ErrorData  *e;

		c->tags[i] = d;
		/* a source stored before 0.3.0 refused it may not parse: its failure */
		if ((e = run_isolated(source_target, &s)) != NULL)
		{
			item->settled = true;
			fetch_result_error(&item->result, e);
			FreeErrorData(e);
			continue;
		}
		item->has_known = d->known &&
			digest_parse(d->known, strlen(d->known), &item->known, &err);
		item->preserve = d->preserve;
		item->prefer_os = d->prefer_os;
		item->prefer_arch = d->prefer_arch;
	}
	/* unread, the chunk's sources fail with the error, not fetched without them */
	if ((unread = run_isolated(chunk_credentials, c)) != NULL)
	{
		for (int i = 0; i < n; i++)
			if (!c->items[i].settled)
			{
				c->items[i].settled = true;
				fetch_result_error(&c->items[i].result, unread);
			}
		FreeErrorData(unread);
	}
	c->fetch = fetch_many_start(c->items, n, imagestream_max_concurrent_requests,
								imagestream_max_requests_per_registry, UNREACHABLE_REMEMBER_MS,
								&cycle_read);
	return c;
}

/*
 * A reload, or new work committed (or any other signal: the latch is set
 * for many reasons), ends the cycle early; a new one takes it up.
 */
static bool
new_work_waiting(void)
{
	return ConfigReloadPending || MyLatch->is_set;
}

/*
 * Ends a chunk's fetch, with no transaction open, then starts the next
 * chunk's requests and records what changed in one transaction while they go
 * on.  Returns the next chunk: NULL when next_n is 0, or when the cycle is
 * to end early (the requests under way are finished and recorded first):
 * new work waits, or the cycle read imagestream.max_cycle_size.
 */
static Chunk *
chunk_finish(MemoryContext loop_ctx, Chunk *c, List *work, int next_first, int next_n,
			 CheckCounts *counts)
{
	DueTag	  **record_tags = palloc(sizeof(DueTag *) * c->n);
	FetchResult **record = palloc(sizeof(FetchResult *) * c->n);
	int			nrecord = 0;
	TimestampTz now;
	Chunk	   *next = NULL;

	pgstat_report_activity(STATE_RUNNING, "imagestream worker: fetching");
	in_background = NULL;
	fetch_many_finish(c->fetch);
	now = GetCurrentTimestamp();
	for (int i = 0; i < c->n; i++)
		if (after_fetch(c->tags[i], &c->items[i].result, now, counts))
		{
			record_tags[nrecord] = c->tags[i];
			record[nrecord++] = &c->items[i].result;
		}
	if (next_n > 0 && !new_work_waiting() && read_budget_left(&cycle_read) > 0)
	{
		next = chunk_start(work, next_first, next_n);
		in_background = next->fetch;
	}
	record_results(loop_ctx, record_tags, record, nrecord);
	return next;
}

/* Tags checked together: a chunk's HEAD requests take about a second. */
#define CHECK_CHUNK 500

/* One cycle; returns how long to sleep, in ms. */
static long
run_cycle(MemoryContext loop_ctx)
{
	TimestampTz now = GetCurrentTimestamp();
	CheckCounts counts = {0};
	TimestampTz next_due;
	List	   *due;
	List	   *work = NIL;
	List	   *scheduled_checks = NIL;
	ListCell   *lc;
	long		sleep_ms;
	Chunk	   *chunk = NULL;

	if (!imagestream_enable_worker)
		return 5000;
	due = read_due(loop_ctx, now, &counts.scheduled, &next_due);
	read_budget_start(&cycle_read, imagestream_max_cycle_size, "imagestream.max_cycle_size");

	/* what the budget allows: new work (pending, requested) first */
	foreach(lc, due)
	{
		DueTag	   *d = lfirst(lc);

		if (!take_budget(GetCurrentTimestamp()))
		{
			next_due = Min(next_due, TimestampTzPlusMilliseconds(GetCurrentTimestamp(), 1000));
			break;
		}
		if (d->forced)
			work = lappend(work, d);
		else
			scheduled_checks = lappend(scheduled_checks, d);
	}
	work = list_concat(work, scheduled_checks);
	update_status(status_add, &counts);

	/* each chunk's requests run while the one before it is recorded */
	for (int i = 0; i < list_length(work); i += CHECK_CHUNK)
	{
		int			rest = list_length(work) - i - CHECK_CHUNK;
		CheckCounts done = {0};

		if (chunk == NULL)
			chunk = chunk_start(work, i, Min(CHECK_CHUNK, list_length(work) - i));
		chunk = chunk_finish(loop_ctx, chunk, work, i + CHECK_CHUNK, Min(Max(rest, 0), CHECK_CHUNK),
							 &done);
		update_status(status_add, &done);
		if (chunk == NULL && rest > 0)
		{
			next_due = GetCurrentTimestamp();
			break;
		}
		CHECK_FOR_INTERRUPTS();
	}
	/* the tags left over max_cycle_size: the next cycle starts at once */
	if (read_budget_left(&cycle_read) == 0)
		next_due = GetCurrentTimestamp();
	counts.cycle_end = true;
	counts.next_due = next_due;
	update_status(status_add, &counts);
	sleep_ms = (long) ((next_due - GetCurrentTimestamp()) / 1000);
	return Max(10, Min(sleep_ms, 1000));
}

/*
 * While a request waits: settings reload at once, postmaster death ends us.
 * (The request and byte counters move with tags_checked, as a chunk ends,
 * so that any reading pairs requests with the checks that made them.)
 */
static void
status_in_flight(WorkerShared *w, void *arg)
{
	w->in_flight = http_in_flight;
}

static void
worker_wait_hook(void)
{
	update_status(status_in_flight, NULL);
	if (ConfigReloadPending)
	{
		ConfigReloadPending = false;
		ProcessConfigFile(PGC_SIGHUP);
	}
	if (!PostmasterIsAlive())
		proc_exit(1);
}

void
imagestream_worker_main(Datum arg)
{
	MemoryContext loop_ctx;
	HASHCTL		ctl;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(imagestream_database, NULL, 0);

	/*
	 * The worker runs as the bootstrap superuser: its queries must not find
	 * an operator or function some role planted in a schema of the default
	 * search_path ("$user", public), as CVE-2018-1058 did.
	 */
	SetConfigOption("search_path", "pg_catalog, pg_temp", PGC_SUSET, PGC_S_OVERRIDE);
	pgstat_report_appname("imagestream worker");
	http_wait_hook = worker_wait_hook;

	if (worker_shared == NULL)
		ereport(ERROR, (errmsg("imagestream worker started without its shared memory")));
	update_status(status_start, NULL);
	before_shmem_exit(detach_status, 0);

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(int64);
	ctl.entrysize = sizeof(TagSchedule);
	schedule = hash_create("imagestream schedule", 1024, &ctl, HASH_ELEM | HASH_BLOBS);
	loop_ctx = AllocSetContextCreate(TopMemoryContext, "imagestream worker loop",
									 ALLOCSET_DEFAULT_SIZES);
	ereport(LOG, (errmsg("imagestream worker started in database \"%s\"", imagestream_database)));

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
		MemoryContextReset(loop_ctx);
		old = MemoryContextSwitchTo(loop_ctx);
		PG_TRY();
		{
			sleep_ms = run_cycle(loop_ctx);
		}
		PG_CATCH();
		{
			/* a cycle that fails (say, during an upgrade) is retried later */
			ErrorData  *edata;

			MemoryContextSwitchTo(loop_ctx);
			edata = CopyErrorData();
			FlushErrorState();
			cancel_background();
			if (IsTransactionState())
				AbortCurrentTransaction();
			ereport(LOG, (errmsg("imagestream worker cycle failed: %s", edata->message)));
			sleep_ms = 5000;
		}
		PG_END_TRY();
		MemoryContextSwitchTo(old);
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 sleep_ms, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}
