/*
 * names.c
 *		The grammar of names (doc/functions.md): namespaces, stream names
 *		and tags, and how a tag's full name splits.
 *
 * Written once, in C: resolve() checks a name here on every call, with no
 * query and no call through fmgr, and the SQL parsers (src/sql/code/020_names.sql)
 * check the parts of theirs with _check_names, which states the rule a bad
 * part breaks.  How a name splits into its parts is said again by the SQL
 * parsers (_parse_tag, _parse_stream, _parse_stream_image), which word the
 * refusal of a name that does not split; resolve() reports a bad name
 * through _parse_tag and checks that the two agree.
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"

#include "names.h"
#include "reference.h"

#define NAMESPACE_MAX 63
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

bool
name_parse_tag(const char *input, TagName *out)
{
	const char *slash = strchr(input, '/');
	const char *colon;

	if (slash == NULL || strchr(input, '@') != NULL)
		return false;
	out->namespace = pnstrdup(input, slash - input);
	colon = strchr(slash + 1, ':');
	if (colon)
	{
		out->stream = pnstrdup(slash + 1, colon - slash - 1);
		out->tag = pstrdup(colon + 1);
	}
	else
	{
		out->stream = pstrdup(slash + 1);
		out->tag = "latest";
	}
	return name_namespace_valid(out->namespace) && name_stream_valid(out->stream) &&
		name_tag_valid(out->tag);
}

/* NULL as PL/pgSQL's RAISE shows it, which _name_error's messages use too */
static const char *
shown(FunctionCallInfo fcinfo, int arg)
{
	return PG_ARGISNULL(arg) ? "<NULL>" : text_to_cstring(PG_GETARG_TEXT_PP(arg));
}

static void
refuse(FunctionCallInfo fcinfo, const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid %s: \"%s\"", shown(fcinfo, 1), shown(fcinfo, 0)),
			 errdetail_internal("%s", detail)));
}

/*
 * SQL: _check_names(input, what, ns, name, tag DEFAULT NULL): refuses input,
 * a name of kind what, unless ns is a namespace, name a stream name and
 * tag, when given, a tag.  The detail says the rule that the first bad part
 * breaks (a missing part shows as "").
 */
PG_FUNCTION_INFO_V1(imagestream_check_names);
Datum
imagestream_check_names(PG_FUNCTION_ARGS)
{
	char	   *ns = PG_ARGISNULL(2) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(2));
	char	   *name = PG_ARGISNULL(3) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(3));
	char	   *tag = PG_ARGISNULL(4) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(4));

	if (ns == NULL || !name_namespace_valid(ns))
		refuse(fcinfo, psprintf("The namespace \"%s\" must be a DNS label: at most 63 lowercase letters, digits and inner hyphens.",
								ns ? ns : ""));
	if (name == NULL || !name_stream_valid(name))
		refuse(fcinfo, psprintf("The stream name \"%s\" must be lowercase letters and digits joined by single \".\", \"_\" or \"-\", at most 255 bytes.",
								name ? name : ""));
	if (tag != NULL && !name_tag_valid(tag))
		refuse(fcinfo, psprintf("The tag \"%s\" must be 1 to 128 letters, digits, \"_\", \".\" or \"-\", not starting with \".\" or \"-\".",
								tag));
	PG_RETURN_VOID();
}
