/*
 * cosign_sql.c
 *		The rules of cosign.c in SQL (src/sql/code/135_signatures.sql):
 *		_signature_key reads a key for add_trusted_key, _signature_verify
 *		is what the gates ask of a signature.
 *
 * Each argument is read no further than one byte past its limit (a slice
 * of a long value), so that an oversized one costs no more than that and
 * is refused by the rule that bounds it.
 */
#include "postgres.h"

#include "fmgr.h"
#include "funcapi.h"
#include "utils/builtins.h"

#include "cosign.h"
#include "digest_type.h"

PG_FUNCTION_INFO_V1(imagestream_signature_key);
Datum
imagestream_signature_key(PG_FUNCTION_ARGS)
{
	text	   *pem = PG_GETARG_TEXT_P_SLICE(0, 0, COSIGN_KEY_TEXT_MAX + 1);
	CosignKeyInfo info;
	CosignReason why;
	TupleDesc	tupdesc;
	Datum		values[2];
	bool		nulls[2] = {false, false};

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	if (!cosign_key_read(VARDATA(pem), VARSIZE(pem) - VARHDRSZ, &info, &why))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid public key"),
				 errdetail_internal("%s", why.text),
				 errhint("Give an ECDSA P-256 or Ed25519 public key in PEM, as openssl pkey -pubout writes it.")));
	values[0] = CStringGetTextDatum(cosign_algorithm_name(info.algorithm));
	values[1] = CStringGetTextDatum(info.fingerprint);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc), values, nulls)));
}

/*
 * NULL when the signature verifies for the digest, else why not.  Not
 * STRICT: a missing argument is a refusal, never a NULL that reads as
 * "verified".
 */
PG_FUNCTION_INFO_V1(imagestream_signature_verify);
Datum
imagestream_signature_verify(PG_FUNCTION_ARGS)
{
	bytea	   *payload;
	text	   *signature;
	text	   *pem;
	Digest		image;
	CosignReason why;

	if (PG_ARGISNULL(0))
		PG_RETURN_TEXT_P(cstring_to_text("There is no payload."));
	if (PG_ARGISNULL(1))
		PG_RETURN_TEXT_P(cstring_to_text("There is no signature."));
	if (PG_ARGISNULL(2))
		PG_RETURN_TEXT_P(cstring_to_text("There is no key."));
	if (PG_ARGISNULL(3))
		PG_RETURN_TEXT_P(cstring_to_text("There is no image digest."));
	payload = PG_GETARG_BYTEA_P_SLICE(0, 0, COSIGN_PAYLOAD_MAX + 1);
	signature = PG_GETARG_TEXT_P_SLICE(1, 0, COSIGN_SIGNATURE_TEXT_MAX + 1);
	pem = PG_GETARG_TEXT_P_SLICE(2, 0, COSIGN_KEY_TEXT_MAX + 1);
	datum_get_digest(PG_GETARG_DATUM(3), &image);
	if (cosign_verify(VARDATA(payload), VARSIZE(payload) - VARHDRSZ,
					  VARDATA(signature), VARSIZE(signature) - VARHDRSZ,
					  VARDATA(pem), VARSIZE(pem) - VARHDRSZ, &image, &why))
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(why.text));
}
