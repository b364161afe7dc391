/*
 * worker_record.c
 *		The background worker's SPI (worker_record.h): its short
 *		transactions, and a chunk's results recorded in one of them.
 *
 * Recording goes through the SQL functions of the history rules
 * (_worker_stream_generation, _worker_apply, _worker_apply_many), one
 * stream at a time, each statement in a subtransaction, so that an error
 * loses one statement's work only.  The schedule (worker_schedule.h) learns
 * which tags could not be recorded, and holds them back.  While it records,
 * _worker_recording() is true in this process, so that the due queue's
 * trigger passes over the worker's own updates.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "pgstat.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/typcache.h"

#include "fetch_sql.h"
#include "record_together.h"
#include "settings.h"
#include "worker_record.h"
#include "worker_schedule.h"

/*
 * A commit leaves CurrentMemoryContext at TopMemoryContext; the context the
 * transaction began in is restored, so that what the cycle allocates after
 * it stays in the loop context, reset each cycle.
 */
static MemoryContext before_transaction;

void
worker_begin_transaction(void)
{
	before_transaction = CurrentMemoryContext;
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
}

void
worker_end_transaction(void)
{
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	MemoryContextSwitchTo(before_transaction);
	pgstat_report_stat(false);
	pgstat_report_activity(STATE_IDLE, NULL);
}

/*
 * Messages about single tags are limited to LOG_BURST a minute (a limit of
 * the process's log, kept across cycles); how many were left out is said
 * when the next minute starts.
 */
static LogLimit tag_messages;

bool
worker_log_allowed(void)
{
	int64		left_out;
	bool		allowed = log_limit_take(&tag_messages, GetCurrentTimestamp(), &left_out);

	if (left_out > 0)
		ereport(LOG,
				(errmsg("imagestream worker left out " INT64_FORMAT " similar messages in the last minute",
						left_out)));
	return allowed;
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
		if (worker_log_allowed())
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

/* After a tag's results were recorded (ok) or could not be (it backs off). */
static void
recorded(WorkerSchedule *s, int64 tag_id, bool ok)
{
	TagSchedule *entry = hash_search(s->tags, &tag_id, HASH_FIND, NULL);

	if (entry == NULL)
		return;
	schedule_recorded(entry, ok, GetCurrentTimestamp(), imagestream_import_interval);
}

/* Errors that a later attempt may not meet: a deadlock, a lock not granted, a cancel. */
static bool
transient(const ErrorData *e)
{
	return ERRCODE_TO_CATEGORY(e->sqlerrcode) == ERRCODE_TRANSACTION_ROLLBACK ||
		e->sqlerrcode == ERRCODE_LOCK_NOT_AVAILABLE || e->sqlerrcode == ERRCODE_QUERY_CANCELED;
}

/* One recording transaction: what its statements share. */
typedef struct Recording
{
	WorkerSchedule *schedule;	/* learns which tags could not be recorded */
	FetchMany  *background;		/* the next chunk's fetch (or NULL), polled */
	RecordPlans plans;

	/*
	 * Set once a recording statement meets an error that may pass: the
	 * chunk's tags not recorded yet are then postponed, not tried in this
	 * transaction.  Each try would meet the same lock (an ALTER EXTENSION
	 * UPDATE waiting for the stream this transaction locked, and holding a
	 * table the recording writes), costing deadlock_timeout a tag while the
	 * other transaction waits for this one to end.  Postponed tags back off
	 * as any tag whose result could not be recorded.
	 */
	bool		yield;
	int			postponed;
} Recording;

static void
postpone(Recording *rec, int64 tag_id)
{
	rec->postponed++;
	recorded(rec->schedule, tag_id, false);
}

/*
 * Records one tag's result (values as p->one takes them).  A result that
 * cannot be recorded (a manifest the catalogue refuses, a source stored
 * before 0.3.0 refused it) is recorded as the tag's failure instead, unless
 * the error may pass; the tag backs off if even that fails.
 */
static void
record_one(Recording *rec, Datum *values, const char *nulls, const DueTag *d)
{
	RecordPlans *p = &rec->plans;
	ErrorData  *e = NULL;
	bool		ok = run_recording(p->one, values, nulls, d->source, NULL, NULL, &e);

	if (!ok && transient(e))
		rec->yield = true;
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
	recorded(rec->schedule, d->tag_id, ok);
}


/*
 * Records the results of one stream's tags (idx[0..m-1], in chunk order):
 * the stream moves to one new generation for all of them, as OpenShift's
 * import of a stream's scheduled tags does.  They are recorded together,
 * set-based (if there are RECORD_TOGETHER_MIN or more); the tags that call
 * leaves, and all of them if it fails, one by one, each in a subtransaction
 * of its own.
 */
static void
record_stream(Recording *rec, DueTag **tags, FetchResult **results, const int *idx, int m)
{
	RecordPlans *p = &rec->plans;
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

	Assert(m > 0);
	if (rec->yield)
	{
		for (int j = 0; j < m; j++)
			postpone(rec, tags[idx[j]]->tag_id);
		return;
	}
	values[0] = Int64GetDatum(tags[idx[0]]->stream_id);
	/* (if this fails, each tag takes a generation of its own) */
	if (!run_recording(p->generation, values, nulls, tags[idx[0]]->source, read_first, &gen, &e))
	{
		rec->yield = transient(e);
		FreeErrorData(e);
		e = NULL;
	}
	for (int j = 0; j < m; j++)
	{
		const FetchResult *r = results[idx[j]];
		/* the tags that one new digest moved share its manifests: sent once */
		bool		shares = j > 0 && r->manifests != NIL && r->manifests == results[idx[j - 1]]->manifests;

		Assert(tags[idx[j]]->stream_id == tags[idx[0]]->stream_id);
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
			rec->yield = transient(e);
			FreeErrorData(e);
		}
		for (int j = 0; j < m; j++)
			if (!alone.marked[j])
				recorded(rec->schedule, tags[idx[j]]->tag_id, true);
	}
	nulls[3] = gen.isnull ? 'n' : ' ';
	values[3] = gen.value;
	for (int j = 0; j < m; j++)
	{
		if (!alone.marked[j])
			continue;
		if (rec->yield)
		{
			postpone(rec, tags[idx[j]]->tag_id);
			continue;
		}
		values[0] = ids[j];
		values[1] = sources[j];
		values[2] = full[j];
		record_one(rec, values, nulls, tags[idx[j]]);
		/* the next chunk's requests go on meanwhile */
		if (rec->background)
			fetch_many_poll(rec->background);
	}
}

