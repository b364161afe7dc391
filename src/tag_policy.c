/*
 * tag_policy.c
 *		The choice of a tag policy's winner among a repository's tags
 *		(doc/policies.md), by the rules of Flux's image-reflector-controller:
 *		a pattern keeps the tags it matches, an extract turns each into the
 *		value compared, and the policy ranks the values: semver (the highest
 *		version in the range), numerical or alphabetical (asc: the highest
 *		wins, desc: the lowest), or newest (first seen last by this
 *		extension).  Ties go to the tag whose name sorts last, so that the
 *		choice never depends on the registry's order.
 *
 * In C because a repository may hold tens of thousands of tags, listed every
 * interval: each policy ranks a thousand of them a call, the best going on
 * into the next call (one pass to choose), or all of them in one sort to
 * explain.  The versions and ranges are semver.c's.
 */
#include "postgres.h"

#include <errno.h>
#include <math.h>

#include "catalog/pg_collation.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "regex/regex.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/timeout.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"
#include "utils/varlena.h"

#include "compat.h"
#include "names.h"
#include "reference.h"
#include "semver.h"

/* Longest pattern and extract accepted, in bytes: the worker runs them. */
#define POLICY_PATTERN_MAX 1024

/*
 * Longest value an extract may make, in bytes, counting each of its
 * references (\1 to \9, \&) as the longest tag: the worker computes a
 * value for every tag of a listing, so that an extract of a thousand
 * references cannot turn each 128-byte tag into 128 kB.
 */
#define POLICY_VALUE_MAX 1024

/*
 * How long the choices of one transaction may run, in ms.  The worker
 * chooses the winners of all the policies of a listing in one transaction,
 * running their patterns over every tag; PostgreSQL's regular expressions
 * can take time without bound on some patterns (back references), and
 * answer only a cancel.  A tenant's pattern must not hold the worker from
 * the other namespaces.
 */
#define POLICY_CHOICE_MAX_MS 10000

typedef enum PolicyOrder
{
	ORDER_SEMVER,
	ORDER_NUMERICAL,
	ORDER_ALPHABETICAL,
	ORDER_NEWEST
} PolicyOrder;

typedef struct Policy
{
	PolicyOrder order;
	bool		descending;		/* numerical and alphabetical: the lowest wins */
	text	   *pattern;		/* NULL: every tag is a candidate */
	text	   *extract;		/* NULL: the value is the tag */
	char	   *range_text;
	SemverRange *range;
	bool		range_names_pre;	/* some comparator names a prerelease */
} Policy;

typedef struct Candidate
{
	char	   *tag;
	char	   *value;			/* NULL when the pattern does not match */
	TimestampTz seen;
	bool		eligible;
	const char *why;			/* why it is not eligible */
	SemverVersion version;		/* semver: points into value */
	double		number;			/* numerical */
} Candidate;

/*
 * The longest replacement an extract makes from a tag (regexp_replace's
 * rules: \1 to \9 and \& stand for part of the tag, \\ for a backslash).
 */
static size_t
extract_value_max(const text *extract)
{
	const char *s = VARDATA_ANY(extract);
	size_t		len = VARSIZE_ANY_EXHDR(extract);
	size_t		max = 0;

	for (size_t i = 0; i < len; i++)
	{
		if (s[i] == '\\' && i + 1 < len &&
			((s[i + 1] >= '1' && s[i + 1] <= '9') || s[i + 1] == '&'))
		{
			max += REF_TAG_MAX;
			i++;
		}
		else
		{
			max++;
			if (s[i] == '\\' && i + 1 < len && s[i + 1] == '\\')
				i++;			/* (\\ is one backslash) */
		}
	}
	return max;
}

/*
 * Reads a policy's settings, refusing any the policy cannot run with
 * (22023; an invalid pattern is PostgreSQL's own 2201B).
 */
