/*
 * test_worker_schedule.c
 *		Unit test of the background worker's scheduling rules
 *		(src/worker_schedule.c), built outside a server by `make unit` with
 *		assertions on, and run by test/run-tests.sh.  Prints TAP: one
 *		"ok N - what" or "not ok N - what" line a check; exits non-zero if
 *		any failed.
 *
 * Those rules are pure functions of plain structs and the time passed in,
 * so each case states a time and the structs, and checks what comes out.
 */
#include "postgres.h"

#include <setjmp.h>

#include "utils/timestamp.h"

#include "worker_schedule.h"

static int	checks = 0;
static int	failed = 0;

static void
check(bool ok, const char *what)
{
	checks++;
	if (!ok)
		failed++;
	printf("%sok %d - %s\n", ok ? "" : "not ", checks, what);
}

/* An Assert of worker_schedule.c that fails comes back here. */
static sigjmp_buf assert_jump;
static bool assert_expected = false;

#if PG_VERSION_NUM >= 160000
void
ExceptionalCondition(const char *conditionName, const char *fileName, int lineNumber)
#else
void
ExceptionalCondition(const char *conditionName, const char *errorType,
					 const char *fileName, int lineNumber)
#endif
{
	if (assert_expected)
		siglongjmp(assert_jump, 1);
	fprintf(stderr, "assertion failed: %s (%s:%d)\n", conditionName, fileName, lineNumber);
	abort();
}

/* Does fn(arg) fail an Assert? */
static bool
asserts(void (*fn) (void *), void *arg)
{
	bool		fired = false;

	assert_expected = true;
	if (sigsetjmp(assert_jump, 0) == 0)
		fn(arg);
	else
		fired = true;
	assert_expected = false;
	return fired;
}

#define NOW		((TimestampTz) 800000000 * USECS_PER_SEC)	/* in 2025 */
#define SEC(n)	((TimestampTz) (n) * USECS_PER_SEC)
#define INTERVAL (15 * 60 * 1000)	/* the default import_interval, ms */

static void
test_spread(void)
{
	bool		inside = true;
	int			first_half = 0;
	TagSchedule e = {42};

	for (int64 id = 1; id <= 1000; id++)
	{
		TimestampTz t = spread_start(id, NOW, INTERVAL);

		inside &= t >= NOW && t < NOW + (TimestampTz) INTERVAL * 1000;
		first_half += t < NOW + (TimestampTz) INTERVAL * 500;
	}
	check(inside, "spread start: within the interval from now");
	check(first_half > 400 && first_half < 600, "spread start: 1000 tags spread over the interval");
	check(spread_start(42, NOW, INTERVAL) == spread_start(42, NOW, INTERVAL),
		  "spread start: the same for the same tag");

	e.failures = 7;
	e.not_before = NOW;
	schedule_new(&e, NOW, INTERVAL);
	check(e.next_due == spread_start(42, NOW, INTERVAL) && e.not_before == 0 &&
		  e.failures == 0 && e.record_failures == 0,
		  "a new listing: due at its spread start (by its id), no failures");
}

/* Whether a and b are points of one spread: whole intervals apart. */
static bool
same_points(TimestampTz a, TimestampTz b)
{
	return (a - b) % ((TimestampTz) INTERVAL * 1000) == 0;
}

