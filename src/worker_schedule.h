/*
 * worker_schedule.h
 *		The background worker's scheduling rules: when a tag is due, the
 *		order in which the due tags are taken, how they make checks (one per
 *		upstream reference), the import budget, how failures back off, and
 *		how many messages about single tags are logged.
 *
 * Pure functions over the plain structs below and the current time, which
 * the caller passes in: no SPI, no shared memory, no setting read here, so
 * that test/unit runs them outside a server.  The table of TagSchedule
 * entries and of the references they follow is the caller's (dynahashes
 * kept across cycles, worker_watch.c).
 */
#ifndef IMAGESTREAM_WORKER_SCHEDULE_H
#define IMAGESTREAM_WORKER_SCHEDULE_H

#include "datatype/timestamp.h"
#include "utils/hsearch.h"

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

typedef struct WatchedRef WatchedRef;

/* The bytes of a sha256 digest: the known digest a WatchedTag keeps. */
#define KEPT_DIGEST_BYTES 32

/*
 * A tag the worker watches: importable, and pending, requested or
 * scheduled, a follower of one upstream reference (ref).  What it knew of
 * the tag's row when it last read it (forced, sched) places it; what a
 * check needs of the row (kept: the rest) is kept for a scheduled tag that
 * is not forced, whose known digest is none or a sha256 one, until the
 * worker records anything for it, or the due queue names it: such a tag is
 * checked without being read again (doc/worker.md, "The due queue").
 */
typedef struct WatchedTag
{
	TagSchedule timing;			/* first: the hash key is timing.tag_id */
	WatchedRef *ref;			/* the reference it follows; NULL while read */
	int			member;			/* its index in ref->members */
	bool		forced;			/* pending or requested, when last read */
	bool		sched;			/* scheduled, when last read */
	bool		kept;			/* the fields below are its row's */
	bool		preserve;
	bool		signatures;		/* its fetches look up signatures */
	bool		has_known;
	uint8		known[KEPT_DIGEST_BYTES];	/* sha256 of its source_digest */
	const char *namespace;		/* interned: one copy a namespace */
	char	   *prefer_os;		/* NULL mostly; allocated when not */
	char	   *prefer_arch;
	int64		stream_id;
} WatchedTag;

/*
 * An upstream reference (a source and its insecure flag) that watched tags
 * follow: they are due at its points (schedule_checked), so the heap holds
 * references, each with its followers, and a due reference costs one heap
 * operation, its followers a loop.  Its wake is never later than any
 * follower's (watched_wake): a follower moved later leaves it early, and
 * the reference is placed again (ref_earliest) once taken.
 */
struct WatchedRef
{
	const char *source;			/* hash key, with insecure */
	bool		insecure;
	bool		taken;			/* out of the heap while a cycle reads it */
	uint64		check_key;		/* source_key(source, insecure) */
	TimestampTz wake;			/* its place in the heap */
	int			heap_index;		/* in DueHeap.items, or -1 when out of it */
	WatchedTag **members;		/* its followers (palloc'd; grows) */
	int			nmembers;
	int			size;
	uint64		reps_cycle;		/* the cycle reps belongs to */
	struct DueTag *reps;		/* due tags of kept followers, that cycle */
};

/*
 * The watched references by wake, earliest first: a binary min-heap whose
 * entries know their index, so that one is moved or removed in O(log n),
 * and the due ones are found in O(due log n), not by a pass over all of
 * them.  (PostgreSQL 15's lib/binaryheap.h cannot move or remove an entry,
 * and lib/pairingheap.c is not in the libraries test/unit links.)
 */
typedef struct DueHeap
{
	WatchedRef **items;			/* palloc'd; grows by repalloc */
	int			count;
	int			size;
} DueHeap;

/* A tag to check this cycle. */
typedef struct DueTag
{
	int64		tag_id;
	int64		stream_id;
	char	   *namespace;		/* whose credentials its import sends */
	char	   *source;
	bool		insecure;
	bool		preserve;
	char	   *known;			/* digest text, or NULL for a full fetch */
	char	   *prefer_os;
	char	   *prefer_arch;
	bool		signatures;		/* a new image's signatures are looked up */
	bool		forced;			/* pending or requested: record even if unchanged */
	WatchedTag *watched;		/* its entry (entries outlive the cycle) */

	/*
	 * Kept followers of its reference with the same namespace, known digest
	 * and options, not forced: its check is theirs, to the last byte (the
	 * same request, the same comparison, the same fetch), so they ride on it
	 * and its result is theirs.
	 */
	WatchedTag **riders;
	int			nriders;
	int			riders_size;
	struct DueTag *next_rep;	/* the next in its reference's reps */
	int			rank;			/* among its namespace's due tags, forced or not */
	int			turn;			/* its namespace's place in this cycle's rounds */
	uint64		check_key;		/* source_key(source, insecure): set by group_checks */
} DueTag;