static void
policy_parse(FunctionCallInfo fcinfo, int first_arg, Policy *p)
{
	bool		has_semver = !PG_ARGISNULL(first_arg);
	bool		has_ordering = !PG_ARGISNULL(first_arg + 1);

	memset(p, 0, sizeof(*p));
	if (has_semver == has_ordering)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a tag policy needs exactly one of semver and ordering")));
	if (has_ordering)
	{
		char	   *ordering = text_to_cstring(PG_GETARG_TEXT_PP(first_arg + 1));

		if (strcmp(ordering, "numerical-asc") == 0 || strcmp(ordering, "numerical-desc") == 0)
			p->order = ORDER_NUMERICAL;
		else if (strcmp(ordering, "alphabetical-asc") == 0 || strcmp(ordering, "alphabetical-desc") == 0)
			p->order = ORDER_ALPHABETICAL;
		else if (strcmp(ordering, "newest") == 0)
			p->order = ORDER_NEWEST;
		else
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid ordering \"%s\"", ordering),
					 errhint("Use numerical-asc, numerical-desc, alphabetical-asc, alphabetical-desc or newest.")));
		p->descending = strstr(ordering, "-desc") != NULL;
	}
	else
	{
		text	   *range = PG_GETARG_TEXT_PP(first_arg);
		ParseError	err;
		SemverStatus st;

		p->order = ORDER_SEMVER;
		p->range_text = text_to_cstring(range);
		p->range = palloc(sizeof(SemverRange));
		st = semver_range_parse(VARDATA_ANY(range), VARSIZE_ANY_EXHDR(range), p->range, &err);
		if (st == SEMVER_TOO_LONG || st == SEMVER_TOO_COMPLEX)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("semver range is too long"),
					 errdetail("A range has at most %d bytes and %d comparators.",
							   SEMVER_RANGE_MAX, SEMVER_RANGE_MAX_COMPARATORS)));
		if (st != SEMVER_OK)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid semver range \"%s\"", p->range_text),
					 errdetail("%s", err.detail),
					 errhint("Write a range as Masterminds/semver does, as in \">=1.0 <2.0\", \"^1.2\" or \"~1.2.3 || 2.x\".")));
		for (int i = 0; i < p->range->ncomparators; i++)
			if (p->range->comparators[i].pre_len > 0)
				p->range_names_pre = true;
	}

	if (!PG_ARGISNULL(first_arg + 2))
	{
		p->pattern = PG_GETARG_TEXT_PP(first_arg + 2);
		if (VARSIZE_ANY_EXHDR(p->pattern) > POLICY_PATTERN_MAX)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("pattern is too long"),
					 errdetail("A pattern has at most %d bytes.", POLICY_PATTERN_MAX)));
		/* raises 2201B for an invalid one, in PostgreSQL's words */
		(void) RE_compile_and_cache(p->pattern, REG_ADVANCED, C_COLLATION_OID);
	}
	if (!PG_ARGISNULL(first_arg + 3))
	{
		if (p->pattern == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("extract needs a pattern"),
					 errhint("extract rewrites the part of a tag that pattern matches, as regexp_replace(tag, pattern, extract).")));
		p->extract = PG_GETARG_TEXT_PP(first_arg + 3);
		if (VARSIZE_ANY_EXHDR(p->extract) > POLICY_PATTERN_MAX)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("extract is too long"),
					 errdetail("An extract has at most %d bytes.", POLICY_PATTERN_MAX)));
		if (extract_value_max(p->extract) > POLICY_VALUE_MAX)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("extract can make values too long"),
					 errdetail("Each \\1 to \\9 or \\& of an extract stands for up to %d bytes of a tag; an extract makes values of at most %d bytes.",
							   REF_TAG_MAX, POLICY_VALUE_MAX)));
	}
}

/*
 * A number as Go's strconv.ParseFloat reads a decimal one, which is how Flux
 * reads a numerical policy's values: a sign, digits with at most one point,
 * an exponent.  Hexadecimal, Inf and NaN are no numbers here (they order
 * nothing a tag means), nor is one out of range.
 */
