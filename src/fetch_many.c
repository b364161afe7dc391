/*
 * fetch_many.c
 *		Fetching many sources at once, as the worker's cycles and
 *		import_image(all_tags) need: one concurrent round of HEAD requests
 *		tells each source's current digest, an unchanged one costs nothing
 *		more, and each distinct new digest is fetched once for all the
 *		sources that serve it (a release usually moves several tags of a
 *		repository to one image).  Sources of one upstream reference (the
 *		same registry, repository, tag or digest, insecure flag and
 *		credentials) share one request, whose answer is each one's: a
 *		hundred streams following nginx:latest cost one HEAD.  A HEAD
 *		refused with a status is the failure of its sources; when a HEAD
 *		gave no answer (no connection, 401), the first of its sources is
 *		fetched on its own, which reports why or does the authentication the
 *		HEAD lacked, and what that fetch learnt (the digest, or why not) is
 *		the others' answer.  A registry found unreachable by one such fetch
 *		fails the other sources of it at once, and is not asked again while
 *		the table of registry hosts remembers it (the worker's next chunks
 *		and cycles): each would wait for the same timeout.
 */
#include "postgres.h"

#include "common/hashfn.h"

#include "fetch_many.h"
#include "http.h"
#include "isolate.h"
#include "registry_hosts.h"
#include "settings.h"

/* The sources that served one new digest, fetched once. */
typedef struct Group
{
	FetchItem  *first;			/* whose target and options the fetch uses */
	Digest		digest;
	uint64		hash;			/* group_hash */
	FetchResult result;
} Group;

/*
 * The groups of a fetch_many_finish, found by hash: sources that ask for
 * many platforms of one reference make as many groups, and a pairwise
 * search would be quadratic in them (doc/security.md, S33).  Open
 * addressing; a slot holds a group's index + 1, or 0.
 */
typedef struct GroupIndex
{
	Group	   *groups;
	int			ngroups;
	int		   *slots;
	uint32		mask;
} GroupIndex;

/*
 * Can a's fetch serve b?  Only with the same credentials: a fetch sends
 * those of its first source, and sources of two namespaces with their own
 * credentials never share one's Authorization.  Nor across the signatures
 * option: one fetch looks them up, the other must not make those requests.
 */
static bool
same_fetch(const FetchItem *a, const FetchItem *b)
{
	return a->preserve == b->preserve && a->signatures == b->signatures &&
		strcmp(a->target.api_host, b->target.api_host) == 0 &&
		strcmp(a->target.repository, b->target.repository) == 0 &&
		a->target.insecure == b->target.insecure &&
		a->target.credentials == b->target.credentials &&
		registry_same_credentials(a->target.stored, b->target.stored) &&
		strcmp(a->prefer_os ? a->prefer_os : "", b->prefer_os ? b->prefer_os : "") == 0 &&
		strcmp(a->prefer_arch ? a->prefer_arch : "", b->prefer_arch ? b->prefer_arch : "") == 0;
}

/*
 * Orders credentials (either may be NULL: none), telling apart those that
 * registry_same_credentials does.
 */
static int
credentials_cmp(const RegistryCredentials *a, const RegistryCredentials *b)
{
	if (a == NULL || b == NULL)
		return (a != NULL) - (b != NULL);
	return strcmp(a->identity, b->identity);
}

/*
 * Orders sources by the request that answers them: a and b share one when
 * they ask the same upstream reference with the same Authorization, that is
 * with the same credentials (as same_fetch: sources of two namespaces with
 * their own credentials never share a request).  0 when they share it.
 */
static int
request_cmp(const FetchItem *a, const FetchItem *b)
{
	int			c;

	if ((c = strcmp(a->target.api_host, b->target.api_host)) != 0 ||
		(c = strcmp(a->target.host, b->target.host)) != 0 ||
		(c = strcmp(a->target.repository, b->target.repository)) != 0 ||
		(c = strcmp(a->reference, b->reference)) != 0 ||
		(c = (int) a->target.insecure - (int) b->target.insecure) != 0 ||
		(c = (int) a->target.credentials - (int) b->target.credentials) != 0)
		return c;
	return credentials_cmp(a->target.stored, b->target.stored);
}

/* By request, then by position: the first of a run is its first source. */
static int
asked_order(const void *pa, const void *pb, void *arg)
{
	const FetchItem *items = arg;
	int			a = *(const int *) pa;
	int			b = *(const int *) pb;
	int			c = request_cmp(&items[a], &items[b]);

	return c != 0 ? c : (a > b) - (a < b);
}

/*
 * Sets asker[i] to the source whose request answers source i: the first
 * source of its upstream reference (i itself for that one), or -1 for a
 * settled source.  Sorted, so that thousands of sources cost no pairwise
 * comparison.
 */
