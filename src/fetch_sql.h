/*
 * fetch_sql.h
 *		Between SQL values and fetches: the registry target of an image_ref,
 *		and a fetch result as a value of imagestream._fetched.  For the SQL
 *		entry points (fetch_sql.c) and the worker.
 */
#ifndef IMAGESTREAM_FETCH_SQL_H
#define IMAGESTREAM_FETCH_SQL_H

#include "access/tupdesc.h"

#include "fetch_many.h"

/*
 * The registry target of a source image_ref into *t, without credentials
 * (credentials.h); returns the reference to ask for, its digest or tag
 * (palloc'd).
 */
extern char *fetch_target(Datum ref, bool insecure, RegistryTarget *t);

/* A result as a value of the SQL type imagestream._fetched, described by desc. */
extern Datum fetch_result_datum(const FetchResult *r, TupleDesc desc);

/*
 * The same without the manifests (digests, media types, manifests and configs
 * NULL): for a tag whose result shares another's fetch.
 */
extern Datum fetch_result_datum_shared(const FetchResult *r, TupleDesc desc);

#endif
