/*
 * compat.h
 *		Differences between the PostgreSQL major versions we build against,
 *		kept in one place: 15 and 17 are built and tested (README.md).
 */
#ifndef IMAGESTREAM_COMPAT_H
#define IMAGESTREAM_COMPAT_H

#include "postgres.h"

/* The varlena macros (VARDATA, SET_VARSIZE, ...) left postgres.h for varatt.h in 16. */
#if PG_VERSION_NUM >= 160000
#include "varatt.h"
#endif

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

/*
 * A wait event set that lives across transactions (http_wait.c frees it):
 * 17 takes the resource owner to release it with (none here) and allocates
 * it in TopMemoryContext; before 17, the memory context is the argument.
 */
#if PG_VERSION_NUM >= 170000
#define create_session_wait_event_set(nevents) CreateWaitEventSet(NULL, (nevents))
#else
#define create_session_wait_event_set(nevents) CreateWaitEventSet(TopMemoryContext, (nevents))
#endif

/*
 * A GUC check hook's extra, which the GUC machinery frees: with free()
 * before 16, with guc_free() (a memory context's pfree) from 16 on.
 */
#if PG_VERSION_NUM >= 160000
#define guc_extra_alloc(size) guc_malloc(LOG, (size))
#define guc_extra_free(ptr) guc_free(ptr)
#else
#define guc_extra_alloc(size) malloc(size)
#define guc_extra_free(ptr) free(ptr)
#endif

/* This backend's local transaction id: part of its virtual one from 17 on. */
#if PG_VERSION_NUM >= 170000
#define my_local_xid() (MyProc->vxid.lxid)
#else
#define my_local_xid() (MyProc->lxid)
#endif

#endif