static void
test_shared_spread(void)
{
	uint64		nginx = source_key("docker.io/library/nginx:latest", false);
	TagSchedule a = {1};
	TagSchedule b = {2};
	TagSchedule c = {3};
	TimestampTz point;
	bool		inside = true;

	check(nginx == source_key("docker.io/library/nginx:latest", false) &&
		  nginx != source_key("docker.io/library/nginx:latest", true) &&
		  nginx != source_key("docker.io/library/nginx:1.27", false),
		  "source key: the same source and insecure flag, the same key");
	schedule_seed(UINT64CONST(0x9e3779b97f4a7c15));
	check(source_key("docker.io/library/nginx:latest", false) != nginx &&
		  !same_points(spread_start(source_key("docker.io/library/nginx:latest", false), NOW, INTERVAL),
					   spread_start(nginx, NOW, INTERVAL)),
		  "source key: another worker's seed, another key and other points");
	schedule_seed(0);

	/* followers first read 7 minutes apart: due at the same points */
	schedule_new_check(&a, nginx, NOW, INTERVAL);
	schedule_new_check(&b, nginx, NOW + SEC(420), INTERVAL);
	check(a.next_due >= NOW && a.next_due < NOW + SEC(900) &&
		  b.next_due >= NOW + SEC(420) && b.next_due < NOW + SEC(1320) &&
		  same_points(a.next_due, b.next_due),
		  "followers read at different times: due at the points of their reference");
	for (int i = 0; i < 1000; i++)
	{
		TimestampTz t = NOW + SEC(i * 37) + 1234;
		TimestampTz s = spread_start(nginx, t, INTERVAL);

		inside &= s >= t && s < t + SEC(900) && same_points(s, a.next_due);
	}
	check(inside, "spread start: the next point of the reference, within the interval");

	/* checked late, checked early (import_now), checked on time: one next point */
	point = a.next_due;
	schedule_checked(&a, nginx, false, 0, point + SEC(1) / 3, INTERVAL);
	schedule_checked(&b, nginx, false, 0, point + SEC(600), INTERVAL);
	check(a.next_due == point + SEC(900) && b.next_due == point + SEC(900),
		  "checked after the point, late or not: due at the next point");
	schedule_checked(&c, nginx, false, 0, point - SEC(100), INTERVAL);
	check(c.next_due == point, "checked apart before the point (import_now): due at the point, with the others");
	schedule_checked(&c, nginx, false, 0, point, INTERVAL);
	check(c.next_due == point + SEC(900), "checked at the point: the next one");

	/* a failure backs off from the check, the same for each follower */
	a.failures = 3;
	b.failures = 0;
	{
		TagSchedule *followers[3] = {&a, NULL, &b};

		schedule_align_failures(followers, 3);
		check(a.failures == 3 && b.failures == 3, "a check's followers take the most failures of any");
	}
	schedule_checked(&a, nginx, true, 0, NOW, INTERVAL);
	schedule_checked(&b, nginx, true, 0, NOW, INTERVAL);
	check(a.failures == 4 && a.next_due == NOW + SEC(8) && b.next_due == a.next_due,
		  "then back off alike: 8 s after the fourth failure");
	schedule_checked(&a, nginx, true, 30, NOW, INTERVAL);
	check(a.not_before == NOW + SEC(30), "a check's Retry-After holds its follower back");
}

static void
test_seen(void)
{
	TagSchedule e = {1};

	e.next_due = NOW + SEC(3600);
	check(!schedule_seen(&e, 5, false, NOW, INTERVAL) && e.next_due == NOW + SEC(900) &&
		  e.seen_cycle == 5,
		  "a shorter interval applies at once; not due before it");
	check(schedule_seen(&e, 6, true, NOW, INTERVAL), "forced: due at once");
	check(schedule_seen(&e, 7, false, NOW + SEC(900), INTERVAL), "due at its due time");
	e.not_before = NOW + SEC(30);
	check(!schedule_seen(&e, 8, true, NOW + SEC(10), INTERVAL),
		  "forced, but held back by Retry-After");
	check(schedule_seen(&e, 9, true, NOW + SEC(30), INTERVAL), "due once Retry-After passed");
	e.next_due = NOW + SEC(100);
	e.not_before = NOW + SEC(200);
	check(schedule_wake(&e) == NOW + SEC(200), "wakes at the later of due time and Retry-After");
}