/*
 * The due tags of one upstream reference (the same source and insecure
 * flag), at most a chunk's worth (group_checks), checked together: one
 * request (one per credentials scope, fetch_many.h) and one unit of the
 * import budget, which pays for the request's first fetch of a new image
 * too; each further fetch (its tags want other platforms) takes its own.
 */
typedef struct DueCheck
{
	uint64		key;			/* source_key of its tags */
	int			first;			/* its first tag among the due tags grouped */
	int			ntags;
	bool		forced;			/* one of them at least */
} DueCheck;

/* A namespace with due tags, this cycle. */
typedef struct NamespaceTurn
{
	char		name[NAMEDATALEN];	/* hash key (a namespace has at most 63 bytes) */
	int			turn;			/* in the order first seen */
	int			ranks[2];		/* its due tags so far: scheduled, forced */
} NamespaceTurn;

/* Checks allowed now: a token bucket, max_imports_per_minute a minute. */
typedef struct TokenBucket
{
	double		tokens;
	TimestampTz at;				/* last filled; 0 before the first take */
} TokenBucket;

/* Messages about single tags logged in the current minute. */
typedef struct LogLimit
{
	TimestampTz window;			/* when the minute began */
	int			count;
	int64		suppressed;
} LogLimit;

/* The worker's memory of its tags, kept across cycles by the loop. */
typedef struct WorkerSchedule
{
	HTAB	   *tags;			/* WatchedTag by tag_id */
	HTAB	   *refs;			/* WatchedRef by source and insecure */
	HTAB	   *namespaces;		/* the interned namespaces of kept tags */
	MemoryContext watch_ctx;	/* refs, namespaces, and what tags keep */
	DueHeap		heap;			/* every entry of refs */
	int64		scheduled;		/* entries with sched */
	int64		tags_peak;		/* the most entries tags held since it was made */
	uint64		cycle;			/* cycles that read the tags so far */
	TokenBucket budget;

	/*
	 * What the tags were read from in full (worker_due.c): until the
	 * extension or the interval changes, or a cycle fails, each cycle reads
	 * only the tags the due queue names and those due.
	 */
	bool		loaded;
	Oid			extension;
	char		version[NAMEDATALEN];
	int			interval_ms;
} WorkerSchedule;

/* A failure's delay doubles up to this many failures (1 s << 29: days). */
#define SCHEDULE_MAX_FAILURES 30

/* Messages about single tags logged a minute, at most. */
#define LOG_BURST 10

/*
 * The worker's secret, drawn once at its start: the keys, and so the points
 * of the interval a reference's checks fall on (worker_status.next_due_at,
 * which every role reads), are no one's guess, so that they do not tell
 * whether some namespace follows a reference one names (doc/security.md,
 * S32).  0 (the default) in the unit tests.
 */
extern void schedule_seed(uint64 seed);
extern uint64 source_key(const char *source, bool insecure);
extern TimestampTz spread_start(uint64 key, TimestampTz now, int interval_ms);
extern void schedule_new(TagSchedule *e, TimestampTz now, int interval_ms);
extern void schedule_new_check(TagSchedule *e, uint64 check_key, TimestampTz now, int interval_ms);
extern bool schedule_seen(TagSchedule *e, uint64 cycle, bool forced, TimestampTz now,
						  int interval_ms);
extern TimestampTz schedule_wake(const TagSchedule *e);
extern int64 backoff_ms(int failures, int interval_ms);
extern void schedule_fetched(TagSchedule *e, bool failed, int retry_after_s, TimestampTz now,
							 int interval_ms);
extern void schedule_checked(TagSchedule *e, uint64 check_key, bool failed, int retry_after_s,
							 TimestampTz now, int interval_ms);
extern void schedule_align_failures(TagSchedule **entries, int n);
extern void schedule_recorded(TagSchedule *e, bool ok, TimestampTz now, int interval_ms);

extern TimestampTz watched_wake(const WatchedTag *w);

extern void ref_add_member(WatchedRef *r, WatchedTag *w);
extern void ref_remove_member(WatchedTag *w);
extern TimestampTz ref_earliest(const WatchedRef *r);
extern bool kept_alike(const WatchedTag *a, const WatchedTag *b);
extern void rider_add(DueTag *d, WatchedTag *w);

extern void due_heap_init(DueHeap *h, int size);
extern void due_heap_place(DueHeap *h, WatchedRef *r, TimestampTz wake);
extern void due_heap_remove(DueHeap *h, WatchedRef *r);
extern WatchedRef *due_heap_first(const DueHeap *h);
extern void due_heap_clear(DueHeap *h);

extern void fair_place(DueTag *d, NamespaceTurn *ns);
extern void fair_order(DueTag **due, int n, int namespaces, uint64 cycle);
extern int	group_checks(DueTag **due, int n, int max_tags, DueCheck *checks);

extern bool budget_take(TokenBucket *b, double per_minute, TimestampTz now);
extern void budget_return(TokenBucket *b);

extern bool log_limit_take(LogLimit *l, TimestampTz now, int64 *left_out);

#endif
