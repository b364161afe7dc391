/*
 * cosign_crypto.h
 *		The cryptography of cosign's key-based signatures: a trusted public
 *		key read from PEM, and a base64 signature checked over the payload's
 *		bytes with it.  What the payload says is cosign.h's.
 *
 * Plain C on OpenSSL with no PostgreSQL header and no allocation of its
 * own: every OpenSSL object is freed before a function returns, and no
 * input (key text, signature text, payload) makes one fail otherwise than
 * by its result.  Fuzzed on its own (test/fuzz/fuzz_signature.c).
 */
#ifndef IMAGESTREAM_COSIGN_CRYPTO_H
#define IMAGESTREAM_COSIGN_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The longest key text read (a PEM public key of either kind is ~180 bytes). */
#define COSIGN_KEY_TEXT_MAX 16384
/* The longest base64 signature read (DER ECDSA P-256: 96 characters at most). */
#define COSIGN_SIGNATURE_TEXT_MAX 1024
/* The largest payload verified (cosign's are ~250 bytes with annotations). */
#define COSIGN_PAYLOAD_MAX 65536

/* "sha256:" + 64 hex + NUL */
#define COSIGN_FINGERPRINT_SIZE 72
/* Room for one sentence saying why a key or signature is refused. */
#define COSIGN_REASON_MAX 512

typedef enum CosignAlgorithm
{
	COSIGN_ECDSA_P256 = 1,		/* ECDSA on prime256v1 over SHA-256, DER signature */
	COSIGN_ED25519 = 2			/* Ed25519 over the payload, 64-byte signature */
} CosignAlgorithm;

typedef struct CosignKeyInfo
{
	CosignAlgorithm algorithm;
	/* "sha256:" and the hex SHA-256 of the key's DER SubjectPublicKeyInfo */
	char		fingerprint[COSIGN_FINGERPRINT_SIZE];
} CosignKeyInfo;

typedef struct CosignReason
{
	char		text[COSIGN_REASON_MAX];
} CosignReason;

/* "ecdsa-p256" or "ed25519": the name the SQL shows. */
extern const char *cosign_algorithm_name(CosignAlgorithm algorithm);

/*
 * Reads a public key: exactly one "-----BEGIN PUBLIC KEY-----" PEM block
 * (SubjectPublicKeyInfo), surrounding white space aside, of an ECDSA P-256
 * key (named curve, uncompressed point) or an Ed25519 key.  Fills info, or
 * returns false and says why (ASCII only: no byte of the input is quoted).
 */
extern bool cosign_key_read(const char *pem, size_t len, CosignKeyInfo *info,
							CosignReason *why);

/*
 * Whether signature (strict base64, of signature_len bytes) is a signature
 * of the payload's bytes by the key in pem, as cosign_key_read reads it.
 * False says why: the payload too large, the signature empty, too long or
 * not base64, the key refused, or the signature does not verify.
 */
extern bool cosign_signature_valid(const uint8_t *payload, size_t payload_len,
								   const char *signature, size_t signature_len,
								   const char *pem, size_t pem_len, CosignReason *why);

extern void cosign_reason_set(CosignReason *why, const char *fmt,...)
			__attribute__((format(printf, 2, 3)));

#endif