static void
test_backoff(void)
{
	TagSchedule e = {1};
	bool		doubles = true;

	check(backoff_ms(1, INTERVAL) == 1000 && backoff_ms(2, INTERVAL) == 2000 &&
		  backoff_ms(5, INTERVAL) == 16000,
		  "back-off: 1 s, 2 s, ... 16 s after 5 failures");
	check(backoff_ms(5, 10000) == 10000 && backoff_ms(SCHEDULE_MAX_FAILURES, INTERVAL) == INTERVAL,
		  "back-off: never beyond the interval");

	for (int i = 1; i <= 5; i++)
	{
		schedule_fetched(&e, true, 0, NOW, INTERVAL);
		doubles &= e.failures == i && e.next_due == NOW + ((TimestampTz) 1000000 << (i - 1));
	}
	check(doubles, "failed fetches: due after 1, 2, 4, 8, 16 s");
	check(e.not_before == 0, "a failure without Retry-After does not hold the tag back");
	schedule_fetched(&e, true, 120, NOW, INTERVAL);
	check(e.not_before == NOW + SEC(120), "Retry-After: 120 s holds the tag back");
	for (int i = 0; i < 40; i++)
		schedule_fetched(&e, true, 0, NOW, INTERVAL);
	check(e.failures == SCHEDULE_MAX_FAILURES && e.next_due == NOW + SEC(900),
		  "many failures: the count stops, the delay is the interval");
	schedule_fetched(&e, false, 0, NOW, INTERVAL);
	check(e.failures == 0 && e.next_due == NOW + SEC(900),
		  "a fetch that succeeds: failures forgotten, due after the interval");
}

static void
test_recorded(void)
{
	TagSchedule e = {1};

	schedule_recorded(&e, false, NOW, INTERVAL);
	schedule_recorded(&e, false, NOW, INTERVAL);
	check(e.record_failures == 2 && e.not_before == NOW + SEC(2),
		  "results not recorded twice: held back 2 s");
	e.not_before = NOW + SEC(300);
	schedule_recorded(&e, false, NOW, INTERVAL);
	check(e.not_before == NOW + SEC(300), "a longer Retry-After is not shortened");
	schedule_recorded(&e, true, NOW, INTERVAL);
	check(e.record_failures == 0, "recorded: its record failures forgotten");
}

/*
 * Places due tags as read_due does, in the order read: spec has a letter a
 * tag, its namespace (A, B, C, first seen in that order), lower case for a
 * forced tag.  The test keeps a tag's namespace in its stream_id.
 */
static int
place(DueTag *tags, DueTag **due, const char *spec)
{
	NamespaceTurn ns[3] = {{"A", 0}, {"B", 1}, {"C", 2}};
	int			n = 0;

	for (const char *c = spec; *c; c++, n++)
	{
		memset(&tags[n], 0, sizeof(DueTag));
		tags[n].tag_id = n;
		tags[n].stream_id = (*c | 0x20) - 'a';
		tags[n].forced = *c >= 'a';
		fair_place(&tags[n], &ns[tags[n].stream_id]);
		due[n] = &tags[n];
	}
	return n;
}

/* The order of the due tags, written as place's spec. */
static const char *
order_of(DueTag **due, int n)
{
	static char buf[256];

	for (int i = 0; i < n; i++)
		buf[i] = (due[i]->forced ? 'a' : 'A') + due[i]->stream_id;
	buf[n] = '\0';
	return buf;
}

static void
test_fair_order(void)
{
	/* A: 4 forced, 1 scheduled; B: 2 scheduled, 1 forced; C: 1 of each */
	const char *spec = "aaaaABBcbC";
	static const char *const expect[3] = {
		"abcaaaABCB",			/* cycle 0: A opens each round */
		"cabaaaCABB",			/* cycle 1: C */
		"bcaaaaBCAB",			/* cycle 2: B */
	};
	DueTag		tags[101];
	DueTag	   *due[101];
	char		what[100];
	bool		near_front = true;
	int			n;

	for (uint64 cycle = 0; cycle < 4; cycle++)
	{
		n = place(tags, due, spec);
		fair_order(due, n, 3, cycle);
		snprintf(what, sizeof(what), "fair order, cycle %d: forced first, one tag a namespace a round",
				 (int) cycle);
		check(strcmp(order_of(due, n), expect[cycle % 3]) == 0, what);
	}

	/* finding S21: 100 pending tags of A delay B's one by one tag at most */
	for (uint64 cycle = 0; cycle < 6; cycle++)
	{
		char		many[102];

		memset(many, 'a', 100);
		strcpy(many + 100, "b");
		n = place(tags, due, many);
		fair_order(due, n, 2, cycle);
		near_front &= due[0]->stream_id == 1 || due[1]->stream_id == 1;
	}
	check(near_front, "fair order: 100 pending tags of one namespace delay another's by one");
	n = place(tags, due, "AAa");
	fair_order(due, n, 1, 7);
	check(strcmp(order_of(due, n), "aAA") == 0, "fair order: one namespace, forced first, in read order");
}

