/*
 * semver.c
 *		Masterminds/semver v3.2.0 (version.go, constraints.go at
 *		4694ab0ad3c9477a17e347d828d2aca9ef7130f0, Debian bookworm's
 *		golang-github-masterminds-semver-dev) written as hand matchers.
 *
 * The library reads ranges with regular expressions, and its answers
 * depend on their details, so this file follows them rather than the
 * intent of their comments: a wildcard part may hold "|" ("[0-9|x|X|\*]+"),
 * "a - b" is rewritten into ">= a, <= b" over the whole text before it is
 * split at "||", and each comparator function has its own prerelease and
 * wildcard rules.  The expressions involved are deterministic once their
 * tokens are known (an operator is a whole run of operator characters; a
 * version is taken greedily, and no shorter version could be followed by
 * what must follow it), so plain scanning accepts the same language with
 * the same captures.  test/semver_oracle/ checks this against the library.
 */
#include "semver.h"

#include <string.h>

/* The characters of a version part in a range: "[0-9|x|X|\*]". */
static bool
is_range_part_char(char c)
{
	return (c >= '0' && c <= '9') || c == '|' || c == 'x' || c == 'X' || c == '*';
}

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* "[0-9A-Za-z\-]": prerelease and build identifiers. */
static bool
is_ident_char(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-';
}

/* Go's regexp \s: [\t\n\f\r ] (no vertical tab). */
static bool
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r';
}

static bool
is_op_char(char c)
{
	return c == '=' || c == '!' || c == '<' || c == '>' || c == '~' || c == '^';
}

/* strconv.ParseUint(s, 10, 64): digits only, no sign, no overflow. */
static bool
parse_u64(const char *s, size_t len, uint64_t *out)
{
	uint64_t	v = 0;

	if (len == 0)
		return false;
	for (size_t i = 0; i < len; i++)
	{
		if (!is_digit(s[i]))
			return false;
		if (v > (UINT64_MAX - (uint64_t) (s[i] - '0')) / 10)
			return false;
		v = v * 10 + (uint64_t) (s[i] - '0');
	}
	*out = v;
	return true;
}

/*
 * "ident(\.ident)*" from s[i]: returns where it ends, or i if no identifier
 * starts there.  A "." not followed by an identifier character ends it.
 */
static size_t
scan_idents(const char *s, size_t len, size_t i)
{
	size_t		start = i;

	while (i < len && is_ident_char(s[i]))
		i++;
	if (i == start)
		return start;
	while (i + 1 < len && s[i] == '.' && is_ident_char(s[i + 1]))
	{
		i++;
		while (i < len && is_ident_char(s[i]))
			i++;
	}
	return i;
}

/*
 * validatePrerelease: a part of digits alone may not start with 0 unless
 * it is "0".  (The grammar has already limited the characters.)
 */
static bool
prerelease_valid(const char *p, size_t len, ParseError *err)
{
	size_t		start = 0;

	while (start <= len)
	{
		size_t		end = start;
		bool		digits = true;

		while (end < len && p[end] != '.')
		{
			if (!is_digit(p[end]))
				digits = false;
			end++;
		}
		if (digits && end - start > 1 && p[start] == '0')
		{
			parse_error_set(err, "The prerelease part \"%.*s\" is a number with a leading zero.",
							(int) (end - start), p + start);
			return false;
		}
		start = end + 1;
	}
	return true;
}

#define VERSION_GRAMMAR "a version is [v]MAJOR[.MINOR[.PATCH]][-PRERELEASE][+BUILD], " \
	"with decimal numbers, then dot-separated identifiers of ASCII letters, digits and \"-\"."

