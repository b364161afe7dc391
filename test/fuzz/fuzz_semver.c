/*
 * fuzz_semver.c
 *		libFuzzer target over the semantic version parser and ranges
 *		(src/semver.c, plain C).
 *
 * An input is "range<TAB>version<TAB>version" (fewer tabs: the whole
 * input, or what is there, stands for the missing fields).  Besides memory
 * errors and undefined behaviour it checks the promises: results point
 * into the input, compare is antisymmetric, reflexive and transitive, a
 * range's answer is its groups' answer, a comparator without wildcard
 * agrees with compare, a prerelease passes only comparators that allow
 * it, every version satisfies the ranges that name it exactly, limits hold,
 * a rejection says why.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "semver.h"

#define CHECK(cond) \
	do { if (!(cond)) { fprintf(stderr, "check failed: %s (line %d)\n", #cond, __LINE__); abort(); } } while (0)

static void
check_error(const ParseError *err)
{
	size_t		n = strnlen(err->detail, PARSE_DETAIL_MAX);

	CHECK(n > 0 && n < PARSE_DETAIL_MAX);
}

/* Parses a version; true if it is one.  Its parts must lie inside s. */
static bool
parse_version(const char *s, size_t len, SemverVersion *v)
{
	ParseError	err;
	SemverStatus status;

	err.detail[0] = '\0';
	status = semver_parse(s, len, v, &err);
	if (status != SEMVER_OK)
	{
		check_error(&err);
		CHECK(status != SEMVER_TOO_LONG || len > SEMVER_VERSION_MAX);
		return false;
	}
	CHECK(len <= SEMVER_VERSION_MAX);
	CHECK(v->pre >= s && v->pre + v->pre_len <= s + len);
	CHECK(v->build >= s && v->build + v->build_len <= s + len);
	return true;
}

static int
sign(int d)
{
	return (d > 0) - (d < 0);
}

static void
check_compare(const SemverVersion *a, const SemverVersion *b, const SemverVersion *c)
{
	int			ab = semver_compare(a, b);

	CHECK(ab >= -1 && ab <= 1);
	CHECK(semver_compare(a, a) == 0);
	CHECK(sign(semver_compare(b, a)) == -ab);
	if (ab <= 0 && semver_compare(b, c) <= 0)
		CHECK(semver_compare(a, c) <= 0);
	if (ab == 0)
		CHECK(semver_compare(a, c) == semver_compare(b, c));
}

/* What a comparator without wildcard must say of a release version. */
static void
check_comparator(const SemverRange *r, const SemverComparator *c, const SemverVersion *v)
{
	bool		holds = semver_comparator_holds(r, c, v);
	SemverVersion con = {
		.major = c->major, .minor = c->minor, .patch = c->patch,
		.pre = r->text + c->pre_off, .pre_len = c->pre_len,
		.build = r->text, .build_len = 0,
	};
	int			d = semver_compare(v, &con);

	CHECK(c->pre_off + c->pre_len <= sizeof(r->text));
	/* a prerelease only where the comparator names one ("!=" aside) */
	if (v->pre_len > 0 && c->pre_len == 0 && holds)
		CHECK(c->op == SEMVER_OP_NE && !c->dirty);
	if (c->dirty || (v->pre_len > 0 && c->pre_len == 0))
		return;
	switch ((SemverOp) c->op)
	{
		case SEMVER_OP_EQ:
			CHECK(holds == (d == 0));
			break;
		case SEMVER_OP_NE:
			CHECK(holds == (d != 0));
			break;
		case SEMVER_OP_GT:
			CHECK(holds == (d > 0));
			break;
		case SEMVER_OP_LT:
			CHECK(holds == (d < 0));
			break;
		case SEMVER_OP_GE:
			CHECK(holds == (d >= 0));
			break;
		case SEMVER_OP_LE:
			CHECK(holds == (d <= 0));
			break;
		case SEMVER_OP_TILDE:
		case SEMVER_OP_CARET:
			if (d < 0)
				CHECK(!holds);
			break;
	}
}

