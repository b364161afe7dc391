/*
 * cosign_crypto.c
 *		Trusted public keys and the signatures they make, as cosign uses
 *		them with a key pair (cosign sign --key, or openssl dgst -sign).
 *
 * A key is accepted in exactly one encoding: the DER SubjectPublicKeyInfo
 * that openssl pkey -pubout and cosign write, an ECDSA P-256 key with the
 * named curve and an uncompressed point, or an Ed25519 key.  So the key's
 * algorithm is fixed by its bytes, its fingerprint is the SHA-256 of
 * exactly the bytes given, and no encoding that another verifier (cosign's
 * Go, which refuses compressed points and explicit curves) would read
 * differently gets in.  OpenSSL still parses the key, which checks that the
 * point is on the curve.
 *
 * Strings from OpenSSL's error queue are never shown: a refused input says
 * which rule it broke, and the queue is cleared before returning so that a
 * later user of OpenSSL (libcurl's TLS) does not see our failures.
 */
#include "cosign_crypto.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "digest.h"

static const char pem_begin[] = "-----BEGIN PUBLIC KEY-----";
static const char pem_end[] = "-----END PUBLIC KEY-----";

/* SubjectPublicKeyInfo up to the key: id-ecPublicKey, prime256v1, an uncompressed point */
static const uint8_t p256_prefix[] = {
	0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01,
	0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00, 0x04
};
#define P256_POINT_COORDINATES 64

/* id-Ed25519 without parameters (RFC 8410) */
static const uint8_t ed25519_prefix[] = {
	0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00
};
#define ED25519_KEY_BYTES 32