static void
share_requests(FetchItem *items, int n, int *asker)
{
	int		   *order = palloc(sizeof(int) * Max(n, 1));
	int			m = 0;

	for (int i = 0; i < n; i++)
	{
		asker[i] = -1;
		if (!items[i].settled)
			order[m++] = i;
	}
	qsort_arg(order, m, sizeof(int), asked_order, items);
	for (int k = 0; k < m; k++)
	{
		bool		same = k > 0 && request_cmp(&items[order[k - 1]], &items[order[k]]) == 0;

		asker[order[k]] = same ? asker[order[k - 1]] : order[k];
		Assert(asker[order[k]] <= order[k]);
	}
	pfree(order);
}

static uint64
text_hash(const char *s, uint64 seed)
{
	return hash_bytes_extended((const unsigned char *) (s ? s : ""), s ? strlen(s) : 0, seed);
}

/* A hash of what same_fetch compares, and the digest. */
static uint64
group_hash(const FetchItem *item, const Digest *d)
{
	const RegistryCredentials *c = item->target.stored;
	uint64		h = hash_bytes_extended(d->hash, digest_hash_bytes(d->algorithm), d->algorithm);

	h = hash_combine64(h, text_hash(item->target.api_host, 1));
	h = hash_combine64(h, text_hash(item->target.repository, 2));
	h = hash_combine64(h, text_hash(c ? c->identity : NULL, c ? 3 : 4));
	h = hash_combine64(h, text_hash(item->prefer_os, 5));
	h = hash_combine64(h, text_hash(item->prefer_arch, 6));
	return hash_combine64(h, (item->preserve ? 1 : 0) | (item->target.insecure ? 2 : 0) |
						  (item->target.credentials ? 4 : 0) | (item->signatures ? 8 : 0));
}

/* Room for n groups, at most half the slots full. */
static void
group_index_init(GroupIndex *x, int n)
{
	uint32		size = 2;

	while (size < 2 * (uint32) Max(n, 1))
		size *= 2;
	x->groups = palloc0(sizeof(Group) * Max(n, 1));
	x->ngroups = 0;
	x->slots = palloc0(sizeof(int) * size);
	x->mask = size - 1;
}

/*
 * The group that fetches d as item would, or NULL; then *slot is where a new
 * one goes.
 */
static Group *
find_group(GroupIndex *x, const FetchItem *item, const Digest *d, uint64 hash, uint32 *slot)
{
	uint32		i;

	for (i = (uint32) hash & x->mask; x->slots[i] != 0; i = (i + 1) & x->mask)
	{
		Group	   *g = &x->groups[x->slots[i] - 1];

		if (g->hash == hash && digest_equal(&g->digest, d) && same_fetch(g->first, item))
			return g;
	}
	*slot = i;
	return NULL;
}

/* A new group: its first source, and the digest it fetches. */
static Group *
add_group(GroupIndex *x, uint32 slot, FetchItem *item, const Digest *d, uint64 hash)
{
	Group	   *g = &x->groups[x->ngroups++];

	Assert(x->slots[slot] == 0 && (uint32) x->ngroups <= x->mask);
	g->first = item;
	g->digest = *d;
	g->hash = hash;
	x->slots[slot] = x->ngroups;
	return g;
}

/* A fetch_many under way: its HEAD requests, in the background. */
struct FetchMany
{
	FetchItem  *items;
	int			n;
	HttpBatchItem *batch;
	int		   *asker;			/* item -> the item whose request answers it */
	int		   *asked;			/* batch entry -> item */
	int			m;
	HttpBatch  *running;
	int			remember_unreachable_ms;
	ReadBudget *budget;
	FetchAllowance allow;		/* whether a whole fetch may be made */
	char	   *down_message;	/* the last unreachable failure's message,
								 * copied once for the sources it fails */
};

/* The arguments of one fetch_source call, for run_isolated. */
typedef struct SourceFetch
{
	const FetchItem *item;
	const char *reference;
	const Digest *known;
	FetchResult *r;
} SourceFetch;

static void
fetch_one(void *arg)
{
	SourceFetch *s = arg;

	fetch_source(&s->item->target, s->reference, s->item->preserve, s->known,
				 s->item->prefer_os, s->item->prefer_arch, s->item->signatures, s->r);
}

/*
 * fetch_source for item, unless the registry was found unreachable: then
 * that failure, unasked; or the budget ran out, or the allowance refuses
 * it: then nothing (FETCH_DEFERRED).  A fetch that finds the registry
 * unreachable marks it in the table of registry hosts.  An error it raises
 * (a hostile answer the reader did not expect) fails this source only.
 */
