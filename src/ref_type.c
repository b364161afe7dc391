/*
 * ref_type.c
 *		SQL functions of imagestream.image_ref: I/O, comparison and
 *		accessors.  The grammar lives in reference.c, hashing in payload_hash.c.
 */
#include "postgres.h"

#include "fmgr.h"
#include "lib/stringinfo.h"
#include "libpq/pqformat.h"
#include "utils/builtins.h"

#include "compat.h"
#include "digest_type.h"
#include "ref_type.h"

/* Version byte that starts the binary wire format; the text form follows. */
#define REF_WIRE_VERSION 1

Datum
ref_get_datum(const ImageRefParts *p)
{
	size_t		hash_len = p->has_digest ? digest_hash_bytes(p->digest.algorithm) : 0;
	size_t		len;
	struct varlena *v;
	uint8	   *out;

	if (p->domain_len > REF_DOMAIN_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("image reference registry host is too long"),
				 errdetail("The host is %zu bytes long; at most %d are supported.",
						   p->domain_len, REF_DOMAIN_MAX)));
	Assert(p->path_len >= 1 && p->path_len <= REF_PATH_MAX);
	Assert(p->tag_len <= REF_TAG_MAX);

	len = REF_HEADER_BYTES + p->domain_len + p->path_len + p->tag_len + hash_len;
	v = palloc(VARHDRSZ + len);
	SET_VARSIZE(v, VARHDRSZ + len);
	out = (uint8 *) VARDATA(v);
	out[0] = p->domain_len & 0xff;
	out[1] = p->domain_len >> 8;
	out[2] = (uint8) p->path_len;
	out[3] = (uint8) p->tag_len;
	out[4] = p->has_digest ? p->digest.algorithm : DIGEST_NONE;
	out += REF_HEADER_BYTES;
	memcpy(out, p->domain, p->domain_len);
	out += p->domain_len;
	memcpy(out, p->path, p->path_len);
	out += p->path_len;
	memcpy(out, p->tag, p->tag_len);
	out += p->tag_len;
	if (p->has_digest)
		memcpy(out, p->digest.hash, hash_len);
	return PointerGetDatum(v);
}

static void
varlena_get_ref(struct varlena *v, ImageRefParts *out)
{
	const uint8 *p = (const uint8 *) VARDATA_ANY(v);
	size_t		len = VARSIZE_ANY_EXHDR(v);
	size_t		hash_len = 0;

	if (len >= REF_HEADER_BYTES)
	{
		out->domain_len = p[0] | (p[1] << 8);
		out->path_len = p[2];
		out->tag_len = p[3];
		out->has_digest = p[4] != DIGEST_NONE;
		hash_len = digest_hash_bytes(p[4]);
	}
	if (len < REF_HEADER_BYTES || out->path_len == 0 ||
		(out->has_digest && hash_len == 0) ||
		len != REF_HEADER_BYTES + out->domain_len + out->path_len +
		out->tag_len + hash_len)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("corrupted image_ref value")));
	p += REF_HEADER_BYTES;
	out->domain = (const char *) p;
	out->path = out->domain + out->domain_len;
	out->tag = out->path + out->path_len;
	if (out->has_digest)
	{
		memset(&out->digest, 0, sizeof(out->digest));
		out->digest.algorithm = p[-1];
		memcpy(out->digest.hash, out->tag + out->tag_len, hash_len);
	}
}

void
datum_get_ref(Datum datum, ImageRefParts *out)
{
	varlena_get_ref((struct varlena *) PG_DETOAST_DATUM_PACKED(datum), out);
}

static bool
parse_cstring(const char *s, size_t len, ImageRefParts *parts, ParseError *err)
{
	char	   *scratch = palloc(len + REF_SCRATCH_EXTRA);

	return ref_parse_normalized(s, len, scratch, parts, err);
}

PG_FUNCTION_INFO_V1(image_ref_in);
Datum
image_ref_in(PG_FUNCTION_ARGS)
{
	char	   *s = PG_GETARG_CSTRING(0);
	ImageRefParts parts;
	ParseError	err;

	if (!parse_cstring(s, strlen(s), &parts, &err))
		INPUT_ERROR(fcinfo,
					errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
					errmsg("invalid input syntax for type %s: \"%s\"", "image_ref", s),
					errdetail_internal("%s", err.detail));
	PG_RETURN_DATUM(ref_get_datum(&parts));
}