/* NewVersion without the length limit (a range's versions can be longer). */
static SemverStatus
version_parse(const char *s, size_t len, SemverVersion *out, ParseError *err)
{
	size_t		i = 0;
	size_t		seg[3][2] = {{0, 0}, {0, 0}, {0, 0}};	/* start, length */
	uint64_t   *nums[3] = {&out->major, &out->minor, &out->patch};

	memset(out, 0, sizeof(*out));
	out->pre = s;
	out->build = s;
	if (i < len && s[i] == 'v')
		i++;
	for (int k = 0; k < 3; k++)
	{
		size_t		start;

		if (k > 0)
		{
			if (!(i + 1 < len && s[i] == '.' && is_digit(s[i + 1])))
				break;
			i++;
		}
		start = i;
		while (i < len && is_digit(s[i]))
			i++;
		if (i == start)
			goto syntax;
		seg[k][0] = start;
		seg[k][1] = i - start;
	}
	if (i < len && s[i] == '-')
	{
		size_t		end = scan_idents(s, len, i + 1);

		if (end == i + 1)
		{
			i++;				/* what follows the separator is wrong */
			goto syntax;
		}
		out->pre = s + i + 1;
		out->pre_len = end - i - 1;
		i = end;
	}
	if (i < len && s[i] == '+')
	{
		size_t		end = scan_idents(s, len, i + 1);

		if (end == i + 1)
		{
			i++;				/* what follows the separator is wrong */
			goto syntax;
		}
		out->build = s + i + 1;
		out->build_len = end - i - 1;
		i = end;
	}
	if (i != len)
		goto syntax;

	for (int k = 0; k < 3; k++)
	{
		if (seg[k][1] == 0)
			continue;			/* missing minor or patch: 0 */
		if (!parse_u64(s + seg[k][0], seg[k][1], nums[k]))
		{
			parse_error_set(err, "The number \"%.*s\" is larger than 18446744073709551615.",
							(int) seg[k][1], s + seg[k][0]);
			return SEMVER_INVALID;
		}
	}
	if (out->pre_len > 0 && !prerelease_valid(out->pre, out->pre_len, err))
		return SEMVER_INVALID;
	return SEMVER_OK;

syntax:
	if (len == 0)
		parse_error_set(err, "The version is empty.");
	else if (i >= len)
		parse_error_set(err, "The version ends early: " VERSION_GRAMMAR);
	else if (s[i] > ' ' && s[i] < 127)
		parse_error_set(err, "\"%c\" at byte %zu is not allowed there: " VERSION_GRAMMAR, s[i], i + 1);
	else
		parse_error_set(err, "Byte %zu (0x%02X) is not allowed: " VERSION_GRAMMAR,
						i + 1, (unsigned) (unsigned char) s[i]);
	return SEMVER_INVALID;
}

SemverStatus
semver_parse(const char *s, size_t len, SemverVersion *out, ParseError *err)
{
	if (len > SEMVER_VERSION_MAX)
	{
		memset(out, 0, sizeof(*out));
		parse_error_set(err, "The version is %zu bytes long; at most %d are allowed.",
						len, SEMVER_VERSION_MAX);
		return SEMVER_TOO_LONG;
	}
	return version_parse(s, len, out, err);
}

static int
compare_u64(uint64_t a, uint64_t b)
{
	return a < b ? -1 : (a > b ? 1 : 0);
}

/* Go's string comparison: bytes, then length. */
static int
compare_bytes(const char *a, size_t alen, const char *b, size_t blen)
{
	int			d = memcmp(a, b, alen < blen ? alen : blen);

	if (d != 0)
		return d < 0 ? -1 : 1;
	return compare_u64(alen, blen);
}

/*
 * comparePrePart: equal text is equal; an empty (missing) part sorts first;
 * numbers (that fit in 64 bits) sort before other parts and by value, other
 * parts by their bytes.
 */
static int
compare_pre_part(const char *s, size_t slen, const char *o, size_t olen)
{
	uint64_t	si = 0,
				oi = 0;
	bool		s_num,
				o_num;

	if (slen == olen && memcmp(s, o, slen) == 0)
		return 0;
	if (slen == 0)
		return -1;
	if (olen == 0)
		return 1;
	s_num = parse_u64(s, slen, &si);
	o_num = parse_u64(o, olen, &oi);
	if (!s_num && !o_num)
		return compare_bytes(s, slen, o, olen) > 0 ? 1 : -1;
	if (!o_num)
		return -1;
	if (!s_num)
		return 1;
	return si > oi ? 1 : -1;
}

/* comparePrerelease: part by part, the shorter list padded with "". */
static int
compare_prerelease(const char *s, size_t slen, const char *o, size_t olen)
{
	size_t		si = 0,
				oi = 0;

	for (;;)
	{
		size_t		se = si,
					oe = oi;
		int			d;

		if (si > slen && oi > olen)
			return 0;
		while (se < slen && s[se] != '.')
			se++;
		while (oe < olen && o[oe] != '.')
			oe++;
		d = compare_pre_part(s + (si > slen ? slen : si), si > slen ? 0 : se - si,
							 o + (oi > olen ? olen : oi), oi > olen ? 0 : oe - oi);
		if (d != 0)
			return d;
		si = se + 1;
		oi = oe + 1;
	}
}

