/*
 * fetch_sql.c
 *		The SQL entry points of fetching (_fetch_source, _fetch_sources,
 *		_registry_tags): their arguments turned into registry targets with
 *		their stored credentials, and the results into SQL values.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/tuplestore.h"

#include "credentials.h"
#include "digest_type.h"
#include "fetch_sql.h"
#include "ref_type.h"
#include "settings.h"

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

/*
 * The namespace whose credentials a fetch sends: the argument arg, or NULL
 * (server-wide ones only) when it is NULL or absent, as when the SQL objects
 * of 0.2.0 call (doc/upgrading.md).
 */
static const char *
namespace_arg(FunctionCallInfo fcinfo, int arg)
{
	return PG_NARGS() > arg ? optional_text(fcinfo, arg) : NULL;
}

char *
fetch_target(Datum ref, bool insecure, RegistryTarget *t)
{
	ImageRefParts p;

	datum_get_ref(ref, &p);
	registry_target(&p, insecure, t);
	if (p.has_digest)
	{
		char	   *reference = palloc(DIGEST_MAX_TEXT);

		digest_format(&p.digest, reference);
		return reference;
	}
	return p.tag_len ? pnstrdup(p.tag, p.tag_len) : pstrdup("latest");
}

/* The columns of imagestream._fetched, the signatures' last (0.2.0's type has none). */
#define FETCHED_COLUMNS 13
#define FETCHED_MANIFEST_COLUMNS 10

/*
 * The signatures of a result, into the last three columns: signature_payloads
 * and signature_values (NULL when it did not look them up) and
 * signature_error.
 */
static void
signature_columns(const FetchResult *r, Datum *values, bool *nulls)
{
	bool		looked = r->status == FETCH_SUCCESS && r->signatures_looked_up;
	int			n = looked ? list_length(r->signatures) : 0;
	Datum	   *payloads = palloc(sizeof(Datum) * (n + 1));
	Datum	   *signatures = palloc(sizeof(Datum) * (n + 1));
	ListCell   *lc;
	int			i = 0;

	nulls[10] = nulls[11] = !looked;
	nulls[12] = !looked || r->signature_error == NULL;
	if (!looked)
		return;
	foreach(lc, r->signatures)
	{
		FoundSignature *s = lfirst(lc);

		payloads[i] = make_bytea(s->payload, s->payload_len);
		signatures[i++] = CStringGetTextDatum(s->signature);
	}
	values[10] = PointerGetDatum(construct_array(payloads, n, BYTEAOID, -1, false, TYPALIGN_INT));
	values[11] = PointerGetDatum(construct_array(signatures, n, TEXTOID, -1, false, TYPALIGN_INT));
	values[12] = nulls[12] ? (Datum) 0 : CStringGetTextDatum(r->signature_error);
}

/*
 * A result as the columns of imagestream._fetched (status, reason, message,
 * retry_after, image, source_digest, digests, media_types, manifests,
 * configs, then signature_payloads, signature_values, signature_error where
 * desc has them), described by desc; values and nulls have room for
 * FETCHED_COLUMNS.
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
	for (i = 6; i < FETCHED_MANIFEST_COLUMNS; i++)
		nulls[i] = false;
	if (desc->natts != FETCHED_MANIFEST_COLUMNS && desc->natts != FETCHED_COLUMNS)
		elog(ERROR, "type imagestream._fetched has %d columns, not %d or %d", desc->natts,
			 FETCHED_MANIFEST_COLUMNS, FETCHED_COLUMNS);
	if (desc->natts == FETCHED_COLUMNS)
		signature_columns(r, values, nulls);
}

Datum
fetch_result_datum(const FetchResult *r, TupleDesc desc)
{
	Datum		values[FETCHED_COLUMNS];
	bool		nulls[FETCHED_COLUMNS];

	result_columns(r, desc, values, nulls);
	return HeapTupleGetDatum(heap_form_tuple(desc, values, nulls));
}

Datum
fetch_result_datum_shared(const FetchResult *r, TupleDesc desc)
{
	FetchResult brief = *r;
	Datum		values[FETCHED_COLUMNS];
	bool		nulls[FETCHED_COLUMNS];

	brief.manifests = NIL;
	brief.signatures = NIL;
	result_columns(&brief, desc, values, nulls);
	for (int i = 6; i < FETCHED_MANIFEST_COLUMNS; i++)
		nulls[i] = true;
	/* (the error stays: it is each tag's to read) */
	if (desc->natts == FETCHED_COLUMNS)
		nulls[10] = nulls[11] = true;
	return HeapTupleGetDatum(heap_form_tuple(desc, values, nulls));
}