/*
 * Due tags for group_checks, read in this order: namespace (its turn), a
 * source, forced or not; placed and ordered as read_due does (cycle 0).
 */
typedef struct Read
{
	int			ns;
	const char *source;
	bool		forced;
	bool		insecure;
} Read;

static int
read_due_tags(DueTag *tags, DueTag **due, const Read *reads, int n, int namespaces)
{
	NamespaceTurn ns[3] = {{"A", 0}, {"B", 1}, {"C", 2}};

	for (int i = 0; i < n; i++)
	{
		memset(&tags[i], 0, sizeof(DueTag));
		tags[i].tag_id = i;
		tags[i].stream_id = reads[i].ns;
		tags[i].source = (char *) reads[i].source;
		tags[i].forced = reads[i].forced;
		tags[i].insecure = reads[i].insecure;
		fair_place(&tags[i], &ns[reads[i].ns]);
		due[i] = &tags[i];
	}
	fair_order(due, n, namespaces, 0);
	return n;
}

/* The grouped tags, "A:x B:x | C:y" (namespace:source, checks apart). */
static const char *
checks_of(DueTag **due, const DueCheck *checks, int nchecks)
{
	static char buf[1024];
	int			len = 0;

	buf[0] = '\0';
	for (int k = 0; k < nchecks; k++)
		for (int j = 0; j < checks[k].ntags; j++)
		{
			const DueTag *d = due[checks[k].first + j];

			len += snprintf(buf + len, sizeof(buf) - len, "%s%c:%s%s%s",
							k > 0 && j == 0 ? " | " : j > 0 ? " " : "",
							'A' + (int) d->stream_id, d->source, d->insecure ? "!" : "",
							d->forced ? "*" : "");
		}
	return buf;
}

static void
test_group_checks(void)
{
	/* A follows x and y, B x and z; C's y is pending (forced) */
	static const Read reads[] = {
		{0, "x"}, {0, "y"}, {1, "x"}, {1, "z"}, {2, "y", true},
	};
	static const Read insecure[] = {{0, "x"}, {1, "x", false, true}, {2, "x"}};
	DueTag		tags[201];
	DueTag	   *due[201];
	DueCheck	checks[201];
	Read		many[201];
	int			n;
	int			nchecks;
	bool		keyed = true;

	n = read_due_tags(tags, due, reads, 5, 3);
	nchecks = group_checks(due, n, 1000, checks);
	check(nchecks == 3 && strcmp(checks_of(due, checks, nchecks), "C:y* A:y | A:x B:x | B:z") == 0,
		  "checks: one per source, with all its due tags, in the order of their first tag");
	check(checks[0].forced && !checks[1].forced && !checks[2].forced &&
		  checks[0].ntags == 2 && checks[1].first == 2 && checks[2].first == 4,
		  "checks: forced when a tag is, each a run of the due tags");
	for (int k = 0; k < nchecks; k++)
		for (int j = 0; j < checks[k].ntags; j++)
			keyed &= due[checks[k].first + j]->check_key == checks[k].key &&
				checks[k].key == source_key(due[checks[k].first + j]->source, false);
	check(keyed, "checks: keyed by the source key of their tags");

	n = read_due_tags(tags, due, insecure, 3, 3);
	nchecks = group_checks(due, n, 1000, checks);
	check(strcmp(checks_of(due, checks, nchecks), "A:x C:x | B:x!") == 0,
		  "checks: the same source, insecure or not, makes two");

	/* finding S21 between references: 100 pending of A delay B's by one check */
	for (int i = 0; i < 100; i++)
	{
		static char names[100][8];

		snprintf(names[i], sizeof(names[i]), "a%d", i);
		many[i] = (Read) {0, names[i], true};
	}
	many[100] = (Read) {1, "b", true};
	n = read_due_tags(tags, due, many, 101, 2);
	nchecks = group_checks(due, n, 1000, checks);
	check(nchecks == 101 && (strcmp(due[checks[0].first]->source, "b") == 0 ||
							 strcmp(due[checks[1].first]->source, "b") == 0),
		  "checks: 100 pending references of one namespace delay another's by one");

	/* 100 streams of A following one reference: one check */
	for (int i = 0; i < 100; i++)
		many[i] = (Read) {0, "nginx", false};
	many[100] = (Read) {1, "redis", false};
	n = read_due_tags(tags, due, many, 101, 2);
	nchecks = group_checks(due, n, 1000, checks);
	check(nchecks == 2 && checks[0].ntags + checks[1].ntags == 101 &&
		  (checks[0].ntags == 100 || checks[1].ntags == 100),
		  "checks: 100 tags following one reference are one check");
	check(group_checks(due, 0, 1000, checks) == 0, "checks: none due, none");

	/*
	 * S33: a reference's due tags beyond max_tags make another check, in the
	 * fair order by its first (A's fifth x after B's y)
	 */
	for (int i = 0; i < 7; i++)
		many[i] = (Read) {i < 5 ? 0 : 1, "x", false};
	many[7] = (Read) {1, "y", false};
	n = read_due_tags(tags, due, many, 8, 2);
	nchecks = group_checks(due, n, 3, checks);
	check(nchecks == 4 && checks[0].ntags == 3 && checks[1].ntags == 3 &&
		  strcmp(checks_of(due, checks, nchecks), "A:x B:x A:x | B:x A:x A:x | B:y | A:x") == 0,
		  "checks: at most max_tags each, the rest another check placed by its first tag");

}