void
cosign_reason_set(CosignReason *why, const char *fmt,...)
{
	va_list		ap;

	if (why == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(why->text, sizeof(why->text), fmt, ap);
	va_end(ap);
}

const char *
cosign_algorithm_name(CosignAlgorithm algorithm)
{
	return algorithm == COSIGN_ED25519 ? "ed25519" : "ecdsa-p256";
}

static int
base64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/*
 * Standard base64 with padding (RFC 4648, section 4), strictly: nothing but
 * the alphabet, a length that is a multiple of 4, "=" only as the padding
 * at the end, and the unused bits of the last character zero, so that one
 * byte string has one text.  False too when out (out_max bytes) is short.
 */
static bool
base64_decode(const char *s, size_t len, uint8_t *out, size_t out_max, size_t *out_len)
{
	size_t		pad = 0;
	size_t		n = 0;

	if (len == 0 || len % 4 != 0)
		return false;
	if (s[len - 1] == '=')
		pad = s[len - 2] == '=' ? 2 : 1;
	if (len / 4 * 3 - pad > out_max)
		return false;
	for (size_t i = 0; i < len; i += 4)
	{
		int			v[4];
		size_t		chars = i + 4 == len ? 4 - pad : 4;

		for (size_t j = 0; j < 4; j++)
		{
			v[j] = j < chars ? base64_value((unsigned char) s[i + j]) : 0;
			if (v[j] < 0)
				return false;
		}
		out[n++] = (uint8_t) (v[0] << 2 | v[1] >> 4);
		if (chars > 2)
			out[n++] = (uint8_t) ((v[1] & 0x0f) << 4 | v[2] >> 2);
		if (chars > 3)
			out[n++] = (uint8_t) ((v[2] & 0x03) << 6 | v[3]);
		/* the bits the last character carries past the data */
		if ((chars == 2 && (v[1] & 0x0f) != 0) || (chars == 3 && (v[2] & 0x03) != 0))
			return false;
	}
	*out_len = n;
	return true;
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

static bool
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/*
 * The DER inside the one PEM block of text (der has room for
 * COSIGN_KEY_TEXT_MAX bytes), or false and why.
 */
static bool
pem_body(const char *pem, size_t len, uint8_t *der, size_t *der_len, CosignReason *why)
{
	char		b64[COSIGN_KEY_TEXT_MAX];
	const char *body;
	size_t		body_len;
	size_t		skipped = 0;
	size_t		line = 0;		/* characters of the line being read */
	size_t		breaks = 0;
	size_t		n = 0;

	if (len > COSIGN_KEY_TEXT_MAX)
	{
		cosign_reason_set(why, "The key is longer than %d bytes.", COSIGN_KEY_TEXT_MAX);
		return false;
	}
	/* a private key pasted by mistake, alone or beside the public one */
	if (contains(pem, len, "PRIVATE KEY"))
	{
		cosign_reason_set(why, "This is a private key: give its public key (openssl pkey -pubout), and keep the private key out of the database.");
		return false;
	}
	if (contains(pem, len, "-----BEGIN CERTIFICATE-----"))
	{
		cosign_reason_set(why, "Certificates are not accepted: give the public key (openssl x509 -pubkey -noout).");
		return false;
	}
	/* white space around the block, the begin marker at the start of a line */
	while (len > 0 && is_space(pem[0]))
		pem++, len--, skipped++;
	while (len > 0 && is_space(pem[len - 1]))
		len--;
	body = pem + strlen(pem_begin);
	body_len = len >= strlen(pem_begin) + strlen(pem_end) ?
		len - strlen(pem_begin) - strlen(pem_end) : 0;
	if (body_len < 2 || (skipped > 0 && pem[-1] != '\n') ||
		memcmp(pem, pem_begin, strlen(pem_begin)) != 0 ||
		memcmp(pem + len - strlen(pem_end), pem_end, strlen(pem_end)) != 0 ||
		!(body[0] == '\n' || (body[0] == '\r' && body[1] == '\n')) || body[body_len - 1] != '\n')
	{
		cosign_reason_set(why, "The key is not one PEM block \"%s\" as openssl pkey -pubout writes it.",
						  pem_begin);
		return false;
	}

	/*
	 * Lines of base64 between the markers, ended by "\n" or "\r\n", none
	 * empty: OpenSSL's PEM reader stops at an empty line, and a key that
	 * openssl cannot read would have a fingerprint nobody can reproduce.
	 */
	for (size_t i = 0; i < body_len; i++)
	{
		if (body[i] == '\r' && i + 1 < body_len && body[i + 1] == '\n')
			continue;
		if (body[i] == '\n')
		{
			/* (the first ends the begin marker's line) */
			if (breaks++ > 0 && line == 0)
			{
				cosign_reason_set(why, "The key's PEM block has an empty line.");
				return false;
			}
			line = 0;
			continue;
		}
		if (base64_value((unsigned char) body[i]) < 0 && body[i] != '=')
		{
			cosign_reason_set(why, "The key's PEM block holds characters other than base64 and line breaks.");
			return false;
		}
		b64[n++] = body[i];
		line++;
	}
	if (!base64_decode(b64, n, der, COSIGN_KEY_TEXT_MAX, der_len))
	{
		cosign_reason_set(why, "The key's PEM block is not valid base64.");
		return false;
	}
	return true;
}

static bool
has_form(const uint8_t *der, size_t len, const uint8_t *prefix, size_t prefix_len, size_t key_len)
{
	return len == prefix_len + key_len && memcmp(der, prefix, prefix_len) == 0;
}

/*
 * The key of pem, which the caller frees with EVP_PKEY_free, its algorithm
 * and fingerprint in info; or NULL and why.
 */
static EVP_PKEY *
key_load(const char *pem, size_t len, CosignKeyInfo *info, CosignReason *why)
{
	uint8_t		der[COSIGN_KEY_TEXT_MAX];
	size_t		der_len;
	const uint8_t *p = der;
	EVP_PKEY   *key;
	bool		canonical = false;
	Digest		fingerprint;

	if (!pem_body(pem, len, der, &der_len, why))
		return NULL;
	if ((key = d2i_PUBKEY(NULL, &p, (long) der_len)) == NULL)
	{
		cosign_reason_set(why, "The key's PEM block is no public key that OpenSSL can read.");
		return NULL;
	}
	switch (EVP_PKEY_get_base_id(key))
	{
		case EVP_PKEY_ED25519:
			info->algorithm = COSIGN_ED25519;
			canonical = has_form(der, der_len, ed25519_prefix, sizeof(ed25519_prefix),
								 ED25519_KEY_BYTES);
			break;
		case EVP_PKEY_EC:
			{
				char		curve[64];
				size_t		curve_len;

				if (EVP_PKEY_get_group_name(key, curve, sizeof(curve), &curve_len) != 1)
					strcpy(curve, "a curve without a name");
				if (strcmp(curve, "prime256v1") != 0)
				{
					cosign_reason_set(why, "The key is an ECDSA key on %s; only ECDSA keys on P-256 (prime256v1) and Ed25519 keys are accepted.",
									  curve);
					EVP_PKEY_free(key);
					return NULL;
				}
				info->algorithm = COSIGN_ECDSA_P256;
				canonical = has_form(der, der_len, p256_prefix, sizeof(p256_prefix),
									 P256_POINT_COORDINATES);
				break;
			}
		default:
			{
				const char *type = EVP_PKEY_get0_type_name(key);

				cosign_reason_set(why, "The key's algorithm is %s; only ECDSA keys on P-256 (prime256v1) and Ed25519 keys are accepted.",
								  type ? type : "unknown");
				EVP_PKEY_free(key);
				return NULL;
			}
	}
	if (!canonical)
	{
		cosign_reason_set(why, "The key is not in the form openssl pkey -pubout writes (a named curve and an uncompressed point; Ed25519 without parameters).");
		EVP_PKEY_free(key);
		return NULL;
	}
	if (!digest_compute(DIGEST_SHA256, der, der_len, &fingerprint))
	{
		cosign_reason_set(why, "OpenSSL could not hash the key.");
		EVP_PKEY_free(key);
		return NULL;
	}
	digest_format(&fingerprint, info->fingerprint);
	return key;
}

bool
cosign_key_read(const char *pem, size_t len, CosignKeyInfo *info, CosignReason *why)
{
	EVP_PKEY   *key = key_load(pem, len, info, why);

	EVP_PKEY_free(key);
	ERR_clear_error();
	return key != NULL;
}

bool
cosign_signature_valid(const uint8_t *payload, size_t payload_len,
					   const char *signature, size_t signature_len,
					   const char *pem, size_t pem_len, CosignReason *why)
{
	uint8_t		sig[COSIGN_SIGNATURE_TEXT_MAX / 4 * 3];
	size_t		sig_len;
	CosignKeyInfo info;
	EVP_PKEY   *key;
	EVP_MD_CTX *ctx;
	int			verified = -1;
	bool		checked;

	if (payload_len > COSIGN_PAYLOAD_MAX)
	{
		cosign_reason_set(why, "The payload is larger than %d bytes.", COSIGN_PAYLOAD_MAX);
		return false;
	}
	if (signature_len == 0)
	{
		cosign_reason_set(why, "The signature is empty.");
		return false;
	}
	if (signature_len > COSIGN_SIGNATURE_TEXT_MAX)
	{
		cosign_reason_set(why, "The signature is longer than %d characters.", COSIGN_SIGNATURE_TEXT_MAX);
		return false;
	}
	if (!base64_decode(signature, signature_len, sig, sizeof(sig), &sig_len))
	{
		cosign_reason_set(why, "The signature is not base64.");
		return false;
	}
	/* (a key is checked when it is added: this is for a caller that did not) */
	if ((key = key_load(pem, pem_len, &info, why)) == NULL)
	{
		ERR_clear_error();
		return false;
	}
	/* Ed25519 hashes the message itself: no digest is named */
	ctx = EVP_MD_CTX_new();
	checked = ctx != NULL &&
		EVP_DigestVerifyInit(ctx, NULL, info.algorithm == COSIGN_ECDSA_P256 ? EVP_sha256() : NULL,
							 NULL, key) == 1;
	if (checked)
		verified = EVP_DigestVerify(ctx, sig, sig_len,
									payload_len > 0 ? payload : (const uint8_t *) "", payload_len);
	EVP_MD_CTX_free(ctx);
	EVP_PKEY_free(key);
	ERR_clear_error();
	if (!checked)
		cosign_reason_set(why, "OpenSSL could not check the signature.");
	else if (verified != 1)
		cosign_reason_set(why, "The signature does not verify with the key.");
	return checked && verified == 1;
}
