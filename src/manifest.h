/*
 * manifest.h
 *		What the import needs from a manifest or index: its media type, its
 *		config digest, or its children with their platforms.  Read with
 *		PostgreSQL's JSON parser, which reports bad input without raising.
 */
#ifndef IMAGESTREAM_MANIFEST_H
#define IMAGESTREAM_MANIFEST_H

#include "postgres.h"

#include "nodes/pg_list.h"

#define MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define MT_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"

typedef struct ManifestChild
{
	char	   *digest;
	char	   *media_type;
	char	   *os;
	char	   *architecture;
	char	   *variant;
} ManifestChild;

typedef struct Manifest
{
	char	   *media_type;		/* decided: one of the four MT_ types */
	bool		is_index;
	char	   *config_digest;	/* an image's config descriptor */
	List	   *children;		/* an index's ManifestChild entries, in order */
} Manifest;

/*
 * Reads a manifest served with content_type (may be NULL).  On failure sets
 * *reason (UnsupportedMediaType or InvalidManifest) and *message.
 */
extern bool manifest_read(const char *body, size_t len, const char *content_type,
						  Manifest *out, const char **reason, char **message);

/*
 * The child of an index for Legacy import: the preferred os/architecture
 * (variant when given), then linux/amd64, then the first.
 */
extern ManifestChild *manifest_choose_child(const Manifest *m, const char *os,
											const char *architecture, const char *variant);

#endif
