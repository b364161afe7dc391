/*
 * fetch.c
 *		What an import fetches of one source (doc/import.md): the manifest a
 *		reference names, and what it needs of it (config blobs, the children
 *		of an index, when asked the signatures of what it resolved to),
 *		through the registry client.
 */
#include "postgres.h"

#include "miscadmin.h"
#include "utils/memutils.h"

#include "fetch.h"
#include "manifest.h"
#include "settings.h"

static bool
parse_descriptor_digest(const char *text, Digest *d, RegistryFailure *f, const char *what)
{
	ParseError	err;

	if (text && digest_parse(text, strlen(text), d, &err))
		return true;
	f->reason = "InvalidManifest";
	f->message = psprintf("The %s descriptor has no valid digest.", what);
	return false;
}

/* An image manifest (already fetched) and its config blob. */
static bool
fetch_image(const RegistryTarget *t, const RegistryBody *body, const Manifest *m,
			FetchResult *r)
{
	FetchedManifest *fm = palloc0(sizeof(FetchedManifest));
	RegistryBody config;
	Digest		config_digest;

	if (!parse_descriptor_digest(m->config_digest, &config_digest, &r->failure, "config"))
		return false;
	if (!registry_get_blob(t, &config_digest, &config, &r->failure))
		return false;
	fm->digest = body->digest;
	fm->media_type = m->media_type;
	fm->manifest = body->data;
	fm->manifest_len = body->len;
	fm->config = config.data;
	fm->config_len = config.len;
	r->manifests = lappend(r->manifests, fm);
	return true;
}

/* A child of an index, by digest: it must be an image manifest. */
static bool
fetch_child(const RegistryTarget *t, const ManifestChild *c, FetchResult *r)
{
	Digest		d;
	RegistryBody body;
	Manifest	m;
	char		text[DIGEST_MAX_TEXT];

	if (!parse_descriptor_digest(c->digest, &d, &r->failure, "child manifest"))
		return false;
	digest_format(&d, text);
	if (!registry_get_manifest(t, text, NULL, &body, &r->failure))
		return false;
	if (!manifest_read(body.data, body.len, body.content_type, &m, &r->failure.reason,
					   &r->failure.message))
		return false;
	if (m.is_index)
	{
		r->failure.reason = "InvalidManifest";
		r->failure.message = psprintf("The index entry %s is itself an index.", text);
		return false;
	}
	return fetch_image(t, &body, &m, r);
}

static int
compare_strings(const void *a, const void *b)
{
	return strcmp(*(const char *const *) a, *(const char *const *) b);
}

/* How many distinct digests the children of an index have. */
static int
distinct_children(const Manifest *m)
{
	int			n = list_length(m->children);
	const char **digests = palloc(sizeof(char *) * Max(n, 1));
	int			count = 0;
	ListCell   *lc;
	int			i = 0;

	foreach(lc, m->children)
	{
		const char *d = ((ManifestChild *) lfirst(lc))->digest;

		digests[i++] = d ? d : "";
	}
	qsort(digests, n, sizeof(char *), compare_strings);
	for (i = 0; i < n; i++)
		if (i == 0 || strcmp(digests[i], digests[i - 1]) != 0)
			count++;
	pfree(digests);
	return count;
}

static bool
listed(const List *digests, const char *digest)
{
	const ListCell *lc;

	foreach(lc, digests)
		if (strcmp(lfirst(lc), digest) == 0)
			return true;
	return false;
}

/*
 * The children of an index for PreserveOriginal: each distinct one once,
 * however often the index lists it, and no more than the setting allows.
 */
static bool
fetch_children(const RegistryTarget *t, const char *reference, const Manifest *m, FetchResult *r)
{
	int			distinct = distinct_children(m);
	List	   *fetched = NIL;
	ListCell   *lc;

	if (distinct > imagestream_max_index_children)
	{
		r->failure.reason = "ManifestTooLarge";
		r->failure.message = psprintf("The index %s of %s lists %d manifests, over imagestream.max_index_children (%d).",
									  reference, t->repository, distinct,
									  imagestream_max_index_children);
		return false;
	}
	foreach(lc, m->children)
	{
		ManifestChild *c = lfirst(lc);

		if (c->digest && listed(fetched, c->digest))
			continue;
		if (!fetch_child(t, c, r))
			return false;
		fetched = lappend(fetched, c->digest);
		CHECK_FOR_INTERRUPTS();
	}
	return true;
}