/* a boolean argument that may be NULL: NULL is false */
static bool
optional_bool(FunctionCallInfo fcinfo, int arg)
{
	return !PG_ARGISNULL(arg) && PG_GETARG_BOOL(arg);
}

/*
 * _fetch_source(ref, insecure, preserve, known, prefer_os, prefer_arch,
 * namespace, signatures) -> (status, reason, message, retry_after, image,
 * source_digest, digests, media_types, manifests, configs,
 * signature_payloads, signature_values, signature_error).  Not STRICT:
 * known, the preferred platform and the namespace may be NULL, signatures
 * NULL or absent (0.2.0's objects) is false; a NULL ref fetches nothing and
 * gives NULL.
 */
PG_FUNCTION_INFO_V1(imagestream_fetch_source);
Datum
imagestream_fetch_source(PG_FUNCTION_ARGS)
{
	RegistryTarget t;
	RegistryTarget *targets[1] = {&t};
	const char *namespaces[1] = {namespace_arg(fcinfo, 6)};
	FetchResult r;
	Digest		known;
	char	   *reference;
	TupleDesc	desc;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	reference = fetch_target(PG_GETARG_DATUM(0), optional_bool(fcinfo, 1), &t);
	credentials_attach(targets, namespaces, 1);
	if (!PG_ARGISNULL(3))
		datum_get_digest(PG_GETARG_DATUM(3), &known);
	fetch_source(&t, reference, optional_bool(fcinfo, 2), PG_ARGISNULL(3) ? NULL : &known,
				 optional_text(fcinfo, 4), optional_text(fcinfo, 5),
				 PG_NARGS() > 7 && optional_bool(fcinfo, 7), &r);

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
 * _fetch_sources(refs, insecure, preserve, known, prefer_os, prefer_arch,
 * namespace, signatures): _fetch_source for many sources at once
 * (fetch_many), all for one namespace, one row per source in the order of
 * refs.
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
	bool	   *signatures_nulls;
	Datum	   *signatures;
	Oid			digest_type;
	int			n;
	FetchItem  *items;
	const char *ns;
	const char **namespaces;

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
	signatures = PG_NARGS() > 7 ? array_arg(fcinfo, 7, BOOLOID, n, &signatures_nulls) : NULL;

	items = palloc0(sizeof(FetchItem) * Max(n, 1));
	ns = namespace_arg(fcinfo, 6);
	namespaces = palloc(sizeof(char *) * Max(n, 1));
	for (int i = 0; i < n; i++)
	{
		namespaces[i] = ns;
		if (ref_nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("a source of _fetch_sources is NULL")));
		items[i].reference = fetch_target(refs[i], !insecure_nulls[i] && DatumGetBool(insecure[i]),
										  &items[i].target);
		items[i].has_known = !known_nulls[i];
		if (!known_nulls[i])
			datum_get_digest(known[i], &items[i].known);
		items[i].preserve = !preserve_nulls[i] && DatumGetBool(preserve[i]);
		items[i].prefer_os = os_nulls[i] ? NULL : TextDatumGetCString(os[i]);
		items[i].prefer_arch = arch_nulls[i] ? NULL : TextDatumGetCString(arch[i]);
		items[i].signatures = signatures && !signatures_nulls[i] && DatumGetBool(signatures[i]);
	}
	credentials_attach_items(items, namespaces, n);
	fetch_many(items, n, imagestream_max_concurrent_requests, imagestream_max_requests_per_registry);
	for (int i = 0; i < n; i++)
	{
		Datum		values[FETCHED_COLUMNS];
		bool		nulls[FETCHED_COLUMNS];

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
	RegistryTarget *targets[1] = {&t};
	const char *namespaces[1] = {namespace_arg(fcinfo, 2)};
	RegistryFailure f;
	List	   *tags;
	TupleDesc	desc;
	Datum		values[4] = {0};
	bool		nulls[4] = {0};
	bool		ok;

	(void) fetch_target(PG_GETARG_DATUM(0), PG_GETARG_BOOL(1), &t);
	credentials_attach(targets, namespaces, 1);
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

/*
 * _registry_tags(ref, insecure, namespace) -> (status, reason, message, tags
 * text[]); NULL for a NULL ref or insecure.
 */
PG_FUNCTION_INFO_V1(imagestream_registry_tags);
Datum
imagestream_registry_tags(PG_FUNCTION_ARGS)
{
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		PG_RETURN_NULL();
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
