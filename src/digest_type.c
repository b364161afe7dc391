/*
 * digest_type.c
 *		SQL functions of imagestream.image_digest: I/O, comparison and
 *		accessors.  Parsing rules live in digest.c, hashing in payload_hash.c.
 *
 * Values are never toasted (at most 66 bytes), so the comparison functions
 * read them in place, short header or not, without copying.
 */
#include "postgres.h"

#include "fmgr.h"
#include "lib/stringinfo.h"
#include "libpq/pqformat.h"
#include "utils/builtins.h"
#include "utils/sortsupport.h"

#include "compat.h"
#include "digest_type.h"

Datum
digest_get_datum(const Digest *d)
{
	size_t		n = digest_hash_bytes(d->algorithm);
	struct varlena *v = palloc(VARHDRSZ + 1 + n);

	SET_VARSIZE(v, VARHDRSZ + 1 + n);
	((uint8 *) VARDATA(v))[0] = d->algorithm;
	memcpy(VARDATA(v) + 1, d->hash, n);
	return PointerGetDatum(v);
}

/* Reads a stored value, refusing one whose length does not fit its algorithm. */
static void
varlena_get_digest(struct varlena *v, Digest *out)
{
	const uint8 *p = (const uint8 *) VARDATA_ANY(v);
	size_t		len = VARSIZE_ANY_EXHDR(v);
	size_t		n = len > 0 ? digest_hash_bytes(p[0]) : 0;

	if (n == 0 || len != n + 1)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("corrupted image_digest value")));
	memset(out, 0, sizeof(*out));
	out->algorithm = p[0];
	memcpy(out->hash, p + 1, n);
}

void
datum_get_digest(Datum datum, Digest *out)
{
	varlena_get_digest((struct varlena *) PG_DETOAST_DATUM_PACKED(datum), out);
}

PG_FUNCTION_INFO_V1(image_digest_in);
Datum
image_digest_in(PG_FUNCTION_ARGS)
{
	char	   *s = PG_GETARG_CSTRING(0);
	Digest		d;
	ParseError	err;

	if (!digest_parse(s, strlen(s), &d, &err))
		INPUT_ERROR(fcinfo,
					errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
					errmsg("invalid input syntax for type %s: \"%s\"",
						   "image_digest", s),
					errdetail_internal("%s", err.detail));
	PG_RETURN_DATUM(digest_get_datum(&d));
}

PG_FUNCTION_INFO_V1(image_digest_out);
Datum
image_digest_out(PG_FUNCTION_ARGS)
{
	Digest		d;
	char	   *buf = palloc(DIGEST_MAX_TEXT);

	datum_get_digest(PG_GETARG_DATUM(0), &d);
	digest_format(&d, buf);
	PG_RETURN_CSTRING(buf);
}

/* Wire format: the algorithm byte, then exactly the hash's bytes. */
PG_FUNCTION_INFO_V1(image_digest_recv);
Datum
image_digest_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	Digest		d;
	int			algorithm;
	size_t		n;

	if (buf->cursor >= buf->len)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid external image_digest value"),
				 errdetail("The value is empty.")));
	algorithm = pq_getmsgbyte(buf);
	n = digest_hash_bytes(algorithm);
	if (n == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid external image_digest value"),
				 errdetail("Algorithm number %d is unknown; 1 is sha256 and 2 is sha512.",
						   algorithm)));
	if ((size_t) (buf->len - buf->cursor) != n)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid external image_digest value"),
				 errdetail("A %s hash has %zu bytes, not %d.",
						   digest_algorithm_name(algorithm), n,
						   buf->len - buf->cursor)));
	memset(&d, 0, sizeof(d));
	d.algorithm = algorithm;
	pq_copymsgbytes(buf, (char *) d.hash, n);
	PG_RETURN_DATUM(digest_get_datum(&d));
}

