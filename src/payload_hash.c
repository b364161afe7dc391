/*
 * payload_hash.c
 *		Hash support shared by image_digest and image_ref.
 *
 * Both types store a canonical encoding (equal values have equal bytes), so
 * hashing the bytes after the varlena header agrees with their equality.
 */
#include "postgres.h"

#include "common/hashfn.h"
#include "fmgr.h"

#include "compat.h"

PG_FUNCTION_INFO_V1(imagestream_payload_hash);
Datum
imagestream_payload_hash(PG_FUNCTION_ARGS)
{
	struct varlena *v = PG_GETARG_VARLENA_PP(0);

	return hash_any((unsigned char *) VARDATA_ANY(v), VARSIZE_ANY_EXHDR(v));
}

PG_FUNCTION_INFO_V1(imagestream_payload_hash_extended);
Datum
imagestream_payload_hash_extended(PG_FUNCTION_ARGS)
{
	struct varlena *v = PG_GETARG_VARLENA_PP(0);

	return hash_any_extended((unsigned char *) VARDATA_ANY(v),
							 VARSIZE_ANY_EXHDR(v), PG_GETARG_INT64(1));
}
