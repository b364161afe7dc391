/*
 * names.c
 *		The grammar of names (doc/functions.md): namespaces, stream names
 *		and tags, how a full name splits into them, and the refusal of a
 *		name that breaks a rule.
 *
 * Written once, in C: resolve() splits and checks a tag's name here on
 * every call, with no query and no call through fmgr, and the SQL functions
 * (src/sql/code/020_names.sql) are these: _parse_stream, _parse_tag and
 * _parse_stream_image split a full name, _check_names checks parts split
 * otherwise, and _parse_short_image splits the short names of
 * resolve_image().
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/builtins.h"

#include "digest.h"
#include "names.h"
#include "reference.h"

#define STREAM_NAME_MAX 255

static inline bool
is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

bool
name_namespace_valid(const char *s)
{
	size_t		len = strlen(s);

	if (len == 0 || len > NAMESPACE_MAX || !is_lower_alnum(s[0]) || !is_lower_alnum(s[len - 1]))
		return false;
	for (size_t i = 0; i < len; i++)
		if (!is_lower_alnum(s[i]) && s[i] != '-')
			return false;
	return true;
}

bool
name_stream_valid(const char *s)
{
	size_t		len = strlen(s);

	if (len == 0 || len > STREAM_NAME_MAX || !is_lower_alnum(s[0]) || !is_lower_alnum(s[len - 1]))
		return false;
	/* a separator is followed by a letter or digit (the last is one, above) */
	for (size_t i = 1; i < len; i++)
		if (!is_lower_alnum(s[i]) &&
			!((s[i] == '.' || s[i] == '_' || s[i] == '-') && is_lower_alnum(s[i + 1])))
			return false;
	return true;
}

bool
name_tag_valid(const char *s)
{
	ParseError	err;

	return ref_tag_valid(s, strlen(s), &err);
}

/* "sha256:" or "sha512:" at the start of s: its length; else 0 */
static size_t
algorithm_prefix(const char *s)
{
	const char *colon = strchr(s, ':');

	if (colon && digest_algorithm_from_name(s, colon - s) != DIGEST_NONE)
		return colon - s + 1;
	return 0;
}

/* ^((sha256|sha512):)?[0-9a-f]{7,128}$: a digest or a prefix of one */
static bool
image_id_valid(const char *s)
{
	size_t		hex;

	s += algorithm_prefix(s);
	hex = strspn(s, "0123456789abcdef");
	return s[hex] == '\0' && hex >= 7 && hex <= 128;
}

static void refuse(const char *what, const char *input, const char *detail) pg_attribute_noreturn();

/* The error of a name; NULL shown as PL/pgSQL's RAISE showed it. */
static void
refuse(const char *what, const char *input, const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid %s: \"%s\"", what ? what : "<NULL>", input ? input : "<NULL>"),
			 errdetail_internal("%s", detail)));
}

/*
 * Refuses input, a name of kind what, unless ns is a namespace, name a
 * stream name and tag, when given, a tag; the detail says the rule that the
 * first bad part breaks (a missing part shows as "").
 */
static void
check_parts(const char *what, const char *input, const char *ns, const char *name,
			const char *tag)
{
	if (ns == NULL || !name_namespace_valid(ns))
		refuse(what, input, psprintf("The namespace \"%s\" must be a DNS label: at most 63 lowercase letters, digits and inner hyphens.",
									 ns ? ns : ""));
	if (name == NULL || !name_stream_valid(name))
		refuse(what, input, psprintf("The stream name \"%s\" must be lowercase letters and digits joined by single \".\", \"_\" or \"-\", at most 255 bytes.",
									 name ? name : ""));
	if (tag != NULL && !name_tag_valid(tag))
		refuse(what, input, psprintf("The tag \"%s\" must be 1 to 128 letters, digits, \"_\", \".\" or \"-\", not starting with \".\" or \"-\".",
									 tag));
}

/* Each kind's name in errors, and the form of a name that does not split */
static const struct
{
	const char *what;
	const char *form;
}			kinds[] = {
	[NAME_STREAM] = {"image stream name",
	"An image stream is named \"namespace/name\"."},
	[NAME_TAG] = {"image stream tag name",
	"A tag is named \"namespace/name:tag\" (\":tag\" defaults to \":latest\")."},
	[NAME_STREAM_IMAGE] = {"image stream image name",
	"An image in a stream is named \"namespace/name@sha256:<hex>\", or with a unique prefix of at least 7 hex digits."},
};