/* Is the heap a heap, with each entry knowing its index? */
static bool
heap_ok(const DueHeap *h)
{
	for (int i = 0; i < h->count; i++)
	{
		const WatchedRef *r = h->items[i];
		const WatchedRef *p = h->items[(i - 1) / 2];

		if (r->heap_index != i)
			return false;
		if (i > 0 && (p->wake > r->wake || (p->wake == r->wake && p->check_key > r->check_key)))
			return false;
	}
	return true;
}

static void
test_wake(void)
{
	WatchedTag	w = {{1}};

	w.timing.next_due = NOW + SEC(100);
	w.timing.not_before = NOW + SEC(10);
	check(watched_wake(&w) == NOW + SEC(100), "wake: a scheduled tag at its due time");
	w.forced = true;
	check(watched_wake(&w) == NOW + SEC(10), "wake: a forced tag once Retry-After passed");
	w.timing.not_before = 0;
	check(watched_wake(&w) == 0, "wake: a forced tag nothing holds back at once");
}

/*
 * The heap against a plain array: random places, moves and removals of 500
 * references, and then the references taken in order of wake, as read_due
 * takes the due ones.
 */
#define HEAP_REFS 500

static void
test_heap(void)
{
	static WatchedRef refs[HEAP_REFS];
	DueHeap		h;
	bool		consistent = true;
	bool		ordered = true;
	bool		first_is_min = true;
	int			in = 0;
	TimestampTz last = -1;
	uint64		last_key = 0;
	uint32		seed = 12345;

	due_heap_init(&h, 2);		/* (grows) */
	for (int i = 0; i < HEAP_REFS; i++)
	{
		memset(&refs[i], 0, sizeof(WatchedRef));
		refs[i].check_key = i + 1;
		refs[i].heap_index = -1;
	}
	for (int step = 0; step < 20000; step++)
	{
		WatchedRef *r;
		const WatchedRef *min = NULL;

		seed = seed * 1103515245 + 12345;
		r = &refs[(seed >> 8) % HEAP_REFS];
		/* wakes from a small range: many equal wakes */
		if ((seed >> 4) % 4 == 0)
		{
			in -= r->heap_index >= 0;
			due_heap_remove(&h, r);
		}
		else
		{
			in += r->heap_index < 0;
			due_heap_place(&h, r, NOW + SEC((seed >> 12) % 50));
		}
		consistent &= h.count == in && heap_ok(&h);
		for (int i = 0; i < HEAP_REFS; i++)
			if (refs[i].heap_index >= 0 &&
				(min == NULL || refs[i].wake < min->wake ||
				 (refs[i].wake == min->wake && refs[i].check_key < min->check_key)))
				min = &refs[i];
		first_is_min &= due_heap_first(&h) == min;
	}
	check(consistent, "heap: 20000 places, moves and removals keep it a heap");
	check(first_is_min, "heap: its first is the earliest wake (the lowest key among equal ones)");
	while (due_heap_first(&h) != NULL)
	{
		WatchedRef *r = due_heap_first(&h);

		ordered &= r->wake > last || (r->wake == last && r->check_key > last_key);
		last = r->wake;
		last_key = r->check_key;
		due_heap_remove(&h, r);
		ordered &= r->heap_index == -1;
		in--;
	}
	check(ordered && in == 0, "heap: taken first by first, in order of wake, to the last");
	due_heap_remove(&h, &refs[0]);
	check(h.count == 0, "heap: removing a reference not in it does nothing");
	for (int i = 0; i < 10; i++)
		due_heap_place(&h, &refs[i], NOW);
	due_heap_clear(&h);
	consistent = h.count == 0;
	for (int i = 0; i < 10; i++)
		consistent &= refs[i].heap_index == -1;
	check(consistent, "heap: cleared, every reference is out of it");
	pfree(h.items);
}

