/*
 * registry_hosts.c
 *		The registry hosts this process talked to (registry_hosts.h).
 *
 * One entry per API host, in a hash table of this process that lives as long
 * as it does, as the connections libcurl keeps to the hosts do: an insecure
 * registry's scheme is found once, an unchanged check then costs one
 * request; a token is asked for once per repository while it lives; a host
 * that cannot be reached is not waited for again by each source.
 *
 * Authorization values are secrets (a token, or Basic credentials): they are
 * kept no longer than they are valid, and their bytes are wiped as they go.
 * Their key (auth.c's) names the registry repository and the credentials
 * they were obtained with (tokens are scoped to one repository, and
 * credentials belong to one namespace or are server-wide), so they stay
 * apart within their host's entry.  Once a minute, at most, the table is pruned
 * of expired values and of entries that no longer hold anything.
 *
 * A registry chooses its tokens' size and lifetime, and a tenant chooses the
 * registries and repositories: what the table keeps is bounded, so that no
 * one can grow a backend or the worker by them.  A value longer than
 * AUTHORIZATION_KEPT_MAX is used for its request and not kept; at most
 * AUTHORIZATIONS_MAX values and HOSTS_MAX hosts are kept, and beyond them
 * what is new is not remembered (it is asked for again when needed).
 * Whatever fails (out of memory) while a value is stored leaves the table
 * consistent: the new copy is made before the old one goes.
 */
#include "postgres.h"

#include <netdb.h>

#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "registry_hosts.h"

/* A host name longer than this resolves nowhere: it gets no entry. */
#define HOST_KEY_SIZE NI_MAXHOST

#define PRUNE_INTERVAL_MS 60000

/* what real registries' tokens need, many times over (a JWT is 1-3 kB) */
#define AUTHORIZATION_KEPT_MAX 8192
#define AUTHORIZATIONS_MAX 1024
#define HOSTS_MAX 1024

typedef struct HostAuthorization
{
	char	   *key;
	char	   *authorization;
	TimestampTz expires;
} HostAuthorization;

typedef struct RegistryHost
{
	char		api_host[HOST_KEY_SIZE];	/* hash key */
	HostScheme	scheme;
	bool		unreachable;
	TimestampTz unreachable_until;	/* 0: until forgotten */
	RegistryFailure failure;	/* that found it unreachable */
	List	   *authorizations; /* HostAuthorization * */
} RegistryHost;

static HTAB *hosts = NULL;
static MemoryContext hosts_ctx = NULL;	/* what the entries point to */
static TimestampTz next_prune = 0;
static int	authorizations_kept = 0;

static void
forget_authorization(HostAuthorization *a)
{
	explicit_bzero(a->authorization, strlen(a->authorization));
	pfree(a->authorization);
	/* (a key names credentials by a hash of their secret: auth.c) */
	explicit_bzero(a->key, strlen(a->key));
	pfree(a->key);
	pfree(a);
	authorizations_kept--;
	Assert(authorizations_kept >= 0);
}

static void
forget_unreachable(RegistryHost *h)
{
	if (!h->unreachable)
		return;
	if (h->failure.message)
		pfree(h->failure.message);
	memset(&h->failure, 0, sizeof(h->failure));
	h->unreachable = false;
	h->unreachable_until = 0;
}

/* Drops what expired from h; true when nothing is left in it. */
static bool
prune_entry(RegistryHost *h, TimestampTz now)
{
	ListCell   *lc;

	foreach(lc, h->authorizations)
	{
		HostAuthorization *a = lfirst(lc);

		if (a->expires <= now)
		{
			h->authorizations = foreach_delete_current(h->authorizations, lc);
			forget_authorization(a);
		}
	}
	if (h->unreachable && h->unreachable_until != 0 && now >= h->unreachable_until)
		forget_unreachable(h);
	return h->scheme == HOST_SCHEME_UNKNOWN && !h->unreachable && h->authorizations == NIL;
}

static void
prune(TimestampTz now)
{
	HASH_SEQ_STATUS seq;
	RegistryHost *h;

	hash_seq_init(&seq, hosts);
	while ((h = hash_seq_search(&seq)) != NULL)
		if (prune_entry(h, now))
			hash_search(hosts, h->api_host, HASH_REMOVE, NULL);
	next_prune = TimestampTzPlusMilliseconds(now, PRUNE_INTERVAL_MS);
}

