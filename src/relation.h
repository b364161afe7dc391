/*
 * relation.h
 *		The extension's own tables, found by name in its schema (relation.c).
 */
#ifndef IMAGESTREAM_RELATION_H
#define IMAGESTREAM_RELATION_H

#include "postgres.h"

#include "access/attnum.h"

#define IMAGESTREAM_SCHEMA "imagestream"

/* The OID of imagestream.name, a table or an index; an error if missing. */
extern Oid	imagestream_relid(const char *name);

/* The attribute number of a column of one of those tables. */
extern AttrNumber imagestream_column(Oid relid, const char *name);

#endif