/* Do the followers of r know their places, and r each of them? */
static bool
members_ok(const WatchedRef *r)
{
	for (int i = 0; i < r->nmembers; i++)
		if (r->members[i]->ref != r || r->members[i]->member != i)
			return false;
	return true;
}

static void
test_followers(void)
{
	WatchedRef	r = {"x"};
	WatchedTag	tags[20];
	bool		ok = true;

	r.size = 2;
	r.members = palloc(sizeof(WatchedTag *) * r.size);
	for (int i = 0; i < 20; i++)
	{
		memset(&tags[i], 0, sizeof(WatchedTag));
		tags[i].timing.tag_id = i;
		tags[i].timing.next_due = NOW + SEC(100 + i);
		ref_add_member(&r, &tags[i]);
	}
	check(r.nmembers == 20 && members_ok(&r), "followers: 20 added, each knowing its place");
	check(ref_earliest(&r) == NOW + SEC(100), "followers: the reference wakes with the earliest");
	ref_remove_member(&tags[0]);
	ref_remove_member(&tags[19]);
	ref_remove_member(&tags[7]);
	ok = r.nmembers == 17 && members_ok(&r) && tags[0].ref == NULL && tags[7].member == -1;
	check(ok, "followers: the first, the last and one between removed, the others in place");
	check(ref_earliest(&r) == NOW + SEC(101), "followers: then the earliest of those left");
	tags[12].forced = true;
	tags[12].timing.not_before = NOW + SEC(5);
	check(ref_earliest(&r) == NOW + SEC(5), "followers: a forced one at its Retry-After");
	pfree(r.members);
}

static void
test_kept_alike(void)
{
	WatchedRef	r = {"x"};
	WatchedTag	a = {{1}};
	WatchedTag	b;
	const char *ns = "A";
	char		os[] = "linux";
	char		os2[] = "linux";

	a.ref = &r;
	a.kept = true;
	a.namespace = ns;
	a.has_known = true;
	memset(a.known, 7, KEPT_DIGEST_BYTES);
	b = a;
	b.timing.tag_id = 2;
	check(kept_alike(&a, &b), "alike: the same namespace, known digest and options");
	b.known[31] = 8;
	check(!kept_alike(&a, &b), "alike: not with another known digest");
	b = a;
	b.has_known = false;
	check(!kept_alike(&a, &b), "alike: not with none known");
	b = a;
	b.namespace = "B";
	check(!kept_alike(&a, &b), "alike: not in another namespace (its credentials)");
	b = a;
	b.preserve = true;
	check(!kept_alike(&a, &b), "alike: not with another import mode");
	b = a;
	b.signatures = true;
	check(!kept_alike(&a, &b), "alike: not when one looks up signatures");
	a.prefer_os = os;
	b = a;
	b.prefer_os = os2;
	check(kept_alike(&a, &b), "alike: the same preferred OS, in two copies");
	b.prefer_os = NULL;
	check(!kept_alike(&a, &b), "alike: not without it");
}

