/*
 * worker_schedule.c
 *		The background worker's scheduling rules (worker_schedule.h): due
 *		times and their spread, back-off, the fair order of the due tags,
 *		the import budget, and the rate limit of messages about single tags.
 *
 * Nothing here reads a setting, the clock or a table: the loop passes the
 * interval, the rate and the current time in, and test/unit checks these
 * rules against plain structs.
 */
#include "postgres.h"

#include "utils/timestamp.h"

#include "worker_schedule.h"

/* The spread start of a scheduled tag inside the interval. */
TimestampTz
spread_start(int64 tag_id, TimestampTz now, int interval_ms)
{
	uint64		h = (uint64) tag_id * UINT64CONST(11400714819323198485);

	Assert(interval_ms > 0);
	return TimestampTzPlusMilliseconds(now, (int64) (h % (uint64) interval_ms));
}

/* A tag read for the first time (e->tag_id set): due at its spread start. */
void
schedule_new(TagSchedule *e, TimestampTz now, int interval_ms)
{
	e->next_due = spread_start(e->tag_id, now, interval_ms);
	e->not_before = 0;
	e->failures = 0;
	e->record_failures = 0;
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

/* A due tag's place among its namespace's: the next rank of its kind. */
void
fair_place(DueTag *d, NamespaceTurn *ns)
{
	Assert(ns->turn >= 0);
	d->rank = ns->ranks[d->forced]++;
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

/*
 * Is there budget for one more import (per_minute a minute, a burst of
 * twice that; a negative rate is no limit)?
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

/* An import taken but not spent (its fetch was deferred): given back. */
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