static char *
ref_to_cstring(const ImageRefParts *p, bool familiar)
{
	char	   *buf = palloc(ref_text_length(p, familiar) + 1);

	ref_format(p, familiar, buf);
	return buf;
}

PG_FUNCTION_INFO_V1(image_ref_out);
Datum
image_ref_out(PG_FUNCTION_ARGS)
{
	ImageRefParts p;

	datum_get_ref(PG_GETARG_DATUM(0), &p);
	PG_RETURN_CSTRING(ref_to_cstring(&p, false));
}

/*
 * Wire format: a version byte, then the full text form.  The receiver parses
 * it with the same grammar as text input, so it accepts exactly what text
 * input accepts.
 */
PG_FUNCTION_INFO_V1(image_ref_recv);
Datum
image_ref_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	int			version;
	int			len;
	const char *text;
	ImageRefParts parts;
	ParseError	err;

	if (buf->cursor >= buf->len)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid external image_ref value"),
				 errdetail("The value is empty.")));
	version = pq_getmsgbyte(buf);
	if (version != REF_WIRE_VERSION)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid external image_ref value"),
				 errdetail("Format version %d is unknown; this server reads version %d.",
						   version, REF_WIRE_VERSION)));
	len = buf->len - buf->cursor;
	text = pq_getmsgbytes(buf, len);
	if (memchr(text, '\0', len) != NULL || !parse_cstring(text, len, &parts, &err))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid external image_ref value"),
				 errdetail_internal("%s", memchr(text, '\0', len) != NULL ?
									"The reference contains a zero byte." : err.detail)));
	PG_RETURN_DATUM(ref_get_datum(&parts));
}

PG_FUNCTION_INFO_V1(image_ref_send);
Datum
image_ref_send(PG_FUNCTION_ARGS)
{
	ImageRefParts p;
	StringInfoData buf;
	char	   *text;

	datum_get_ref(PG_GETARG_DATUM(0), &p);
	text = ref_to_cstring(&p, false);
	pq_begintypsend(&buf);
	pq_sendbyte(&buf, REF_WIRE_VERSION);
	pq_sendbytes(&buf, text, strlen(text));
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

static int
bytes_cmp(const char *a, size_t la, const char *b, size_t lb)
{
	int			r = memcmp(a, b, Min(la, lb));

	return r != 0 ? (r > 0) - (r < 0) : (la > lb) - (la < lb);
}

/* Orders by registry, repository, tag (none first), then digest (none first). */
static int
ref_cmp_internal(Datum a, Datum b)
{
	ImageRefParts pa;
	ImageRefParts pb;
	int			r;

	datum_get_ref(a, &pa);
	datum_get_ref(b, &pb);
	r = bytes_cmp(pa.domain, pa.domain_len, pb.domain, pb.domain_len);
	if (r == 0)
		r = bytes_cmp(pa.path, pa.path_len, pb.path, pb.path_len);
	if (r == 0)
		r = bytes_cmp(pa.tag, pa.tag_len, pb.tag, pb.tag_len);
	if (r == 0)
		r = (pa.has_digest > pb.has_digest) - (pa.has_digest < pb.has_digest);
	if (r == 0 && pa.has_digest)
		r = bytes_cmp((const char *) &pa.digest, sizeof(Digest),
					  (const char *) &pb.digest, sizeof(Digest));
	return r;
}

#define REF_CMP_FUNCTION(name, test) \
PG_FUNCTION_INFO_V1(name); \
Datum \
name(PG_FUNCTION_ARGS) \
{ \
	int			r = ref_cmp_internal(PG_GETARG_DATUM(0), PG_GETARG_DATUM(1)); \
	PG_RETURN_BOOL(test); \
}

REF_CMP_FUNCTION(image_ref_lt, r < 0)
REF_CMP_FUNCTION(image_ref_le, r <= 0)
REF_CMP_FUNCTION(image_ref_gt, r > 0)
REF_CMP_FUNCTION(image_ref_ge, r >= 0)

PG_FUNCTION_INFO_V1(image_ref_cmp);
Datum
image_ref_cmp(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(ref_cmp_internal(PG_GETARG_DATUM(0), PG_GETARG_DATUM(1)));
}

/* The encoding is canonical, so equality needs no decoding. */
static bool
ref_equal(FunctionCallInfo fcinfo)
{
	struct varlena *a = PG_GETARG_VARLENA_PP(0);
	struct varlena *b = PG_GETARG_VARLENA_PP(1);

	return VARSIZE_ANY_EXHDR(a) == VARSIZE_ANY_EXHDR(b) &&
		memcmp(VARDATA_ANY(a), VARDATA_ANY(b), VARSIZE_ANY_EXHDR(a)) == 0;
}

PG_FUNCTION_INFO_V1(image_ref_eq);
Datum
image_ref_eq(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(ref_equal(fcinfo));
}

PG_FUNCTION_INFO_V1(image_ref_ne);
Datum
image_ref_ne(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(!ref_equal(fcinfo));
}

PG_FUNCTION_INFO_V1(image_ref_registry);
Datum
image_ref_registry(PG_FUNCTION_ARGS)
{
	ImageRefParts p;

	datum_get_ref(PG_GETARG_DATUM(0), &p);
	if (p.domain_len == 0)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text_with_len(p.domain, p.domain_len));
}

