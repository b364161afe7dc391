/*
 * registry.h
 *		The distribution API of one registry repository: manifests, blobs and
 *		tag lists, every body verified against its digest, failures turned
 *		into OpenShift's reasons.
 */
#ifndef IMAGESTREAM_REGISTRY_H
#define IMAGESTREAM_REGISTRY_H

#include "postgres.h"

#include "nodes/pg_list.h"

#include "digest.h"
#include "reference.h"

/*
 * What reading may still receive: every body this process receives counts
 * (http_bytes_received), token endpoint answers and error bodies included.
 * Each request may receive what is left and no more; then requests fail
 * (ManifestTooLarge, naming the setting) without being sent.
 */
typedef struct ReadBudget
{
	uint64		start;			/* http_bytes_received when it began */
	int			limit_kb;
	const char *setting;		/* the setting that sets the limit, for messages */
} ReadBudget;

extern void read_budget_start(ReadBudget *b, int limit_kb, const char *setting);
/* A budget of which already_read bytes were read before now (a listing's earlier pages). */
extern void read_budget_resume(ReadBudget *b, int limit_kb, const char *setting,
							   uint64 already_read);
extern uint64 read_budget_left(const ReadBudget *b);

/* "64 MB" for 65536 kB: a size setting as messages show it. */
extern char *size_text(int kb);

/*
 * Stored credentials of a registry repository (credentials.c finds them).
 * identity says whose they are and which version: the namespace they belong
 * to (or none: server-wide), the registry prefix they were stored for and a
 * hash of username and secret, so that it changes with them.  What is
 * obtained with them (tokens) is kept under it, for them alone.
 */
typedef struct RegistryCredentials
{
	char	   *username;
	char	   *secret;
	char	   *identity;
} RegistryCredentials;

/* Are a and b (either may be NULL: none) the same credentials? */
extern bool registry_same_credentials(const RegistryCredentials *a,
									  const RegistryCredentials *b);

typedef struct RegistryTarget
{
	char	   *host;			/* registry as written in the reference */
	char	   *api_host;		/* where requests go (Docker Hub's differs) */
	char	   *repository;
	bool		insecure;		/* plain HTTP and unverified TLS allowed */
	bool		credentials;	/* stored credentials may be sent: TLS is
								 * verified, or the superuser listed the
								 * registry in insecure_registries */
	const RegistryCredentials *stored;	/* of host/repository for the
										 * namespace the fetch is for, or
										 * NULL: set by the caller, sent only
										 * as auth.c allows */
	ReadBudget *budget;			/* what its requests may read, or NULL */
} RegistryTarget;

/* Why an operation failed. */
typedef struct RegistryFailure
{
	const char *reason;			/* NotFound, Unauthorized, ... */
	char	   *message;
	int			retry_after;	/* seconds, from a 429 */
	bool		unreachable;	/* no connection to the registry could be made */
} RegistryFailure;

typedef struct RegistryBody
{
	Digest		digest;
	char	   *content_type;	/* without parameters; may be NULL */
	char	   *data;
	size_t		len;
	bool		unchanged;		/* a HEAD found the known digest; no data */
} RegistryBody;

/*
 * The target of a reference's registry repository (palloc'd), with no
 * stored credentials: the caller attaches them (credentials.h).
 */
extern void registry_target(const ImageRefParts *ref, bool insecure, RegistryTarget *t);

/*
 * The manifest at reference (a tag, or a digest it must hash to).  With
 * known, one HEAD request first: the same Docker-Content-Digest means
 * unchanged.
 */
extern bool registry_get_manifest(const RegistryTarget *t, const char *reference,
								  const Digest *known, RegistryBody *out, RegistryFailure *f);

/*
 * The manifest at reference without that HEAD, asked with accept and at
 * most max_len bytes long (limit says how much, in messages): for manifests
 * that are not images, such as signatures.
 */
extern bool registry_get_manifest_within(const RegistryTarget *t, const char *reference,
										 const char *accept, size_t max_len, const char *limit,
										 RegistryBody *out, RegistryFailure *f);

/* A blob (at most imagestream.max_config_size) that must hash to d. */
extern bool registry_get_blob(const RegistryTarget *t, const Digest *d, RegistryBody *out,
							  RegistryFailure *f);

/* The same, at most max_len bytes long (limit says how much, in messages). */
extern bool registry_get_blob_within(const RegistryTarget *t, const Digest *d, size_t max_len,
									 const char *limit, RegistryBody *out, RegistryFailure *f);

/*
 * The OCI 1.1 referrers index of d (GET referrers/<d>, filtered by
 * artifact_type where the registry filters), at most max_len bytes long, in
 * *out (no digest: the registry makes it up).  *supported false when the
 * registry has no referrers API; false, with the failure, when it answered
 * otherwise.
 */
extern bool registry_get_referrers(const RegistryTarget *t, const Digest *d,
								   const char *artifact_type, size_t max_len, const char *limit,
								   RegistryBody *out, bool *supported, RegistryFailure *f);

/* Most pages one listing of a tag list reads. */
#define TAG_PAGES_MAX 1000

/*
 * The tags (char *) of the repository's tag list, in the registry's order,
 * following Link rel="next": all the pages together at most
 * imagestream.max_tag_list_size, read one at a time; only the names are
 * kept, in the memory context current at the call.  Names that are not
 * valid tags are left out.
 */
extern bool registry_get_tags(const RegistryTarget *t, List **tags, RegistryFailure *f);

/*
 * One page of it, one request: url NULL for the first page, else the *next
 * an earlier page gave.  Its tags are appended to *tags, and *next is the
 * next page's URL or NULL, both in the current memory context.  For the
 * worker, which reads a page at a time between its other work.
 */
extern bool registry_get_tags_page(const RegistryTarget *t, const char *url, List **tags,
								   char **next, RegistryFailure *f);

/*
 * For an insecure registry not yet reached by this process: finds whether it
 * speaks HTTPS or only plain HTTP (GET /v2/, once or twice), so that the
 * HEAD requests of a batch use the scheme that answers.
 */
extern void registry_settle_scheme(const RegistryTarget *t);

/*
 * Prepares the HEAD of a manifest for http_batch, with the scheme and token
 * that worked before; false when policy forbids the registry (a full fetch
 * then reports why).
 */
struct HttpBatchItem;
extern bool registry_prepare_head(const RegistryTarget *t, const char *reference,
								  struct HttpBatchItem *item);

/*
 * Whether the answer to such a HEAD is a failure to report as it is (any
 * status but 200, and 401, which needs the authentication a GET does).
 */
struct HttpResponse;
extern bool registry_head_failed(const RegistryTarget *t, const char *reference,
								 const struct HttpResponse *resp, RegistryFailure *f);

#endif
