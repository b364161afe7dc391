/*
 * compat.h
 *		Differences between the PostgreSQL major versions we build against
 *		(13 to 17), kept in one place.
 */
#ifndef IMAGESTREAM_COMPAT_H
#define IMAGESTREAM_COMPAT_H

#include "postgres.h"

/*
 * Input functions report bad text as a soft error where the server supports
 * it (pg_input_is_valid, COPY ... ON_ERROR), and as an ERROR before 16.
 */
#if PG_VERSION_NUM >= 160000
#include "nodes/miscnodes.h"
#define INPUT_ERROR(fcinfo, ...) \
	ereturn((fcinfo)->context, (Datum) 0, __VA_ARGS__)
#else
#define INPUT_ERROR(fcinfo, ...) \
	do { ereport(ERROR, __VA_ARGS__); pg_unreachable(); } while (0)
#endif

/* JSON parser callbacks return a result from 16 on. */
#if PG_VERSION_NUM >= 160000
#define JSON_ACTION_RESULT JsonParseErrorType
#define JSON_ACTION_DONE return JSON_SUCCESS
#else
#define JSON_ACTION_RESULT void
#define JSON_ACTION_DONE return
#endif

/* The JSON lexer takes a context to fill (or NULL) from 16 on. */
#if PG_VERSION_NUM >= 160000
#define make_json_lexer(json, len, need_escapes) \
	makeJsonLexContextCstringLen(NULL, (json), (len), GetDatabaseEncoding(), (need_escapes))
#else
#define make_json_lexer(json, len, need_escapes) \
	makeJsonLexContextCstringLen((json), (len), GetDatabaseEncoding(), (need_escapes))
#endif

/* Ownership is checked by object class from 16 on. */
#include "utils/acl.h"
#if PG_VERSION_NUM >= 160000
#include "catalog/pg_database.h"
#define database_ownercheck(database, role) \
	object_ownercheck(DatabaseRelationId, (database), (role))
#else
#define database_ownercheck(database, role) pg_database_ownercheck((database), (role))
#endif

#endif