/* The entry of api_host, pruned; NULL when there is none and !create. */
static RegistryHost *
host_entry(const char *api_host, bool create)
{
	TimestampTz now = GetCurrentTimestamp();
	RegistryHost *h;
	bool		found;

	if (strlen(api_host) >= HOST_KEY_SIZE)
		return NULL;
	if (hosts == NULL)
	{
		HASHCTL		ctl;

		hosts_ctx = AllocSetContextCreate(TopMemoryContext, "imagestream registry hosts",
										  ALLOCSET_SMALL_SIZES);
		ctl.keysize = HOST_KEY_SIZE;
		ctl.entrysize = sizeof(RegistryHost);
		ctl.hcxt = hosts_ctx;
		hosts = hash_create("imagestream registry hosts", 16, &ctl,
							HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
		next_prune = TimestampTzPlusMilliseconds(now, PRUNE_INTERVAL_MS);
	}
	else if (now >= next_prune)
		prune(now);
	h = hash_search(hosts, api_host, HASH_FIND, &found);
	if (h == NULL && create && hash_get_num_entries(hosts) >= HOSTS_MAX)
		prune(now);
	if (h == NULL && create && hash_get_num_entries(hosts) < HOSTS_MAX)
		h = hash_search(hosts, api_host, HASH_ENTER, &found);
	if (h == NULL)
		return NULL;
	if (!found)
	{
		h->scheme = HOST_SCHEME_UNKNOWN;
		h->unreachable = false;
		h->unreachable_until = 0;
		memset(&h->failure, 0, sizeof(h->failure));
		h->authorizations = NIL;
	}
	else
		(void) prune_entry(h, now);
	return h;
}

HostScheme
registry_host_scheme(const char *api_host)
{
	RegistryHost *h = host_entry(api_host, false);

	return h ? h->scheme : HOST_SCHEME_UNKNOWN;
}

void
registry_host_set_scheme(const char *api_host, HostScheme scheme)
{
	RegistryHost *h = host_entry(api_host, true);

	if (h)
		h->scheme = scheme;
}

const char *
registry_host_authorization(const char *api_host, const char *key)
{
	RegistryHost *h = host_entry(api_host, false);
	ListCell   *lc;

	if (h == NULL)
		return NULL;
	foreach(lc, h->authorizations)
	{
		HostAuthorization *a = lfirst(lc);

		if (strcmp(a->key, key) == 0)
			return a->authorization;
	}
	return NULL;
}

void
registry_host_set_authorization(const char *api_host, const char *key,
								const char *authorization, int seconds)
{
	RegistryHost *h;
	HostAuthorization *a = NULL;
	ListCell   *lc;
	char	   *copy;
	TimestampTz expires = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), seconds * 1000L);

	if (strlen(authorization) > AUTHORIZATION_KEPT_MAX ||
		(h = host_entry(api_host, true)) == NULL)
		return;
	foreach(lc, h->authorizations)
		if (strcmp(((HostAuthorization *) lfirst(lc))->key, key) == 0)
			a = lfirst(lc);
	if (a == NULL && authorizations_kept >= AUTHORIZATIONS_MAX)
	{
		prune(GetCurrentTimestamp());
		if (authorizations_kept >= AUTHORIZATIONS_MAX)
			return;
		/* (the prune may have removed h's entry: it holds nothing) */
		if ((h = host_entry(api_host, true)) == NULL)
			return;
	}
	copy = MemoryContextStrdup(hosts_ctx, authorization);
	if (a != NULL)
	{
		char	   *old = a->authorization;

		a->authorization = copy;
		a->expires = expires;
		explicit_bzero(old, strlen(old));
		pfree(old);
		return;
	}
	a = MemoryContextAlloc(hosts_ctx, sizeof(HostAuthorization));
	a->key = MemoryContextStrdup(hosts_ctx, key);
	a->authorization = copy;
	a->expires = expires;
	{
		MemoryContext old = MemoryContextSwitchTo(hosts_ctx);

		h->authorizations = lappend(h->authorizations, a);
		MemoryContextSwitchTo(old);
	}
	authorizations_kept++;
}

const RegistryFailure *
registry_host_unreachable(const char *api_host)
{
	RegistryHost *h = host_entry(api_host, false);

	return h && h->unreachable ? &h->failure : NULL;
}

void
registry_host_set_unreachable(const char *api_host, const RegistryFailure *f, int remember_ms)
{
	RegistryHost *h = host_entry(api_host, true);
	char	   *message;

	if (h == NULL)
		return;
	message = f->message ? MemoryContextStrdup(hosts_ctx, f->message) : NULL;
	forget_unreachable(h);
	h->failure = *f;
	h->failure.message = message;
	h->unreachable_until = remember_ms > 0
		? TimestampTzPlusMilliseconds(GetCurrentTimestamp(), remember_ms) : 0;
	h->unreachable = true;
}

void
registry_hosts_forget_unreachable(void)
{
	HASH_SEQ_STATUS seq;
	RegistryHost *h;

	if (hosts == NULL)
		return;
	hash_seq_init(&seq, hosts);
	while ((h = hash_seq_search(&seq)) != NULL)
		if (h->unreachable && h->unreachable_until == 0)
			forget_unreachable(h);
}