int
semver_compare(const SemverVersion *a, const SemverVersion *b)
{
	int			d;

	if ((d = compare_u64(a->major, b->major)) != 0 ||
		(d = compare_u64(a->minor, b->minor)) != 0 ||
		(d = compare_u64(a->patch, b->patch)) != 0)
		return d;
	if (a->pre_len == 0 && b->pre_len == 0)
		return 0;
	if (a->pre_len == 0)
		return 1;
	if (b->pre_len == 0)
		return -1;
	return compare_prerelease(a->pre, a->pre_len, b->pre, b->pre_len);
}

/* Where the captures of the range grammar's version ("cvRegex") are. */
typedef struct RangeVersionMatch
{
	size_t		start;			/* the whole version, with its "v" */
	size_t		end;
	size_t		major_start;
	size_t		major_len;
	size_t		minor_start;	/* after its "."; minor_len 0: none */
	size_t		minor_len;
	size_t		patch_start;
	size_t		patch_len;
	size_t		pre_start;		/* after its "-"; pre_len 0: none */
	size_t		pre_len;
} RangeVersionMatch;

/* cvRegex at s[i], greedily; false if no version starts there. */
static bool
match_range_version(const char *s, size_t len, size_t i, RangeVersionMatch *m)
{
	size_t		end;

	memset(m, 0, sizeof(*m));
	m->start = i;
	if (i < len && s[i] == 'v')
		i++;
	m->major_start = i;
	while (i < len && is_range_part_char(s[i]))
		i++;
	if (i == m->major_start)
		return false;
	m->major_len = i - m->major_start;
	if (i + 1 < len && s[i] == '.' && is_range_part_char(s[i + 1]))
	{
		m->minor_start = ++i;
		while (i < len && is_range_part_char(s[i]))
			i++;
		m->minor_len = i - m->minor_start;
		if (i + 1 < len && s[i] == '.' && is_range_part_char(s[i + 1]))
		{
			m->patch_start = ++i;
			while (i < len && is_range_part_char(s[i]))
				i++;
			m->patch_len = i - m->patch_start;
		}
	}
	if (i < len && s[i] == '-' && (end = scan_idents(s, len, i + 1)) > i + 1)
	{
		m->pre_start = i + 1;
		m->pre_len = end - i - 1;
		i = end;
	}
	if (i < len && s[i] == '+' && (end = scan_idents(s, len, i + 1)) > i + 1)
		i = end;
	m->end = i;
	return true;
}

static size_t
skip_spaces(const char *s, size_t len, size_t i)
{
	while (i < len && is_space(s[i]))
		i++;
	return i;
}

/*
 * constraintRangeRegex, "\s*(cv)\s+-\s+(cv)\s*", tried at s[i]: returns
 * where the match ends, or 0 if none starts at i.
 */
static size_t
match_hyphen_range(const char *s, size_t len, size_t i,
				   RangeVersionMatch *lo, RangeVersionMatch *hi)
{
	size_t		j = skip_spaces(s, len, i);
	size_t		k;

	if (!match_range_version(s, len, j, lo))
		return 0;
	k = skip_spaces(s, len, lo->end);
	if (k == lo->end || k >= len || s[k] != '-')
		return 0;
	j = skip_spaces(s, len, k + 1);
	if (j == k + 1 || !match_range_version(s, len, j, hi))
		return 0;
	return skip_spaces(s, len, hi->end);
}

/* Appends n bytes to buf (holding *used of cap bytes); false if no room. */
static bool
append(char *buf, size_t *used, size_t cap, const char *p, size_t n)
{
	if (n > cap - *used)
		return false;
	memcpy(buf + *used, p, n);
	*used += n;
	return true;
}

/* The first occurrence of needle in hay, or NULL (strings.Index). */
static const char *
find_bytes(const char *hay, size_t hlen, const char *needle, size_t nlen)
{
	for (size_t i = 0; nlen <= hlen && i <= hlen - nlen; i++)
		if (memcmp(hay + i, needle, nlen) == 0)
			return hay + i;
	return NULL;
}

/*
 * rewriteRange: every hyphen range of the original text, found left to
 * right, is replaced by ">= a, <= b" at the FIRST place its matched text
 * (with its surrounding spaces) occurs in the text rewritten so far, as
 * strings.Replace(o, match, t, 1) does.  Writes the result, NUL-terminated,
 * to out (SEMVER_RANGE_TEXT_MAX + 1 bytes); returns its length.
 */