static void
fetch_or_fail(FetchMany *f, const FetchItem *item, const char *reference, const Digest *known,
			  FetchResult *r)
{
	const RegistryFailure *down = registry_host_unreachable(item->target.api_host);
	SourceFetch s = {item, reference, known, r};
	ErrorData  *e;

	if ((f->budget && read_budget_left(f->budget) == 0) ||
		(down == NULL && f->allow.take && !f->allow.take(f->allow.arg, item - f->items)))
	{
		memset(r, 0, sizeof(*r));
		r->status = FETCH_DEFERRED;
		return;
	}
	if (down != NULL)
	{
		memset(r, 0, sizeof(*r));
		r->status = FETCH_FAILURE;
		r->failure = *down;
		/* the table's copy goes once the host is reached again: one copy for all */
		if (down->message &&
			(f->down_message == NULL || strcmp(f->down_message, down->message) != 0))
			f->down_message = pstrdup(down->message);
		r->failure.message = down->message ? f->down_message : NULL;
		return;
	}
	if ((e = run_isolated(fetch_one, &s)) != NULL)
	{
		fetch_result_error(r, e);
		FreeErrorData(e);
		return;
	}
	if (r->status == FETCH_FAILURE && r->failure.unreachable)
		registry_host_set_unreachable(item->target.api_host, &r->failure,
									  f->remember_unreachable_ms);
}

FetchMany *
fetch_many_start(FetchItem *items, int n, int max_total, int max_per_registry,
				 int remember_unreachable_ms, ReadBudget *budget, const FetchAllowance *allow)
{
	FetchMany  *f = palloc0(sizeof(FetchMany));
	List	   *probed = NIL;

	Assert(n >= 0 && max_total > 0 && max_per_registry > 0);
	f->items = items;
	f->n = n;
	f->remember_unreachable_ms = remember_unreachable_ms;
	f->budget = budget;
	if (allow)
		f->allow = *allow;
	f->batch = palloc0(sizeof(HttpBatchItem) * Max(n, 1));
	f->asked = palloc(sizeof(int) * Max(n, 1));
	f->asker = palloc(sizeof(int) * Max(n, 1));
	share_requests(items, n, f->asker);
	/* an insecure registry new to this process: its scheme first, once */
	for (int i = 0; i < n; i++)
	{
		ListCell   *lc;
		bool		seen = false;

		if (items[i].settled || !items[i].target.insecure ||
			registry_host_unreachable(items[i].target.api_host))
			continue;
		foreach(lc, probed)
			seen = seen || strcmp(lfirst(lc), items[i].target.api_host) == 0;
		if (!seen)
		{
			registry_settle_scheme(&items[i].target);
			probed = lappend(probed, items[i].target.api_host);
		}
	}
	/*
	 * One request per upstream reference, by its first source (a source of a
	 * registry found unreachable is not asked: see finish)
	 */
	for (int i = 0; i < n; i++)
		if (f->asker[i] == i && !registry_host_unreachable(items[i].target.api_host) &&
			registry_prepare_head(&items[i].target, items[i].reference, &f->batch[f->m]))
			f->asked[f->m++] = i;
	/* each source is asked at most once: finish maps answers back by asked[] */
	Assert(f->m <= n);
	f->running = http_batch_start(f->batch, f->m, max_total, max_per_registry);
	return f;
}

void
fetch_many_poll(FetchMany *f)
{
	http_batch_poll(f->running);
}

void
fetch_many_cancel(FetchMany *f)
{
	http_batch_cancel(f->running);
}

/*
 * A source whose request gave no answer is fetched whole (its first source
 * only: asker[i] == i).  What that fetch learnt answers the others as a HEAD
 * would have: the digest the registry served (and, if it moved, what it
 * fetched of it, for the sources that fetch the same), or a failure before
 * any digest came (unauthorized, not found, unreachable).  A failure after
 * the digest came (the manifest, its platforms, its config) is that fetch's
 * own, as a group's is.
 */
static void
fetch_unanswered(FetchMany *f, FetchItem *item, bool *answered, bool *failed, bool *deferred,
				 Digest *current)
{
	fetch_or_fail(f, item, item->reference, item->has_known ? &item->known : NULL, &item->result);
	if (item->result.status == FETCH_DEFERRED)
		*deferred = true;
	else if (item->result.status == FETCH_FAILURE &&
			 item->result.source_digest.algorithm == DIGEST_NONE)
		*failed = true;
	else
	{
		*answered = true;
		*current = item->result.source_digest;
	}
}