static bool
parse_number(const char *s, double *out)
{
	const char *p = s;
	bool		digits = false;
	char	   *end;

	if (*p == '+' || *p == '-')
		p++;
	while (*p >= '0' && *p <= '9')
		p++, digits = true;
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9'; p++)
			digits = true;
	if (!digits)
		return false;
	if (*p == 'e' || *p == 'E')
	{
		p++;
		if (*p == '+' || *p == '-')
			p++;
		if (!(*p >= '0' && *p <= '9'))
			return false;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	if (*p != '\0')
		return false;
	errno = 0;
	*out = strtod(s, &end);
	return errno == 0 && *end == '\0' && isfinite(*out);
}

/* The candidate's value, and whether the policy may choose it (and why not). */
static void
evaluate(const Policy *p, Candidate *c)
{
	size_t		len;

	c->eligible = false;
	if (p->pattern != NULL &&
		!RE_compile_and_execute(p->pattern, c->tag, strlen(c->tag), REG_ADVANCED,
								C_COLLATION_OID, 0, NULL))
	{
		c->why = "does not match pattern";
		return;
	}
	if (p->extract != NULL)
		c->value = text_to_cstring(replace_text_regexp(cstring_to_text(c->tag), p->pattern,
													   p->extract, REG_ADVANCED,
													   C_COLLATION_OID, 0, 1));
	else
		c->value = c->tag;
	len = strlen(c->value);

	switch (p->order)
	{
		case ORDER_SEMVER:
			if (semver_parse(c->value, len, &c->version, NULL) != SEMVER_OK)
			{
				c->why = "not a version";
				return;
			}
			if (!semver_satisfies(p->range, &c->version))
			{
				/* (a range that names no prerelease refuses every one) */
				if (c->version.pre_len > 0 && !p->range_names_pre)
					c->why = "prerelease not named by the range";
				else
					c->why = psprintf("outside range %s", p->range_text);
				return;
			}
			break;
		case ORDER_NUMERICAL:
			if (!parse_number(c->value, &c->number))
			{
				c->why = "not a number";
				return;
			}
			break;
		case ORDER_ALPHABETICAL:
		case ORDER_NEWEST:
			break;
	}
	c->eligible = true;
}

/* How a's value compares with b's in the policy's order: > 0 ranks higher. */
static int
value_cmp(const Policy *p, const Candidate *a, const Candidate *b)
{
	int			r = 0;

	switch (p->order)
	{
		case ORDER_SEMVER:
			r = semver_compare(&a->version, &b->version);
			break;
		case ORDER_NUMERICAL:
			r = (a->number > b->number) - (a->number < b->number);
			break;
		case ORDER_ALPHABETICAL:
			r = strcmp(a->value, b->value);
			break;
		case ORDER_NEWEST:
			r = (a->seen > b->seen) - (a->seen < b->seen);
			break;
	}
	return p->descending ? -r : r;
}

/* The rank of two eligible candidates: > 0 when a wins over b. */
static int
rank_cmp(const Policy *p, const Candidate *a, const Candidate *b)
{
	int			r = value_cmp(p, a, b);

	return r != 0 ? r : strcmp(a->tag, b->tag);
}

/* Why the eligible candidate c lost to the winner w. */
static const char *
lost_because(const Policy *p, const Candidate *c, const Candidate *w)
{
	if (value_cmp(p, c, w) == 0)
		return psprintf("ties with %s, whose name sorts last", w->tag);
	switch (p->order)
	{
		case ORDER_SEMVER:
			return psprintf("lower than %s", w->value);
		case ORDER_NUMERICAL:
			return psprintf("%s than %s", p->descending ? "higher" : "lower", w->value);
		case ORDER_ALPHABETICAL:
			return psprintf("sorts %s %s", p->descending ? "after" : "before", w->value);
		case ORDER_NEWEST:
			return psprintf("first seen before %s", w->tag);
	}
	return NULL;				/* keep the compiler quiet */
}

/*
 * The arrays tags (not NULL) and seen (NULL, or as long as tags: when each
 * tag was first seen; DT_NOBEGIN for a NULL).
 */
static void
read_arrays(FunctionCallInfo fcinfo, Datum **tag_values, bool **tag_nulls, int *ntags,
			TimestampTz **seen)
{
	Datum	   *seen_values = NULL;
	bool	   *seen_nulls = NULL;
	int			nseen = 0;

	deconstruct_array(PG_GETARG_ARRAYTYPE_P(0), TEXTOID, -1, false, TYPALIGN_INT,
					  tag_values, tag_nulls, ntags);
	if (!PG_ARGISNULL(1))
	{
		deconstruct_array(PG_GETARG_ARRAYTYPE_P(1), TIMESTAMPTZOID, sizeof(TimestampTz),
						  FLOAT8PASSBYVAL, TYPALIGN_DOUBLE, &seen_values, &seen_nulls, &nseen);
		if (nseen != *ntags)
			ereport(ERROR,
					(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
					 errmsg("the arrays of tags and of first seen times differ in length")));
	}
	*seen = palloc(sizeof(TimestampTz) * Max(*ntags, 1));
	for (int i = 0; i < *ntags; i++)
		(*seen)[i] = (seen_values != NULL && !seen_nulls[i])
			? DatumGetTimestampTz(seen_values[i]) : DT_NOBEGIN;
}

/*
 * The candidates of the arrays tags and seen, each evaluated; NULL tags
 * are left out.  Returns how many.
 */
static int
read_candidates(FunctionCallInfo fcinfo, const Policy *p, Candidate **out)
{
	Datum	   *tag_values;
	bool	   *tag_nulls;
	int			ntags;
	TimestampTz *seen;
	Candidate  *cs;
	int			n = 0;

	if (PG_ARGISNULL(0))
	{
		*out = NULL;
		return 0;
	}
	read_arrays(fcinfo, &tag_values, &tag_nulls, &ntags, &seen);
	cs = palloc0(sizeof(Candidate) * Max(ntags, 1));
	for (int i = 0; i < ntags; i++)
	{
		CHECK_FOR_INTERRUPTS();
		if (tag_nulls[i])
			continue;
		cs[n].tag = TextDatumGetCString(tag_values[i]);
		cs[n].seen = seen[i];
		evaluate(p, &cs[n]);
		n++;
	}
	*out = cs;
	return n;
}

/* The time the choices of the current transaction took, and its timeout. */
static LocalTransactionId choice_lxid = InvalidLocalTransactionId;
static int64 choice_spent_us = 0;
static bool choice_timeout_registered = false;
static TimeoutId choice_timeout;
static volatile sig_atomic_t choice_timed_out = false;

/* The choice ran out of time: cancel it (the regular expressions answer that). */
static void
choice_timeout_handler(void)
{
	choice_timed_out = true;
	QueryCancelPending = true;
	InterruptPending = true;
	SetLatch(MyLatch);
}

/* The time the choices of this transaction may still take, in ms. */
static long
choice_time_left(void)
{
	if (choice_lxid != my_local_xid())
	{
		choice_lxid = my_local_xid();
		choice_spent_us = 0;
	}
	/* (counted in us: a call of a few us must not cost a whole ms) */
	return (long) ((POLICY_CHOICE_MAX_MS * INT64CONST(1000) - choice_spent_us + 999) / 1000);
}

static void
choice_out_of_time(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
			 errmsg("the tag policies of a listing took more than %d s to choose their winners",
					POLICY_CHOICE_MAX_MS / 1000),
			 errhint("Simplify the patterns of the policies that follow this repository (a back reference can take time without bound).")));
}

