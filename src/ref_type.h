/*
 * ref_type.h
 *		The SQL type imagestream.image_ref: a normalised reference stored as
 *		its parts, so that accessors need no parsing.
 *
 * Layout after the varlena header (byte aligned, never compressed usefully):
 *		bytes 0-1	domain length, little endian (0..65535)
 *		byte  2		path length (1..255)
 *		byte  3		tag length (0 = no tag, at most 128)
 *		byte  4		digest algorithm (0 = no digest, else a DigestAlgorithm)
 *		then the domain, path and tag bytes and the raw digest hash.
 * The encoding of a normalised reference is unique, so equality is byte
 * equality of the payload.
 */
#ifndef IMAGESTREAM_REF_TYPE_H
#define IMAGESTREAM_REF_TYPE_H

#include "postgres.h"

#include "fmgr.h"

#include "reference.h"

#define REF_HEADER_BYTES 5
#define REF_DOMAIN_MAX 65535

/* Builds a value; reports ERRCODE_PROGRAM_LIMIT_EXCEEDED for a huge domain. */
extern Datum ref_get_datum(const ImageRefParts *p);

/* The parts of a value; they point into the (detoasted) value. */
extern void datum_get_ref(Datum datum, ImageRefParts *out);

/* Text input of image_ref, for DirectFunctionCall1. */
extern Datum image_ref_in(PG_FUNCTION_ARGS);

#endif