/* Records a chunk stream by stream, each stream's tags together. */
static void
record_all(Recording *rec, DueTag **tags, FetchResult **results, int n)
{
	int		   *order = palloc(sizeof(int) * n);
	int			first = 0;

	Assert(n > 0);
	prepare_plans(&rec->plans);
	for (int i = 0; i < n; i++)
		order[i] = i;
	qsort_arg(order, n, sizeof(int), by_stream, tags);
	for (int k = 1; k <= n; k++)
	{
		if (k < n && tags[order[k]]->stream_id == tags[order[first]]->stream_id)
			continue;
		record_stream(rec, tags, results, order + first, k - first);
		first = k;
		if (rec->background)
			fetch_many_poll(rec->background);
	}
}

/*
 * Is this process recording a chunk's results?  The trigger of the due
 * queue (src/sql/code/290_worker.sql) asks, through _worker_recording(), so
 * that the worker's own updates of tag feed no queue: the worker reads a tag
 * it recorded again anyway when the tag comes up, and _record_import moves a
 * tag's spec_generation before its status, a step that would look like a
 * new spec.  No other process, and no role, can set it.
 */
static bool recording = false;

PG_FUNCTION_INFO_V1(imagestream_worker_recording);
Datum
imagestream_worker_recording(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(recording);
}

/*
 * Records results in one transaction, each tag in a subtransaction of its
 * own.  If the commit itself fails, the error is logged, not fatal; returns
 * false then.
 */
static bool
record_in_transaction(WorkerSchedule *s, FetchMany *background, MemoryContext loop_ctx,
					  DueTag **tags, FetchResult **results, int n)
{
	volatile bool ok = false;
	Recording	rec = {s, background};

	PG_TRY();
	{
		worker_begin_transaction();
		pgstat_report_activity(STATE_RUNNING, "imagestream worker: recording imports");
		recording = true;
		record_all(&rec, tags, results, n);
		recording = false;
		worker_end_transaction();
		ok = true;
		if (rec.postponed > 0 && worker_log_allowed())
			ereport(LOG,
					(errmsg("imagestream worker postponed recording %d imports to a later cycle",
							rec.postponed),
					 errdetail("Recording an import met an error that may pass (a deadlock, a lock not granted), logged above.")));
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		recording = false;
		MemoryContextSwitchTo(loop_ctx);
		edata = CopyErrorData();
		FlushErrorState();
		AbortCurrentTransaction();
		if (worker_log_allowed())
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
void
record_results(WorkerSchedule *s, FetchMany *background, MemoryContext loop_ctx,
			   DueTag **tags, FetchResult **results, int n)
{
	Assert(n >= 0);
	if (n == 0 || record_in_transaction(s, background, loop_ctx, tags, results, n))
		return;
	for (int i = 0; i < n; i++)
		if (n == 1 || !record_in_transaction(s, background, loop_ctx, tags + i, results + i, 1))
			recorded(s, tags[i]->tag_id, false);
}