static void
check_range(const char *s, size_t len, const SemverVersion *v, bool have_v)
{
	static SemverRange r;
	ParseError	err;
	SemverStatus status;
	bool		any = false;

	err.detail[0] = '\0';
	status = semver_range_parse(s, len, &r, &err);
	if (status != SEMVER_OK)
	{
		check_error(&err);
		CHECK(status != SEMVER_TOO_LONG || len > SEMVER_RANGE_MAX);
		CHECK(r.ncomparators == 0);
		return;
	}
	CHECK(len <= SEMVER_RANGE_MAX);
	CHECK(r.ncomparators >= 1 && r.ncomparators <= SEMVER_RANGE_MAX_COMPARATORS);
	CHECK(r.ngroups >= 1 && r.ngroups <= r.ncomparators);
	CHECK(strlen(r.text) <= SEMVER_RANGE_TEXT_MAX);
	for (int i = 0; i < r.ncomparators; i++)
	{
		CHECK(r.comparators[i].group < r.ngroups);
		CHECK(i == 0 || r.comparators[i].group >= r.comparators[i - 1].group);
	}
	if (!have_v)
		return;

	/* the range's answer is "some group whose comparators all hold" */
	for (int g = 0; g < r.ngroups; g++)
	{
		bool		all = true;

		for (int i = 0; i < r.ncomparators; i++)
			if (r.comparators[i].group == g)
			{
				check_comparator(&r, &r.comparators[i], v);
				all = all && semver_comparator_holds(&r, &r.comparators[i], v);
			}
		any = any || all;
	}
	CHECK(semver_satisfies(&r, v) == any);
}

/* Every version satisfies "=v", "~v", "^v", ">=v", "<=v" and no "!=v". */
static void
check_self(const char *s, size_t len, const SemverVersion *v)
{
	static const char *const ops[] = {"", "=", "~", "^", ">=", "<=", "~>", "!=", ">", "<"};
	char		buf[SEMVER_VERSION_MAX + 3];
	static SemverRange r;

	for (size_t k = 0; k < sizeof(ops) / sizeof(ops[0]); k++)
	{
		size_t		n = strlen(ops[k]);
		bool		holds = strcmp(ops[k], "!=") != 0 && strcmp(ops[k], ">") != 0 &&
			strcmp(ops[k], "<") != 0;

		memcpy(buf, ops[k], n);
		memcpy(buf + n, s, len);
		CHECK(semver_range_parse(buf, n + len, &r, NULL) == SEMVER_OK);
		CHECK(r.ncomparators == 1);
		CHECK(semver_satisfies(&r, v) == holds);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *) data;
	const char *t1 = memchr(s, '\t', size);
	const char *t2 = t1 ? memchr(t1 + 1, '\t', size - (t1 + 1 - s)) : NULL;
	const char *f[3];
	size_t		flen[3];
	SemverVersion v[3];
	bool		ok[3];

	f[0] = s;
	flen[0] = t1 ? (size_t) (t1 - s) : size;
	f[1] = t1 ? t1 + 1 : s;
	flen[1] = t1 ? (t2 ? (size_t) (t2 - f[1]) : size - (f[1] - s)) : size;
	f[2] = t2 ? t2 + 1 : f[1];
	flen[2] = t2 ? size - (f[2] - s) : flen[1];

	for (int i = 0; i < 3; i++)
		ok[i] = parse_version(f[i], flen[i], &v[i]);
	for (int i = 0; i < 3; i++)
		for (int j = 0; j < 3; j++)
			for (int k = 0; k < 3; k++)
				if (ok[i] && ok[j] && ok[k])
					check_compare(&v[i], &v[j], &v[k]);
	for (int i = 1; i < 3; i++)
	{
		check_range(f[0], flen[0], &v[i], ok[i]);
		if (ok[i])
			check_self(f[i], flen[i], &v[i]);
	}
	return 0;
}
