/*
 * worker_chunks.c
 *		The background worker's chunk pipeline (worker_chunks.h).
 *
 * A chunk's sources are fetched with no transaction open (fetch_many,
 * src/fetch_many.c); once its requests are done, the next chunk's start,
 * and the results of this one that change something are recorded
 * (worker_record.c) while they go on.  All the pipeline keeps is in the
 * ChunkPipeline its caller owns.
 */
#include "postgres.h"

#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/interrupt.h"
#include "storage/latch.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "credentials.h"
#include "digest_type.h"
#include "fetch_sql.h"
#include "isolate.h"
#include "names.h"
#include "ref_type.h"
#include "settings.h"
#include "worker_chunks.h"
#include "worker_record.h"

/*
 * A chunk of checks, and the fetch of their tags' sources once started.
 * All of it lives in its own context, deleted once its results are
 * recorded: a cycle of 100,000 tags would otherwise hold every chunk's
 * responses until the cycle ends (the loop context is reset per cycle).
 */
struct Chunk
{
	MemoryContext ctx;
	const DueCheck *checks;		/* its checks, whose tags are tags[] in order */
	int			nchecks;
	DueTag	  **tags;
	int			n;
	int			nall;			/* its tags and their riders */
	FetchItem  *items;
	FetchMany  *fetch;
	ChunkPipeline *pipeline;
	int		   *check_of;		/* tags[i]'s check, an index in checks */
	HTAB	   *paid;			/* the namespaces of a check that fetched (PaidKey) */
};

/* A namespace whose tags of a check made a whole fetch. */
typedef struct PaidKey
{
	int			check;
	char		namespace[NAMESPACE_MAX + 1];
} PaidKey;

void
pipeline_init(ChunkPipeline *p, WorkerSchedule *schedule, MemoryContext loop_ctx)
{
	memset(p, 0, sizeof(*p));
	p->schedule = schedule;
	p->loop_ctx = loop_ctx;
}

/* A cycle starts, with its read budget. */
void
pipeline_cycle_start(ChunkPipeline *p)
{
	Assert(p->in_background == NULL);
	p->next_wake = DT_NOEND;
	read_budget_start(&p->cycle_read, imagestream_max_cycle_size, "imagestream.max_cycle_size");
}

/* Has the cycle read imagestream.max_cycle_size? */
bool
pipeline_read_all(const ChunkPipeline *p)
{
	return read_budget_left(&p->cycle_read) == 0;
}

