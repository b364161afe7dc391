/*
 * fetch_many.h
 *		Fetching many sources at once: concurrent HEAD requests, one per
 *		upstream reference, then each distinct new digest once for all the
 *		sources that serve it.
 */
#ifndef IMAGESTREAM_FETCH_MANY_H
#define IMAGESTREAM_FETCH_MANY_H

#include "fetch.h"

/*
 * One source of fetch_many, and what came of it.  target.stored is the
 * caller's to set (credentials.h): the credentials of the namespace the
 * source is fetched for.
 */
typedef struct FetchItem
{
	RegistryTarget target;
	char	   *reference;		/* tag or digest */
	bool		has_known;		/* known: what the source served last time */
	Digest		known;
	bool		preserve;
	const char *prefer_os;
	const char *prefer_arch;
	bool		signatures;		/* a new image's signatures are looked up */
	bool		settled;		/* result set before any request: not asked */
	FetchResult result;
} FetchItem;

/*
 * Fetches many sources: their HEAD requests concurrently (at most max_total
 * at once, max_per_registry per registry), one for all the sources of one
 * upstream reference (the same registry, repository, reference, insecure
 * flag and stored credentials), whose answer is each one's; then each
 * distinct new digest once.  Results of one digest share their manifests.
 * Together they read at most imagestream.max_import_size: those left fail
 * (ManifestTooLarge).
 * An error raised while one source is fetched is that source's failure
 * (fetch_result_error).  A registry found unreachable fails its other
 * sources unasked, until the call returns.
 */
extern void fetch_many(FetchItem *items, int n, int max_total, int max_per_registry);

/*
 * Whether a whole fetch (of a new image, or of a source whose HEAD got no
 * answer) may be made for items[item]: take is asked before each, and a
 * fetch it refuses is not made (FETCH_DEFERRED).  A NULL allowance refuses
 * none.  (The worker's charges its import budget, worker_chunks.c.)
 */
typedef struct FetchAllowance
{
	bool		(*take) (void *arg, int item);
	void	   *arg;
} FetchAllowance;

/*
 * fetch_many in steps: the HEAD requests start at once and go on while the
 * caller polls (the worker records the previous chunk meanwhile); finish
 * waits for them and does the rest.  A cancelled one is not finished.  Once
 * budget (if not NULL) has run out, the sources that need more than a HEAD
 * request are not fetched (FETCH_DEFERRED); the first always is.  Nor are
 * those whose fetch allow (if not NULL) refuses.  A registry found
 * unreachable is remembered for remember_unreachable_ms (0: until
 * registry_hosts_forget_unreachable), in this fetch and the later ones:
 * their sources of it fail with the failure that found it, unasked.
 */
typedef struct FetchMany FetchMany;
extern FetchMany *fetch_many_start(FetchItem *items, int n, int max_total, int max_per_registry,
								   int remember_unreachable_ms, ReadBudget *budget,
								   const FetchAllowance *allow);
extern void fetch_many_poll(FetchMany *f);
extern void fetch_many_finish(FetchMany *f);
extern void fetch_many_cancel(FetchMany *f);

#endif
