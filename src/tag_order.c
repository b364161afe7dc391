/*
 * tag_order.c
 *		The order OpenShift gives a repository's tags (library-go's
 *		PrioritizeTags): "latest"; then minor versions ("5.1", "v5.1",
 *		"5.1-rc1"), newest first; then full semantic versions, newest
 *		first; then every other tag by its bytes.  import_image(all_tags)
 *		and the worker's repository listings import the first
 *		max_bulk_import tags of it, and describe() prints a stream's tags
 *		in it (doc/import.md).
 *
 * In C because a listing is the registry's to size: a page of a million
 * names (imagestream.max_tag_list_size bounds its bytes) is ranked in one
 * sort here, where a PL/pgSQL parse of each name took seconds of the
 * worker's time every interval.  Versions are blang/semver's, as
 * library-go parses them: numbers are unsigned 64-bit without leading
 * zeros, prerelease identifiers compare numbers by value before words by
 * bytes, and build metadata is checked but not compared.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"

typedef enum TagPriority
{
	TAG_LATEST,
	TAG_MINOR,					/* 5.1, v5.1, 5.1-rc1 */
	TAG_FULL,					/* 5.1.3, v5.1.3-rc.1+build */
	TAG_OTHER
} TagPriority;

typedef struct TagKey
{
	const char *name;
	int			len;
	TagPriority priority;
	bool		prefixed;		/* a leading "v", not part of the version */
	uint64		version[3];
	/* the prerelease identifiers, dot-separated; NULL for a release */
	const char *pre;
	int			pre_len;
} TagKey;

