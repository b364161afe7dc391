/*
 * fetch.c
 *		What an import fetches (SPEC section 5), and its SQL entry points.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/tuplestore.h"

#include "digest_type.h"
#include "fetch.h"
#include "manifest.h"
#include "ref_type.h"
#include "settings.h"
#include "worker.h"

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
		   const char *prefer_os, const char *prefer_arch, FetchResult *r)
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
		/* Legacy: the tag's annotations, then the setting, then linux/amd64 */
		const char *want_os = prefer_os ? prefer_os : os ? os : "linux";
		const char *want_arch = prefer_arch ? prefer_arch : arch ? arch : "amd64";
		ManifestChild *c = manifest_choose_child(&m, want_os, want_arch,
												 prefer_arch ? NULL : variant);

		if (!fetch_child(t, c, r))
			return;
		r->image = ((FetchedManifest *) llast(r->manifests))->digest;
	}
	r->status = FETCH_SUCCESS;
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
			 const char *prefer_os, const char *prefer_arch, FetchResult *r)
{
	MemoryContext caller = CurrentMemoryContext;
	MemoryContext ctx = AllocSetContextCreate(caller, "imagestream fetch", ALLOCSET_DEFAULT_SIZES);

	MemoryContextSwitchTo(ctx);
	fetch_into(t, reference, preserve, known, prefer_os, prefer_arch, r);
	MemoryContextSwitchTo(caller);
	if (r->status == FETCH_FAILURE)
	{
		r->failure.message = r->failure.message ? pstrdup(r->failure.message) : NULL;
		r->manifests = NIL;
		MemoryContextDelete(ctx);
	}
}

static Datum
make_bytea(const char *data, size_t len)
{
	bytea	   *b = palloc(VARHDRSZ + len);

	SET_VARSIZE(b, VARHDRSZ + len);
	if (len > 0)
		memcpy(VARDATA(b), data, len);
	return PointerGetDatum(b);
}

static char *
optional_text(FunctionCallInfo fcinfo, int arg)
{
	return PG_ARGISNULL(arg) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(arg));
}

void
source_reference(Datum ref, char *reference, size_t size)
{
	ImageRefParts p;

	datum_get_ref(ref, &p);
	if (p.has_digest)
		digest_format(&p.digest, reference);
	else
		snprintf(reference, size, "%.*s",
				 (int) (p.tag_len ? p.tag_len : 6), p.tag_len ? p.tag : "latest");
}

/*
 * A result as the columns of imagestream._fetched (status, reason, message,
 * retry_after, image, source_digest, digests, media_types, manifests,
 * configs), described by desc.
 */
static void
result_columns(const FetchResult *r, TupleDesc desc, Datum *values, bool *nulls)
{
	/* a failure half-way keeps nothing of what it read */
	List	   *fetched = r->status == FETCH_SUCCESS ? r->manifests : NIL;
	int			n = list_length(fetched);
	Datum	   *digests = palloc(sizeof(Datum) * (n + 1));
	Datum	   *types = palloc(sizeof(Datum) * (n + 1));
	Datum	   *manifests = palloc(sizeof(Datum) * (n + 1));
	Datum	   *configs = palloc(sizeof(Datum) * (n + 1));
	bool	   *config_nulls = palloc(sizeof(bool) * (n + 1));
	int			dims[1] = {n};
	int			lbs[1] = {1};
	ListCell   *lc;
	int			i = 0;

	values[0] = CStringGetTextDatum(r->status == FETCH_SUCCESS ? "Success" :
									r->status == FETCH_UNCHANGED ? "Unchanged" : "Failure");
	nulls[0] = false;
	nulls[1] = r->failure.reason == NULL;
	values[1] = nulls[1] ? (Datum) 0 : CStringGetTextDatum(r->failure.reason);
	nulls[2] = r->failure.message == NULL;
	values[2] = nulls[2] ? (Datum) 0 : CStringGetTextDatum(r->failure.message);
	nulls[3] = r->failure.retry_after <= 0;
	values[3] = Int32GetDatum(r->failure.retry_after);
	nulls[4] = r->status != FETCH_SUCCESS;
	values[4] = nulls[4] ? (Datum) 0 : digest_get_datum(&r->image);
	nulls[5] = r->status == FETCH_FAILURE;
	values[5] = nulls[5] ? (Datum) 0 : digest_get_datum(&r->source_digest);
	foreach(lc, fetched)
	{
		FetchedManifest *fm = lfirst(lc);

		digests[i] = digest_get_datum(&fm->digest);
		types[i] = CStringGetTextDatum(fm->media_type);
		manifests[i] = make_bytea(fm->manifest, fm->manifest_len);
		config_nulls[i] = fm->config == NULL;
		configs[i] = fm->config ? make_bytea(fm->config, fm->config_len) : (Datum) 0;
		i++;
	}
	values[6] = PointerGetDatum(construct_array(digests, n,
												get_element_type(TupleDescAttr(desc, 6)->atttypid),
												-1, false, TYPALIGN_INT));
	values[7] = PointerGetDatum(construct_array(types, n, TEXTOID, -1, false, TYPALIGN_INT));
	values[8] = PointerGetDatum(construct_array(manifests, n, BYTEAOID, -1, false, TYPALIGN_INT));
	values[9] = PointerGetDatum(construct_md_array(configs, config_nulls, 1, dims, lbs, BYTEAOID,
												   -1, false, TYPALIGN_INT));
	for (i = 6; i < 10; i++)
		nulls[i] = false;
}

