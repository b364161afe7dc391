/*
 * cosign_layout.h
 *		What cosign writes into a registry, as the signature lookup reads it
 *		(signature_fetch.c): its media and artifact types, and the two
 *		documents, a referrers index and a signature manifest, read with
 *		PostgreSQL's JSON parser, which reports bad input without raising.
 */
#ifndef IMAGESTREAM_COSIGN_LAYOUT_H
#define IMAGESTREAM_COSIGN_LAYOUT_H

#include "postgres.h"

#include "nodes/pg_list.h"

/* The artifactType of a signature manifest in OCI 1.1 referrers mode. */
#define COSIGN_SIGNATURE_ARTIFACT "application/vnd.dev.cosign.artifact.sig.v1+json"

/* The media type of a layer that is a simple signing payload. */
#define COSIGN_SIMPLESIGNING "application/vnd.dev.cosign.simplesigning.v1+json"

/* The layer annotation that holds the payload's signature, in base64. */
#define COSIGN_SIGNATURE_ANNOTATION "dev.cosignproject.cosign/signature"

/* The longest signature annotation read (an ECDSA or Ed25519 one is < 100 bytes). */
#define COSIGN_SIGNATURE_MAX (8 * 1024)

/* A simple signing layer of a signature manifest. */
typedef struct CosignLayer
{
	char	   *digest;			/* as written: the caller parses it */
	int64		size;			/* as declared, or -1 when not a whole number */
	char	   *signature;		/* base64, at most COSIGN_SIGNATURE_MAX bytes */
} CosignLayer;

/*
 * The digests (char *, as written) of the signature manifests that a
 * referrers index lists (artifactType COSIGN_SIGNATURE_ARTIFACT), in its
 * order, each once, at most max of them; *more when it lists more.  False,
 * with *message, when it is not a JSON object with a list of manifests.
 */
extern bool cosign_read_referrers(const char *body, size_t len, int max, List **digests,
								  bool *more, char **message);

/*
 * The layers of a signature manifest that are simple signing payloads with
 * a signature (CosignLayer *), in order; layers of other types or without
 * the annotation are left out.  False, with *message, when it is not a JSON
 * object with a list of layers, lists more than max_layers layers (of any
 * type), or a signature is longer than COSIGN_SIGNATURE_MAX or not base64.
 */
extern bool cosign_read_signatures(const char *body, size_t len, int max_layers, List **layers,
								   char **message);

#endif
