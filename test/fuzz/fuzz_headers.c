/*
 * fuzz_headers.c
 *		libFuzzer target over the WWW-Authenticate and Link parsers
 *		(src/headers.c, pure C).
 *
 * Besides memory errors (ASan) and undefined behaviour (UBSan) it checks
 * what headers.h promises: a parsed challenge has a scheme of token
 * characters and NUL-terminated fields, and prints back (every value
 * quoted) to a challenge that parses to the same fields; a next link is
 * NUL-terminated, non-empty and fits, is the text between a '<' and the
 * first '>' after it, and a larger buffer never changes the answer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "headers.h"

#define CHECK(cond) \
	do { if (!(cond)) { fprintf(stderr, "check failed: %s (line %d)\n", #cond, __LINE__); abort(); } } while (0)

static void
check_field(const char *f, size_t size)
{
	CHECK(strnlen(f, size) < size);
}

/* value as a quoted string, with " and \ escaped */
static size_t
quote(char *out, const char *value)
{
	size_t		n = 0;

	out[n++] = '"';
	for (; *value; value++)
	{
		if (*value == '"' || *value == '\\')
			out[n++] = '\\';
		out[n++] = *value;
	}
	out[n++] = '"';
	return n;
}

static void
fuzz_challenge(const char *s)
{
	Challenge	ch;
	Challenge	again;
	char	   *text;
	size_t		n;

	if (!parse_challenge(s, &ch))
		return;
	check_field(ch.scheme, sizeof(ch.scheme));
	check_field(ch.realm, sizeof(ch.realm));
	check_field(ch.service, sizeof(ch.service));
	check_field(ch.scope, sizeof(ch.scope));
	CHECK(ch.scheme[0] != '\0');
	for (const char *p = ch.scheme; *p; p++)
		CHECK(*p > ' ' && *p < 0x7f && strchr("\"(),/:;<=>?@[\\]{}", *p) == NULL);

	/* scheme realm="…",service="…",scope="…" reads back the same */
	text = malloc(sizeof(ch.scheme) + 3 * (2 * CHALLENGE_FIELD_MAX + 16));
	n = strlen(ch.scheme);
	memcpy(text, ch.scheme, n);
	memcpy(text + n, " realm=", 7);
	n += 7;
	n += quote(text + n, ch.realm);
	memcpy(text + n, ",service=", 9);
	n += 9;
	n += quote(text + n, ch.service);
	memcpy(text + n, ",scope=", 7);
	n += 7;
	n += quote(text + n, ch.scope);
	text[n] = '\0';
	CHECK(parse_challenge(text, &again));
	CHECK(strcmp(again.scheme, ch.scheme) == 0);
	CHECK(strcmp(again.realm, ch.realm) == 0);
	CHECK(strcmp(again.service, ch.service) == 0);
	CHECK(strcmp(again.scope, ch.scope) == 0);
	free(text);
}

/* parse_next_link into an exact-size buffer, so that ASan sees overruns */
static bool
next_link(const char *s, size_t size, char **out)
{
	char	   *buf = malloc(size ? size : 1);
	bool		ok = parse_next_link(s, buf, size);

	if (ok)
	{
		size_t		len = strnlen(buf, size);
		char	   *bracketed = malloc(len + 3);

		CHECK(len > 0 && len < size);
		CHECK(strchr(buf, '>') == NULL);
		bracketed[0] = '<';
		memcpy(bracketed + 1, buf, len);
		bracketed[len + 1] = '>';
		bracketed[len + 2] = '\0';
		CHECK(strstr(s, bracketed) != NULL);
		free(bracketed);
	}
	*out = buf;
	return ok;
}

static void
fuzz_link(const char *s, size_t small)
{
	char	   *big_out;
	char	   *small_out;
	char	   *none_out;
	bool		big = next_link(s, 2048, &big_out);	/* as registry.c */
	bool		smaller = next_link(s, small, &small_out);

	CHECK(!next_link(s, 0, &none_out));
	/* a larger buffer only adds answers, and the same ones */
	CHECK(!smaller || (big && strcmp(small_out, big_out) == 0));
	free(big_out);
	free(small_out);
	free(none_out);
}

int			LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	/* an exact-size copy with its terminator, so that ASan sees any read past it */
	char	   *s = malloc(size + 1);

	memcpy(s, data, size);
	s[size] = '\0';
	fuzz_challenge(s);
	fuzz_link(s, size % 64);
	free(s);
	return 0;
}
