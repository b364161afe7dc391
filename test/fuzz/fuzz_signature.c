/*
 * fuzz_signature.c
 *		libFuzzer target over cosign signatures: public keys read from PEM
 *		and signatures decoded from base64 (src/cosign_crypto.c), payloads
 *		read with PostgreSQL's frontend JSON parser (src/cosign.c, linked
 *		with pg_stubs.c as fuzz_manifest is).
 *
 * The first byte chooses what the rest is ('0', '1', '2' in the seeds):
 *   0  a key: an accepted one is one OpenSSL's own PEM reader reads too,
 *      and its fingerprint is the SHA-256 of the DER OpenSSL writes for it
 *      (what openssl pkey -outform DER | sha256sum gives);
 *   1  a payload: read for the image D, and signed at once with a key made
 *      at start (P-256 or Ed25519 by the input's length), so that the whole
 *      verdict of cosign_verify runs past the signature and must be the
 *      payload's, reason and all; an accepted payload holds D's text and
 *      the signature type (unless it has escapes);
 *   2  a signature: never valid for a fixed payload, and one not refused as
 *      base64 is canonical base64 (OpenSSL encodes its bytes back to it).
 * Besides memory errors (ASan) and undefined behaviour (UBSan), every
 * refusal must say why, and nothing may be left on OpenSSL's error queue.
 */
#include "postgres.h"

#include <stdio.h>
#include <stdlib.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "cosign.h"
#include "pg_stubs.h"

