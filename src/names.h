/*
 * names.h
 *		The names of doc/functions.md (names.c): a namespace, a stream name, a
 *		tag, and how "namespace/name", "namespace/name[:tag]" and
 *		"namespace/name@id" split into them.
 */
#ifndef IMAGESTREAM_NAMES_H
#define IMAGESTREAM_NAMES_H

#include "postgres.h"

/* ^[a-z0-9]([-a-z0-9]*[a-z0-9])?$, at most NAMESPACE_MAX bytes: a DNS label */
#define NAMESPACE_MAX 63
extern bool name_namespace_valid(const char *s);

/* ^[a-z0-9]+([._-][a-z0-9]+)*$, at most 255 bytes */
extern bool name_stream_valid(const char *s);

/* ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$: Docker's tag (reference.c) */
extern bool name_tag_valid(const char *s);

/* What a full name names: each kind splits, and is refused, its own way. */
typedef enum NameKind
{
	NAME_STREAM,				/* "namespace/name" */
	NAME_TAG,					/* "namespace/name[:tag]" */
	NAME_STREAM_IMAGE			/* "namespace/name@id" */
} NameKind;

/* A name's parts, palloc'd; those its kind has not are NULL. */
typedef struct NameParts
{
	char	   *namespace;
	char	   *stream;
	char	   *tag;			/* "latest" when a tag's name leaves it out */
	char	   *id;				/* a digest, or a prefix of at least 7 hex */
} NameParts;

/*
 * Splits input (NULL is refused too), a name of the given kind, into out;
 * refuses one that is not such a name (SQLSTATE 22023), the detail saying
 * the rule it breaks.
 */
extern void name_parse(NameKind kind, const char *input, NameParts *out);

/*
 * Splits a short image name of OpenShift's lookup policy, "name",
 * "name:tag" or "name@algorithm:hex", into out->stream and out->tag
 * ("latest" when left out) or out->id; false if input is not one.
 */
extern bool name_parse_short(const char *input, NameParts *out);

#endif