static size_t
rewrite_hyphen_ranges(const char *s, size_t len, char *out)
{
	char		tmp[SEMVER_RANGE_TEXT_MAX + 1];
	size_t		olen = len;
	size_t		i = 0;

	/* SEMVER_RANGE_MAX bounds len */
	memcpy(out, s, len);
	while (i < len)
	{
		RangeVersionMatch lo,
					hi;
		size_t		end = match_hyphen_range(s, len, i, &lo, &hi);
		const char *at;
		size_t		tlen = 0;

		if (end == 0)
		{
			i++;
			continue;
		}
		at = find_bytes(out, olen, s + i, end - i);
		if (at != NULL)
		{
			size_t		before = at - out;

			/*
			 * Each match of at least 5 bytes grows by at most 5 ("a - b"
			 * becomes ">= a, <= b"), so twice SEMVER_RANGE_MAX is room
			 * enough.
			 */
			if (!append(tmp, &tlen, sizeof(tmp) - 1, out, before) ||
				!append(tmp, &tlen, sizeof(tmp) - 1, ">= ", 3) ||
				!append(tmp, &tlen, sizeof(tmp) - 1, s + lo.start, lo.end - lo.start) ||
				!append(tmp, &tlen, sizeof(tmp) - 1, ", <= ", 5) ||
				!append(tmp, &tlen, sizeof(tmp) - 1, s + hi.start, hi.end - hi.start) ||
				!append(tmp, &tlen, sizeof(tmp) - 1, at + (end - i), olen - before - (end - i)))
				return SIZE_MAX;	/* cannot happen, see above */
			memcpy(out, tmp, tlen);
			olen = tlen;
		}
		i = end;
	}
	out[olen] = '\0';
	return olen;
}

static bool
is_x(const char *p, size_t len)
{
	return len == 1 && (*p == 'x' || *p == 'X' || *p == '*');
}

/* The operator a whole run of operator characters spells, or -1. */
static int
operator_of(const char *p, size_t len)
{
	static const struct
	{
		const char *text;
		SemverOp	op;
	}			ops[] = {
		{"", SEMVER_OP_EQ}, {"=", SEMVER_OP_EQ}, {"!=", SEMVER_OP_NE},
		{">", SEMVER_OP_GT}, {"<", SEMVER_OP_LT}, {">=", SEMVER_OP_GE},
		{"=>", SEMVER_OP_GE}, {"<=", SEMVER_OP_LE}, {"=<", SEMVER_OP_LE},
		{"~", SEMVER_OP_TILDE}, {"~>", SEMVER_OP_TILDE}, {"^", SEMVER_OP_CARET},
	};

	for (size_t k = 0; k < sizeof(ops) / sizeof(ops[0]); k++)
		if (strlen(ops[k].text) == len && memcmp(ops[k].text, p, len) == 0)
			return ops[k].op;
	return -1;
}

/*
 * parseConstraint of one comparator whose version is the match m in text:
 * a wildcard or missing part makes it "dirty", sets the parts from there
 * on to 0 and drops the build metadata; the result must then be a version
 * (so "1x" or "1.|" is refused here, after the grammar let it through).
 */
static SemverStatus
comparator_set(const char *text, const RangeVersionMatch *m, SemverComparator *c,
			   ParseError *err)
{
	char		ver[SEMVER_RANGE_TEXT_MAX + 16];
	size_t		vlen = 0;
	SemverVersion v;
	size_t		pre_off;
	const size_t part_start[3] = {m->major_start, m->minor_start, m->patch_start};
	const size_t part_len[3] = {m->major_len, m->minor_len, m->patch_len};

	/* the parts read (up to the first wild or missing one) must be numbers */
	for (int k = 0; k < 3 && part_len[k] > 0 && !is_x(text + part_start[k], part_len[k]); k++)
		for (size_t j = 0; j < part_len[k]; j++)
			if (!is_digit(text[part_start[k] + j]))
			{
				parse_error_set(err, "In the comparator version \"%.*s\", the part \"%.*s\" is "
								"neither a decimal number nor one of x, X and *.",
								(int) (m->end - m->start), text + m->start,
								(int) part_len[k], text + part_start[k]);
				return SEMVER_INVALID;
			}

	if (is_x(text + m->major_start, m->major_len))
	{
		c->dirty = true;
		append(ver, &vlen, sizeof(ver), "0.0.0", 5);
	}
	else if (m->minor_len == 0 || is_x(text + m->minor_start, m->minor_len))
	{
		c->dirty = c->minor_dirty = true;
		append(ver, &vlen, sizeof(ver), text + m->major_start, m->major_len);
		append(ver, &vlen, sizeof(ver), ".0.0", 4);
	}
	else if (m->patch_len == 0 || is_x(text + m->patch_start, m->patch_len))
	{
		c->dirty = c->patch_dirty = true;
		append(ver, &vlen, sizeof(ver), text + m->major_start,
			   m->minor_start + m->minor_len - m->major_start);
		append(ver, &vlen, sizeof(ver), ".0", 2);
	}
	if (c->dirty)
	{
		pre_off = m->pre_start;
		if (m->pre_len > 0)
		{
			append(ver, &vlen, sizeof(ver), "-", 1);
			append(ver, &vlen, sizeof(ver), text + m->pre_start, m->pre_len);
		}
		if (version_parse(ver, vlen, &v, err) != SEMVER_OK)
			goto invalid;
	}
	else
	{
		if (version_parse(text + m->start, m->end - m->start, &v, err) != SEMVER_OK)
			goto invalid;
		pre_off = v.pre - text;
	}
	c->major = v.major;
	c->minor = v.minor;
	c->patch = v.patch;
	c->pre_off = (uint16_t) pre_off;
	c->pre_len = (uint16_t) v.pre_len;
	return SEMVER_OK;

invalid:
	if (err != NULL)
	{
		ParseError	why = *err;

		parse_error_set(err, "In the comparator version \"%.*s\": %s",
						(int) (m->end - m->start), text + m->start, why.detail);
	}
	return SEMVER_INVALID;
}