#define CHECK(cond) \
	do { if (!(cond)) { fprintf(stderr, "check failed: %s (line %d)\n", #cond, __LINE__); abort(); } } while (0)

#define D_TEXT "sha256:0364c1288e2828c49fd329d64da2f534217bf3c5d6bf9b9642708cc340654898"

static Digest image;
static EVP_PKEY *signers[2];
static char *signer_pems[2];

static char *
public_pem(EVP_PKEY *key)
{
	BIO		   *bio = BIO_new(BIO_s_mem());
	char	   *data;
	long		len;
	char	   *pem;

	CHECK(bio != NULL && PEM_write_bio_PUBKEY(bio, key) == 1);
	len = BIO_get_mem_data(bio, &data);
	pem = malloc(len + 1);
	memcpy(pem, data, len);
	pem[len] = '\0';
	BIO_free(bio);
	return pem;
}

int			LLVMFuzzerInitialize(int *argc, char ***argv);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	CHECK(digest_parse(D_TEXT, strlen(D_TEXT), &image, NULL));
	signers[0] = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	signers[1] = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	for (int i = 0; i < 2; i++)
	{
		CHECK(signers[i] != NULL);
		signer_pems[i] = public_pem(signers[i]);
	}
	return 0;
}

static void
check_reason(const CosignReason *why)
{
	size_t		n = strnlen(why->text, sizeof(why->text));

	CHECK(n > 0 && n < sizeof(why->text));
	/* a sentence of ours, never a byte of the input */
	for (size_t i = 0; i < n; i++)
		CHECK(why->text[i] >= 0x20 && why->text[i] < 0x7f);
}

static bool
contains(const char *s, size_t len, const char *needle)
{
	size_t		n = strlen(needle);

	for (size_t i = 0; i + n <= len; i++)
		if (memcmp(s + i, needle, n) == 0)
			return true;
	return false;
}

static void
check_key(const char *pem, size_t len)
{
	CosignKeyInfo info;
	CosignReason why;
	BIO		   *bio;
	EVP_PKEY   *theirs;
	unsigned char *der = NULL;
	int			der_len;
	Digest		fingerprint;
	char		text[DIGEST_MAX_TEXT];

	memset(&why, 0, sizeof(why));
	if (!cosign_key_read(pem, len, &info, &why))
	{
		check_reason(&why);
		return;
	}
	CHECK(info.algorithm == COSIGN_ECDSA_P256 || info.algorithm == COSIGN_ED25519);
	CHECK(len <= COSIGN_KEY_TEXT_MAX && !contains(pem, len, "PRIVATE KEY"));
	/* OpenSSL reads the same key, and writes the DER we hashed */
	bio = BIO_new_mem_buf(pem, (int) len);
	CHECK(bio != NULL);
	theirs = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
	CHECK(theirs != NULL);
	CHECK(EVP_PKEY_get_base_id(theirs) ==
		  (info.algorithm == COSIGN_ED25519 ? EVP_PKEY_ED25519 : EVP_PKEY_EC));
	der_len = i2d_PUBKEY(theirs, &der);
	CHECK(der_len > 0);
	CHECK(digest_compute(DIGEST_SHA256, der, der_len, &fingerprint));
	digest_format(&fingerprint, text);
	CHECK(strcmp(text, info.fingerprint) == 0);
	OPENSSL_free(der);
	EVP_PKEY_free(theirs);
	BIO_free(bio);
}

/* signature of payload by signers[which], in base64 (malloc'd) */
static char *
sign(int which, const unsigned char *payload, size_t len)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char sig[128];
	size_t		sig_len = sizeof(sig);
	char	   *b64 = malloc(4 * ((sizeof(sig) + 2) / 3) + 1);

	CHECK(ctx != NULL);
	CHECK(EVP_DigestSignInit(ctx, NULL, which == 0 ? EVP_sha256() : NULL, NULL, signers[which]) == 1);
	CHECK(EVP_DigestSign(ctx, sig, &sig_len, len ? payload : (const unsigned char *) "", len) == 1);
	EVP_EncodeBlock((unsigned char *) b64, sig, (int) sig_len);
	EVP_MD_CTX_free(ctx);
	return b64;
}

static void
check_payload(const char *payload, size_t len)
{
	CosignReason why;
	CosignReason verify_why;
	bool		names = cosign_payload_names(payload, len, &image, &why);
	int			which = len % 2;
	char	   *sig;
	bool		verified;

	if (!names)
		check_reason(&why);
	else if (memchr(payload, '\\', len) == NULL)
	{
		/* (with escapes, the strings are written otherwise) */
		CHECK(contains(payload, len, D_TEXT));
		CHECK(contains(payload, len, COSIGN_SIGNATURE_TYPE));
	}
	if (len > COSIGN_PAYLOAD_MAX)
		return;
	sig = sign(which, (const unsigned char *) payload, len);
	verified = cosign_verify(payload, len, sig, strlen(sig), signer_pems[which],
							 strlen(signer_pems[which]), &image, &verify_why);
	CHECK(verified == names);
	if (!verified)
		CHECK(strcmp(verify_why.text, why.text) == 0);
	free(sig);
}

static void
check_signature(const char *text, size_t len)
{
	static const char payload[] = "{\"critical\":{}}";
	CosignReason why;
	unsigned char *decoded;
	unsigned char *encoded;
	int			n;
	size_t		pad;

	CHECK(!cosign_signature_valid((const uint8_t *) payload, strlen(payload), text, len,
								  signer_pems[0], strlen(signer_pems[0]), &why));
	check_reason(&why);
	if (strcmp(why.text, "The signature does not verify with the key.") != 0)
		return;
	/* accepted as base64: OpenSSL's decoding encodes back to the very text */
	CHECK(len > 0 && len % 4 == 0 && len <= COSIGN_SIGNATURE_TEXT_MAX);
	decoded = malloc(len);
	encoded = malloc(len + 1);
	n = EVP_DecodeBlock(decoded, (const unsigned char *) text, (int) len);
	CHECK(n >= 0);
	pad = (text[len - 1] == '=') + (text[len - 2] == '=');
	CHECK(EVP_EncodeBlock(encoded, decoded, n - (int) pad) == (int) len);
	CHECK(memcmp(encoded, text, len) == 0);
	free(decoded);
	free(encoded);
}

int			LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	size_t		len;
	char	   *rest;

	if (size == 0)
		return 0;
	len = size - 1;
	/* an exact-size copy without a terminator, as a bytea or text datum */
	rest = malloc(len ? len : 1);
	memcpy(rest, data + 1, len);
	switch (data[0] % 3)
	{
		case 0:
			check_key(rest, len);
			break;
		case 1:
			check_payload(rest, len);
			break;
		default:
			check_signature(rest, len);
			break;
	}
	CHECK(ERR_peek_error() == 0);
	stub_reset_memory();
	free(rest);
	return 0;
}
