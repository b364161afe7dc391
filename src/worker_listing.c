/*
 * worker_listing.c
 *		The background worker's listings (worker_listing.h).
 *
 * A listing is due every import_interval, by the same rules as a scheduled
 * tag (worker_schedule.c): spread over the interval, backing off after a
 * failure, holding back for a registry's Retry-After; a listing requested
 * (a push announced by registry_event for a stream's repository, a policy
 * set by follow(), import_now of a followed tag) is due at once, as a
 * requested tag is.  Its tag list is read a page at a time, each page one
 * request (registry_get_tags_page), and each page recorded at once in a
 * short transaction by its kind's SQL function:
 *	- a stream's scheduled repository (imagestream.stream_repository):
 *	  _repository_page makes the page's tags new to the stream pending spec
 *	  tags, which the next cycle imports as any new spec;
 *	- a policy listing: _policy_listing_page keeps the page (an unlogged
 *	  staging table), and the last page chooses each policy's winner and
 *	  moves the tags whose winner changed to it (a pending spec too).
 * Where the listing goes on (the next page's URL) is kept here between
 * pages and cycles, so a listing never holds the worker for longer than one
 * request, and its memory is one page: the pages wait whenever a tag is due
 * or new work is committed.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "credentials.h"
#include "fetch_sql.h"
#include "http.h"
#include "isolate.h"
#include "ref_type.h"
#include "registry_hosts.h"
#include "settings.h"
#include "worker_listing.h"
#include "worker_record.h"

/* What differs between the kinds of listing. */
typedef struct ListingKindInfo
{
	const char *due;			/* the function that lists them */
	bool		whole;			/* a choice among part of the tags would be
								 * wrong: a listing cut at TAG_PAGES_MAX fails */
} ListingKindInfo;

static const ListingKindInfo kinds[LISTING_KINDS] = {
	[LISTING_REPOSITORY] = {"imagestream._due_repositories()", false},
	[LISTING_POLICY] = {"imagestream._due_policy_listings()", true},
};

void
listings_init(WorkerListings *l)
{
	HASHCTL		ctl;

	memset(l, 0, sizeof(*l));
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(ListingKey);
	ctl.entrysize = sizeof(ListingSchedule);
	l->listings = hash_create("imagestream listings", 64, &ctl, HASH_ELEM | HASH_BLOBS);
}

/* A listing ends, or starts again: nothing of it is kept. */
static void
listing_reset(ListingSchedule *e)
{
	if (e->listing)
		pfree(e->listing);
	if (e->next_page)
		pfree(e->next_page);
	e->listing = NULL;
	e->next_page = NULL;
	e->pages = 0;
	e->added = 0;
	e->read = 0;
}

/*
 * The due listings of one kind among the rows of its function (id,
 * repository, insecure, namespace, requested), appended to due.
 */
static int
read_kind(WorkerListings *l, ListingKind kind, MemoryContext loop_ctx, TimestampTz now,
		  TimestampTz *next_due, DueListing *due)
{
	int			ndue = 0;

	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		ListingKey	key;
		ListingSchedule *e;
		char	   *repository = SPI_getvalue(tup, desc, 2);
		bool		isnull;
		bool		found;
		bool		requested;

		memset(&key, 0, sizeof(key));
		key.kind = kind;
		key.id = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
		e = hash_search(l->listings, &key, HASH_ENTER, &found);
		if (!found)
		{
			ListingSchedule fresh = {key};

			*e = fresh;
			e->timing.tag_id = key.id;
			schedule_new(&e->timing, now, imagestream_import_interval);
		}
		/* it names another repository now: its listing starts over */
		if (e->listing && strcmp(e->listing, repository) != 0)
			listing_reset(e);
		/* a listing under way goes on, and a requested one is listed at once */
		requested = DatumGetBool(SPI_getbinval(tup, desc, 5, &isnull));
		if (schedule_seen(&e->timing, l->cycle, e->listing != NULL || requested, now,
						  imagestream_import_interval))
		{
			due[ndue].entry = e;
			due[ndue].repository = MemoryContextStrdup(loop_ctx, repository);
			due[ndue].insecure = DatumGetBool(SPI_getbinval(tup, desc, 3, &isnull));
			due[ndue].namespace = MemoryContextStrdup(loop_ctx, SPI_getvalue(tup, desc, 4));
			ndue++;
		}
		else if (schedule_wake(&e->timing) < *next_due)
			*next_due = schedule_wake(&e->timing);
	}
	return ndue;
}