static inline bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static inline bool
is_alnum(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* A number as blang/semver takes it: digits, no leading zero, 64 bits. */
static bool
parse_number(const char *s, int len, uint64 *out)
{
	uint64		v = 0;

	if (len == 0 || (len > 1 && s[0] == '0'))
		return false;
	for (int i = 0; i < len; i++)
	{
		if (!is_digit(s[i]) || v > (PG_UINT64_MAX - (s[i] - '0')) / 10)
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return true;
}

/* Dot-separated identifiers of [0-9A-Za-z-], none empty; numeric ones
 * (prerelease only) must be numbers. */
static bool
valid_identifiers(const char *s, int len, bool numbers_checked)
{
	int			start = 0;

	for (int i = 0; i <= len; i++)
	{
		if (i < len && s[i] != '.')
		{
			if (!is_alnum(s[i]) && s[i] != '-')
				return false;
			continue;
		}
		if (i == start)
			return false;
		if (numbers_checked)
		{
			bool		numeric = true;
			uint64		ignored;

			for (int j = start; j < i; j++)
				numeric &= is_digit(s[j]);
			if (numeric && !parse_number(s + start, i - start, &ignored))
				return false;
		}
		start = i + 1;
	}
	return true;
}

/* blang/semver's Parse of "major.minor.patch[-pre][+build]", or of
 * "major.minor" with ".0" for patch when minor_form (the "5.1" and
 * "5.1-rc1" of library-go, whose prerelease is one \w+ word). */
static bool
parse_version(const char *s, int len, bool minor_form, TagKey *key)
{
	const char *end = s + len;
	const char *p = s;
	int			parts = minor_form ? 2 : 3;

	key->pre = NULL;
	key->pre_len = 0;
	key->version[2] = 0;
	for (int i = 0; i < parts; i++)
	{
		const char *q = p;

		while (q < end && is_digit(*q))
			q++;
		if (!parse_number(p, q - p, &key->version[i]))
			return false;
		p = q;
		if (i < parts - 1)
		{
			if (p == end || *p != '.')
				return false;
			p++;
		}
	}
	if (p < end && *p == '-')
	{
		const char *pre = ++p;

		while (p < end && *p != '+')
			p++;
		if (minor_form && p < end)
			return false;
		key->pre = pre;
		key->pre_len = p - pre;
		if (!valid_identifiers(key->pre, key->pre_len, true))
			return false;
		/* library-go's \w+: one identifier of letters and digits ("_"
		 * matches \w but fails semver above) */
		for (int i = 0; minor_form && i < key->pre_len; i++)
			if (!is_alnum(key->pre[i]))
				return false;
	}
	if (p < end && *p == '+' && !minor_form)
	{
		p++;
		if (!valid_identifiers(p, end - p, false))
			return false;
		p = end;
	}
	return p == end;
}

static void
tag_key(const char *name, int len, TagKey *key)
{
	const char *s = name;
	int			n = len;

	key->name = name;
	key->len = len;
	key->prefixed = false;
	if (len == 6 && memcmp(name, "latest", 6) == 0)
	{
		key->priority = TAG_LATEST;
		return;
	}
	if (n > 0 && s[0] == 'v')
	{
		key->prefixed = true;
		s++;
		n--;
	}
	if (parse_version(s, n, false, key))
		key->priority = TAG_FULL;
	else if (parse_version(s, n, true, key))
		key->priority = TAG_MINOR;
	else
		key->priority = TAG_OTHER;
}

static int
compare_bytes(const char *a, int alen, const char *b, int blen)
{
	int			c = memcmp(a, b, Min(alen, blen));

	return c != 0 ? c : (alen > blen) - (alen < blen);
}

/* semver precedence of two prerelease lists (NULL: a release, which is
 * newer than any prerelease of its version) */
static int
compare_prerelease(const TagKey *a, const TagKey *b)
{
	const char *pa = a->pre,
			   *pb = b->pre,
			   *ea = a->pre + a->pre_len,
			   *eb = b->pre + b->pre_len;

	if (a->pre == NULL || b->pre == NULL)
		return (a->pre == NULL) - (b->pre == NULL);
	while (pa < ea && pb < eb)
	{
		const char *da = memchr(pa, '.', ea - pa),
				   *db = memchr(pb, '.', eb - pb);
		int			la = (da ? da : ea) - pa,
					lb = (db ? db : eb) - pb;
		uint64		na,
					nb;
		bool		numa = parse_number(pa, la, &na),
					numb = parse_number(pb, lb, &nb);
		int			c;

		if (numa != numb)
			c = numa ? -1 : 1;	/* numbers before words */
		else if (numa)
			c = (na > nb) - (na < nb);
		else
			c = compare_bytes(pa, la, pb, lb);
		if (c != 0)
			return c;
		pa = da ? da + 1 : ea;
		pb = db ? db + 1 : eb;
	}
	/* the longer list is the newer when one is a prefix of the other */
	return (pa < ea) - (pb < eb);
}

/* qsort order: first is highest priority; equal names end up together */
static int
compare_keys(const void *x, const void *y)
{
	const TagKey *a = x,
			   *b = y;

	if (a->priority != b->priority)
		return a->priority < b->priority ? -1 : 1;
	if (a->priority == TAG_MINOR || a->priority == TAG_FULL)
	{
		int			c;

		for (int i = 0; i < 3; i++)
			if (a->version[i] != b->version[i])
				return a->version[i] > b->version[i] ? -1 : 1;
		c = compare_prerelease(a, b);
		if (c != 0)
			return -c;
		if (a->prefixed != b->prefixed)
			return a->prefixed ? 1 : -1;
	}
	return compare_bytes(a->name, a->len, b->name, b->len);
}

static int
compare_names(const void *x, const void *y)
{
	const text *a = *(text *const *) x,
			   *b = *(text *const *) y;

	return compare_bytes(VARDATA_ANY(a), VARSIZE_ANY_EXHDR(a), VARDATA_ANY(b), VARSIZE_ANY_EXHDR(b));
}

static void
deconstruct_texts(ArrayType *array, Datum **elems, bool **nulls, int *n)
{
	deconstruct_array(array, TEXTOID, -1, false, TYPALIGN_INT, elems, nulls, n);
}

/*
 * SQL: _prioritize_tags(tags text[], skip text[] DEFAULT '{}',
 * room integer DEFAULT -1) RETURNS text[]: the distinct tags, without
 * those in skip and NULLs, in OpenShift's order, at most room of them
 * (-1: all).
 */
PG_FUNCTION_INFO_V1(imagestream_prioritize_tags);
Datum
imagestream_prioritize_tags(PG_FUNCTION_ARGS)
{
	int32		room = PG_GETARG_INT32(2);
	Datum	   *elems,
			   *skip_elems;
	bool	   *nulls,
			   *skip_nulls;
	int			n,
				nskip,
				nskip_set = 0,
				nkeys = 0,
				nout = 0;
	TagKey	   *keys;
	text	  **skip;
	Datum	   *out;

	if (room < -1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("room must be -1 (all) or at least 0, not %d", room)));
	if (room == 0)
		PG_RETURN_ARRAYTYPE_P(construct_empty_array(TEXTOID));
	deconstruct_texts(PG_GETARG_ARRAYTYPE_P(0), &elems, &nulls, &n);
	deconstruct_texts(PG_GETARG_ARRAYTYPE_P(1), &skip_elems, &skip_nulls, &nskip);

	skip = palloc(sizeof(text *) * Max(nskip, 1));
	for (int i = 0; i < nskip; i++)
		if (!skip_nulls[i])
			skip[nskip_set++] = DatumGetTextPP(skip_elems[i]);
	qsort(skip, nskip_set, sizeof(text *), compare_names);

	keys = palloc(sizeof(TagKey) * Max(n, 1));
	for (int i = 0; i < n; i++)
	{
		text	   *t;

		if (nulls[i])
			continue;
		t = DatumGetTextPP(elems[i]);
		if (nskip_set > 0 && bsearch(&t, skip, nskip_set, sizeof(text *), compare_names) != NULL)
			continue;
		tag_key(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t), &keys[nkeys++]);
		if ((i & 0xFFFF) == 0)
			CHECK_FOR_INTERRUPTS();
	}
	qsort(keys, nkeys, sizeof(TagKey), compare_keys);

	out = palloc(sizeof(Datum) * Max(Min(nkeys, room < 0 ? nkeys : room), 1));
	for (int i = 0; i < nkeys && (room < 0 || nout < room); i++)
	{
		if (i > 0 && compare_keys(&keys[i - 1], &keys[i]) == 0)
			continue;
		out[nout++] = PointerGetDatum(cstring_to_text_with_len(keys[i].name, keys[i].len));
	}
	PG_RETURN_ARRAYTYPE_P(construct_array(out, nout, TEXTOID, -1, false, TYPALIGN_INT));
}
