/*
 * worker_due.c
 *		The tags the background worker watches, and which of them are due
 *		(worker_due.h).
 *
 * The worker keeps each importable tag that is pending, requested or
 * scheduled in a hash by id, with its timing (worker_schedule.h), and in a
 * heap by the time to look at it next.  It reads all such tags only when
 * it starts, after a cycle failed, or when the extension or the import
 * interval changed.  Otherwise each cycle takes the due queue (the table
 * imagestream.worker_queue, which row triggers on imagestream.tag feed when
 * a spec, a schedule or an import request changes: 290_worker.sql), takes
 * from the heap the tags whose time has come, and reads those tags, and
 * only those, by id: a tag gone or no longer of interest is forgotten, the
 * others are due or go back into the heap.  So a cycle costs what changed
 * and what is due, not a pass over the tag table, and what the worker
 * records itself (status columns, which feed no queue) is read again when
 * the tag's time comes: a tag it imported because it was pending comes up
 * once more, is found no longer pending, and waits for its next check.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "pgstat.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "settings.h"
#include "worker_due.h"
#include "worker_record.h"
#include "worker_schedule.h"

/*
 * The objects of 0.2.0, which the worker meets between the server's restart
 * with this library and ALTER EXTENSION UPDATE (doc/upgrading.md), have
 * neither imagestream._due_tags() nor the due queue: for them, the query
 * 0.2.0's worker ran, each cycle.  It goes with the first release whose
 * previous release has the due queue.
 */
static const char *const due_tags_0_2_0 =
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
	"WHERE d.pending OR d.requested OR d.sched";

/* The other files find a tag's TagSchedule by its id in the same hash. */
StaticAssertDecl(offsetof(WatchedTag, timing) == 0, "a WatchedTag begins with its TagSchedule");

/* Rows of a full read fetched at a time: its memory stays bounded. */
#define READ_BATCH 10000

void
due_init(WorkerSchedule *s)
{
	MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);
	HASHCTL		ctl;

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(int64);
	ctl.entrysize = sizeof(WatchedTag);
	s->tags = hash_create("imagestream schedule", 1024, &ctl, HASH_ELEM | HASH_BLOBS);
	due_heap_init(&s->heap, 1024);
	s->loaded = false;
	MemoryContextSwitchTo(old);
}

void
due_reload(WorkerSchedule *s)
{
	s->loaded = false;
}

/* What one cycle's reading collects. */
typedef struct DueRead
{
	MemoryContext loop_ctx;
	TimestampTz now;
	HTAB	   *turns;			/* NamespaceTurn by namespace */
	DueTag	  **due;			/* in loop_ctx, grown as needed */
	WatchedTag **due_watched;	/* due[i]'s entry */
	int			ndue;
	int			size;
} DueRead;

/* A tag no longer of interest (gone, not importable, nothing to do). */
static void
forget(WorkerSchedule *s, WatchedTag *w)
{
	if (w->sched)
		s->scheduled--;
	due_heap_remove(&s->heap, w);
	hash_search(s->tags, &w->timing.tag_id, HASH_REMOVE, NULL);
}

/* Forgets every tag (the extension is gone). */
static void
forget_all(WorkerSchedule *s)
{
	HASH_SEQ_STATUS seq;
	WatchedTag *w;

	due_heap_clear(&s->heap);
	hash_seq_init(&seq, s->tags);
	while ((w = hash_seq_search(&seq)) != NULL)
		hash_search(s->tags, &w->timing.tag_id, HASH_REMOVE, NULL);
	s->scheduled = 0;
	Assert(hash_get_num_entries(s->tags) == 0);
}

