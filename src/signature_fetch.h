/*
 * signature_fetch.h
 *		Finding the cosign signatures of an image in its registry repository
 *		(doc/import.md, "Signatures"): the referrers API first, the
 *		sha256-<hex>.sig tag where the registry has none, every body bounded
 *		and verified.  Verifying the signatures is not done here.
 */
#ifndef IMAGESTREAM_SIGNATURE_FETCH_H
#define IMAGESTREAM_SIGNATURE_FETCH_H

#include "registry.h"

/* The bounds of one lookup (each body counts in the target's budget too). */
#define SIGNATURE_INDEX_MAX (256 * 1024)	/* the referrers index */
#define SIGNATURE_MANIFEST_MAX (256 * 1024) /* a signature manifest */
#define SIGNATURE_MANIFESTS_MAX 16	/* signature manifests read */
#define SIGNATURE_LAYERS_MAX 16		/* layers of a signature manifest */
#define SIGNATURE_PAYLOAD_MAX (64 * 1024)	/* a payload blob */

/* A signature found: the simple signing payload, and its base64 signature. */
typedef struct FoundSignature
{
	char	   *payload;
	size_t		payload_len;
	char	   *signature;
} FoundSignature;

/*
 * The signatures (FoundSignature *) of digest d in the target's repository,
 * in the current memory context.  A manifest that is malformed, over a
 * bound, or any of whose payloads cannot be read gives none, and *error
 * says why (the first such reason), as does a lookup that could not be
 * made; *error is NULL when nothing went wrong.  No signature is not an
 * error.
 */
extern List *signatures_fetch(const RegistryTarget *t, const Digest *d, char **error);

#endif
