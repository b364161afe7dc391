/*
 * names.h
 *		The names of doc/functions.md (names.c): a namespace, a stream name, a
 *		tag, and a tag's full name "namespace/name[:tag]".
 */
#ifndef IMAGESTREAM_NAMES_H
#define IMAGESTREAM_NAMES_H

#include "postgres.h"

/* ^[a-z0-9]([-a-z0-9]*[a-z0-9])?$, at most 63 bytes: a DNS label */
extern bool name_namespace_valid(const char *s);

/* ^[a-z0-9]+([._-][a-z0-9]+)*$, at most 255 bytes */
extern bool name_stream_valid(const char *s);

/* ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$: Docker's tag (reference.c) */
extern bool name_tag_valid(const char *s);

typedef struct TagName
{
	char	   *namespace;
	char	   *stream;
	char	   *tag;
} TagName;

/*
 * Splits "namespace/name[:tag]" (tag "latest" when left out) into palloc'd
 * parts, as _parse_tag (src/sql/code/020_names.sql) does; false if it is not a
 * valid tag name.
 */
extern bool name_parse_tag(const char *input, TagName *out);

#endif
