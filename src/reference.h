/*
 * reference.h
 *		Container image references ("pull specs"): the grammar and
 *		normalisation of the distribution reference library.
 *
 * Plain C with no PostgreSQL header and no allocation: results point into
 * the caller's input or scratch buffer.  Fuzzed on its own (test/fuzz).
 */
#ifndef IMAGESTREAM_REFERENCE_H
#define IMAGESTREAM_REFERENCE_H

#include "digest.h"

/* Longest repository path; the domain does not count (reference v0.6.0). */
#define REF_PATH_MAX 255
#define REF_TAG_MAX 128

/* Bytes ref_parse_normalized may add to the input in its scratch buffer. */
#define REF_SCRATCH_EXTRA 32

#define REF_DEFAULT_DOMAIN "docker.io"
#define REF_OFFICIAL_PREFIX "library/"

typedef struct ImageRefParts
{
	const char *domain;			/* host[:port]; empty only from ref_parse */
	size_t		domain_len;
	const char *path;			/* repository path, never empty */
	size_t		path_len;
	const char *tag;			/* tag_len == 0: no tag */
	size_t		tag_len;
	bool		has_digest;
	Digest		digest;
} ImageRefParts;

/*
 * ParseNormalizedNamed: "nginx" becomes docker.io/library/nginx.  scratch
 * must hold len + REF_SCRATCH_EXTRA bytes; the parts point into it.  Unlike
 * the library, it refuses a name whose first component is taken for a
 * registry and is not a valid one ("foo_bar.x/repo"): every result names a
 * registry.
 */
extern bool ref_parse_normalized(const char *s, size_t len, char *scratch,
								 ImageRefParts *out, ParseError *err);

/* Parse: the grammar alone, no normalisation; the parts point into s. */
extern bool ref_parse(const char *s, size_t len, ImageRefParts *out,
					  ParseError *err);

/* Is s a valid tag ([A-Za-z0-9_][A-Za-z0-9_.-]{0,127})? */
extern bool ref_tag_valid(const char *s, size_t len, ParseError *err);

/*
 * Text form, full ("docker.io/library/nginx:1.25") or familiar
 * ("nginx:1.25").  ref_format writes ref_text_length() bytes and a NUL.
 */
extern size_t ref_text_length(const ImageRefParts *p, bool familiar);
extern size_t ref_format(const ImageRefParts *p, bool familiar, char *buf);

/* The name alone ("docker.io/library/nginx"), with a NUL. */
extern size_t ref_name_length(const ImageRefParts *p);
extern size_t ref_format_name(const ImageRefParts *p, char *buf);

#endif
