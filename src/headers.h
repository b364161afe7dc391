/*
 * headers.h
 *		Parsers of the registry's WWW-Authenticate and Link headers.  Plain C
 *		with no PostgreSQL header, so that they can be fuzzed on their own.
 */
#ifndef IMAGESTREAM_HEADERS_H
#define IMAGESTREAM_HEADERS_H

#include <stdbool.h>
#include <stddef.h>

#define CHALLENGE_FIELD_MAX 1024

typedef struct Challenge
{
	char		scheme[16];		/* "Bearer" or "Basic", as written */
	char		realm[CHALLENGE_FIELD_MAX];
	char		service[CHALLENGE_FIELD_MAX];
	char		scope[CHALLENGE_FIELD_MAX];
} Challenge;

/*
 * Parses the first challenge of a WWW-Authenticate value: a scheme and
 * comma-separated key=value parameters, values plain or quoted (with \
 * escapes).  False when it is malformed or a field is too long.
 */
extern bool parse_challenge(const char *header, Challenge *out);

/*
 * The target of the rel="next" link of a Link header value, copied into
 * out (NUL-terminated).  False when there is none or it does not fit.
 */
extern bool parse_next_link(const char *header, char *out, size_t out_size);

#endif
