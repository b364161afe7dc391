/*
 * fetch.h
 *		Fetching what an image reference points at, as an import needs it:
 *		the image, or for a manifest list its chosen child (Legacy) or the
 *		list with every child (PreserveOriginal), with their config blobs.
 */
#ifndef IMAGESTREAM_FETCH_H
#define IMAGESTREAM_FETCH_H

#include "registry.h"
#include "signature_fetch.h"

typedef enum FetchStatus
{
	FETCH_SUCCESS,
	FETCH_UNCHANGED,
	FETCH_FAILURE,
	FETCH_DEFERRED				/* not fetched: fetch_many's budget ran out */
} FetchStatus;

/* One manifest to catalogue, with its config blob (NULL for an index). */
typedef struct FetchedManifest
{
	Digest		digest;
	char	   *media_type;
	char	   *manifest;
	size_t		manifest_len;
	char	   *config;
	size_t		config_len;
} FetchedManifest;

typedef struct FetchResult
{
	FetchStatus status;
	RegistryFailure failure;	/* on FETCH_FAILURE */
	Digest		image;			/* what the tag is to point at */
	Digest		source_digest;	/* what the registry served for the reference */
	List	   *manifests;		/* FetchedManifest *, children before their index */
	/* on FETCH_SUCCESS of a fetch that asked for them: */
	bool		signatures_looked_up;
	List	   *signatures;		/* FoundSignature * of source_digest */
	char	   *signature_error;	/* why some may be missing, or NULL */
} FetchResult;

/*
 * Fetches reference (a tag or digest) of target.  With known (the digest the
 * source served last time) an unchanged source costs one HEAD request.  It
 * reads no more than the target's budget, or imagestream.max_import_size
 * when it has none; a PreserveOriginal import reads each child of an index
 * once, and no more than imagestream.max_index_children of them.
 * prefer_os and prefer_arch (NULL or empty: no preference) are the tag's
 * importer annotations: in Legacy mode they choose the child of an index
 * before imagestream.preferred_platform.  With signatures, a fetch that
 * finds a new image also looks up the signatures of the digest the
 * reference resolved to (source_digest: an index, not the child a Legacy
 * import takes), within the same budget; what that lookup cannot read is
 * its signature_error, never the fetch's failure.
 */
extern void fetch_source(const RegistryTarget *target, const char *reference, bool preserve,
						 const Digest *known, const char *prefer_os, const char *prefer_arch,
						 bool signatures, FetchResult *r);

/*
 * A failure (InternalError) that says what error stopped the fetch or
 * reading of a source (caught by run_isolated, isolate.h).
 */
extern void fetch_result_error(FetchResult *r, const ErrorData *e);

#endif