PG_FUNCTION_INFO_V1(image_digest_send);
Datum
image_digest_send(PG_FUNCTION_ARGS)
{
	Digest		d;
	StringInfoData buf;

	datum_get_digest(PG_GETARG_DATUM(0), &d);
	pq_begintypsend(&buf);
	pq_sendbyte(&buf, d.algorithm);
	pq_sendbytes(&buf, (char *) d.hash, digest_hash_bytes(d.algorithm));
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

/* Algorithm byte first, then the hash: sha256 values sort before sha512. */
static int
digest_cmp_internal(Datum a, Datum b)
{
	struct varlena *va = (struct varlena *) PG_DETOAST_DATUM_PACKED(a);
	struct varlena *vb = (struct varlena *) PG_DETOAST_DATUM_PACKED(b);
	size_t		la = VARSIZE_ANY_EXHDR(va);
	size_t		lb = VARSIZE_ANY_EXHDR(vb);
	int			r;

	r = memcmp(VARDATA_ANY(va), VARDATA_ANY(vb), Min(la, lb));
	r = r != 0 ? (r > 0) - (r < 0) : (la > lb) - (la < lb);
	if ((Pointer) va != DatumGetPointer(a))
		pfree(va);
	if ((Pointer) vb != DatumGetPointer(b))
		pfree(vb);
	return r;
}

#define DIGEST_CMP_FUNCTION(name, test) \
PG_FUNCTION_INFO_V1(name); \
Datum \
name(PG_FUNCTION_ARGS) \
{ \
	int			r = digest_cmp_internal(PG_GETARG_DATUM(0), PG_GETARG_DATUM(1)); \
	PG_RETURN_BOOL(test); \
}

DIGEST_CMP_FUNCTION(image_digest_eq, r == 0)
DIGEST_CMP_FUNCTION(image_digest_ne, r != 0)
DIGEST_CMP_FUNCTION(image_digest_lt, r < 0)
DIGEST_CMP_FUNCTION(image_digest_le, r <= 0)
DIGEST_CMP_FUNCTION(image_digest_gt, r > 0)
DIGEST_CMP_FUNCTION(image_digest_ge, r >= 0)

PG_FUNCTION_INFO_V1(image_digest_cmp);
Datum
image_digest_cmp(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(digest_cmp_internal(PG_GETARG_DATUM(0), PG_GETARG_DATUM(1)));
}

static int
digest_fastcmp(Datum a, Datum b, SortSupport ssup)
{
	return digest_cmp_internal(a, b);
}

PG_FUNCTION_INFO_V1(image_digest_sortsupport);
Datum
image_digest_sortsupport(PG_FUNCTION_ARGS)
{
	SortSupport ssup = (SortSupport) PG_GETARG_POINTER(0);

	ssup->comparator = digest_fastcmp;
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(image_digest_algorithm);
Datum
image_digest_algorithm(PG_FUNCTION_ARGS)
{
	Digest		d;

	datum_get_digest(PG_GETARG_DATUM(0), &d);
	PG_RETURN_TEXT_P(cstring_to_text(digest_algorithm_name(d.algorithm)));
}

PG_FUNCTION_INFO_V1(image_digest_hex);
Datum
image_digest_hex(PG_FUNCTION_ARGS)
{
	Digest		d;
	char		buf[DIGEST_MAX_TEXT];

	datum_get_digest(PG_GETARG_DATUM(0), &d);
	digest_format(&d, buf);
	PG_RETURN_TEXT_P(cstring_to_text(strchr(buf, ':') + 1));
}

PG_FUNCTION_INFO_V1(image_digest_content);
Datum
image_digest_content(PG_FUNCTION_ARGS)
{
	bytea	   *content = PG_GETARG_BYTEA_PP(0);
	text	   *name = PG_GETARG_TEXT_PP(1);
	DigestAlgorithm algorithm;
	Digest		d;

	algorithm = digest_algorithm_from_name(VARDATA_ANY(name),
										   VARSIZE_ANY_EXHDR(name));
	if (algorithm == DIGEST_NONE)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unsupported digest algorithm \"%s\"",
						text_to_cstring(name)),
				 errhint("Use sha256 or sha512.")));
	if (!digest_compute(algorithm, VARDATA_ANY(content),
						VARSIZE_ANY_EXHDR(content), &d))
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not compute %s digest",
						digest_algorithm_name(algorithm))));
	PG_RETURN_DATUM(digest_get_datum(&d));
}

/*
 * As OpenShift resolves "stream@prefix": the prefix may cover the hex part
 * alone or the whole "algorithm:hex" text.
 */
PG_FUNCTION_INFO_V1(image_digest_has_prefix);
Datum
image_digest_has_prefix(PG_FUNCTION_ARGS)
{
	Digest		d;
	text	   *prefix = PG_GETARG_TEXT_PP(1);
	size_t		plen = VARSIZE_ANY_EXHDR(prefix);
	char		buf[DIGEST_MAX_TEXT];
	size_t		len;
	const char *hex;

	datum_get_digest(PG_GETARG_DATUM(0), &d);
	len = digest_format(&d, buf);
	hex = strchr(buf, ':') + 1;
	PG_RETURN_BOOL((plen <= len && memcmp(buf, VARDATA_ANY(prefix), plen) == 0) ||
				   (plen <= strlen(hex) && memcmp(hex, VARDATA_ANY(prefix), plen) == 0));
}
