/*
 * manifest.h
 *		What the import needs from a manifest or index: its media type, its
 *		config digest, or its children with their platforms.  Read with
 *		PostgreSQL's JSON parser, which reports bad input without raising.
 *
 * manifest.c also owns the media types: which ones are read, which are
 * indexes, which are refused as schema 1, and the Accept header that asks a
 * registry for them.  The catalogue's SQL reaches the same rules through
 * manifest_sql.c.
 */
#ifndef IMAGESTREAM_MANIFEST_H
#define IMAGESTREAM_MANIFEST_H

#include "postgres.h"

#include "nodes/pg_list.h"

#define MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define MT_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"

/* Docker schema 1 (v1+json, v1+prettyjws): refused, by this prefix */
#define MT_DOCKER_SCHEMA1_PREFIX "application/vnd.docker.distribution.manifest.v1"

/* Why a schema 1 manifest is refused (a reason of UnsupportedMediaType) */
#define MANIFEST_SCHEMA1_REFUSAL \
	"Docker schema 1 manifests are not supported; push the image again with a current client."

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

/* One of the four media types above; NULL is none. */
extern bool manifest_type_known(const char *media_type);

/* Whether media_type, one of the four, is an index (a list of manifests). */
extern bool manifest_type_is_index(const char *media_type);

extern bool manifest_type_is_schema1(const char *media_type);

/*
 * The media type of a manifest that declares none, by its fields: OCI's
 * (the only format where mediaType may be left out); NULL for neither.
 */
extern const char *manifest_type_by_shape(bool has_manifests, bool has_config);

/* Why media_type, not one of the four, is refused; palloc'd. */
extern char *manifest_type_refusal(const char *media_type);

/* The Accept header of a manifest request: the four types, indexes first. */
extern const char *manifest_accept(void);

/*
 * Reads a manifest served with content_type (may be NULL).  On failure sets
 * *reason (UnsupportedMediaType or InvalidManifest) and *message.
 */
extern bool manifest_read(const char *body, size_t len, const char *content_type,
						  Manifest *out, const char **reason, char **message);

/*
 * The first child of an index for os/architecture (and variant, when given
 * and not empty), or NULL.
 */
extern ManifestChild *manifest_find_child(const Manifest *m, const char *os,
										  const char *architecture, const char *variant);

/*
 * The child of an index for Legacy import: the preferred os/architecture
 * (variant when given), then linux/amd64, then the first.
 */
extern ManifestChild *manifest_choose_child(const Manifest *m, const char *os,
											const char *architecture, const char *variant);

#endif
