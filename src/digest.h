/*
 * digest.h
 *		OCI content digests ("sha256:<hex>"): parsing, formatting, hashing.
 *
 * Plain C with no PostgreSQL header, so that it can be fuzzed on its own and
 * shared by the SQL type, the reference parser and the registry client.
 */
#ifndef IMAGESTREAM_DIGEST_H
#define IMAGESTREAM_DIGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Algorithm identifiers; stored on disk, so never renumber them. */
typedef enum DigestAlgorithm
{
	DIGEST_NONE = 0,
	DIGEST_SHA256 = 1,
	DIGEST_SHA512 = 2
} DigestAlgorithm;

#define DIGEST_MAX_HASH_BYTES 64
/* "sha512:" + 128 hex + NUL */
#define DIGEST_MAX_TEXT 136

typedef struct Digest
{
	uint8_t		algorithm;		/* a DigestAlgorithm */
	uint8_t		hash[DIGEST_MAX_HASH_BYTES];
} Digest;

/* Room for one sentence saying which rule an input broke. */
#define PARSE_DETAIL_MAX 256

typedef struct ParseError
{
	char		detail[PARSE_DETAIL_MAX];
} ParseError;

extern size_t digest_hash_bytes(DigestAlgorithm algorithm);
extern const char *digest_algorithm_name(DigestAlgorithm algorithm);
extern DigestAlgorithm digest_algorithm_from_name(const char *name, size_t len);

/*
 * Parses "algorithm:hex" (exactly len bytes, not NUL-terminated).  On failure
 * returns false and says why in err.
 */
extern bool digest_parse(const char *s, size_t len, Digest *out, ParseError *err);

/*
 * Whether a and b are the same digest: the same algorithm and hash.  The
 * one comparison of Digests; the bytes past the hash are not compared.
 */
extern bool digest_equal(const Digest *a, const Digest *b);

/* Writes the text form with a terminating NUL; returns its length. */
extern size_t digest_format(const Digest *d, char *buf);

/* Hashes data with the given algorithm (OpenSSL); false if OpenSSL failed. */
extern bool digest_compute(DigestAlgorithm algorithm, const void *data,
						   size_t len, Digest *out);

extern void parse_error_set(ParseError *err, const char *fmt,...)
			__attribute__((format(printf, 2, 3)));

#endif
