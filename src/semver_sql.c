/*
 * semver_sql.c
 *		semver_compare(text, text) and semver_satisfies(text, text): the
 *		rules of semver.c (Masterminds/semver v3.2.0) in SQL, with their
 *		errors.
 *
 * Both read nothing but their arguments: IMMUTABLE, PARALLEL SAFE, open
 * to every role (src/sql/code/015_semver.sql).
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"

#include "compat.h"
#include "semver.h"

/* A version argument, or the error saying why it is none. */
static void
version_arg(text *t, SemverVersion *out)
{
	const char *s = VARDATA_ANY(t);
	size_t		len = VARSIZE_ANY_EXHDR(t);
	ParseError	err;

	switch (semver_parse(s, len, out, &err))
	{
		case SEMVER_OK:
			return;
		case SEMVER_INVALID:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid semantic version: \"%.*s\"", (int) len, s),
					 errdetail_internal("%s", err.detail)));
			break;
		case SEMVER_TOO_LONG:
		case SEMVER_TOO_COMPLEX:
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("semantic version too long"),
					 errdetail_internal("%s", err.detail)));
			break;
	}
}

PG_FUNCTION_INFO_V1(semver_compare_text);
Datum
semver_compare_text(PG_FUNCTION_ARGS)
{
	SemverVersion a,
				b;

	version_arg(PG_GETARG_TEXT_PP(0), &a);
	version_arg(PG_GETARG_TEXT_PP(1), &b);
	PG_RETURN_INT32(semver_compare(&a, &b));
}

PG_FUNCTION_INFO_V1(semver_satisfies_text);
Datum
semver_satisfies_text(PG_FUNCTION_ARGS)
{
	text	   *range_text = PG_GETARG_TEXT_PP(1);
	const char *s = VARDATA_ANY(range_text);
	size_t		len = VARSIZE_ANY_EXHDR(range_text);
	SemverVersion v;
	SemverRange *range = palloc(sizeof(SemverRange));
	ParseError	err;

	version_arg(PG_GETARG_TEXT_PP(0), &v);
	switch (semver_range_parse(s, len, range, &err))
	{
		case SEMVER_OK:
			break;
		case SEMVER_INVALID:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid semantic version range: \"%.*s\"", (int) len, s),
					 errdetail_internal("%s", err.detail)));
			break;
		case SEMVER_TOO_LONG:
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("semantic version range too long"),
					 errdetail_internal("%s", err.detail)));
			break;
		case SEMVER_TOO_COMPLEX:
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("semantic version range has too many comparators"),
					 errdetail_internal("%s", err.detail)));
			break;
	}
	PG_RETURN_BOOL(semver_satisfies(range, &v));
}
