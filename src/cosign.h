/*
 * cosign.h
 *		What a cosign signature of an image is: a payload in cosign's simple
 *		signing format that names the image's digest, signed by a trusted
 *		key (cosign_crypto.h).  The one rule the gates apply
 *		(src/sql/code/135_signatures.sql: _signature_verify).
 *
 * Neither function raises an error or keeps memory it allocated on any
 * input: a refusal is a result with a sentence saying why.
 */
#ifndef IMAGESTREAM_COSIGN_H
#define IMAGESTREAM_COSIGN_H

#include "postgres.h"

#include "cosign_crypto.h"
#include "digest.h"

/* critical.type of a signature of a container image */
#define COSIGN_SIGNATURE_TYPE "cosign container image signature"

/*
 * Whether payload (len bytes) is a JSON object in cosign's simple signing
 * format whose critical.type is COSIGN_SIGNATURE_TYPE and whose
 * critical.image.docker-manifest-digest is image, written as a digest is.
 * Refused too: more than COSIGN_PAYLOAD_MAX bytes, and any key of the
 * objects read (the root, critical, critical.image) that is given twice,
 * differs from one of cosign's only in case, or is not ASCII, since
 * cosign's Go decoder matches keys case-insensitively and keeps the last.
 */
extern bool cosign_payload_names(const char *payload, size_t len, const Digest *image,
								 CosignReason *why);

/*
 * Whether signature is a valid cosign signature of image by the key in
 * pem: the signature verifies over the payload's bytes
 * (cosign_signature_valid), and then the payload names the image
 * (cosign_payload_names).
 */
extern bool cosign_verify(const char *payload, size_t payload_len,
						  const char *signature, size_t signature_len,
						  const char *pem, size_t pem_len, const Digest *image,
						  CosignReason *why);

#endif