/*
 * One "||" group, text[start, end): validConstraintRegex, "\s*(op)\s*(cv)\s*"
 * and then any number of "(\s+|,\s*)(op)\s*(cv)\s*", each comparator as
 * findConstraintRegex and parseConstraint then read it.
 */
static SemverStatus
parse_group(SemverRange *r, size_t start, size_t end, bool rewritten, ParseError *err)
{
	const char *t = r->text;
	size_t		i = start;
	bool		first = true;

	for (;;)
	{
		size_t		op_start;
		int			op;
		RangeVersionMatch m;
		SemverComparator *c;
		SemverStatus status;

		if (first)
			i = skip_spaces(t, end, i);
		else
		{
			size_t		after_cv = i;

			i = skip_spaces(t, end, i);
			if (i == end)
				return SEMVER_OK;
			if (t[i] == ',')
				i = skip_spaces(t, end, i + 1);
			else if (i == after_cv)
				goto improper;
		}
		op_start = i;
		while (i < end && is_op_char(t[i]))
			i++;
		op = operator_of(t + op_start, i - op_start);
		if (op < 0)
			goto improper;
		i = skip_spaces(t, end, i);
		if (!match_range_version(t, end, i, &m))
			goto improper;
		i = m.end;

		if (r->ncomparators == SEMVER_RANGE_MAX_COMPARATORS)
		{
			parse_error_set(err, "The range has more than %d comparators.",
							SEMVER_RANGE_MAX_COMPARATORS);
			return SEMVER_TOO_COMPLEX;
		}
		c = &r->comparators[r->ncomparators];
		memset(c, 0, sizeof(*c));
		c->op = (uint8_t) op;
		c->group = (uint16_t) r->ngroups;
		status = comparator_set(t, &m, c, err);
		if (status != SEMVER_OK)
			return status;
		r->ncomparators++;
		first = false;
	}

improper:
	if (skip_spaces(t, end, start) == end)
		parse_error_set(err, "%s", start == 0 && end == strlen(t) ? "The range is empty." :
						"An alternative of the range, before or after a \"||\", is empty.");
	else
		parse_error_set(err, "\"%.*s\"%s is not a list of comparators such as \">= 1.2, < 2\" "
						"(an operator among = != > < >= <= ~ ^, then a version with x, X or * as wildcards).",
						(int) (end - start), t + start,
						rewritten ? " (where \"a - b\" was rewritten to \">= a, <= b\")" : "");
	return SEMVER_INVALID;
}

