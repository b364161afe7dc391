/*
 * worker_watch.c
 *		The background worker's memory of the tags it watches
 *		(worker_watch.h): the upstream references they follow, and what a
 *		check needs of each tag's row.
 *
 * A million tags following ten thousand references would otherwise cost
 * the worker, each round, a heap operation and a read by id a tag (about
 * 11 us each): so the heap holds references, each with its followers, and
 * a tag that is scheduled and not forced keeps what its check needs (its
 * namespace, interned; its known digest, 32 bytes; its options), so that
 * the cycle that finds it due checks it without reading it.  What it keeps
 * stands until the row may have changed: the worker records anything for
 * the tag (worker_chunks.c lets go of it then), or the due queue names it
 * (someone else changed a column a check reads, source_digest included:
 * src/sql/code/290_worker.sql); the tag is then read again by id at its
 * next due time, as every due tag was before.
 *
 * Everything here lives in s->watch_ctx, emptied at once when all tags are
 * read again.
 */
#include "postgres.h"

#include "common/hashfn.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"

#include "digest.h"
#include "worker_watch.h"

/* A reference's hash key: the first fields of WatchedRef. */
typedef struct RefKey
{
	const char *source;
	bool		insecure;
} RefKey;

StaticAssertDecl(offsetof(WatchedRef, source) == offsetof(RefKey, source) &&
				 offsetof(WatchedRef, insecure) == offsetof(RefKey, insecure),
				 "a WatchedRef begins with its RefKey");

/* A namespace kept tags name: one copy, as long as one holds it. */
typedef struct KeptNamespace
{
	char		name[NAMEDATALEN];	/* hash key; first: what tags point to */
	int64		holders;
} KeptNamespace;

static uint32
ref_hash(const void *key, Size keysize)
{
	const RefKey *k = key;

	return (uint32) source_key(k->source, k->insecure);
}

static int
ref_match(const void *a, const void *b, Size keysize)
{
	const RefKey *x = a;
	const RefKey *y = b;

	return x->insecure != y->insecure || strcmp(x->source, y->source) != 0;
}

/* The hashes, made again each time watch_ctx is emptied. */
static void
make_tables(WorkerSchedule *s)
{
	HASHCTL		ctl;

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(RefKey);
	ctl.entrysize = sizeof(WatchedRef);
	ctl.hash = ref_hash;
	ctl.match = ref_match;
	ctl.hcxt = s->watch_ctx;
	s->refs = hash_create("imagestream references", 1024, &ctl,
						  HASH_ELEM | HASH_FUNCTION | HASH_COMPARE | HASH_CONTEXT);
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = NAMEDATALEN;
	ctl.entrysize = sizeof(KeptNamespace);
	ctl.hcxt = s->watch_ctx;
	s->namespaces = hash_create("imagestream namespaces kept", 64, &ctl,
								HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
}

void
watch_init(WorkerSchedule *s)
{
	s->watch_ctx = AllocSetContextCreate(TopMemoryContext, "imagestream watched references",
										 ALLOCSET_DEFAULT_SIZES);
	make_tables(s);
}

void
watch_reset(WorkerSchedule *s)
{
	HASH_SEQ_STATUS seq;
	WatchedTag *w;

	hash_seq_init(&seq, s->tags);
	while ((w = hash_seq_search(&seq)) != NULL)
	{
		w->ref = NULL;
		w->member = -1;
		w->kept = false;
		w->namespace = NULL;
		w->prefer_os = w->prefer_arch = NULL;
	}
	due_heap_clear(&s->heap);
	MemoryContextReset(s->watch_ctx);
	make_tables(s);
}

/* A reference without followers goes. */
static void
free_ref(WorkerSchedule *s, WatchedRef *r)
{
	RefKey		key = {r->source, r->insecure};
	char	   *source = (char *) r->source;

	Assert(r->nmembers == 0);
	due_heap_remove(&s->heap, r);
	pfree(r->members);
	hash_search(s->refs, &key, HASH_REMOVE, NULL);
	pfree(source);
}

void
watch_follow(WorkerSchedule *s, WatchedTag *w, const char *source, bool insecure)
{
	RefKey		key = {source, insecure};
	WatchedRef *r;
	bool		found;

	if (w->ref && w->ref->insecure == insecure && strcmp(w->ref->source, source) == 0)
		return;
	watch_unfollow(s, w);
	r = hash_search(s->refs, &key, HASH_ENTER, &found);
	if (!found)
	{
		r->source = MemoryContextStrdup(s->watch_ctx, source);
		r->insecure = insecure;
		r->taken = false;
		r->check_key = source_key(source, insecure);
		r->wake = 0;
		r->heap_index = -1;
		r->size = 4;
		r->members = MemoryContextAlloc(s->watch_ctx, sizeof(WatchedTag *) * r->size);
		r->nmembers = 0;
		r->reps_cycle = 0;
		r->reps = NULL;
	}
	ref_add_member(r, w);
}

void
watch_unfollow(WorkerSchedule *s, WatchedTag *w)
{
	WatchedRef *r = w->ref;

	if (r == NULL)
		return;
	ref_remove_member(w);
	if (r->nmembers == 0 && !r->taken)
		free_ref(s, r);
}

void
watch_wake_by(WorkerSchedule *s, WatchedRef *r, TimestampTz wake)
{
	if (!r->taken && (r->heap_index < 0 || wake < r->wake))
		due_heap_place(&s->heap, r, wake);
}

bool
watch_untake(WorkerSchedule *s, WatchedRef *r)
{
	Assert(r->taken && r->heap_index < 0);
	r->taken = false;
	if (r->nmembers > 0)
		return true;
	free_ref(s, r);
	return false;
}

bool
watch_keep(WorkerSchedule *s, WatchedTag *w, const char *namespace, int64 stream_id,
		   bool preserve, const char *known, int known_len, const char *prefer_os,
		   const char *prefer_arch, bool signatures)
{
	Digest		d;
	ParseError	err;
	KeptNamespace *ns;
	bool		found;

	watch_drop(s, w);
	if (known && (!digest_parse(known, known_len, &d, &err) || d.algorithm != DIGEST_SHA256))
		return false;
	StaticAssertStmt(KEPT_DIGEST_BYTES <= DIGEST_MAX_HASH_BYTES, "a sha256 hash fits a Digest");
	w->has_known = known != NULL;
	if (known)
		memcpy(w->known, d.hash, KEPT_DIGEST_BYTES);
	ns = hash_search(s->namespaces, namespace, HASH_ENTER, &found);
	if (!found)
		ns->holders = 0;
	ns->holders++;
	w->namespace = ns->name;
	w->stream_id = stream_id;
	w->preserve = preserve;
	w->signatures = signatures;
	w->prefer_os = prefer_os ? MemoryContextStrdup(s->watch_ctx, prefer_os) : NULL;
	w->prefer_arch = prefer_arch ? MemoryContextStrdup(s->watch_ctx, prefer_arch) : NULL;
	w->kept = true;
	return true;
}

void
watch_drop(WorkerSchedule *s, WatchedTag *w)
{
	w->kept = false;
	if (w->namespace)
	{
		KeptNamespace *ns = (KeptNamespace *) w->namespace;

		Assert(ns->holders > 0);
		if (--ns->holders == 0)
			hash_search(s->namespaces, ns->name, HASH_REMOVE, NULL);
		w->namespace = NULL;
	}
	if (w->prefer_os)
		pfree(w->prefer_os);
	if (w->prefer_arch)
		pfree(w->prefer_arch);
	w->prefer_os = w->prefer_arch = NULL;
}
