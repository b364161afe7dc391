/*
 * worker_due.c
 *		The tags the background worker watches, and which of them are due
 *		(worker_due.h).
 *
 * The worker keeps each importable tag that is pending, requested or
 * scheduled in a hash by id, with its timing (worker_schedule.h), as a
 * follower of its upstream reference, and the references in a heap by the
 * time to look at them next (worker_watch.c).  It reads all such tags only
 * when it starts, after a cycle failed, or when the extension or the import
 * interval changed.  Otherwise each cycle takes the due queue (the table
 * imagestream.worker_queue, which row triggers on imagestream.tag feed when
 * a spec, a schedule, an import request or a known digest changes, but for
 * the worker's own recording: 290_worker.sql), takes from the heap the
 * references whose time has come, with their due followers, and reads the
 * tags the queue names and the due ones that keep nothing, and only those,
 * by id: a tag gone or no longer of interest is forgotten, the others are
 * due or wait for their next time.  A due tag that keeps what its check
 * needs is not read: it rides on a due tag of its reference, namespace,
 * known digest and options (DueTag.riders), whose check is its own.  So a
 * cycle costs what changed and what is due, not a pass over the tag table,
 * and an unchanged follower a loop's turn.  What the worker records itself
 * (status columns, which feed no queue) makes the tag keep nothing: it is
 * read again when its time comes: a tag it imported because it was pending
 * comes up once more, is found no longer pending, and waits for its next
 * check.
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

#include "digest.h"
#include "settings.h"
#include "worker_due.h"
#include "worker_record.h"
#include "worker_schedule.h"
#include "worker_watch.h"

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

/*
 * A dynahash keeps the room of the entries removed from it for good: a
 * worker that once watched 100,000 tags (a bulk load of pending tags, all
 * forgotten once imported) would keep 15 MB of schedule and as much of
 * references.  When the tags watched fall below a quarter of the most the
 * hash held, and that most was at least SHRINK_MIN_PEAK, the next cycle
 * reads all tags again, which makes the references anew, and moves the
 * tags' timing to a hash of their size.
 */
#define SHRINK_MIN_PEAK 20000

/*
 * The due tags a kept follower looks through for one to ride on, at most:
 * a reference followed from thousands of namespaces (each its own due tag)
 * costs no quadratic search, only more due tags.
 */
#define REPS_TRIED 16