int
listings_read_due(WorkerListings *l, MemoryContext loop_ctx, TimestampTz now,
				  TimestampTz *next_due, DueListing **due_out)
{
	DueListing *due = NULL;
	int			ndue = 0;
	bool		present[LISTING_KINDS];
	bool		isnull;
	HASH_SEQ_STATUS seq;
	ListingSchedule *e;

	*due_out = NULL;
	worker_begin_transaction();
	pgstat_report_activity(STATE_RUNNING, "imagestream worker: reading listings");
	/* (0.2.0's objects, in the upgrade window, have neither) */
	if (SPI_execute("SELECT pg_catalog.to_regprocedure('imagestream._due_repositories()') IS NOT NULL, "
					"pg_catalog.to_regprocedure('imagestream._due_policy_listings()') IS NOT NULL "
					"FROM pg_catalog.pg_extension WHERE extname = 'imagestream'",
					true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not look for the functions of the listings");
	if (SPI_processed == 0)
	{
		worker_end_transaction();
		return 0;
	}
	for (int k = 0; k < LISTING_KINDS; k++)
		present[k] = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc,
												k + 1, &isnull));
	l->cycle++;
	for (int k = 0; k < LISTING_KINDS; k++)
	{
		if (!present[k])
			continue;
		if (SPI_execute(psprintf("SELECT * FROM %s", kinds[k].due), true, 0) != SPI_OK_SELECT)
			elog(ERROR, "could not read the listings of %s", kinds[k].due);
		if (SPI_processed == 0)
			continue;
		due = due ? repalloc(due, sizeof(DueListing) * (ndue + SPI_processed))
			: MemoryContextAlloc(loop_ctx, sizeof(DueListing) * SPI_processed);
		ndue += read_kind(l, k, loop_ctx, now, next_due, due + ndue);
	}
	worker_end_transaction();

	/* forget the listings no longer due at any time */
	hash_seq_init(&seq, l->listings);
	while ((e = hash_seq_search(&seq)) != NULL)
		if (e->timing.seen_cycle != l->cycle)
		{
			listing_reset(e);
			hash_search(l->listings, &e->key, HASH_REMOVE, NULL);
		}
	*due_out = due;
	return ndue;
}

/* The arguments and outcome of one SQL call on a listing, for run_isolated. */
typedef struct ListingCall
{
	const DueListing *d;
	List	   *tags;			/* a page: its tags */
	int			room;			/* (repositories: max_bulk_import's rest) */
	bool		first;
	bool		last;
	int			added;			/* what it returned */
	const char *reason;			/* a failure */
	const char *message;
} ListingCall;

/*
 * One page recorded by its kind's function, in a transaction of its own:
 * imagestream._repository_page or imagestream._policy_listing_page.
 */