/*
 * The best of the candidates of _policy_choose's arguments, into *best (its
 * tag NULL when none is eligible): the best's strings in a context of
 * their own, the next candidate's in another, reset after each.
 */
static void
choose(FunctionCallInfo fcinfo, Candidate *best)
{
	Policy		p;
	Datum	   *tag_values;
	bool	   *tag_nulls;
	int			ntags;
	TimestampTz *seen;
	MemoryContext caller = CurrentMemoryContext;
	MemoryContext scratch = AllocSetContextCreate(caller, "imagestream policy candidate",
												  ALLOCSET_SMALL_SIZES);
	MemoryContext kept = AllocSetContextCreate(caller, "imagestream policy winner",
											   ALLOCSET_SMALL_SIZES);

	memset(best, 0, sizeof(*best));
	/* (compiling the pattern counts in the time too) */
	policy_parse(fcinfo, 2, &p);
	if (PG_ARGISNULL(0))
		return;
	read_arrays(fcinfo, &tag_values, &tag_nulls, &ntags, &seen);
	for (int i = 0; i < ntags; i++)
	{
		Candidate	c = {0};

		CHECK_FOR_INTERRUPTS();
		if (tag_nulls[i])
			continue;
		MemoryContextSwitchTo(scratch);
		c.tag = TextDatumGetCString(tag_values[i]);
		c.seen = seen[i];
		evaluate(&p, &c);
		MemoryContextSwitchTo(caller);
		if (c.eligible && (best->tag == NULL || rank_cmp(&p, &c, best) > 0))
		{
			MemoryContext swap = kept;

			kept = scratch;
			scratch = swap;
			*best = c;
		}
		MemoryContextReset(scratch);
	}
}

/*
 * _policy_choose(tags text[], seen timestamptz[], semver text, ordering
 * text, pattern text, extract text) RETURNS text: the winner among tags
 * (seen: when each was first seen, for newest), or NULL when none is
 * eligible.  The worker calls it for each policy and batch of a listing
 * (_policy_winners): one candidate's value is kept at a time, and the
 * best's, so that its memory is that of the arrays, whatever the extract
 * makes of each tag.
 */