Datum
fetch_result_datum(const FetchResult *r, TupleDesc desc)
{
	Datum		values[10];
	bool		nulls[10];

	result_columns(r, desc, values, nulls);
	return HeapTupleGetDatum(heap_form_tuple(desc, values, nulls));
}

Datum
fetch_result_datum_shared(const FetchResult *r, TupleDesc desc)
{
	FetchResult brief = *r;
	Datum		values[10];
	bool		nulls[10];

	brief.manifests = NIL;
	result_columns(&brief, desc, values, nulls);
	for (int i = 6; i < 10; i++)
		nulls[i] = true;
	return HeapTupleGetDatum(heap_form_tuple(desc, values, nulls));
}

/* a boolean argument that may be NULL: NULL is false */
static bool
optional_bool(FunctionCallInfo fcinfo, int arg)
{
	return !PG_ARGISNULL(arg) && PG_GETARG_BOOL(arg);
}

/*
 * _fetch_source(ref, insecure, preserve, known, prefer_os, prefer_arch) ->
 * (status, reason, message, retry_after, image, source_digest, digests,
 * media_types, manifests, configs).  Not STRICT: known and the preferred
 * platform may be NULL; a NULL ref fetches nothing and gives NULL.
 */
PG_FUNCTION_INFO_V1(imagestream_fetch_source);
Datum
imagestream_fetch_source(PG_FUNCTION_ARGS)
{
	RegistryTarget t;
	FetchResult r;
	Digest		known;
	char		reference[DIGEST_MAX_TEXT + REF_TAG_MAX + 1];
	TupleDesc	desc;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	registry_target(PG_GETARG_DATUM(0), optional_bool(fcinfo, 1), &t);
	source_reference(PG_GETARG_DATUM(0), reference, sizeof(reference));
	if (!PG_ARGISNULL(3))
		datum_get_digest(PG_GETARG_DATUM(3), &known);
	fetch_source(&t, reference, optional_bool(fcinfo, 2), PG_ARGISNULL(3) ? NULL : &known,
				 optional_text(fcinfo, 4), optional_text(fcinfo, 5), &r);

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	PG_RETURN_DATUM(fetch_result_datum(&r, BlessTupleDesc(desc)));
}

/* The elements of a one-dimensional array argument; every one NULL if it is NULL. */
static Datum *
array_arg(FunctionCallInfo fcinfo, int arg, Oid elemtype, int n, bool **elem_nulls)
{
	int16		typlen;
	bool		typbyval;
	char		typalign;
	Datum	   *elems;
	int			count;

	if (PG_ARGISNULL(arg))
	{
		*elem_nulls = palloc(sizeof(bool) * Max(n, 1));
		memset(*elem_nulls, true, sizeof(bool) * Max(n, 1));
		return palloc0(sizeof(Datum) * Max(n, 1));
	}
	get_typlenbyvalalign(elemtype, &typlen, &typbyval, &typalign);
	deconstruct_array(PG_GETARG_ARRAYTYPE_P(arg), elemtype, typlen, typbyval, typalign,
					  &elems, elem_nulls, &count);
	if (count != n)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("the argument arrays of _fetch_sources differ in length")));
	return elems;
}

/*
 * _fetch_sources(refs, insecure, preserve, known, prefer_os, prefer_arch):
 * _fetch_source for many sources at once (fetch_many), one row per source
 * in the order of refs.
 */