PG_FUNCTION_INFO_V1(image_ref_repository);
Datum
image_ref_repository(PG_FUNCTION_ARGS)
{
	ImageRefParts p;

	datum_get_ref(PG_GETARG_DATUM(0), &p);
	PG_RETURN_TEXT_P(cstring_to_text_with_len(p.path, p.path_len));
}

PG_FUNCTION_INFO_V1(image_ref_tag);
Datum
image_ref_tag(PG_FUNCTION_ARGS)
{
	ImageRefParts p;

	datum_get_ref(PG_GETARG_DATUM(0), &p);
	if (p.tag_len == 0)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text_with_len(p.tag, p.tag_len));
}

PG_FUNCTION_INFO_V1(image_ref_digest);
Datum
image_ref_digest(PG_FUNCTION_ARGS)
{
	ImageRefParts p;

	datum_get_ref(PG_GETARG_DATUM(0), &p);
	if (!p.has_digest)
		PG_RETURN_NULL();
	PG_RETURN_DATUM(digest_get_datum(&p.digest));
}

PG_FUNCTION_INFO_V1(image_ref_name);
Datum
image_ref_name(PG_FUNCTION_ARGS)
{
	ImageRefParts p;
	char	   *buf;

	datum_get_ref(PG_GETARG_DATUM(0), &p);
	buf = palloc(ref_name_length(&p) + 1);
	ref_format_name(&p, buf);
	PG_RETURN_TEXT_P(cstring_to_text(buf));
}

PG_FUNCTION_INFO_V1(image_ref_familiar);
Datum
image_ref_familiar(PG_FUNCTION_ARGS)
{
	ImageRefParts p;

	datum_get_ref(PG_GETARG_DATUM(0), &p);
	PG_RETURN_TEXT_P(cstring_to_text(ref_to_cstring(&p, true)));
}

/* As the library's WithTag: a digest, if any, is kept. */
PG_FUNCTION_INFO_V1(image_ref_with_tag);
Datum
image_ref_with_tag(PG_FUNCTION_ARGS)
{
	ImageRefParts p;
	text	   *tag = PG_GETARG_TEXT_PP(1);
	ParseError	err;

	datum_get_ref(PG_GETARG_DATUM(0), &p);
	p.tag = VARDATA_ANY(tag);
	p.tag_len = VARSIZE_ANY_EXHDR(tag);
	if (!ref_tag_valid(p.tag, p.tag_len, &err))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid tag \"%s\"", text_to_cstring(tag)),
				 errdetail_internal("%s", err.detail)));
	PG_RETURN_DATUM(ref_get_datum(&p));
}

/* As the library's WithDigest: a tag, if any, is kept. */
PG_FUNCTION_INFO_V1(image_ref_with_digest);
Datum
image_ref_with_digest(PG_FUNCTION_ARGS)
{
	ImageRefParts p;

	datum_get_ref(PG_GETARG_DATUM(0), &p);
	datum_get_digest(PG_GETARG_DATUM(1), &p.digest);
	p.has_digest = true;
	PG_RETURN_DATUM(ref_get_datum(&p));
}
