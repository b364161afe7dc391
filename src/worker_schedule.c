/*
 * worker_schedule.c
 *		The background worker's scheduling rules (worker_schedule.h): due
 *		times and their spread, back-off, the fair order of the due tags,
 *		the checks they make, the import budget, and the rate limit of
 *		messages about single tags.
 *
 * Tags that follow one upstream reference share one check per due time
 * (doc/worker.md, "Shared checks").  So their due times are a function of
 * the reference, not of the tag: each reference has a point in the interval
 * (spread_start, by a hash of the reference), the same in every interval, and
 * a scheduled tag is due at its reference's next point.  Followers added at
 * any time, or checked apart once (a pending spec, import_now), fall due
 * with the others again at that point; a failure backs off from the check,
 * the same for each follower, since they all had the same answer.  So the
 * due heap holds references, each with its followers (ref_add_member), at
 * the earliest of their wakes.
 *
 * Nothing here reads a setting, the clock or a table: the loop passes the
 * interval, the rate and the current time in, and test/unit checks these
 * rules against plain structs.
 */
#include "postgres.h"

#include "common/hashfn.h"
#include "utils/timestamp.h"

#include "worker_schedule.h"

static uint64 key_seed = 0;

void
schedule_seed(uint64 seed)
{
	key_seed = seed;
}

/*
 * What a check is keyed by: a tag's source (the text of its image_ref, the
 * same for the same reference) and its insecure flag, under the seed.
 */
uint64
source_key(const char *source, bool insecure)
{
	return hash_bytes_extended((const unsigned char *) source, (int) strlen(source),
							   key_seed ^ (insecure ? 1 : 0));
}

/*
 * The next point at or after now of key's spread: each key has one point in
 * the interval (ms since the epoch of TimestampTz, modulo the interval), so
 * that whatever now is, the same key gets the same points.
 */
TimestampTz
spread_start(uint64 key, TimestampTz now, int interval_ms)
{
	uint64		h = key * UINT64CONST(11400714819323198485);
	int64		interval = (int64) interval_ms * 1000;
	int64		phase = (int64) (h % (uint64) interval_ms) * 1000;
	int64		offset = (phase - now % interval) % interval;

	Assert(interval_ms > 0);
	if (offset < 0)
		offset += interval;
	Assert(offset >= 0 && offset < interval);
	return now + offset;
}

/*
 * Something read for the first time: due at its key's spread start, with no
 * failures.
 */
void
schedule_new_check(TagSchedule *e, uint64 check_key, TimestampTz now, int interval_ms)
{
	e->next_due = spread_start(check_key, now, interval_ms);
	e->not_before = 0;
	e->failures = 0;
	e->record_failures = 0;
}

/* A repository read for the first time (e->tag_id set): keyed by its id. */
void
schedule_new(TagSchedule *e, TimestampTz now, int interval_ms)
{
	schedule_new_check(e, (uint64) e->tag_id, now, interval_ms);
}

/*
 * A tag read in this cycle: a shorter interval applies at once.  Returns
 * whether it is due now; a forced (pending or requested) tag is due at once,
 * unless a registry's Retry-After or the back-off of a result that could not
 * be recorded holds it back.
 */
bool
schedule_seen(TagSchedule *e, uint64 cycle, bool forced, TimestampTz now, int interval_ms)
{
	TimestampTz latest = TimestampTzPlusMilliseconds(now, interval_ms);

	e->seen_cycle = cycle;
	if (e->next_due > latest)
		e->next_due = latest;
	Assert(e->next_due <= latest);
	return (forced || e->next_due <= now) && e->not_before <= now;
}

/* When a tag not due now is. */
TimestampTz
schedule_wake(const TagSchedule *e)
{
	return Max(e->next_due, e->not_before);
}