SemverStatus
semver_range_parse(const char *s, size_t len, SemverRange *out, ParseError *err)
{
	size_t		tlen;
	size_t		start = 0;
	bool		rewritten;

	out->ncomparators = 0;
	out->ngroups = 0;
	out->text[0] = '\0';
	if (len > SEMVER_RANGE_MAX)
	{
		parse_error_set(err, "The range is %zu bytes long; at most %d are allowed.",
						len, SEMVER_RANGE_MAX);
		return SEMVER_TOO_LONG;
	}
	tlen = rewrite_hyphen_ranges(s, len, out->text);
	if (tlen == SIZE_MAX)
	{
		parse_error_set(err, "The range is too long once its hyphen ranges are rewritten.");
		return SEMVER_TOO_LONG;
	}
	rewritten = tlen != len || memcmp(out->text, s, len) != 0;

	/* strings.Split(text, "||") */
	for (;;)
	{
		const char *bar = find_bytes(out->text + start, tlen - start, "||", 2);
		size_t		end = bar != NULL ? (size_t) (bar - out->text) : tlen;
		SemverStatus status = parse_group(out, start, end, rewritten, err);

		if (status != SEMVER_OK)
		{
			out->ncomparators = 0;
			out->ngroups = 0;
			return status;
		}
		out->ngroups++;
		if (bar == NULL)
			return SEMVER_OK;
		start = end + 2;
	}
}

/*
 * The library's comparator functions (constraints.go, constraintNotEqual
 * and the rest), one case each; con is the comparator's version.  Most
 * refuse a prerelease version unless the comparator names a prerelease.
 */
bool
semver_comparator_holds(const SemverRange *range, const SemverComparator *c,
						const SemverVersion *v)
{
	SemverVersion con = {
		.major = c->major, .minor = c->minor, .patch = c->patch,
		.pre = range->text + c->pre_off, .pre_len = c->pre_len,
		.build = range->text, .build_len = 0,
	};
	bool		pre_refused = v->pre_len > 0 && con.pre_len == 0;

	switch ((SemverOp) c->op)
	{
		case SEMVER_OP_NE:
			/* the prerelease rule only when dirty */
			if (c->dirty)
			{
				if (pre_refused)
					return false;
				if (con.major != v->major)
					return true;
				if (con.minor != v->minor && !c->minor_dirty)
					return true;
				if (c->minor_dirty)
					return false;
				if (con.patch != v->patch && !c->patch_dirty)
					return true;
				if (c->patch_dirty)
					return compare_prerelease(v->pre, v->pre_len, con.pre, con.pre_len) != 0;
			}
			return semver_compare(v, &con) != 0;

		case SEMVER_OP_GT:
			if (pre_refused)
				return false;
			if (!c->dirty)
				return semver_compare(v, &con) > 0;
			if (v->major != con.major)
				return v->major > con.major;
			if (c->minor_dirty)
				return false;
			if (c->patch_dirty)
				return v->minor > con.minor;
			return semver_compare(v, &con) > 0;

		case SEMVER_OP_LT:
			return !pre_refused && semver_compare(v, &con) < 0;

		case SEMVER_OP_GE:
			return !pre_refused && semver_compare(v, &con) >= 0;

		case SEMVER_OP_LE:
			if (pre_refused)
				return false;
			if (!c->dirty)
				return semver_compare(v, &con) <= 0;
			if (v->major > con.major)
				return false;
			if (v->major == con.major && v->minor > con.minor && !c->minor_dirty)
				return false;
			return true;

		case SEMVER_OP_EQ:
			if (pre_refused)
				return false;
			if (!c->dirty)
				return semver_compare(v, &con) == 0;
			/* a wildcard makes "=" a "~" */
			/* FALLTHROUGH */
		case SEMVER_OP_TILDE:
			if (pre_refused || semver_compare(v, &con) < 0)
				return false;
			/* ~0.0.0 is >= 0.0.0 */
			if (con.major == 0 && con.minor == 0 && con.patch == 0 &&
				!c->minor_dirty && !c->patch_dirty)
				return true;
			if (v->major != con.major)
				return false;
			return v->minor == con.minor || c->minor_dirty;

		case SEMVER_OP_CARET:
			if (pre_refused || semver_compare(v, &con) < 0)
				return false;
			if (con.major > 0 || c->minor_dirty)
				return v->major == con.major;
			if (v->major > 0)
				return false;
			if (con.minor > 0 || c->patch_dirty)
				return v->minor == con.minor;
			if (v->minor > 0)
				return false;
			return v->patch == con.patch;
	}
	return false;				/* not reached: every SemverOp is a case */
}

bool
semver_satisfies(const SemverRange *range, const SemverVersion *v)
{
	int			i = 0;

	while (i < range->ncomparators)
	{
		int			group = range->comparators[i].group;
		bool		all = true;

		for (; i < range->ncomparators && range->comparators[i].group == group; i++)
			if (all && !semver_comparator_holds(range, &range->comparators[i], v))
				all = false;
		if (all)
			return true;
	}
	return false;
}
