/*
 * manifest_sql.c
 *		The media types of manifest.c for the catalogue's SQL
 *		(src/sql/code/130_catalogue.sql), which has the manifest as jsonb already.
 *
 * The import decides a manifest's type from the type the registry served
 * (manifest_read); map_image has only the type its caller gives, so an
 * empty one counts as none and a generic one ("application/json") is not
 * passed over.  The types, the index kind, schema 1 and the refusals are
 * manifest.c's.
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"

#include "manifest.h"

/* doc->>key: the field's text, NULL when it is JSON null or absent */
static char *
field_text(Jsonb *doc, const char *key)
{
	JsonbValue	buf;
	JsonbValue *v;

	if (doc == NULL || !JB_ROOT_IS_OBJECT(doc))
		return NULL;
	v = getKeyJsonValueFromContainer(&doc->root, key, strlen(key), &buf);
	if (v == NULL)
		return NULL;
	switch (v->type)
	{
		case jbvNull:
			return NULL;
		case jbvString:
			return pnstrdup(v->val.string.val, v->val.string.len);
		case jbvBool:
			return pstrdup(v->val.boolean ? "true" : "false");
		case jbvNumeric:
			return DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v->val.numeric)));
		case jbvBinary:
			return JsonbToCString(NULL, v->val.binary.data, v->val.binary.len);
		default:
			elog(ERROR, "unrecognized jsonb value type %d", (int) v->type);
	}
	return NULL;				/* not reached */
}

/* doc ? key */
static bool
has_key(Jsonb *doc, const char *key)
{
	JsonbValue	k;

	if (doc == NULL)
		return false;
	k.type = jbvString;
	k.val.string.val = (char *) key;
	k.val.string.len = strlen(key);
	return findJsonbValueFromContainer(&doc->root, JB_FOBJECT | JB_FARRAY, &k) != NULL;
}

static void
refuse(const char *why)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid image manifest"),
			 errdetail_internal("%s", why)));
}

/*
 * SQL: _manifest_media_type(doc jsonb, given text): given unless empty, then
 * the declared type, then the one the fields imply.  Schema 1 and a type
 * that is none of the four are refused.
 */
PG_FUNCTION_INFO_V1(imagestream_manifest_media_type);
Datum
imagestream_manifest_media_type(PG_FUNCTION_ARGS)
{
	Jsonb	   *doc = PG_ARGISNULL(0) ? NULL : PG_GETARG_JSONB_P(0);
	char	   *given = PG_ARGISNULL(1) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(1));
	const char *mt = given && given[0] != '\0' ? given : field_text(doc, "mediaType");
	char	   *schema_version = field_text(doc, "schemaVersion");

	if ((schema_version && strcmp(schema_version, "1") == 0) || manifest_type_is_schema1(mt))
		refuse(MANIFEST_SCHEMA1_REFUSAL);
	if (mt == NULL)
		mt = manifest_type_by_shape(has_key(doc, "manifests"), has_key(doc, "config"));
	if (!manifest_type_known(mt))
		refuse(manifest_type_refusal(mt ? mt : ""));
	PG_RETURN_TEXT_P(cstring_to_text(mt));
}

/* SQL: _is_index(media_type text); false for a type that is none of the four */
PG_FUNCTION_INFO_V1(imagestream_is_index);
Datum
imagestream_is_index(PG_FUNCTION_ARGS)
{
	char	   *media_type = text_to_cstring(PG_GETARG_TEXT_PP(0));

	PG_RETURN_BOOL(manifest_type_known(media_type) && manifest_type_is_index(media_type));
}