/* Leaving the cycle early: the next chunk's requests are cancelled. */
void
pipeline_cancel(ChunkPipeline *p)
{
	if (p->in_background)
		fetch_many_cancel(p->in_background);
	p->in_background = NULL;
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
 * After a tag's fetch, made by the check keyed check_key: when it is due
 * again (at its reference's next point; a failure retries after 1 s, 2 s,
 * 4 s, ... up to the interval, or the registry's Retry-After), and whether
 * the result must be recorded.
 */
static bool
after_fetch(WatchedTag *w, uint64 check_key, const DueTag *d, const FetchResult *r,
			TimestampTz now, CheckCounts *counts)
{
	bool		failed = r->status == FETCH_FAILURE;

	/* over max_cycle_size: still due, in the next cycle */
	if (r->status == FETCH_DEFERRED)
		return false;
	counts->checked++;
	if (failed)
		counts->failures++;
	schedule_checked(&w->timing, check_key, failed, failed ? r->failure.retry_after : 0, now,
					 imagestream_import_interval);

	if (r->status == FETCH_UNCHANGED && !d->forced)
		return false;			/* nothing new: nothing written */
	if (r->status == FETCH_SUCCESS)
		counts->imports++;
	/* what the recording changes in its row: read it again when it is due */
	w->kept = false;
	return true;
}

/* A rider's own due tag, to record its result (in the current context). */
static DueTag *
rider_due(const DueTag *d, WatchedTag *w)
{
	DueTag	   *own = palloc(sizeof(DueTag));

	*own = *d;
	own->tag_id = w->timing.tag_id;
	own->stream_id = w->stream_id;
	own->watched = w;
	own->riders = NULL;
	own->nriders = own->riders_size = 0;
	return own;
}

/* Each source gets the credentials of its tag's namespace. */
static void
chunk_credentials(void *arg)
{
	Chunk	   *c = arg;
	const char **namespaces = palloc(sizeof(char *) * c->n);

	for (int i = 0; i < c->n; i++)
		namespaces[i] = c->tags[i]->namespace;
	credentials_attach_items(c->items, namespaces, c->n);
}

/* How many of checks[first .. n - 1] the chunk that starts with first takes. */
int
chunk_size(const DueCheck *checks, int first, int n)
{
	int			k = 0;
	int			tags = 0;

	/* (the first check always: group_checks makes none larger than a chunk) */
	while (first + k < n && k < CHUNK_CHECKS &&
		   (k == 0 || tags + checks[first + k].ntags <= CHUNK_TAGS))
		tags += checks[first + k++].ntags;
	Assert(first >= n || k > 0);
	return k;
}

/*
 * May a whole fetch be made for tags[item] (FetchAllowance)?  A check's
 * unit of the import budget pays for the first of each namespace whose tags
 * it checks; each further one of that namespace takes a unit of its own
 * (the tags want other platforms: doc/security.md S33).  So the fetches of
 * one namespace never use up another's, whose first comes free.
 */
static bool
fetch_allowed(void *arg, int item)
{
	Chunk	   *c = arg;
	PaidKey		key;
	bool		found;

	if (c->paid == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = ctl.entrysize = sizeof(PaidKey);
		ctl.hcxt = c->ctx;
		c->paid = hash_create("imagestream paid fetches", 64, &ctl,
							  HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	memset(&key, 0, sizeof(key));
	key.check = c->check_of[item];
	strlcpy(key.namespace, c->tags[item]->namespace, sizeof(key.namespace));
	hash_search(c->paid, &key, HASH_ENTER, &found);
	return !found || budget_take(&c->pipeline->schedule->budget,
								 imagestream_max_imports_per_minute, GetCurrentTimestamp());
}

/*
 * Starts the HEAD requests of a chunk, checks[first .. first + n - 1] and
 * their tags in work (fetch_many_start: one request per upstream reference
 * and credentials), once the stored credentials of its sources are looked
 * up (once per namespace and repository); the registries found unreachable
 * in the last UNREACHABLE_REMEMBER_MS are not asked.
 */
Chunk *
chunk_start(ChunkPipeline *p, DueTag **work, const DueCheck *checks, int first, int n)
{
	MemoryContext ctx = AllocSetContextCreate(p->loop_ctx, "imagestream worker chunk",
											  ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(ctx);
	Chunk	   *c = palloc0(sizeof(Chunk));
	ErrorData  *unread;
	FetchAllowance allow = {fetch_allowed, c};

	Assert(first >= 0 && n > 0);
	c->ctx = ctx;
	c->pipeline = p;
	c->checks = checks + first;
	c->nchecks = n;
	/* a check's tags follow the one before's: the chunk's are one run of work */
	first = c->checks[0].first;
	n = c->checks[n - 1].first + c->checks[n - 1].ntags - first;
	c->n = n;
	c->nall = n;
	c->tags = palloc(sizeof(DueTag *) * n);
	c->items = palloc0(sizeof(FetchItem) * n);
	c->check_of = palloc(sizeof(int) * n);
	for (int k = 0, i = 0; k < c->nchecks; k++)
		for (int j = 0; j < c->checks[k].ntags; j++)
			c->check_of[i++] = k;
	for (int i = 0; i < n; i++)
	{
		DueTag	   *d = work[first + i];
		FetchItem  *item = &c->items[i];
		ItemSource	s = {d, item};
		ParseError	err;
		ErrorData  *e;

		c->tags[i] = d;
		c->nall += d->nriders;
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
		item->signatures = d->signatures;
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
	/* (the requests' responses go to the context current here: ctx) */
	c->fetch = fetch_many_start(c->items, n, imagestream_max_concurrent_requests,
								imagestream_max_requests_per_registry, UNREACHABLE_REMEMBER_MS,
								&p->cycle_read, &allow);
	MemoryContextSwitchTo(old);
	return c;
}

bool
new_work_waiting(void)
{
	return ConfigReloadPending || MyLatch->is_set;
}

/*
 * Ends a chunk's fetch, with no transaction open, then starts the next
 * chunk's requests (checks[next_first .. next_first + next_n - 1]) and
 * records what changed in one transaction while they go on.  Returns the
 * next chunk: NULL when next_n is 0, or when the cycle is to end early (the
 * requests under way are finished and recorded first): new work waits, or
 * the cycle read imagestream.max_cycle_size.
 */
Chunk *
chunk_finish(ChunkPipeline *p, Chunk *c, DueTag **work, const DueCheck *checks, int next_first,
			 int next_n, CheckCounts *counts)
{
	MemoryContext old = MemoryContextSwitchTo(c->ctx);
	DueTag	  **record_tags = palloc(sizeof(DueTag *) * c->nall);
	FetchResult **record = palloc(sizeof(FetchResult *) * c->nall);
	TagSchedule **entries = palloc(sizeof(TagSchedule *) * c->nall);
	int			nrecord = 0;
	int			i = 0;
	TimestampTz now;
	Chunk	   *next = NULL;

	Assert(c->n > 0 && next_n >= 0);
	/* the fetch finished here is the one started in the background, if any */
	Assert(p->in_background == NULL || p->in_background == c->fetch);
	pgstat_report_activity(STATE_RUNNING, "imagestream worker: fetching");
	p->in_background = NULL;
	fetch_many_finish(c->fetch);
	now = GetCurrentTimestamp();

	/*
	 * The next chunk's requests go first: this chunk's results (a hundred
	 * thousand followers' new times, say) are applied and recorded while
	 * they run.
	 */
	if (next_n > 0 && !new_work_waiting() && read_budget_left(&p->cycle_read) > 0)
	{
		next = chunk_start(p, work, checks, next_first, next_n);
		p->in_background = next->fetch;
	}
	for (int k = 0; k < c->nchecks; k++)
	{
		const DueCheck *check = &c->checks[k];
		WatchedRef *ref = c->tags[i]->watched->ref;
		bool		made = false;
		int			nentries = 0;

		for (int j = 0; j < check->ntags; j++)
		{
			const DueTag *d = c->tags[i + j];

			entries[nentries++] = &d->watched->timing;
			for (int x = 0; x < d->nriders; x++)
				entries[nentries++] = &d->riders[x]->timing;
		}
		/* its tags had the same answer: they back off alike */
		schedule_align_failures(entries, nentries);
		for (int j = 0; j < check->ntags; j++, i++)
		{
			DueTag	   *d = c->tags[i];
			FetchResult *result = &c->items[i].result;

			Assert(d->check_key == check->key && d->watched->ref == ref);
			made = made || result->status != FETCH_DEFERRED;
			if (after_fetch(d->watched, check->key, d, result, now, counts))
			{
				record_tags[nrecord] = d;
				record[nrecord++] = result;
			}
			/* a rider's check is d's: so is its result */
			for (int x = 0; x < d->nriders; x++)
				if (after_fetch(d->riders[x], check->key, d, result, now, counts))
				{
					record_tags[nrecord] = rider_due(d, d->riders[x]);
					record[nrecord++] = result;
				}
		}
		/* its followers' new times: the reference's place */
		due_heap_place(&p->schedule->heap, ref, ref_earliest(ref));
		p->next_wake = Min(p->next_wake, ref->wake);
		/* over max_cycle_size: a check not made gives its budget back */
		if (!made)
			budget_return(&p->schedule->budget);
		if (p->in_background && k % 64 == 63)
			fetch_many_poll(p->in_background);
	}
	Assert(i == c->n && nrecord <= c->nall);
	record_results(p->schedule, p->in_background, p->loop_ctx, record_tags, record, nrecord);
	MemoryContextSwitchTo(old);
	MemoryContextDelete(c->ctx);
	return next;
}