/* After the n-th failure in a row: 1 s, 2 s, 4 s, ... up to the interval. */
int64
backoff_ms(int failures, int interval_ms)
{
	Assert(failures >= 1 && failures <= SCHEDULE_MAX_FAILURES);
	return Min((int64) interval_ms, (int64) 1000 << (failures - 1));
}

/*
 * After a tag's fetch: due again after the interval, or after a failure
 * after its back-off; a registry's Retry-After (seconds, 0 if none) holds
 * it back besides.
 */
void
schedule_fetched(TagSchedule *e, bool failed, int retry_after_s, TimestampTz now, int interval_ms)
{
	int64		delay_ms = interval_ms;

	if (failed)
	{
		e->failures = Min(e->failures + 1, SCHEDULE_MAX_FAILURES);
		delay_ms = backoff_ms(e->failures, interval_ms);
		if (retry_after_s > 0)
			e->not_before = TimestampTzPlusMilliseconds(now, (int64) retry_after_s * 1000);
	}
	else
		e->failures = 0;
	e->next_due = TimestampTzPlusMilliseconds(now, delay_ms);
}

/*
 * After the check of a scheduled tag's reference (keyed check_key): as
 * schedule_fetched, but after a success it is due at the key's next point,
 * within the interval, as every other follower of the reference is.
 */
void
schedule_checked(TagSchedule *e, uint64 check_key, bool failed, int retry_after_s,
				 TimestampTz now, int interval_ms)
{
	schedule_fetched(e, failed, retry_after_s, now, interval_ms);
	if (!failed)
		e->next_due = spread_start(check_key, now + 1, interval_ms);
	Assert(e->next_due > now && e->next_due <= TimestampTzPlusMilliseconds(now, interval_ms));
}

/*
 * Before the results of one check are applied to its followers' entries
 * (NULL: none): each takes the most failures in a row of any of them, so
 * that a failure backs them off alike, a follower added since the last
 * failures included.
 */
void
schedule_align_failures(TagSchedule **entries, int n)
{
	int			most = 0;

	for (int i = 0; i < n; i++)
		if (entries[i])
			most = Max(most, entries[i]->failures);
	for (int i = 0; i < n; i++)
		if (entries[i])
			entries[i]->failures = most;
}

/*
 * After a tag's results were recorded (ok) or could not be: a tag whose
 * results cannot be recorded is not due again, even pending or requested,
 * for its back-off, so that it cannot take the import budget of every cycle.
 */
void
schedule_recorded(TagSchedule *e, bool ok, TimestampTz now, int interval_ms)
{
	if (ok)
	{
		e->record_failures = 0;
		return;
	}
	e->record_failures = Min(e->record_failures + 1, SCHEDULE_MAX_FAILURES);
	e->not_before = Max(e->not_before,
						TimestampTzPlusMilliseconds(now, backoff_ms(e->record_failures, interval_ms)));
}

/*
 * When to look at a watched tag again: a forced (pending or requested) tag
 * as soon as no Retry-After or back-off holds it, any other at its due time.
 */
TimestampTz
watched_wake(const WatchedTag *w)
{
	return w->forced ? w->timing.not_before : schedule_wake(&w->timing);
}

/* Adds a follower to a reference (its members array allocated already). */
void
ref_add_member(WatchedRef *r, WatchedTag *w)
{
	Assert(w->ref == NULL && r->size > 0);
	if (r->nmembers == r->size)
	{
		r->size *= 2;
		r->members = repalloc(r->members, sizeof(WatchedTag *) * r->size);
	}
	w->ref = r;
	w->member = r->nmembers;
	r->members[r->nmembers++] = w;
}

/* Takes a follower out of its reference: the last one takes its index. */
void
ref_remove_member(WatchedTag *w)
{
	WatchedRef *r = w->ref;

	Assert(r != NULL && w->member < r->nmembers && r->members[w->member] == w);
	r->members[w->member] = r->members[--r->nmembers];
	r->members[w->member]->member = w->member;
	w->ref = NULL;
	w->member = -1;
}