PG_FUNCTION_INFO_V1(imagestream_fetch_sources);
Datum
imagestream_fetch_sources(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	ArrayType  *refs_array;
	Datum	   *refs;
	bool	   *ref_nulls;
	bool	   *insecure_nulls;
	bool	   *preserve_nulls;
	bool	   *known_nulls;
	bool	   *os_nulls;
	bool	   *arch_nulls;
	Datum	   *insecure;
	Datum	   *preserve;
	Datum	   *known;
	Datum	   *os;
	Datum	   *arch;
	Oid			digest_type;
	int			n;
	FetchItem  *items;

	InitMaterializedSRF(fcinfo, 0);
	if (PG_ARGISNULL(0))
		return (Datum) 0;
	refs_array = PG_GETARG_ARRAYTYPE_P(0);
	n = ArrayGetNItems(ARR_NDIM(refs_array), ARR_DIMS(refs_array));
	refs = array_arg(fcinfo, 0, ARR_ELEMTYPE(refs_array), n, &ref_nulls);
	insecure = array_arg(fcinfo, 1, BOOLOID, n, &insecure_nulls);
	preserve = array_arg(fcinfo, 2, BOOLOID, n, &preserve_nulls);
	digest_type = PG_ARGISNULL(3) ? InvalidOid : ARR_ELEMTYPE(PG_GETARG_ARRAYTYPE_P(3));
	known = array_arg(fcinfo, 3, digest_type, n, &known_nulls);
	os = array_arg(fcinfo, 4, TEXTOID, n, &os_nulls);
	arch = array_arg(fcinfo, 5, TEXTOID, n, &arch_nulls);

	items = palloc0(sizeof(FetchItem) * Max(n, 1));
	for (int i = 0; i < n; i++)
	{
		char		reference[DIGEST_MAX_TEXT + REF_TAG_MAX + 1];

		if (ref_nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("a source of _fetch_sources is NULL")));
		registry_target(refs[i], !insecure_nulls[i] && DatumGetBool(insecure[i]), &items[i].target);
		source_reference(refs[i], reference, sizeof(reference));
		items[i].reference = pstrdup(reference);
		items[i].has_known = !known_nulls[i];
		if (!known_nulls[i])
			datum_get_digest(known[i], &items[i].known);
		items[i].preserve = !preserve_nulls[i] && DatumGetBool(preserve[i]);
		items[i].prefer_os = os_nulls[i] ? NULL : TextDatumGetCString(os[i]);
		items[i].prefer_arch = arch_nulls[i] ? NULL : TextDatumGetCString(arch[i]);
	}
	fetch_many(items, n, imagestream_max_concurrent_requests, imagestream_max_requests_per_registry);
	for (int i = 0; i < n; i++)
	{
		Datum		values[10];
		bool		nulls[10];

		result_columns(&items[i].result, rsinfo->setDesc, values, nulls);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/*
 * The tags of a tag list as (status, reason, message, tags text[]), or with
 * as_page, the one element of tags a JSON page {"tags": [...]}.
 */
static Datum
registry_tags_datum(FunctionCallInfo fcinfo, bool as_page)
{
	RegistryTarget t;
	RegistryFailure f;
	List	   *tags;
	TupleDesc	desc;
	Datum		values[4] = {0};
	bool		nulls[4] = {0};
	bool		ok;

	registry_target(PG_GETARG_DATUM(0), PG_GETARG_BOOL(1), &t);
	ok = registry_get_tags(&t, &tags, &f);
	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	values[0] = CStringGetTextDatum(ok ? "ok" : "failed");
	nulls[1] = ok;
	values[1] = ok ? (Datum) 0 : CStringGetTextDatum(f.reason);
	nulls[2] = ok;
	values[2] = ok ? (Datum) 0 : CStringGetTextDatum(f.message);
	nulls[3] = !ok;
	if (ok && as_page)
	{
		StringInfoData page;
		Datum		item;
		ListCell   *lc;

		initStringInfo(&page);
		appendStringInfoString(&page, "{\"tags\": [");
		foreach(lc, tags)
		{
			if (lc != list_head(tags))
				appendStringInfoString(&page, ", ");
			escape_json(&page, lfirst(lc));
		}
		appendStringInfoString(&page, "]}");
		list_free_deep(tags);
		item = CStringGetTextDatum(page.data);
		values[3] = PointerGetDatum(construct_array(&item, 1, TEXTOID, -1, false, TYPALIGN_INT));
	}
	else if (ok)
	{
		int			n = list_length(tags);
		Datum	   *items = palloc(sizeof(Datum) * (n + 1));
		ListCell   *lc;
		int			i = 0;

		foreach(lc, tags)
			items[i++] = CStringGetTextDatum((char *) lfirst(lc));
		list_free_deep(tags);
		values[3] = PointerGetDatum(construct_array(items, n, TEXTOID, -1, false, TYPALIGN_INT));
	}
	return HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(desc), values, nulls));
}

/* _registry_tags(ref, insecure) -> (status, reason, message, tags text[]) */
PG_FUNCTION_INFO_V1(imagestream_registry_tags);
Datum
imagestream_registry_tags(PG_FUNCTION_ARGS)
{
	PG_RETURN_DATUM(registry_tags_datum(fcinfo, false));
}

/*
 * _registry_tag_pages(ref, insecure) -> (status, reason, message, pages
 * text[]) of 0.1.0 and 0.2.0, until ALTER EXTENSION UPDATE replaces it: the
 * tags as one page, so that their import_image reads as little as ours.
 */
PG_FUNCTION_INFO_V1(imagestream_registry_tag_pages);
Datum
imagestream_registry_tag_pages(PG_FUNCTION_ARGS)
{
	/* (0.2.0 did not declare it STRICT) */
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		PG_RETURN_NULL();
	PG_RETURN_DATUM(registry_tags_datum(fcinfo, true));
}
