/*
 * digest.c
 *		OCI content digests: the rules of go-digest and the OCI image spec,
 *		restricted to the two algorithms OCI registers for general use.
 *
 * go-digest tells "unsupported algorithm" apart from "malformed": a digest
 * whose algorithm is unknown but well formed is unsupported.  We keep that
 * distinction in the messages so that users learn which rule they broke.
 */
#include "digest.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

static const char hexdigits[] = "0123456789abcdef";

void
parse_error_set(ParseError *err, const char *fmt,...)
{
	va_list		ap;

	if (err == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(err->detail, sizeof(err->detail), fmt, ap);
	va_end(ap);
}

size_t
digest_hash_bytes(DigestAlgorithm algorithm)
{
	switch (algorithm)
	{
		case DIGEST_SHA256:
			return 32;
		case DIGEST_SHA512:
			return 64;
		default:
			return 0;
	}
}

const char *
digest_algorithm_name(DigestAlgorithm algorithm)
{
	switch (algorithm)
	{
		case DIGEST_SHA256:
			return "sha256";
		case DIGEST_SHA512:
			return "sha512";
		default:
			return NULL;
	}
}

DigestAlgorithm
digest_algorithm_from_name(const char *name, size_t len)
{
	if (len == 6 && memcmp(name, "sha256", 6) == 0)
		return DIGEST_SHA256;
	if (len == 6 && memcmp(name, "sha512", 6) == 0)
		return DIGEST_SHA512;
	return DIGEST_NONE;
}

static bool
is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool
is_encoded_char(char c)
{
	return is_lower_alnum(c) || (c >= 'A' && c <= 'Z') ||
		c == '=' || c == '_' || c == '-';
}

/*
 * go-digest's DigestRegexp: [a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+
 * (anchored).  Only used to tell "unsupported" from "malformed".
 */
static bool
matches_digest_grammar(const char *s, size_t len, size_t colon)
{
	size_t		i;
	bool		after_separator = true;

	for (i = 0; i < colon; i++)
	{
		if (is_lower_alnum(s[i]))
			after_separator = false;
		else if ((s[i] == '.' || s[i] == '+' || s[i] == '_' || s[i] == '-') &&
				 !after_separator)
			after_separator = true;
		else
			return false;
	}
	if (after_separator)
		return false;
	for (i = colon + 1; i < len; i++)
		if (!is_encoded_char(s[i]))
			return false;
	return colon + 1 < len;
}

static int
hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

bool
digest_parse(const char *s, size_t len, Digest *out, ParseError *err)
{
	const char *colon = len > 0 ? memchr(s, ':', len) : NULL;
	size_t		algo_len;
	size_t		hex_len;
	size_t		nbytes;
	DigestAlgorithm algorithm;
	size_t		i;

	if (len == 0)
	{
		parse_error_set(err, "The digest is empty.");
		return false;
	}
	if (colon == NULL || colon == s || colon == s + len - 1)
	{
		parse_error_set(err, "A digest has the form \"algorithm:hex\", for example \"sha256:\" followed by 64 hexadecimal digits.");
		return false;
	}
	algo_len = colon - s;
	hex_len = len - algo_len - 1;
	algorithm = digest_algorithm_from_name(s, algo_len);
	if (algorithm == DIGEST_NONE)
	{
		if (matches_digest_grammar(s, len, algo_len))
			parse_error_set(err, "Digest algorithm \"%.*s\" is not supported; only sha256 and sha512 are.",
							(int) (algo_len > 32 ? 32 : algo_len), s);
		else
			parse_error_set(err, "\"%.*s\" is not a valid digest algorithm name: it must be lowercase letters and digits, optionally joined by one of \".+_-\".",
							(int) (algo_len > 32 ? 32 : algo_len), s);
		return false;
	}
	nbytes = digest_hash_bytes(algorithm);
	if (hex_len != nbytes * 2)
	{
		parse_error_set(err, "A %s digest has %zu hexadecimal digits, not %zu.",
						digest_algorithm_name(algorithm), nbytes * 2, hex_len);
		return false;
	}
	for (i = 0; i < hex_len; i++)
	{
		char		c = colon[1 + i];

		if (hex_value(c) < 0)
		{
			if (c >= 'A' && c <= 'F')
				parse_error_set(err, "The hexadecimal digits of a digest must be lowercase.");
			else
				parse_error_set(err, "The hex part of a digest may hold only the characters 0-9 and a-f.");
			return false;
		}
	}
	if (out != NULL)
	{
		memset(out, 0, sizeof(*out));
		out->algorithm = (uint8_t) algorithm;
		for (i = 0; i < nbytes; i++)
			out->hash[i] = (uint8_t) (hex_value(colon[1 + 2 * i]) << 4 |
									  hex_value(colon[2 + 2 * i]));
	}
	return true;
}

bool
digest_equal(const Digest *a, const Digest *b)
{
	return a->algorithm == b->algorithm &&
		memcmp(a->hash, b->hash, digest_hash_bytes(a->algorithm)) == 0;
}

size_t
digest_format(const Digest *d, char *buf)
{
	const char *name = digest_algorithm_name(d->algorithm);
	size_t		nbytes = digest_hash_bytes(d->algorithm);
	size_t		pos;
	size_t		i;

	if (name == NULL)
	{
		buf[0] = '\0';
		return 0;
	}
	pos = strlen(name);
	memcpy(buf, name, pos);
	buf[pos++] = ':';
	for (i = 0; i < nbytes; i++)
	{
		buf[pos++] = hexdigits[d->hash[i] >> 4];
		buf[pos++] = hexdigits[d->hash[i] & 0x0f];
	}
	buf[pos] = '\0';
	return pos;
}

bool
digest_compute(DigestAlgorithm algorithm, const void *data, size_t len,
			   Digest *out)
{
	const EVP_MD *md;
	unsigned int outlen = 0;

	switch (algorithm)
	{
		case DIGEST_SHA256:
			md = EVP_sha256();
			break;
		case DIGEST_SHA512:
			md = EVP_sha512();
			break;
		default:
			return false;
	}
	memset(out, 0, sizeof(*out));
	if (EVP_Digest(data, len, out->hash, &outlen, md, NULL) != 1 ||
		outlen != digest_hash_bytes(algorithm))
		return false;
	out->algorithm = (uint8_t) algorithm;
	return true;
}