/* An empty hash of tags by id, in a context of its own under TopMemoryContext. */
static HTAB *
tags_hash(long size)
{
	HASHCTL		ctl;

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(int64);
	ctl.entrysize = sizeof(WatchedTag);
	ctl.hcxt = TopMemoryContext;
	return hash_create("imagestream schedule", Max(size, 1024), &ctl,
					   HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
}

void
due_init(WorkerSchedule *s)
{
	MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

	s->tags = tags_hash(1024);
	s->tags_peak = 0;
	due_heap_init(&s->heap, 1024);
	watch_init(s);
	s->loaded = false;
	MemoryContextSwitchTo(old);
}

/* Far fewer tags than the hash once held? */
static bool
tags_sparse(const WorkerSchedule *s)
{
	return s->tags_peak >= SHRINK_MIN_PEAK && hash_get_num_entries(s->tags) < s->tags_peak / 4;
}

/*
 * The tags' timing moves to a hash of their size, and the old one goes
 * with its memory.  Only once watch_reset has run: nothing points into the
 * hash then (no reference, no due tag).
 */
static void
shrink_tags(WorkerSchedule *s)
{
	HTAB	   *old = s->tags;
	HASH_SEQ_STATUS seq;
	WatchedTag *w;

	s->tags = tags_hash(hash_get_num_entries(old));
	hash_seq_init(&seq, old);
	while ((w = hash_seq_search(&seq)) != NULL)
	{
		WatchedTag *moved = hash_search(s->tags, &w->timing.tag_id, HASH_ENTER, NULL);

		Assert(w->ref == NULL && !w->kept && w->namespace == NULL);
		*moved = *w;
	}
	hash_destroy(old);
	s->tags_peak = hash_get_num_entries(s->tags);
}

void
due_reload(WorkerSchedule *s)
{
	s->loaded = false;
}

/* What one cycle's reading collects (arrays in loop_ctx, grown as needed). */
typedef struct DueRead
{
	MemoryContext loop_ctx;
	MemoryContext row_ctx;		/* a batch of rows' own allocations */
	TimestampTz now;
	uint64		cycle;
	DueTag	  **due;			/* read, or the first of their kind kept */
	int			ndue;
	int			size;
	WatchedRef **taken;			/* references out of the heap this cycle */
	int			ntaken;
	int			taken_size;
} DueRead;

/* Room for one more in an array of loop_ctx. */
static void *
grown(void *items, int n, int *size, Size width)
{
	if (n < *size)
		return items;
	*size *= 2;
	return repalloc(items, width * *size);
}

/* A tag no longer of interest (gone, not importable, nothing to do). */
static void
forget(WorkerSchedule *s, WatchedTag *w)
{
	if (w->sched)
		s->scheduled--;
	watch_unfollow(s, w);
	watch_drop(s, w);
	hash_search(s->tags, &w->timing.tag_id, HASH_REMOVE, NULL);
}

/* Forgets every tag (the extension is gone). */
static void
forget_all(WorkerSchedule *s)
{
	HASH_SEQ_STATUS seq;
	WatchedTag *w;

	watch_reset(s);
	hash_seq_init(&seq, s->tags);
	while ((w = hash_seq_search(&seq)) != NULL)
		hash_search(s->tags, &w->timing.tag_id, HASH_REMOVE, NULL);
	s->scheduled = 0;
	Assert(hash_get_num_entries(s->tags) == 0);
}

/* A reference with due followers: out of the heap until the cycle's end. */
static void
take(WorkerSchedule *s, DueRead *r, WatchedRef *ref)
{
	if (ref->taken)
		return;
	due_heap_remove(&s->heap, ref);
	ref->taken = true;
	r->taken = grown(r->taken, r->ntaken, &r->taken_size, sizeof(WatchedRef *));
	r->taken[r->ntaken++] = ref;
}

static void
add(DueRead *r, DueTag *d)
{
	r->due = grown(r->due, r->ndue, &r->size, sizeof(DueTag *));
	r->due[r->ndue++] = d;
}

/* Its reference has due tags this cycle (reps: those of kept followers). */
static void
ref_due(DueRead *r, WatchedRef *ref)
{
	Assert(ref->taken);
	if (ref->reps_cycle != r->cycle)
	{
		ref->reps_cycle = r->cycle;
		ref->reps = NULL;
	}
}

/*
 * Whether a row of _due_tags() looks up signatures: its last column, which
 * 0.2.0's query does not have.
 */
static bool
row_signatures(HeapTuple tup, TupleDesc desc)
{
	bool		isnull;

	/* (a NULL is false) */
	return desc->natts >= 13 && DatumGetBool(SPI_getbinval(tup, desc, 13, &isnull));
}

/* A due tag that keeps nothing, with what its check needs, from its row. */
static void
add_due(DueRead *r, WatchedTag *w, HeapTuple tup, TupleDesc desc, bool pending)
{
	MemoryContext old = MemoryContextSwitchTo(r->loop_ctx);
	DueTag	   *d = palloc0(sizeof(DueTag));
	bool		isnull;

	ref_due(r, w->ref);

	d->tag_id = w->timing.tag_id;
	d->watched = w;
	d->stream_id = DatumGetInt64(SPI_getbinval(tup, desc, 11, &isnull));
	d->source = SPI_getvalue(tup, desc, 2);
	d->insecure = DatumGetBool(SPI_getbinval(tup, desc, 3, &isnull));
	d->preserve = DatumGetBool(SPI_getbinval(tup, desc, 4, &isnull));
	/* what the source served last is no guide for a new spec */
	d->known = pending ? NULL : SPI_getvalue(tup, desc, 5);
	d->prefer_os = SPI_getvalue(tup, desc, 6);
	d->prefer_arch = SPI_getvalue(tup, desc, 7);
	d->signatures = row_signatures(tup, desc);
	d->forced = w->forced;
	d->namespace = SPI_getvalue(tup, desc, 12);
	add(r, d);
	MemoryContextSwitchTo(old);
}

/* A due tag for a kept follower, from what it keeps (in the current context). */
static DueTag *
kept_due(WatchedTag *w)
{
	DueTag	   *d = palloc0(sizeof(DueTag));

	d->tag_id = w->timing.tag_id;
	d->watched = w;
	d->stream_id = w->stream_id;
	d->namespace = (char *) w->namespace;
	/* (the reference lives as long as a follower does: this cycle) */
	d->source = (char *) w->ref->source;
	d->insecure = w->ref->insecure;
	d->preserve = w->preserve;
	if (w->has_known)
	{
		Digest		known = {DIGEST_SHA256};

		memcpy(known.hash, w->known, KEPT_DIGEST_BYTES);
		d->known = palloc(DIGEST_MAX_TEXT);
		digest_format(&known, d->known);
	}
	d->prefer_os = w->prefer_os ? pstrdup(w->prefer_os) : NULL;
	d->prefer_arch = w->prefer_arch ? pstrdup(w->prefer_arch) : NULL;
	d->signatures = w->signatures;
	return d;
}

/*
 * A due tag that keeps what its check needs, unread: it rides on the first
 * due tag of its reference it is alike with (kept_alike), or is such a due
 * tag itself.  (At once, while its entry is at hand: a million of them make
 * no second pass.)
 */
static void
add_kept(DueRead *r, WatchedTag *w)
{
	MemoryContext old = MemoryContextSwitchTo(r->loop_ctx);
	WatchedRef *ref = w->ref;
	DueTag	   *d;
	int			tried = 0;

	Assert(w->kept && !w->forced);
	ref_due(r, ref);
	for (d = ref->reps; d != NULL && tried < REPS_TRIED; d = d->next_rep, tried++)
		if (kept_alike(d->watched, w))
			break;
	if (d != NULL && tried < REPS_TRIED)
		rider_add(d, w);
	else
	{
		d = kept_due(w);
		d->next_rep = ref->reps;
		ref->reps = d;
		add(r, d);
	}
	MemoryContextSwitchTo(old);
}

/* A text column of a row, without a copy (NULL if null). */
static const char *
text_column(HeapTuple tup, TupleDesc desc, int col, int *len)
{
	bool		isnull;
	Datum		v = SPI_getbinval(tup, desc, col, &isnull);
	text	   *t;

	if (isnull)
		return NULL;
	t = DatumGetTextPP(v);
	*len = VARSIZE_ANY_EXHDR(t);
	return VARDATA_ANY(t);
}

/* A text column as a C string (in the current context), or NULL. */
static char *
string_column(HeapTuple tup, TupleDesc desc, int col)
{
	bool		isnull;
	Datum		v = SPI_getbinval(tup, desc, col, &isnull);

	return isnull ? NULL : TextDatumGetCString(v);
}

/*
 * A row of imagestream._due_tags() (or of 0.2.0's query): its tag is
 * watched, follows its reference, keeps what its check needs if it may,
 * and is either due (kept, or added to r) or waits for its wake.
 */
static void
watch_row(WorkerSchedule *s, DueRead *r, HeapTuple tup, TupleDesc desc)
{
	bool		isnull;
	int64		id = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
	char	   *source = string_column(tup, desc, 2);
	bool		insecure = DatumGetBool(SPI_getbinval(tup, desc, 3, &isnull));
	bool		pending = DatumGetBool(SPI_getbinval(tup, desc, 8, &isnull));
	bool		requested = DatumGetBool(SPI_getbinval(tup, desc, 9, &isnull));
	bool		sched = DatumGetBool(SPI_getbinval(tup, desc, 10, &isnull));
	bool		found;
	WatchedTag *w = hash_search(s->tags, &id, HASH_ENTER, &found);

	if (!found)
	{
		memset(w, 0, sizeof(WatchedTag));
		w->timing.tag_id = id;
		w->member = -1;
		/* due with the other followers of its source (group_checks) */
		schedule_new_check(&w->timing, source_key(source, insecure), r->now,
						   imagestream_import_interval);
	}
	watch_follow(s, w, source, insecure);
	if (sched != w->sched)
		s->scheduled += sched ? 1 : -1;
	w->sched = sched;
	w->forced = pending || requested;
	if (w->forced)
		watch_drop(s, w);
	else
	{
		int			known_len = 0;
		const char *known = text_column(tup, desc, 5, &known_len);
		char	   *ns = string_column(tup, desc, 12);

		(void) watch_keep(s, w, ns, DatumGetInt64(SPI_getbinval(tup, desc, 11, &isnull)),
						  DatumGetBool(SPI_getbinval(tup, desc, 4, &isnull)), known, known_len,
						  string_column(tup, desc, 6), string_column(tup, desc, 7),
						  row_signatures(tup, desc));
	}
	if (schedule_seen(&w->timing, s->cycle, w->forced, r->now, imagestream_import_interval))
	{
		take(s, r, w->ref);
		if (w->kept)
			add_kept(r, w);
		else
			add_due(r, w, tup, desc, pending);
	}
	else
	{
		Assert(watched_wake(w) > r->now);
		watch_wake_by(s, w->ref, watched_wake(w));
	}
}

/* Reads the rows of a statement run, READ_BATCH at a time. */
static void
watch_rows(WorkerSchedule *s, DueRead *r, SPIPlanPtr plan, Datum *values)
{
	Portal		portal = SPI_cursor_open(NULL, plan, values, NULL, false);

	for (;;)
	{
		MemoryContext old;

		SPI_cursor_fetch(portal, true, READ_BATCH);
		if (SPI_processed == 0)
			break;
		old = MemoryContextSwitchTo(r->row_ctx);
		for (uint64 i = 0; i < SPI_processed; i++)
			watch_row(s, r, SPI_tuptable->vals[i], SPI_tuptable->tupdesc);
		MemoryContextSwitchTo(old);
		MemoryContextReset(r->row_ctx);
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
	watch_reset(s);
	if (tags_sparse(s))
		shrink_tags(s);
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

/* A tag to read by id: it follows nothing until it is read. */
static void
look_up(WorkerSchedule *s, Lookup *l, int64 id, WatchedTag *w)
{
	if (l->nids == l->size)
	{
		l->size *= 2;
		l->ids = repalloc(l->ids, sizeof(Datum) * l->size);
		l->watched = repalloc(l->watched, sizeof(WatchedTag *) * l->size);
	}
	l->ids[l->nids++] = Int64GetDatum(id);
	if (w != NULL)
	{
		watch_unfollow(s, w);
		l->watched[l->nwatched++] = w;
	}
}

/*
 * Takes the references whose time has come from the heap, and their due
 * followers: those that keep what their check needs are due as they are,
 * the others are to be read by id.
 */
static void
take_due(WorkerSchedule *s, DueRead *r, Lookup *l)
{
	WatchedRef *ref;

	while ((ref = due_heap_first(&s->heap)) != NULL && ref->wake <= r->now)
	{
		take(s, r, ref);
		/* (a follower read by id leaves: the last one takes its index) */
		for (int i = 0; i < ref->nmembers;)
		{
			WatchedTag *w = ref->members[i];

			/* its check moved it later since the reference was placed */
			if (watched_wake(w) > r->now)
				i++;
			else if (w->kept)
			{
				bool		due PG_USED_FOR_ASSERTS_ONLY;

				due = schedule_seen(&w->timing, s->cycle, false, r->now, imagestream_import_interval);
				Assert(due && !w->forced);
				add_kept(r, w);
				i++;
			}
			else
				look_up(s, l, w->timing.tag_id, w);
		}
	}
}

/*
 * Reads the tags the queue names and the due ones that keep nothing, by id;
 * of these, those not read (gone, no longer importable, nothing to do) are
 * forgotten.
 */
static void
read_changes(WorkerSchedule *s, DueRead *r)
{
	Lookup		l = {palloc(sizeof(Datum) * 64), 0, palloc(sizeof(WatchedTag *) * 64), 0, 64};
	Oid			types[1] = {INT8ARRAYOID};
	Datum		values[1];

	if (SPI_execute("SELECT * FROM imagestream._due_queue()", false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not take the due queue");
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		int64		id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1,
													 &isnull));

		/* its row changed: what it kept is no guide */
		look_up(s, &l, id, hash_search(s->tags, &id, HASH_FIND, NULL));
	}
	SPI_freetuptable(SPI_tuptable);
	take_due(s, r, &l);
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

/* The due tags' places in the fair order, by namespace. */
static int
place_fairly(DueRead *r)
{
	HASHCTL		ctl;
	HTAB	   *turns;

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = NAMEDATALEN;
	ctl.entrysize = sizeof(NamespaceTurn);
	ctl.hcxt = r->loop_ctx;
	turns = hash_create("imagestream namespaces", 64, &ctl, HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
	for (int i = 0; i < r->ndue; i++)
	{
		bool		found;
		NamespaceTurn *turn = hash_search(turns, r->due[i]->namespace, HASH_ENTER, &found);

		if (!found)
		{
			turn->turn = hash_get_num_entries(turns) - 1;
			turn->ranks[0] = turn->ranks[1] = 0;
		}
		fair_place(r->due[i], turn);
	}
	return (int) hash_get_num_entries(turns);
}

/*
 * The references the cycle took go back into the heap: those without due
 * tags at their earliest follower's wake; returns the earliest wake (or
 * the heap's first), before those with due tags go in where their time has
 * come (their checks place them again).
 */
static TimestampTz
put_back(WorkerSchedule *s, DueRead *r, TimestampTz next_due)
{
	TimestampTz *wakes = palloc(sizeof(TimestampTz) * Max(r->ntaken, 1));
	WatchedRef *first;

	for (int i = 0; i < r->ntaken; i++)
	{
		WatchedRef *ref = r->taken[i];

		if (!watch_untake(s, ref))
		{
			r->taken[i] = NULL;
			continue;
		}
		/* (where their time has come: a pass over their followers spared) */
		wakes[i] = ref->reps_cycle == r->cycle ? r->now : ref_earliest(ref);
		if (wakes[i] > r->now)
			due_heap_place(&s->heap, ref, wakes[i]);
	}
	if ((first = due_heap_first(&s->heap)) != NULL)
		next_due = Min(next_due, first->wake);
	for (int i = 0; i < r->ntaken; i++)
		if (r->taken[i] && wakes[i] <= r->now)
			due_heap_place(&s->heap, r->taken[i], wakes[i]);
	Assert(hash_get_num_entries(s->refs) == s->heap.count);
	return next_due;
}

int
read_due(WorkerSchedule *s, MemoryContext loop_ctx, TimestampTz now, int64 *scheduled,
		 TimestampTz *next_due, DueTag ***due_out)
{
	DueRead		r = {loop_ctx};
	HeapTuple	tup;
	TupleDesc	desc;
	bool		isnull;
	bool		has_due_tags;
	bool		has_queue;
	Oid			extension;
	char	   *version;
	MemoryContext old;
	int			namespaces;

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

	r.now = now;
	r.cycle = ++s->cycle;
	r.row_ctx = AllocSetContextCreate(loop_ctx, "imagestream due rows", ALLOCSET_DEFAULT_SIZES);
	r.size = r.taken_size = 64;
	r.due = MemoryContextAlloc(loop_ctx, sizeof(DueTag *) * r.size);
	r.taken = MemoryContextAlloc(loop_ctx, sizeof(WatchedRef *) * r.taken_size);
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
	s->tags_peak = Max(s->tags_peak, hash_get_num_entries(s->tags));
	/* the next cycle gives back what the tags forgotten left */
	if (tags_sparse(s))
		s->loaded = false;

	old = MemoryContextSwitchTo(loop_ctx);
	namespaces = place_fairly(&r);
	*next_due = put_back(s, &r, *next_due);
	fair_order(r.due, r.ndue, namespaces, s->cycle);
	MemoryContextSwitchTo(old);
	*scheduled = s->scheduled;
	*due_out = r.due;
	return r.ndue;
}
