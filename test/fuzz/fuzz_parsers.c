/*
 * fuzz_parsers.c
 *		libFuzzer target over the digest and reference parsers (pure C).
 *
 * Besides memory errors (ASan) and undefined behaviour (UBSan) it checks
 * the parsers' promises: accepted input formats back to itself or to a
 * normal form that parses to the same value, limits hold, and a rejection
 * always says why.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reference.h"

#define CHECK(cond) \
	do { if (!(cond)) { fprintf(stderr, "check failed: %s (line %d)\n", #cond, __LINE__); abort(); } } while (0)

static void
check_error(const ParseError *err)
{
	size_t		n = strnlen(err->detail, PARSE_DETAIL_MAX);

	CHECK(n > 0 && n < PARSE_DETAIL_MAX);
}

static char *
format_parts(const ImageRefParts *p, bool familiar)
{
	size_t		len = ref_text_length(p, familiar);
	char	   *buf = malloc(len + 1);

	CHECK(ref_format(p, familiar, buf) == len);
	CHECK(strlen(buf) == len);
	return buf;
}

static void
check_limits(const ImageRefParts *p)
{
	CHECK(p->path_len >= 1 && p->path_len <= REF_PATH_MAX);
	CHECK(p->tag_len <= REF_TAG_MAX);
	CHECK(!p->has_digest || digest_hash_bytes(p->digest.algorithm) > 0);
}

static void
fuzz_digest(const char *s, size_t len)
{
	Digest		d;
	ParseError	err;
	char		buf[DIGEST_MAX_TEXT];

	err.detail[0] = '\0';
	if (digest_parse(s, len, &d, &err))
	{
		/* the text form is canonical: valid input is its own output */
		CHECK(digest_format(&d, buf) == len);
		CHECK(memcmp(buf, s, len) == 0);
	}
	else
		check_error(&err);
}

static void
fuzz_plain(const char *s, size_t len)
{
	ImageRefParts p;
	ParseError	err;

	err.detail[0] = '\0';
	if (ref_parse(s, len, &p, &err))
	{
		char	   *text;

		check_limits(&p);
		/* as the library's String(): a parsed reference prints as its input */
		text = format_parts(&p, false);
		CHECK(strlen(text) == len && memcmp(text, s, len) == 0);
		free(text);
	}
	else
		check_error(&err);
}

static void
fuzz_normalized(const char *s, size_t len)
{
	char	   *scratch = malloc(len + REF_SCRATCH_EXTRA);
	ImageRefParts p;
	ParseError	err;

	err.detail[0] = '\0';
	if (ref_parse_normalized(s, len, scratch, &p, &err))
	{
		char	   *full = format_parts(&p, false);
		char	   *familiar = format_parts(&p, true);
		size_t		full_len = strlen(full);
		char	   *scratch2 = malloc(full_len + REF_SCRATCH_EXTRA);
		ImageRefParts q;
		char	   *again;

		check_limits(&p);
		/* normalising is idempotent */
		CHECK(ref_parse_normalized(full, full_len, scratch2, &q, &err));
		again = format_parts(&q, false);
		CHECK(strcmp(again, full) == 0);
		free(again);
		free(scratch2);

		/*
		 * The familiar form only drops "docker.io/" and "library/" (it need
		 * not parse back: "docker.io/a.b/c" becomes "a.b/c", a registry).
		 */
		CHECK(strlen(familiar) <= full_len);
		CHECK(strcmp(full + full_len - strlen(familiar), familiar) == 0);
		CHECK(strlen(familiar) == full_len ||
			  strncmp(full, REF_DEFAULT_DOMAIN "/", strlen(REF_DEFAULT_DOMAIN "/")) == 0);
		free(full);
		free(familiar);
	}
	else
		check_error(&err);
	free(scratch);
}

int			LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	/* an exact-size copy, so that ASan sees any read past the end */
	char	   *s = malloc(size ? size : 1);
	ParseError	err;

	memcpy(s, data, size);
	fuzz_digest(s, size);
	fuzz_plain(s, size);
	fuzz_normalized(s, size);
	if (!ref_tag_valid(s, size, &err))
		check_error(&err);
	free(s);
	return 0;
}