/* A due tag, with what its check needs, from its row (in r->loop_ctx). */
static void
add_due(DueRead *r, WatchedTag *w, HeapTuple tup, TupleDesc desc, bool pending)
{
	MemoryContext old = MemoryContextSwitchTo(r->loop_ctx);
	DueTag	   *d = palloc0(sizeof(DueTag));
	bool		isnull;
	bool		found;
	char	   *ns;
	NamespaceTurn *turn;

	d->tag_id = w->timing.tag_id;
	d->stream_id = DatumGetInt64(SPI_getbinval(tup, desc, 11, &isnull));
	d->source = SPI_getvalue(tup, desc, 2);
	d->insecure = DatumGetBool(SPI_getbinval(tup, desc, 3, &isnull));
	d->preserve = DatumGetBool(SPI_getbinval(tup, desc, 4, &isnull));
	/* what the source served last is no guide for a new spec */
	d->known = pending ? NULL : SPI_getvalue(tup, desc, 5);
	d->prefer_os = SPI_getvalue(tup, desc, 6);
	d->prefer_arch = SPI_getvalue(tup, desc, 7);
	d->forced = w->forced;
	ns = SPI_getvalue(tup, desc, 12);
	turn = hash_search(r->turns, ns, HASH_ENTER, &found);
	if (!found)
	{
		turn->turn = hash_get_num_entries(r->turns) - 1;
		turn->ranks[0] = turn->ranks[1] = 0;
	}
	d->namespace = ns;
	fair_place(d, turn);
	if (r->ndue == r->size)
	{
		r->size *= 2;
		r->due = repalloc(r->due, sizeof(DueTag *) * r->size);
		r->due_watched = repalloc(r->due_watched, sizeof(WatchedTag *) * r->size);
	}
	r->due[r->ndue] = d;
	r->due_watched[r->ndue++] = w;
	MemoryContextSwitchTo(old);
}

/*
 * A row of imagestream._due_tags() (or of 0.2.0's query): its tag is
 * watched, and either due (added to r) or back in the heap at its wake.
 */
static void
watch_row(WorkerSchedule *s, DueRead *r, HeapTuple tup, TupleDesc desc)
{
	bool		isnull;
	int64		id = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
	bool		pending = DatumGetBool(SPI_getbinval(tup, desc, 8, &isnull));
	bool		requested = DatumGetBool(SPI_getbinval(tup, desc, 9, &isnull));
	bool		sched = DatumGetBool(SPI_getbinval(tup, desc, 10, &isnull));
	bool		found;
	WatchedTag *w = hash_search(s->tags, &id, HASH_ENTER, &found);

	if (!found)
	{
		char	   *source = SPI_getvalue(tup, desc, 2);

		memset(w, 0, sizeof(WatchedTag));
		w->timing.tag_id = id;
		w->heap_index = -1;
		/* due with the other followers of its source (group_checks) */
		schedule_new_check(&w->timing,
						   source_key(source, DatumGetBool(SPI_getbinval(tup, desc, 3, &isnull))),
						   r->now, imagestream_import_interval);
		pfree(source);
	}
	if (sched != w->sched)
		s->scheduled += sched ? 1 : -1;
	w->sched = sched;
	w->forced = pending || requested;
	if (schedule_seen(&w->timing, s->cycle, w->forced, r->now, imagestream_import_interval))
	{
		/* (placed once the next wake of the others is known) */
		due_heap_remove(&s->heap, w);
		add_due(r, w, tup, desc, pending);
	}
	else
	{
		due_heap_place(&s->heap, w, watched_wake(w));
		Assert(w->key > r->now);
	}
}

/* Reads the rows of a statement run, READ_BATCH at a time. */
static void
watch_rows(WorkerSchedule *s, DueRead *r, SPIPlanPtr plan, Datum *values)
{
	Portal		portal = SPI_cursor_open(NULL, plan, values, NULL, false);

	for (;;)
	{
		SPI_cursor_fetch(portal, true, READ_BATCH);
		if (SPI_processed == 0)
			break;
		for (uint64 i = 0; i < SPI_processed; i++)
			watch_row(s, r, SPI_tuptable->vals[i], SPI_tuptable->tupdesc);
		SPI_freetuptable(SPI_tuptable);
	}
	SPI_cursor_close(portal);
}

