/*
 * fetch_many.c
 *		Fetching many sources at once, as the worker's cycles and
 *		import_image(all_tags) need: one concurrent round of HEAD requests
 *		tells each source's current digest, an unchanged one costs nothing
 *		more, and each distinct new digest is fetched once for all the
 *		sources that serve it (a release usually moves several tags of a
 *		repository to one image).  A HEAD refused with a status is that
 *		source's failure; a source whose HEAD gave no answer (no connection,
 *		401) is fetched on its own, which reports why or does the
 *		authentication the HEAD lacked.
 */
#include "postgres.h"

#include "fetch.h"
#include "http.h"

/* The sources that served one new digest, fetched once. */
typedef struct Group
{
	FetchItem  *first;			/* whose target and options the fetch uses */
	Digest		digest;
	FetchResult result;
} Group;

static bool
same_digest(const Digest *a, const Digest *b)
{
	return a->algorithm == b->algorithm &&
		memcmp(a->hash, b->hash, digest_hash_bytes(a->algorithm)) == 0;
}

static bool
same_fetch(const FetchItem *a, const FetchItem *b)
{
	return a->preserve == b->preserve &&
		strcmp(a->target.api_host, b->target.api_host) == 0 &&
		strcmp(a->target.repository, b->target.repository) == 0 &&
		a->target.insecure == b->target.insecure &&
		strcmp(a->prefer_os ? a->prefer_os : "", b->prefer_os ? b->prefer_os : "") == 0 &&
		strcmp(a->prefer_arch ? a->prefer_arch : "", b->prefer_arch ? b->prefer_arch : "") == 0;
}

static Group *
find_group(Group *groups, int n, const FetchItem *item, const Digest *d)
{
	for (int g = 0; g < n; g++)
		if (same_digest(&groups[g].digest, d) && same_fetch(groups[g].first, item))
			return &groups[g];
	return NULL;
}

void
fetch_many(FetchItem *items, int n, int max_total, int max_per_registry)
{
	HttpBatchItem *batch = palloc0(sizeof(HttpBatchItem) * Max(n, 1));
	int		   *asked = palloc(sizeof(int) * Max(n, 1));
	Digest	   *current = palloc0(sizeof(Digest) * Max(n, 1));
	bool	   *answered = palloc0(sizeof(bool) * Max(n, 1));
	bool	   *failed = palloc0(sizeof(bool) * Max(n, 1));
	Group	   *groups = palloc0(sizeof(Group) * Max(n, 1));
	int		   *group_of = palloc(sizeof(int) * Max(n, 1));
	int			m = 0;
	int			ngroups = 0;

	for (int i = 0; i < n; i++)
		if (registry_prepare_head(&items[i].target, items[i].reference, &batch[m]))
			asked[m++] = i;
	http_batch(batch, m, max_total, max_per_registry);
	for (int k = 0; k < m; k++)
	{
		HttpResponse *resp = &batch[k].resp;
		ParseError	err;
		int			i = asked[k];

		answered[i] = resp->status == 200 && resp->docker_content_digest &&
			digest_parse(resp->docker_content_digest, strlen(resp->docker_content_digest),
						 &current[i], &err);
		/* a refusal (404, 429 with its Retry-After, 5xx) is not asked twice */
		failed[i] = registry_head_failed(&items[i].target, items[i].reference, resp,
										 &items[i].result.failure);
	}

	for (int i = 0; i < n; i++)
	{
		FetchItem  *item = &items[i];
		Group	   *g;

		group_of[i] = -1;
		if (failed[i])
			item->result.status = FETCH_FAILURE;
		else if (!answered[i])
			fetch_source(&item->target, item->reference, item->preserve,
						 item->has_known ? &item->known : NULL,
						 item->prefer_os, item->prefer_arch, &item->result);
		else if (item->has_known && same_digest(&item->known, &current[i]))
		{
			memset(&item->result, 0, sizeof(FetchResult));
			item->result.status = FETCH_UNCHANGED;
			item->result.source_digest = current[i];
		}
		else if ((g = find_group(groups, ngroups, item, &current[i])) != NULL)
			group_of[i] = g - groups;
		else
		{
			char		text[DIGEST_MAX_TEXT];

			/* by digest: exactly what the HEAD saw, even if the tag moves on */
			g = &groups[ngroups];
			g->first = item;
			g->digest = current[i];
			digest_format(&g->digest, text);
			fetch_source(&item->target, text, item->preserve, NULL,
						 item->prefer_os, item->prefer_arch, &g->result);
			group_of[i] = ngroups++;
		}
	}
	for (int i = 0; i < n; i++)
		if (group_of[i] >= 0)
			items[i].result = groups[group_of[i]].result;
}
