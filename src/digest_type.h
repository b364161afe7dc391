/*
 * digest_type.h
 *		The SQL type imagestream.image_digest: a varlena holding the
 *		algorithm byte and the raw hash (34 bytes on disk for sha256).
 */
#ifndef IMAGESTREAM_DIGEST_TYPE_H
#define IMAGESTREAM_DIGEST_TYPE_H

#include "postgres.h"

#include "digest.h"

extern Datum digest_get_datum(const Digest *d);
extern void datum_get_digest(Datum datum, Digest *out);

#endif