/* A tag with riders takes their places in its namespace's rounds. */
static void
test_fair_riders(void)
{
	NamespaceTurn ns[2] = {{"A", 0}, {"B", 1}};
	DueTag		tags[7];
	DueTag	   *due[7];
	WatchedTag	riders[3] = {0};
	char		order[8];

	for (int i = 0; i < 7; i++)
	{
		memset(&tags[i], 0, sizeof(DueTag));
		tags[i].stream_id = i < 2 ? 0 : 1;
		due[i] = &tags[i];
	}
	for (int i = 0; i < 3; i++)
		rider_add(&tags[0], &riders[i]);
	for (int i = 0; i < 7; i++)
		fair_place(&tags[i], &ns[tags[i].stream_id]);
	fair_order(due, 7, 2, 0);
	for (int i = 0; i < 7; i++)
		order[i] = due[i] == &tags[0] ? 'R' : 'A' + (int) due[i]->stream_id;
	order[7] = '\0';
	check(tags[0].nriders == 3 && tags[1].rank == 4 && strcmp(order, "RBBBBAB") == 0,
		  "fair order: a tag with 3 riders takes 4 places of its namespace's rounds");
	pfree(tags[0].riders);
}

static void
test_budget(void)
{
	TokenBucket b = {0};
	int			taken = 0;

	while (taken < 1000 && budget_take(&b, 60, NOW))
		taken++;
	check(taken == 120, "budget: a burst of twice the rate a minute at the start");
	check(!budget_take(&b, 60, NOW + SEC(1) / 2), "budget: half a second later, none");
	check(budget_take(&b, 60, NOW + SEC(1)) && !budget_take(&b, 60, NOW + SEC(1)),
		  "budget: 60 a minute is one a second");
	taken = 0;
	while (taken < 1000 && budget_take(&b, 60, NOW + SEC(3600)))
		taken++;
	check(taken == 120, "budget: an hour idle fills no more than the burst");
	budget_return(&b);
	check(budget_take(&b, 60, NOW + SEC(3600)) && !budget_take(&b, 60, NOW + SEC(3600)),
		  "budget: a check not made is given back");
	check(b.tokens >= 0, "budget: never below zero");
	check(!budget_take(&(TokenBucket) {0}, 0, NOW), "budget: a rate of 0 allows none");
	b = (TokenBucket) {0};
	for (taken = 0; taken < 1000 && budget_take(&b, -1, NOW); taken++)
		;
	check(taken == 1000 && b.at == 0, "budget: a negative rate is no limit, and no state");
}

static void
test_log_limit(void)
{
	LogLimit	l = {0};
	int64		left_out;
	int			allowed = 0;

	for (int i = 0; i < 15; i++)
	{
		allowed += log_limit_take(&l, NOW + SEC(i), &left_out);
		if (left_out != 0)
			allowed = -100;
	}
	check(allowed == LOG_BURST, "log limit: 10 of 15 messages in a minute");
	check(log_limit_take(&l, NOW + SEC(60), &left_out) && left_out == 5,
		  "log limit: the next minute says 5 were left out");
	check(log_limit_take(&l, NOW + SEC(61), &left_out) && left_out == 0,
		  "log limit: said once");
	check(log_limit_take(&l, NOW + SEC(200), &left_out) && left_out == 0,
		  "log limit: a minute that left nothing out says nothing");
}

static void
backoff_of_no_failure(void *arg)
{
	(void) backoff_ms(0, INTERVAL);
}

static void
order_turn_out_of_range(void *arg)
{
	DueTag		d = {1};
	DueTag	   *due[1] = {&d};

	d.turn = 5;
	fair_order(due, 1, 2, 0);
}

static void
test_asserts(void)
{
	check(asserts(backoff_of_no_failure, NULL), "Assert: a back-off needs a failure");
	check(asserts(order_turn_out_of_range, NULL), "Assert: a turn beyond the namespaces");
}

int
main(void)
{
	test_spread();
	test_shared_spread();
	test_seen();
	test_backoff();
	test_recorded();
	test_wake();
	test_heap();
	test_followers();
	test_kept_alike();
	test_fair_riders();
	test_fair_order();
	test_group_checks();
	test_budget();
	test_log_limit();
	test_asserts();
	printf("1..%d\n", checks);
	return failed > 0;
}