/* The earliest wake of a reference's followers (it has one at least). */
TimestampTz
ref_earliest(const WatchedRef *r)
{
	TimestampTz earliest;

	Assert(r->nmembers > 0);
	earliest = watched_wake(r->members[0]);
	for (int i = 1; i < r->nmembers; i++)
		earliest = Min(earliest, watched_wake(r->members[i]));
	return earliest;
}

static bool
same_text(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

/*
 * Would two kept followers of one reference make the same check, to the
 * last byte: the same credentials (their namespace's), the same known
 * digest, the same options of a fetch?
 */
bool
kept_alike(const WatchedTag *a, const WatchedTag *b)
{
	Assert(a->kept && b->kept && a->ref == b->ref);
	return a->namespace == b->namespace && a->preserve == b->preserve &&
		a->signatures == b->signatures && a->has_known == b->has_known &&
		(!a->has_known || memcmp(a->known, b->known, KEPT_DIGEST_BYTES) == 0) &&
		same_text(a->prefer_os, b->prefer_os) && same_text(a->prefer_arch, b->prefer_arch);
}

/* A kept follower rides on d: d's check is its own (in the current context). */
void
rider_add(DueTag *d, WatchedTag *w)
{
	Assert(!d->forced && !w->forced);
	if (d->nriders == d->riders_size)
	{
		d->riders_size = Max(8, d->riders_size * 2);
		d->riders = d->riders ? repalloc(d->riders, sizeof(WatchedTag *) * d->riders_size)
			: palloc(sizeof(WatchedTag *) * d->riders_size);
	}
	d->riders[d->nriders++] = w;
}

/* An empty heap with room for size entries, in the current context. */
void
due_heap_init(DueHeap *h, int size)
{
	Assert(size > 0);
	h->items = palloc(sizeof(WatchedRef *) * size);
	h->count = 0;
	h->size = size;
}

/* Does a come before b?  (The check key orders equal wakes.) */
static inline bool
heap_before(const WatchedRef *a, const WatchedRef *b)
{
	if (a->wake != b->wake)
		return a->wake < b->wake;
	return a->check_key < b->check_key;
}

static inline void
heap_set(DueHeap *h, int i, WatchedRef *r)
{
	h->items[i] = r;
	r->heap_index = i;
}

/* Moves the entry at i up or down to where its wake belongs. */
static void
heap_sift(DueHeap *h, int i)
{
	WatchedRef *r = h->items[i];

	while (i > 0 && heap_before(r, h->items[(i - 1) / 2]))
	{
		heap_set(h, i, h->items[(i - 1) / 2]);
		i = (i - 1) / 2;
	}
	for (;;)
	{
		int			child = 2 * i + 1;

		if (child >= h->count)
			break;
		if (child + 1 < h->count && heap_before(h->items[child + 1], h->items[child]))
			child++;
		if (!heap_before(h->items[child], r))
			break;
		heap_set(h, i, h->items[child]);
		i = child;
	}
	heap_set(h, i, r);
}

/* Puts a reference in the heap at wake, or moves it there if it is in already. */
void
due_heap_place(DueHeap *h, WatchedRef *r, TimestampTz wake)
{
	r->wake = wake;
	if (r->heap_index < 0)
	{
		if (h->count == h->size)
		{
			h->size *= 2;
			h->items = repalloc(h->items, sizeof(WatchedRef *) * h->size);
		}
		heap_set(h, h->count++, r);
	}
	Assert(r->heap_index < h->count && h->items[r->heap_index] == r);
	heap_sift(h, r->heap_index);
}

/* Takes a reference out of the heap (if it is in). */
void
due_heap_remove(DueHeap *h, WatchedRef *r)
{
	int			i = r->heap_index;

	if (i < 0)
		return;
	Assert(i < h->count && h->items[i] == r);
	r->heap_index = -1;
	if (i == --h->count)
		return;
	heap_set(h, i, h->items[h->count]);
	heap_sift(h, i);
}

/* The reference of the earliest wake, or NULL if the heap is empty. */
WatchedRef *
due_heap_first(const DueHeap *h)
{
	return h->count > 0 ? h->items[0] : NULL;
}

/* Empties the heap: every reference that was in it is out. */
void
due_heap_clear(DueHeap *h)
{
	for (int i = 0; i < h->count; i++)
		h->items[i]->heap_index = -1;
	h->count = 0;
}

/*
 * A due tag's place among its namespace's: the next rank of its kind.  A
 * tag with riders takes the places of all the tags it stands for, so that
 * the rounds take turns by tags, as if each rider had been placed itself
 * just after it.
 */
void
fair_place(DueTag *d, NamespaceTurn *ns)
{
	Assert(ns->turn >= 0 && d->nriders >= 0);
	Assert(d->nriders == 0 || !d->forced);
	d->rank = ns->ranks[d->forced];
	ns->ranks[d->forced] += 1 + d->nriders;
	d->turn = ns->turn;
}

/* Forced tags first; then round by round, each namespace one tag a round. */
static int
fair_cmp(const void *a, const void *b)
{
	const DueTag *x = *(const DueTag *const *) a;
	const DueTag *y = *(const DueTag *const *) b;

	if (x->forced != y->forced)
		return x->forced ? -1 : 1;
	if (x->rank != y->rank)
		return x->rank < y->rank ? -1 : 1;
	/* a namespace has one tag of each kind and rank: the order is total */
	Assert(x == y || x->turn != y->turn);
	return (x->turn > y->turn) - (x->turn < y->turn);
}

/*
 * Sorts the due tags (placed by fair_place, namespaces of them) in the order
 * the budget and the chunks take them: fair across namespaces (finding
 * S21), so that one namespace's hundreds of pending tags (failing ones
 * included, each backing off on its own) delay another's by one tag per
 * round, not by all of them.  The namespace that goes first in each round
 * changes each cycle.
 */
void
fair_order(DueTag **due, int n, int namespaces, uint64 cycle)
{
	Assert(n >= 0 && (n == 0 || namespaces >= 1));
	if (namespaces > 1)
		for (int i = 0; i < n; i++)
		{
			Assert(due[i]->turn >= 0 && due[i]->turn < namespaces);
			due[i]->turn = (int) ((due[i]->turn + cycle) % (uint64) namespaces);
		}
	qsort(due, n, sizeof(DueTag *), fair_cmp);
}

/* Due tags by upstream reference (key, insecure flag, source), then by place. */
static int
by_source(const void *pa, const void *pb, void *arg)
{
	DueTag	  **due = arg;
	int			a = *(const int *) pa;
	int			b = *(const int *) pb;
	const DueTag *x = due[a];
	const DueTag *y = due[b];
	int			c;

	if (x->check_key != y->check_key)
		return x->check_key < y->check_key ? -1 : 1;
	if (x->insecure != y->insecure)
		return x->insecure ? 1 : -1;
	if ((c = strcmp(x->source, y->source)) != 0)
		return c;
	return (a > b) - (a < b);
}

/* Places by the place of their check's first tag, then by their own. */
static int
by_first(const void *pa, const void *pb, void *arg)
{
	const int  *first = arg;
	int			a = *(const int *) pa;
	int			b = *(const int *) pb;

	if (first[a] != first[b])
		return first[a] < first[b] ? -1 : 1;
	return (a > b) - (a < b);
}

/*
 * Groups the due tags, in the fair order (fair_order), by check: the tags of
 * one upstream reference together, the checks in the order of their first
 * tag, so that the fair order holds between references (forced ones first,
 * namespaces taking turns) and a reference is taken with all its due tags,
 * up to max_tags of them: the next ones make another check, placed by its
 * own first tag (each makes a fetch when the reference moves, unless their
 * options are the same: a tenant asking for many platforms of one image
 * pays for each, doc/security.md S33).  Fills checks (room for n) and
 * returns how many.
 */
int
group_checks(DueTag **due, int n, int max_tags, DueCheck *checks)
{
	int		   *order = palloc(sizeof(int) * Max(n, 1));
	int		   *first = palloc(sizeof(int) * Max(n, 1));
	DueTag	  **grouped = palloc(sizeof(DueTag *) * Max(n, 1));
	int			nchecks = 0;
	int			taken = 0;		/* by the check of order[k - 1] */

	Assert(n >= 0 && max_tags > 0);
	for (int i = 0; i < n; i++)
	{
		due[i]->check_key = source_key(due[i]->source, due[i]->insecure);
		order[i] = i;
	}
	qsort_arg(order, n, sizeof(int), by_source, due);
	for (int k = 0; k < n; k++)
	{
		const DueTag *x = due[order[k]];
		const DueTag *prev = k > 0 ? due[order[k - 1]] : NULL;
		bool		same = prev && prev->check_key == x->check_key &&
			prev->insecure == x->insecure && strcmp(prev->source, x->source) == 0;

		/* (a source's tags are in the fair order, by_source's last key) */
		if (same && taken < max_tags)
			taken++;
		else
			taken = 1;
		first[order[k]] = taken > 1 ? first[order[k - 1]] : order[k];
	}
	for (int i = 0; i < n; i++)
		order[i] = i;
	qsort_arg(order, n, sizeof(int), by_first, first);
	for (int k = 0; k < n; k++)
	{
		DueTag	   *d = due[order[k]];

		if (k == 0 || first[order[k]] != first[order[k - 1]])
		{
			checks[nchecks].key = d->check_key;
			checks[nchecks].first = k;
			checks[nchecks].ntags = 0;
			checks[nchecks].forced = false;
			nchecks++;
		}
		checks[nchecks - 1].ntags++;
		checks[nchecks - 1].forced |= d->forced;
		/* forced tags come first in the fair order: so do their checks */
		Assert(nchecks == 1 || checks[nchecks - 2].forced || !checks[nchecks - 1].forced);
		grouped[k] = d;
	}
	memcpy(due, grouped, sizeof(DueTag *) * n);
	pfree(order);
	pfree(first);
	pfree(grouped);
	Assert(nchecks <= n);
	return nchecks;
}

/*
 * Is there budget for one more check (an upstream reference with all its due
 * tags, or a page of a tag list: per_minute a minute, a burst of twice that;
 * a negative rate is no limit)?
 */
bool
budget_take(TokenBucket *b, double per_minute, TimestampTz now)
{
	if (per_minute < 0)
		return true;
	if (b->at == 0)
		b->tokens = 2 * per_minute; /* start with a full burst */
	else
		b->tokens += per_minute * (double) (now - b->at) / (60.0 * USECS_PER_SEC);
	b->tokens = Min(b->tokens, 2 * per_minute);
	b->at = now;
	if (b->tokens < 1)
		return false;
	b->tokens -= 1;
	Assert(b->tokens >= 0);
	return true;
}

/* A check taken but not made (its fetches were deferred): given back. */
void
budget_return(TokenBucket *b)
{
	b->tokens += 1;
}

/*
 * May one more message about a single tag be logged now?  At most
 * LOG_BURST a minute, so that a fault common to thousands of tags cannot
 * flood the server log.  When a new minute starts, *left_out says how many
 * the last one left out (0 if none), for the caller to say so first.
 */
bool
log_limit_take(LogLimit *l, TimestampTz now, int64 *left_out)
{
	*left_out = 0;
	if (now - l->window >= USECS_PER_MINUTE)
	{
		*left_out = l->suppressed;
		l->window = now;
		l->count = 0;
		l->suppressed = 0;
	}
	Assert(l->count >= 0 && l->count <= LOG_BURST);
	if (l->count < LOG_BURST)
	{
		l->count++;
		return true;
	}
	l->suppressed++;
	return false;
}