static SPIPlanPtr
prepare(const char *query, int nargs, Oid *types)
{
	SPIPlanPtr	plan = SPI_prepare(query, nargs, types);

	if (plan == NULL)
		elog(ERROR, "could not prepare the reading of due tags: %s",
			 SPI_result_code_string(SPI_result));
	return plan;
}

/*
 * Reads all importable tags of interest: the queue is taken first (what it
 * names is in the read, whose snapshot is later), the heap built again, and
 * the tags not read forgotten.  On 0.2.0's objects (has_due_tags false)
 * with 0.2.0's query.
 */
static void
read_all(WorkerSchedule *s, DueRead *r, bool has_due_tags, bool has_queue)
{
	HASH_SEQ_STATUS seq;
	WatchedTag *w;

	if (has_queue && SPI_execute("SELECT FROM imagestream._due_queue()", false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not take the due queue");
	due_heap_clear(&s->heap);
	watch_rows(s, r, prepare(has_due_tags ? "SELECT * FROM imagestream._due_tags()" : due_tags_0_2_0,
							 0, NULL), NULL);
	hash_seq_init(&seq, s->tags);
	while ((w = hash_seq_search(&seq)) != NULL)
		if (w->timing.seen_cycle != s->cycle)
			forget(s, w);
}

/* The tags a cycle reads by id, and those of them the worker watched. */
typedef struct Lookup
{
	Datum	   *ids;
	int			nids;
	WatchedTag **watched;
	int			nwatched;
	int			size;
} Lookup;

static void
look_up(Lookup *l, int64 id, WatchedTag *w)
{
	if (l->nids == l->size)
	{
		l->size *= 2;
		l->ids = repalloc(l->ids, sizeof(Datum) * l->size);
		l->watched = repalloc(l->watched, sizeof(WatchedTag *) * l->size);
	}
	l->ids[l->nids++] = Int64GetDatum(id);
	if (w != NULL)
		l->watched[l->nwatched++] = w;
}

/*
 * Reads the tags the queue names and those whose time has come, by id; of
 * these, those not read (gone, no longer importable, nothing to do) are
 * forgotten.
 */
static void
read_changes(WorkerSchedule *s, DueRead *r)
{
	Lookup		l = {palloc(sizeof(Datum) * 64), 0, palloc(sizeof(WatchedTag *) * 64), 0, 64};
	WatchedTag *w;
	Oid			types[1] = {INT8ARRAYOID};
	Datum		values[1];

	if (SPI_execute("SELECT * FROM imagestream._due_queue()", false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not take the due queue");
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		int64		id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1,
													 &isnull));

		if ((w = hash_search(s->tags, &id, HASH_FIND, NULL)) != NULL)
			due_heap_remove(&s->heap, w);
		look_up(&l, id, w);
	}
	SPI_freetuptable(SPI_tuptable);
	while ((w = due_heap_first(&s->heap)) != NULL && w->key <= r->now)
	{
		due_heap_remove(&s->heap, w);
		/* its check moved it later since it was placed */
		if (watched_wake(w) > r->now)
			due_heap_place(&s->heap, w, watched_wake(w));
		else
			look_up(&l, w->timing.tag_id, w);
	}
	if (l.nids == 0)
		return;
	values[0] = PointerGetDatum(construct_array(l.ids, l.nids, INT8OID, sizeof(int64),
												FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	/* one probe of tag's primary key an id, however many (never a scan) */
	watch_rows(s, r, prepare("SELECT d.* FROM pg_catalog.unnest($1) u(id), LATERAL "
							 "(SELECT * FROM imagestream._due_tags() t "
							 " WHERE t.id OPERATOR(pg_catalog.=) u.id OFFSET 0) d",
							 1, types), values);
	for (int i = 0; i < l.nwatched; i++)
		if (l.watched[i]->timing.seen_cycle != s->cycle)
			forget(s, l.watched[i]);
}

TimestampTz
due_next(WorkerSchedule *s, DueTag **due, int ndue, TimestampTz next_due)
{
	WatchedTag *w;

	for (int i = 0; i < ndue; i++)
		if ((w = hash_search(s->tags, &due[i]->tag_id, HASH_FIND, NULL)) != NULL)
			due_heap_place(&s->heap, w, watched_wake(w));
	if ((w = due_heap_first(&s->heap)) != NULL)
		next_due = Min(next_due, w->key);
	return next_due;
}

int
read_due(WorkerSchedule *s, MemoryContext loop_ctx, TimestampTz now, int64 *scheduled,
		 TimestampTz *next_due, DueTag ***due_out)
{
	DueRead		r = {loop_ctx, now};
	HASHCTL		ctl;
	WatchedTag *first;
	HeapTuple	tup;
	TupleDesc	desc;
	bool		isnull;
	bool		has_due_tags;
	bool		has_queue;
	Oid			extension;
	char	   *version;

	*due_out = NULL;
	*scheduled = 0;
	*next_due = TimestampTzPlusMilliseconds(now, imagestream_import_interval);
	worker_begin_transaction();
	pgstat_report_activity(STATE_RUNNING, "imagestream worker: reading due tags");
	if (SPI_execute("SELECT e.oid, e.extversion, "
					"  pg_catalog.to_regprocedure('imagestream._due_tags()') IS NOT NULL, "
					"  pg_catalog.to_regprocedure('imagestream._due_queue()') IS NOT NULL "
					"FROM pg_catalog.pg_extension e WHERE e.extname = 'imagestream'",
					true, 1) != SPI_OK_SELECT || SPI_processed == 0)
	{
		worker_end_transaction();
		forget_all(s);
		s->loaded = false;
		return 0;
	}
	tup = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	extension = DatumGetObjectId(SPI_getbinval(tup, desc, 1, &isnull));
	version = SPI_getvalue(tup, desc, 2);
	has_due_tags = DatumGetBool(SPI_getbinval(tup, desc, 3, &isnull));
	has_queue = DatumGetBool(SPI_getbinval(tup, desc, 4, &isnull));

	ctl.keysize = NAMEDATALEN;
	ctl.entrysize = sizeof(NamespaceTurn);
	ctl.hcxt = loop_ctx;
	r.turns = hash_create("imagestream namespaces", 64, &ctl, HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
	r.size = 64;
	r.due = MemoryContextAlloc(loop_ctx, sizeof(DueTag *) * r.size);
	r.due_watched = MemoryContextAlloc(loop_ctx, sizeof(WatchedTag *) * r.size);
	s->cycle++;
	/* when in doubt, all of them: the queue says what changed since a full read */
	if (!has_queue || !s->loaded || extension != s->extension ||
		strcmp(version, s->version) != 0 || imagestream_import_interval != s->interval_ms)
	{
		read_all(s, &r, has_due_tags, has_queue);
		s->loaded = has_queue;
		s->extension = extension;
		strlcpy(s->version, version, sizeof(s->version));
		s->interval_ms = imagestream_import_interval;
	}
	else
		read_changes(s, &r);
	worker_end_transaction();

	/* the due tags stay in the heap where their time has come */
	if ((first = due_heap_first(&s->heap)) != NULL)
		*next_due = Min(*next_due, first->key);
	for (int i = 0; i < r.ndue; i++)
		due_heap_place(&s->heap, r.due_watched[i], watched_wake(r.due_watched[i]));
	Assert(hash_get_num_entries(s->tags) == s->heap.count);
	fair_order(r.due, r.ndue, (int) hash_get_num_entries(r.turns), s->cycle);
	*scheduled = s->scheduled;
	*due_out = r.due;
	return r.ndue;
}