void
name_parse(NameKind kind, const char *input, NameParts *out)
{
	const char *what = kinds[kind].what;
	const char *slash = input ? strchr(input, '/') : NULL;
	const char *at = input ? strchr(input, '@') : NULL;
	const char *colon;

	/* a '@' is an image's: a tag's name has none, an image's name has one */
	if (slash == NULL || (kind == NAME_TAG && at) || (kind == NAME_STREAM_IMAGE && !at))
		refuse(what, input, kinds[kind].form);
	memset(out, 0, sizeof(*out));
	switch (kind)
	{
		case NAME_STREAM:
			out->namespace = pnstrdup(input, slash - input);
			out->stream = pstrdup(slash + 1);
			check_parts(what, input, out->namespace, out->stream, NULL);
			break;
		case NAME_TAG:
			out->namespace = pnstrdup(input, slash - input);
			colon = strchr(slash + 1, ':');
			out->stream = colon ? pnstrdup(slash + 1, colon - slash - 1) : pstrdup(slash + 1);
			out->tag = pstrdup(colon ? colon + 1 : "latest");
			check_parts(what, input, out->namespace, out->stream, out->tag);
			break;
		case NAME_STREAM_IMAGE:
			out->id = pstrdup(at + 1);
			if (slash < at)
			{
				out->namespace = pnstrdup(input, slash - input);
				out->stream = pnstrdup(slash + 1, at - slash - 1);
			}
			else
			{
				/*
				 * The '/' is the id's, which is refused below; the part before
				 * the '@' is checked first as both namespace and stream name,
				 * as the SQL parser of 0.2.0 did, for the same detail.
				 */
				out->namespace = pnstrdup(input, at - input);
				out->stream = out->namespace;
			}
			check_parts(what, input, out->namespace, out->stream, NULL);
			if (!image_id_valid(out->id))
				refuse(what, input, "The image must be a digest or a prefix of its lowercase hex digits, at least 7 long.");
			break;
	}
}

bool
name_parse_short(const char *input, NameParts *out)
{
	const char *end = input + strcspn(input, ":@");
	const char *hex;

	memset(out, 0, sizeof(*out));
	out->stream = pnstrdup(input, end - input);
	if (!name_stream_valid(out->stream))
		return false;
	switch (*end)
	{
		case '\0':
			out->tag = pstrdup("latest");
			return true;
		case ':':
			out->tag = pstrdup(end + 1);
			return name_tag_valid(out->tag);
		default:
			/* '@': a whole digest's form, any number of hex digits */
			out->id = pstrdup(end + 1);
			hex = out->id + algorithm_prefix(out->id);
			return hex > out->id && *hex != '\0' &&
				hex[strspn(hex, "0123456789abcdef")] == '\0';
	}
}

/* text argument arg as a C string, or NULL */
static char *
arg_cstring(FunctionCallInfo fcinfo, int arg)
{
	return PG_ARGISNULL(arg) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(arg));
}

/* The row of the function's OUT parameters: the given parts, in order */
static Datum
parts_row(FunctionCallInfo fcinfo, int nparts, char **parts)
{
	TupleDesc	tupdesc;
	Datum		values[3];
	bool		nulls[3];

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	Assert(nparts <= lengthof(values));
	if (tupdesc->natts != nparts)
		elog(ERROR, "imagestream: a name's row has %d columns, not %d", tupdesc->natts, nparts);
	for (int i = 0; i < nparts; i++)
	{
		nulls[i] = parts[i] == NULL;
		values[i] = nulls[i] ? (Datum) 0 : CStringGetTextDatum(parts[i]);
	}
	return HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc), values, nulls));
}

/* The row of _parse_stream, _parse_tag or _parse_stream_image */
static Datum
parsed_row(FunctionCallInfo fcinfo, NameKind kind)
{
	NameParts	n;

	name_parse(kind, arg_cstring(fcinfo, 0), &n);
	return parts_row(fcinfo, kind == NAME_STREAM ? 2 : 3,
					 (char *[]) {n.namespace, n.stream, kind == NAME_TAG ? n.tag : n.id});
}

/* SQL: _parse_stream(input, OUT namespace, OUT name) */
PG_FUNCTION_INFO_V1(imagestream_parse_stream);
Datum
imagestream_parse_stream(PG_FUNCTION_ARGS)
{
	PG_RETURN_DATUM(parsed_row(fcinfo, NAME_STREAM));
}

/* SQL: _parse_tag(input, OUT namespace, OUT stream, OUT tag) */
PG_FUNCTION_INFO_V1(imagestream_parse_tag);
Datum
imagestream_parse_tag(PG_FUNCTION_ARGS)
{
	PG_RETURN_DATUM(parsed_row(fcinfo, NAME_TAG));
}

/* SQL: _parse_stream_image(input, OUT namespace, OUT stream, OUT id) */
PG_FUNCTION_INFO_V1(imagestream_parse_stream_image);
Datum
imagestream_parse_stream_image(PG_FUNCTION_ARGS)
{
	PG_RETURN_DATUM(parsed_row(fcinfo, NAME_STREAM_IMAGE));
}

/*
 * SQL: _parse_short_image(image, OUT stream, OUT tag, OUT id), all NULL if
 * image is not a short name: a row still, which a PL/pgSQL record variable
 * can take.
 */
PG_FUNCTION_INFO_V1(imagestream_parse_short_image);
Datum
imagestream_parse_short_image(PG_FUNCTION_ARGS)
{
	char	   *image = arg_cstring(fcinfo, 0);
	NameParts	n;

	if (image == NULL || !name_parse_short(image, &n))
		memset(&n, 0, sizeof(n));
	PG_RETURN_DATUM(parts_row(fcinfo, 3, (char *[]) {n.stream, n.tag, n.id}));
}

/*
 * SQL: _check_names(input, what, ns, name, tag DEFAULT NULL): refuses input,
 * a name of kind what, unless its parts are valid (check_parts).
 */
PG_FUNCTION_INFO_V1(imagestream_check_names);
Datum
imagestream_check_names(PG_FUNCTION_ARGS)
{
	check_parts(arg_cstring(fcinfo, 1), arg_cstring(fcinfo, 0), arg_cstring(fcinfo, 2),
				arg_cstring(fcinfo, 3), arg_cstring(fcinfo, 4));
	PG_RETURN_VOID();
}