void
fetch_many_finish(FetchMany *f)
{
	FetchItem  *items = f->items;
	int			n = f->n;
	Digest	   *current = palloc0(sizeof(Digest) * Max(n, 1));
	bool	   *answered = palloc0(sizeof(bool) * Max(n, 1));
	bool	   *failed = palloc0(sizeof(bool) * Max(n, 1));
	bool	   *deferred = palloc0(sizeof(bool) * Max(n, 1));
	int		   *group_of = palloc(sizeof(int) * Max(n, 1));
	GroupIndex	groups;

	group_index_init(&groups, n);
	http_batch_finish(f->running);
	for (int k = 0; k < f->m; k++)
	{
		HttpResponse *resp = &f->batch[k].resp;
		ParseError	err;
		int			i = f->asked[k];

		Assert(i >= 0 && i < n && f->asker[i] == i);
		answered[i] = resp->status == 200 && resp->docker_content_digest &&
			digest_parse(resp->docker_content_digest, strlen(resp->docker_content_digest),
						 &current[i], &err);
		/* a refusal (404, 429 with its Retry-After, 5xx) is not asked twice */
		failed[i] = registry_head_failed(&items[i].target, items[i].reference, resp,
										 &items[i].result.failure);
	}

	/* (a source's asker comes before it: its answer is known by then) */
	for (int i = 0; i < n; i++)
	{
		FetchItem  *item = &items[i];
		int			a = f->asker[i];
		Group	   *g = NULL;
		uint64		hash;
		uint32		slot;

		group_of[i] = -1;
		if (item->settled)
			continue;
		Assert(a >= 0 && a <= i);
		if (a == i && !failed[i] && !answered[i])
		{
			fetch_unanswered(f, item, &answered[i], &failed[i], &deferred[i], &current[i]);
			/*
			 * what it fetched of a new digest serves the sources that fetch
			 * the same (in place of a group whose fetch was not allowed)
			 */
			hash = group_hash(item, &current[i]);
			if (answered[i] && item->result.status != FETCH_UNCHANGED)
			{
				if ((g = find_group(&groups, item, &current[i], hash, &slot)) == NULL)
					g = add_group(&groups, slot, item, &current[i], hash);
				else if (g->result.status != FETCH_DEFERRED)
					continue;
				g->first = item;
				g->result = item->result;
			}
			continue;
		}
		if (failed[a])
		{
			RegistryFailure failure = items[a].result.failure;

			/* the answer of the request: its failure, for each of its sources */
			memset(&item->result, 0, sizeof(FetchResult));
			item->result.status = FETCH_FAILURE;
			item->result.failure = failure;
		}
		else if (deferred[a])
		{
			memset(&item->result, 0, sizeof(FetchResult));
			item->result.status = FETCH_DEFERRED;
		}
		else if (item->has_known && digest_equal(&item->known, &current[a]))
		{
			memset(&item->result, 0, sizeof(FetchResult));
			item->result.status = FETCH_UNCHANGED;
			item->result.source_digest = current[a];
		}
		else
		{
			g = find_group(&groups, item, &current[a], (hash = group_hash(item, &current[a])), &slot);
			if (g == NULL)
				g = add_group(&groups, slot, item, &current[a], hash);
			/* a new group, or one whose fetch was not allowed for its first */
			if (g->first == item || g->result.status == FETCH_DEFERRED)
			{
				char		text[DIGEST_MAX_TEXT];

				/* by digest: exactly what the HEAD saw, even if the tag moves on */
				g->first = item;
				digest_format(&g->digest, text);
				fetch_or_fail(f, item, text, NULL, &g->result);
			}
		}
		if (g != NULL)
			group_of[i] = g - groups.groups;
	}
	/* a group per distinct new digest, never more than the sources */
	Assert(groups.ngroups <= n);
	for (int i = 0; i < n; i++)
		if (group_of[i] >= 0)
			items[i].result = groups.groups[group_of[i]].result;
}

void
fetch_many(FetchItem *items, int n, int max_total, int max_per_registry)
{
	ReadBudget	budget;

	/* the sources of one import share what it may read */
	read_budget_start(&budget, imagestream_max_import_size, "imagestream.max_import_size");
	for (int i = 0; i < n; i++)
		items[i].target.budget = &budget;
	/* unreachable registries are remembered for this call only */
	registry_hosts_forget_unreachable();
	fetch_many_finish(fetch_many_start(items, n, max_total, max_per_registry, 0, &budget, NULL));
	registry_hosts_forget_unreachable();
	for (int i = 0; i < n; i++)
	{
		FetchResult *r = &items[i].result;

		items[i].target.budget = NULL;
		if (r->status != FETCH_DEFERRED)
			continue;
		r->status = FETCH_FAILURE;
		r->failure.reason = "ManifestTooLarge";
		r->failure.message = psprintf("Not read: the sources before it took this import to %s (%s).",
									  budget.setting, size_text(budget.limit_kb));
	}
}