PG_FUNCTION_INFO_V1(imagestream_policy_choose);
Datum
imagestream_policy_choose(PG_FUNCTION_ARGS)
{
	MemoryContext caller = CurrentMemoryContext;
	Candidate	best;
	long		left = choice_time_left();
	TimestampTz started = GetCurrentTimestamp();

	if (left <= 0)
		choice_out_of_time();
	if (!choice_timeout_registered)
	{
		choice_timeout = RegisterTimeout(USER_TIMEOUT, choice_timeout_handler);
		choice_timeout_registered = true;
	}
	choice_timed_out = false;
	enable_timeout_after(choice_timeout, (int) left);
	PG_TRY();
	{
		choose(fcinfo, &best);
	}
	PG_CATCH();
	{
		disable_timeout(choice_timeout, false);
		choice_spent_us += Max(GetCurrentTimestamp() - started, 0);
		if (choice_timed_out)
		{
			/* (the cancel it raised, or would raise, becomes this error) */
			MemoryContextSwitchTo(caller);
			FlushErrorState();
			choice_timed_out = false;
			QueryCancelPending = false;
			choice_out_of_time();
		}
		PG_RE_THROW();
	}
	PG_END_TRY();
	disable_timeout(choice_timeout, false);
	choice_spent_us += Max(GetCurrentTimestamp() - started, 0);
	if (choice_timed_out)
	{
		/* it fired after the last tag: its cancel is no one's */
		choice_timed_out = false;
		QueryCancelPending = false;
	}

	if (best.tag == NULL)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(best.tag));
}

/* explain's order: the eligible by rank (the winner first), then the rest by name */
static const Policy *sort_policy;

static int
explain_order(const void *x, const void *y)
{
	const Candidate *a = x;
	const Candidate *b = y;

	if (a->eligible != b->eligible)
		return a->eligible ? -1 : 1;
	if (a->eligible)
		return -rank_cmp(sort_policy, a, b);
	return strcmp(a->tag, b->tag);
}

/*
 * _policy_explain(the arguments of _policy_choose) RETURNS TABLE(candidate
 * text, value text, eligible boolean, selected boolean, why text): every
 * candidate, the winner first, with the reason each one lost.
 */
PG_FUNCTION_INFO_V1(imagestream_policy_explain);
Datum
imagestream_policy_explain(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Policy		p;
	Candidate  *cs;
	int			n;

	policy_parse(fcinfo, 2, &p);
	n = read_candidates(fcinfo, &p, &cs);
	sort_policy = &p;
	if (n > 1)
		qsort(cs, n, sizeof(Candidate), explain_order);

	InitMaterializedSRF(fcinfo, 0);
	for (int i = 0; i < n; i++)
	{
		Datum		values[5];
		bool		nulls[5] = {false};
		bool		selected = i == 0 && cs[0].eligible;

		values[0] = CStringGetTextDatum(cs[i].tag);
		if (cs[i].value != NULL)
			values[1] = CStringGetTextDatum(cs[i].value);
		else
			nulls[1] = true;
		values[2] = BoolGetDatum(cs[i].eligible);
		values[3] = BoolGetDatum(selected);
		if (selected)
			nulls[4] = true;
		else
			values[4] = CStringGetTextDatum(cs[i].eligible ? lost_because(&p, &cs[i], &cs[0]) : cs[i].why);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/*
 * _policy_check(semver text, ordering text, pattern text, extract text)
 * RETURNS void: refuses a policy that cannot run (follow()).
 */
PG_FUNCTION_INFO_V1(imagestream_policy_check);
Datum
imagestream_policy_check(PG_FUNCTION_ARGS)
{
	Policy		p;

	policy_parse(fcinfo, 0, &p);
	PG_RETURN_VOID();
}

/*
 * _tag_names(names text[]) RETURNS text[]: the elements that are tag
 * names, in their order.  A registry may list anything; only a tag name
 * can become a pull spec.
 */
PG_FUNCTION_INFO_V1(imagestream_tag_names);
Datum
imagestream_tag_names(PG_FUNCTION_ARGS)
{
	ArrayType  *names = PG_GETARG_ARRAYTYPE_P(0);
	Datum	   *values;
	bool	   *nulls;
	int			n;
	int			kept = 0;

	deconstruct_array(names, TEXTOID, -1, false, TYPALIGN_INT, &values, &nulls, &n);
	for (int i = 0; i < n; i++)
	{
		text	   *t;

		if (nulls[i])
			continue;
		t = DatumGetTextPP(values[i]);
		/* (a tag has at most 128 bytes: longer ones are not even copied) */
		if (VARSIZE_ANY_EXHDR(t) > 128 || !name_tag_valid(text_to_cstring(t)))
			continue;
		values[kept++] = values[i];
	}
	PG_RETURN_ARRAYTYPE_P(construct_array(values, kept, TEXTOID, -1, false, TYPALIGN_INT));
}