static void
record_page(void *arg)
{
	ListingCall *c = arg;
	const ListingKey *key = &c->d->entry->key;
	Datum	   *names = palloc(sizeof(Datum) * (list_length(c->tags) + 1));
	Datum		tags;
	int			n = 0;
	ListCell   *lc;
	int			ret;
	bool		isnull;
	Datum		added;

	foreach(lc, c->tags)
		names[n++] = CStringGetTextDatum(lfirst(lc));
	tags = PointerGetDatum(construct_array(names, n, TEXTOID, -1, false, TYPALIGN_INT));
	worker_begin_transaction();
	pgstat_report_activity(STATE_RUNNING, "imagestream worker: recording a listing");
	if (key->kind == LISTING_REPOSITORY)
	{
		Oid			types[5] = {INT8OID, TEXTOID, TEXTARRAYOID, INT4OID, BOOLOID};
		Datum		values[5] = {Int64GetDatum(key->id), CStringGetTextDatum(c->d->repository),
		tags, Int32GetDatum(c->room), BoolGetDatum(c->last)};

		ret = SPI_execute_with_args("SELECT imagestream._repository_page($1, $2, $3, $4, $5)",
									5, types, values, NULL, false, 1);
	}
	else
	{
		Oid			types[4] = {INT8OID, TEXTARRAYOID, BOOLOID, BOOLOID};
		Datum		values[4] = {Int64GetDatum(key->id), tags, BoolGetDatum(c->first),
		BoolGetDatum(c->last)};

		ret = SPI_execute_with_args("SELECT imagestream._policy_listing_page($1, $2, $3, $4)",
									4, types, values, NULL, false, 1);
	}
	if (ret != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not record a page of the tag list of %s", c->d->repository);
	added = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	c->added = isnull ? 0 : DatumGetInt32(added);
	worker_end_transaction();
}

/*
 * A failed listing recorded by its kind's function:
 * imagestream._repository_listed or imagestream._policy_listing_failed.
 */
static void
record_failure(void *arg)
{
	ListingCall *c = arg;
	const ListingKey *key = &c->d->entry->key;
	Datum		message = c->message ? CStringGetTextDatum(c->message) : (Datum) 0;
	int			ret;

	worker_begin_transaction();
	pgstat_report_activity(STATE_RUNNING, "imagestream worker: recording a listing");
	if (key->kind == LISTING_REPOSITORY)
	{
		Oid			types[4] = {INT8OID, TEXTOID, TEXTOID, TEXTOID};
		Datum		values[4] = {Int64GetDatum(key->id), CStringGetTextDatum(c->d->repository),
		CStringGetTextDatum(c->reason), message};
		char		nulls[4] = {' ', ' ', ' ', c->message ? ' ' : 'n'};

		ret = SPI_execute_with_args("SELECT imagestream._repository_listed($1, $2::imagestream.image_ref, $3, $4)",
									4, types, values, nulls, false, 1);
	}
	else
	{
		Oid			types[3] = {INT8OID, TEXTOID, TEXTOID};
		Datum		values[3] = {Int64GetDatum(key->id), CStringGetTextDatum(c->reason), message};
		char		nulls[3] = {' ', ' ', c->message ? ' ' : 'n'};

		ret = SPI_execute_with_args("SELECT imagestream._policy_listing_failed($1, $2, $3)",
									3, types, values, nulls, false, 1);
	}
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not record the failed listing of %s", c->d->repository);
	worker_end_transaction();
}

/* Logs an error of a recording (a limited number a minute). */
static void
log_recording_error(const DueListing *d, const ErrorData *e)
{
	if (worker_log_allowed())
		ereport(LOG,
				(errmsg("imagestream worker could not record the listing of %s: %s",
						d->repository, e->message)));
}

/*
 * A listing failed: the failure is recorded (the repository's condition, or
 * the policies' list_status: their winners stay), and it is listed again
 * from its first page after its back-off (or the registry's Retry-After).
 */
static void
listing_failed(const DueListing *d, const char *reason, const char *message, int retry_after_s)
{
	ListingCall c = {d};
	ErrorData  *e;

	c.reason = reason;
	c.message = message;
	if ((e = run_isolated(record_failure, &c)) != NULL)
	{
		log_recording_error(d, e);
		FreeErrorData(e);
	}
	schedule_fetched(&d->entry->timing, true, retry_after_s, GetCurrentTimestamp(),
					 imagestream_import_interval);
	listing_reset(d->entry);
}

/* What an error raised while listing says, as a failure's message. */
static char *
error_message(const ErrorData *e)
{
	return e->detail ? psprintf("The listing stopped on an error: %s. %s", e->message, e->detail)
		: psprintf("The listing stopped on an error: %s.", e->message);
}

/* One page read, for run_isolated. */
typedef struct PageRead
{
	const RegistryTarget *target;
	const char *url;
	List	   *tags;
	char	   *next;
	RegistryFailure failure;
	bool		ok;
} PageRead;

static void
read_page(void *arg)
{
	PageRead   *p = arg;

	p->ok = registry_get_tags_page(p->target, p->url, &p->tags, &p->next, &p->failure);
}

/*
 * Reads and records the next page of d's listing, one request; returns
 * whether its listing ended (done, or failed), and sets *added if the page
 * added or moved tags.  What it allocates goes with the caller's context,
 * which the caller resets after each page.
 */
static bool
list_page(const DueListing *d, RegistryTarget *t, bool *added)
{
	ListingSchedule *e = d->entry;
	const RegistryFailure *down = registry_host_unreachable(t->api_host);
	ReadBudget	budget;
	PageRead	p = {0};
	ListingCall c = {d};
	uint64		before = http_bytes_received;
	ErrorData  *err;

	if (down != NULL)
	{
		listing_failed(d, down->reason, down->message, 0);
		return true;
	}
	if (e->listing == NULL)
		e->listing = MemoryContextStrdup(TopMemoryContext, d->repository);
	/* the pages of one listing together read at most max_tag_list_size */
	read_budget_resume(&budget, imagestream_max_tag_list_size, "imagestream.max_tag_list_size", e->read);
	t->budget = &budget;
	p.target = t;
	p.url = e->next_page;
	pgstat_report_activity(STATE_RUNNING, "imagestream worker: listing a repository");
	err = run_isolated(read_page, &p);
	t->budget = NULL;
	e->read += http_bytes_received - before;
	if (err != NULL)
	{
		listing_failed(d, "InternalError", error_message(err), 0);
		FreeErrorData(err);
		return true;
	}
	if (!p.ok)
	{
		if (p.failure.unreachable)
			registry_host_set_unreachable(t->api_host, &p.failure, UNREACHABLE_REMEMBER_MS);
		listing_failed(d, p.failure.reason, p.failure.message, p.failure.retry_after);
		return true;
	}

	c.first = e->pages == 0;
	e->pages++;
	if (p.next != NULL && e->pages >= TAG_PAGES_MAX && kinds[e->key.kind].whole)
	{
		listing_failed(d, "ManifestTooLarge",
					   psprintf("The tag list of %s has more than %d pages.", d->repository,
								TAG_PAGES_MAX), 0);
		return true;
	}
	c.tags = p.tags;
	c.last = p.next == NULL || e->pages >= TAG_PAGES_MAX;
	c.room = imagestream_max_bulk_import < 0 ? -1 : Max(imagestream_max_bulk_import - e->added, 0);
	if ((err = run_isolated(record_page, &c)) != NULL)
	{
		/*
		 * A policy listing whose choice failed for good (its policies' time
		 * ran out, a pattern failed on a tag) fails: its policies say why.
		 */
		if (e->key.kind == LISTING_POLICY &&
			ERRCODE_TO_CATEGORY(err->sqlerrcode) != ERRCODE_TRANSACTION_ROLLBACK &&
			err->sqlerrcode != ERRCODE_LOCK_NOT_AVAILABLE)
		{
			listing_failed(d, "InternalError", error_message(err), 0);
			FreeErrorData(err);
			return true;
		}
		/* (as a tag whose result cannot be recorded: it backs off) */
		log_recording_error(d, err);
		FreeErrorData(err);
		schedule_recorded(&e->timing, false, GetCurrentTimestamp(), imagestream_import_interval);
		listing_reset(e);
		return true;
	}
	Assert(e->key.kind != LISTING_REPOSITORY || c.room < 0 || c.added <= c.room);
	e->added += c.added;
	*added = *added || c.added > 0;
	if (c.last)
	{
		schedule_fetched(&e->timing, false, 0, GetCurrentTimestamp(), imagestream_import_interval);
		schedule_recorded(&e->timing, true, GetCurrentTimestamp(), imagestream_import_interval);
		listing_reset(e);
		return true;
	}
	if (e->next_page)
		pfree(e->next_page);
	e->next_page = MemoryContextStrdup(TopMemoryContext, p.next);
	return false;
}

/* The due listings' targets, for run_isolated: their credentials looked up at once. */
typedef struct Targets
{
	DueListing *due;
	RegistryTarget *targets;
	RegistryTarget **attach;
	const char **namespaces;
	int			n;
} Targets;

static void
build_targets(void *arg)
{
	Targets    *t = arg;

	for (int i = 0; i < t->n; i++)
	{
		Datum		ref = DirectFunctionCall1(image_ref_in, CStringGetDatum(t->due[i].repository));

		(void) fetch_target(ref, t->due[i].insecure, &t->targets[i]);
		t->attach[i] = &t->targets[i];
		t->namespaces[i] = t->due[i].namespace;
	}
	credentials_attach(t->attach, t->namespaces, t->n);
}

bool
listings_run(WorkerSchedule *schedule, ChunkPipeline *pipeline, DueListing *due, int n,
			 TimestampTz until, TimestampTz *next_due)
{
	Targets		t = {due, palloc0(sizeof(RegistryTarget) * Max(n, 1)),
		palloc(sizeof(RegistryTarget *) * Max(n, 1)), palloc(sizeof(char *) * Max(n, 1)), n};
	bool	   *ended = palloc0(sizeof(bool) * Max(n, 1));
	MemoryContext page_ctx;
	bool		added = false;
	bool		more = n > 0;
	ErrorData  *e;

	if (n == 0)
		return false;
	/* (the repositories were stored as image_ref: an error here is unexpected) */
	if ((e = run_isolated(build_targets, &t)) != NULL)
	{
		for (int i = 0; i < n; i++)
		{
			listing_failed(&due[i], "InternalError", error_message(e), 0);
			*next_due = Min(*next_due, schedule_wake(&due[i].entry->timing));
		}
		FreeErrorData(e);
		return false;
	}
	page_ctx = AllocSetContextCreate(CurrentMemoryContext, "imagestream listing page",
									 ALLOCSET_DEFAULT_SIZES);
	/* a page of each due listing in turn, until each ends or time is up */
	while (more)
	{
		more = false;
		for (int i = 0; i < n; i++)
		{
			MemoryContext old;

			if (ended[i])
				continue;
			if (GetCurrentTimestamp() >= until || new_work_waiting() || pipeline_read_all(pipeline))
			{
				more = false;
				break;
			}
			/* (spent: the worker looks again in a second, as for the checks) */
			if (!budget_take(&schedule->budget, imagestream_max_imports_per_minute, GetCurrentTimestamp()))
			{
				*next_due = Min(*next_due, TimestampTzPlusMilliseconds(GetCurrentTimestamp(), 1000));
				more = false;
				break;
			}
			old = MemoryContextSwitchTo(page_ctx);
			ended[i] = list_page(&due[i], &t.targets[i], &added);
			MemoryContextSwitchTo(old);
			MemoryContextReset(page_ctx);
			/* a listing ended is due again after the interval, or its back-off */
			if (ended[i])
				*next_due = Min(*next_due, schedule_wake(&due[i].entry->timing));
			more = more || !ended[i];
			CHECK_FOR_INTERRUPTS();
		}
	}
	MemoryContextDelete(page_ctx);
	return added;
}