static void
fetch_into(const RegistryTarget *t, const char *reference, bool preserve, const Digest *known,
		   const char *prefer_os, const char *prefer_arch, bool signatures, FetchResult *r)
{
	RegistryBody body;
	Manifest	m;
	char	   *platform = pstrdup(imagestream_preferred_platform ? imagestream_preferred_platform : "");
	char	   *os = strtok(platform, "/");
	char	   *arch = os ? strtok(NULL, "/") : NULL;
	char	   *variant = arch ? strtok(NULL, "/") : NULL;
	RegistryTarget bounded;
	ReadBudget	budget;

	memset(r, 0, sizeof(*r));
	if (t->budget == NULL)
	{
		read_budget_start(&budget, imagestream_max_import_size, "imagestream.max_import_size");
		bounded = *t;
		bounded.budget = &budget;
		t = &bounded;
	}
	r->status = FETCH_FAILURE;
	if (!registry_get_manifest(t, reference, known, &body, &r->failure))
		return;
	r->source_digest = body.digest;
	if (body.unchanged)
	{
		r->status = FETCH_UNCHANGED;
		return;
	}
	if (!manifest_read(body.data, body.len, body.content_type, &m, &r->failure.reason,
					   &r->failure.message))
		return;
	if (!m.is_index)
	{
		if (!fetch_image(t, &body, &m, r))
			return;
		r->image = body.digest;
	}
	else if (preserve)
	{
		FetchedManifest *index = palloc0(sizeof(FetchedManifest));

		if (!fetch_children(t, reference, &m, r))
			return;
		index->digest = body.digest;
		index->media_type = m.media_type;
		index->manifest = body.data;
		index->manifest_len = body.len;
		r->manifests = lappend(r->manifests, index);
		r->image = body.digest;
	}
	else
	{
		/*
		 * Legacy: the tag's annotations (the half of the platform they leave
		 * out from the setting; an empty one prefers nothing, as in
		 * OpenShift), then the setting, then linux/amd64, then the first
		 */
		bool		by_os = prefer_os && prefer_os[0] != '\0';
		bool		by_arch = prefer_arch && prefer_arch[0] != '\0';
		ManifestChild *c = NULL;

		if (by_os || by_arch)
			c = manifest_find_child(&m, by_os ? prefer_os : os ? os : "linux",
									by_arch ? prefer_arch : arch ? arch : "amd64",
									by_arch ? NULL : variant);
		if (c == NULL)
			c = manifest_choose_child(&m, os ? os : "linux", arch ? arch : "amd64", variant);

		if (!fetch_child(t, c, r))
			return;
		r->image = ((FetchedManifest *) llast(r->manifests))->digest;
	}
	r->status = FETCH_SUCCESS;
	if (signatures)
	{
		r->signatures = signatures_fetch(t, &r->source_digest, &r->signature_error);
		r->signatures_looked_up = true;
	}
}

void
fetch_result_error(FetchResult *r, const ErrorData *e)
{
	memset(r, 0, sizeof(*r));
	r->status = FETCH_FAILURE;
	r->failure.reason = "InternalError";
	r->failure.message = e->detail
		? psprintf("The import stopped on an error: %s. %s", e->message, e->detail)
		: psprintf("The import stopped on an error: %s.", e->message);
}

/*
 * In a memory context of its own, so that what a failed fetch read goes at
 * once, not with its caller's context (the worker's lives for a cycle).
 */
void
fetch_source(const RegistryTarget *t, const char *reference, bool preserve, const Digest *known,
			 const char *prefer_os, const char *prefer_arch, bool signatures, FetchResult *r)
{
	MemoryContext caller = CurrentMemoryContext;
	MemoryContext ctx = AllocSetContextCreate(caller, "imagestream fetch", ALLOCSET_DEFAULT_SIZES);

	MemoryContextSwitchTo(ctx);
	fetch_into(t, reference, preserve, known, prefer_os, prefer_arch, signatures, r);
	MemoryContextSwitchTo(caller);
	if (r->status == FETCH_FAILURE)
	{
		r->failure.message = r->failure.message ? pstrdup(r->failure.message) : NULL;
		r->manifests = NIL;
		MemoryContextDelete(ctx);
	}
}
