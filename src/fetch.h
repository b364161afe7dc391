/*
 * fetch.h
 *		Fetching what an image reference points at, as an import needs it:
 *		the image, or for a manifest list its chosen child (Legacy) or the
 *		list with every child (PreserveOriginal), with their config blobs.
 */
#ifndef IMAGESTREAM_FETCH_H
#define IMAGESTREAM_FETCH_H

#include "access/tupdesc.h"
#include "registry.h"

typedef enum FetchStatus
{
	FETCH_SUCCESS,
	FETCH_UNCHANGED,
	FETCH_FAILURE,
	FETCH_DEFERRED				/* not fetched: fetch_many's budget ran out */
} FetchStatus;

/* One manifest to catalogue, with its config blob (NULL for an index). */
typedef struct FetchedManifest
{
	Digest		digest;
	char	   *media_type;
	char	   *manifest;
	size_t		manifest_len;
	char	   *config;
	size_t		config_len;
} FetchedManifest;

typedef struct FetchResult
{
	FetchStatus status;
	RegistryFailure failure;	/* on FETCH_FAILURE */
	Digest		image;			/* what the tag is to point at */
	Digest		source_digest;	/* what the registry served for the reference */
	List	   *manifests;		/* FetchedManifest *, children before their index */
} FetchResult;

/*
 * Fetches reference (a tag or digest) of target.  With known (the digest the
 * source served last time) an unchanged source costs one HEAD request.  It
 * reads no more than the target's budget, or imagestream.max_import_size
 * when it has none; a PreserveOriginal import reads each child of an index
 * once, and no more than imagestream.max_index_children of them.
 */
extern void fetch_source(const RegistryTarget *target, const char *reference, bool preserve,
						 const Digest *known, const char *prefer_os, const char *prefer_arch,
						 FetchResult *r);

/* A result as a value of the SQL type imagestream._fetched, described by desc. */
extern Datum fetch_result_datum(const FetchResult *r, TupleDesc desc);

/*
 * The same without the manifests (digests, media types, manifests and configs
 * NULL): for a tag whose result shares another's fetch.
 */
extern Datum fetch_result_datum_shared(const FetchResult *r, TupleDesc desc);

/*
 * A failure (InternalError) that says what error stopped the fetch or
 * reading of a source (caught by run_isolated, isolate.h).
 */
extern void fetch_result_error(FetchResult *r, const ErrorData *e);

/* The reference part of a source image_ref to ask for: its digest, or tag. */
extern void source_reference(Datum ref, char *reference, size_t size);

/* One source of fetch_many, and what came of it. */
typedef struct FetchItem
{
	RegistryTarget target;
	char	   *reference;		/* tag or digest */
	bool		has_known;		/* known: what the source served last time */
	Digest		known;
	bool		preserve;
	const char *prefer_os;
	const char *prefer_arch;
	bool		settled;		/* result set before any request: not asked */
	FetchResult result;
} FetchItem;

/*
 * Fetches many sources: their HEAD requests concurrently (at most max_total
 * at once, max_per_registry per registry), then each distinct new digest
 * once.  Results of one digest share their manifests.  Together they read
 * at most imagestream.max_import_size: those left fail (ManifestTooLarge).
 * An error raised while one source is fetched is that source's failure
 * (fetch_result_error).
 */
extern void fetch_many(FetchItem *items, int n, int max_total, int max_per_registry);

/*
 * Registries fetch_many found unreachable, each remembered for remember_ms
 * (0: as long as the list lives): their sources fail with the failure
 * that found them, unasked.  The worker keeps one across its cycles.
 */
typedef struct UnreachableHosts
{
	MemoryContext ctx;			/* where the entries live */
	int			remember_ms;
	List	   *hosts;
} UnreachableHosts;

/* Empties the list (and resets its context) once every entry expired. */
extern void unreachable_forget_expired(UnreachableHosts *down);

/*
 * fetch_many in steps: the HEAD requests start at once and go on while the
 * caller polls (the worker records the previous chunk meanwhile); finish
 * waits for them and does the rest.  A cancelled one is not finished.  Once
 * budget (if not NULL) has run out, the sources that need more than a HEAD
 * request are not fetched (FETCH_DEFERRED); the first always is.
 */
typedef struct FetchMany FetchMany;
extern FetchMany *fetch_many_start(FetchItem *items, int n, int max_total, int max_per_registry,
								   UnreachableHosts *down, ReadBudget *budget);
extern void fetch_many_poll(FetchMany *f);
extern void fetch_many_finish(FetchMany *f);
extern void fetch_many_cancel(FetchMany *f);

#endif
