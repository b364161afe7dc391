/*
 * auth.c
 *		Answering a registry's WWW-Authenticate challenge.
 *
 * Credentials are read from imagestream.registry_credential (the longest
 * registry prefix of host/repository wins) by the extension owner, as the
 * import functions run; no secret leaves this file except in the
 * Authorization header sent to the registry or its token endpoint.
 *
 * The registry's origin is its API host and port over https (or plain http
 * when it is insecure).  Stored credentials and the tokens obtained with
 * them go to that origin, and the credentials to the token endpoint (realm)
 * that a challenge of that origin names, as OpenShift and containers/image
 * send them; nowhere else.  A request to another server (a tag list Link
 * elsewhere) carries nothing, and a challenge that came from another server
 * (after a redirect) is not answered.
 *
 * Over unverified TLS or plain HTTP, whoever is on the path reads or
 * answers the requests.  There the credentials, and the tokens obtained with
 * them, go only to a registry the superuser listed in
 * imagestream.insecure_registries; an editor's insecure import of another
 * registry is answered anonymously (RegistryTarget.credentials), and its
 * tokens are cached apart, so that no value obtained with the credentials
 * is sent on its requests.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "common/base64.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "auth.h"
#include "headers.h"
#include "json_fields.h"
#include "registry.h"

/* Authorization values that worked, per registry repository. */
typedef struct CachedAuth
{
	struct CachedAuth *next;
	char	   *key;
	char	   *authorization;
	TimestampTz expires;
} CachedAuth;

static CachedAuth *cache = NULL;

static const char *
cache_get(const char *key)
{
	CachedAuth *c;

	for (c = cache; c; c = c->next)
		if (strcmp(c->key, key) == 0)
			return c->expires > GetCurrentTimestamp() ? c->authorization : NULL;
	return NULL;
}

static void
cache_put(const char *key, const char *authorization, int seconds)
{
	CachedAuth *c;

	for (c = cache; c; c = c->next)
		if (strcmp(c->key, key) == 0)
			break;
	if (c == NULL)
	{
		c = MemoryContextAllocZero(TopMemoryContext, sizeof(CachedAuth));
		c->key = MemoryContextStrdup(TopMemoryContext, key);
		c->next = cache;
		cache = c;
	}
	else
		pfree(c->authorization);
	c->authorization = MemoryContextStrdup(TopMemoryContext, authorization);
	c->expires = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), seconds * 1000L);
}

/*
 * The stored credentials with the longest registry prefix of host/repository.
 * The worker fetches outside any transaction: then the lookup runs in a short
 * one of its own (SPI needs one), and the caller's memory context and
 * resource owner are restored after it.  The query names every operator and
 * function by schema, whatever search_path is in effect.
 */
static bool
lookup_credentials(const char *host, const char *repository, char **user, char **secret)
{
	MemoryContext caller = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	bool		own_transaction = !IsTransactionState();
	Oid			types[2] = {TEXTOID, TEXTOID};
	Datum		values[2];
	bool		found = false;

	values[0] = CStringGetTextDatum(host);
	values[1] = CStringGetTextDatum(psprintf("%s/%s", host, repository));
	if (own_transaction)
	{
		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		PushActiveSnapshot(GetTransactionSnapshot());
	}
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute_with_args(
							  "SELECT username, secret FROM imagestream.registry_credential "
							  "WHERE registry OPERATOR(pg_catalog.=) $1 "
							  "   OR pg_catalog.starts_with($2, registry OPERATOR(pg_catalog.||) '/') "
							  "ORDER BY pg_catalog.length(registry) DESC LIMIT 1",
							  2, types, values, NULL, true, 1) == SPI_OK_SELECT &&
		SPI_processed == 1)
	{
		*user = MemoryContextStrdup(caller, SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1));
		*secret = MemoryContextStrdup(caller, SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2));
		found = true;
	}
	SPI_finish();
	if (own_transaction)
	{
		PopActiveSnapshot();
		CommitTransactionCommand();
		MemoryContextSwitchTo(caller);
		CurrentResourceOwner = owner;
	}
	return found;
}

static char *
basic_authorization(const char *user, const char *secret)
{
	char	   *plain = psprintf("%s:%s", user, secret);
	int			len = strlen(plain);
	char	   *encoded = palloc(pg_b64_enc_len(len) + 1);
	int			n = pg_b64_encode(plain, len, encoded, pg_b64_enc_len(len));

	encoded[Max(n, 0)] = '\0';
	return psprintf("Basic %s", encoded);
}

/* A Bearer token from the challenge's realm; NULL (and *note) on failure. */
static char *
fetch_token(const Challenge *ch, const char *basic, bool verify_tls, int *seconds, char **note)
{
	HttpRequest req;
	HttpResponse resp;
	StringInfoData url;
	static const char *const fields[] = {"token", "access_token", "expires_in"};
	char	   *values[3];
	char	   *token;

	initStringInfo(&url);
	appendStringInfo(&url, "%s%s", ch->realm, strchr(ch->realm, '?') ? "&" : "?");
	appendStringInfo(&url, "service=%s", http_escape(ch->service));
	if (ch->scope[0])
		appendStringInfo(&url, "&scope=%s", http_escape(ch->scope));
	memset(&req, 0, sizeof(req));
	req.method = "GET";
	req.url = url.data;
	req.accept = "application/json";
	req.authorization = basic;
	req.max_body = 1024 * 1024;
	req.verify_tls = verify_tls;
	http_request(&req, &resp);
	if (resp.status != 200)
	{
		*note = resp.status == 0
			? psprintf("The token endpoint %s could not be reached: %s.", ch->realm, resp.error)
			: psprintf("The token endpoint %s answered HTTP %ld%s.", ch->realm, resp.status,
					   basic ? " to the stored credentials" : "");
		return NULL;
	}
	if (!json_top_fields(resp.body, resp.body_len, fields, 3, values) ||
		(values[0] == NULL && values[1] == NULL))
	{
		*note = psprintf("The token endpoint %s answered without a token.", ch->realm);
		return NULL;
	}
	token = values[0] ? values[0] : values[1];
	*seconds = 60;
	if (values[2] && atoi(values[2]) > 0)
		*seconds = atoi(values[2]);
	return psprintf("Bearer %s", token);
}

/* The cache key of a target: host/repository, set apart when anonymous. */
static char *
cache_key(const RegistryTarget *t)
{
	return psprintf("%s/%s%s", t->host, t->repository, t->credentials ? "" : " anonymous");
}

const char *
auth_cached(const RegistryTarget *t)
{
	return cache_get(cache_key(t));
}

static bool
same_origin(const char *a, const char *b)
{
	return a != NULL && b != NULL && strcmp(a, b) == 0;
}

/* Is url on the registry's origin (see the head of this file)? */
static bool
of_registry(const RegistryTarget *t, const char *url)
{
	char	   *origin = http_origin(url);

	return same_origin(origin, http_origin(psprintf("https://%s/", t->api_host))) ||
		(t->insecure && same_origin(origin, http_origin(psprintf("http://%s/", t->api_host))));
}

/*
 * Answers the challenge ch of the registry's origin to req: with basic (the
 * stored credentials as a Basic value) when it is not NULL, else
 * anonymously.
 */
static void
answer_challenge(const RegistryTarget *t, const Challenge *ch, const char *basic,
				 const char *key, HttpRequest *req, HttpResponse *resp, char **note)
{
	int			seconds = 0;
	char	   *authorization;
	char	   *realm_origin;

	if (pg_strcasecmp(ch->scheme, "Basic") == 0)
	{
		if (basic == NULL)
		{
			*note = "The registry asks for credentials and none are stored for it.";
			return;
		}
		req->authorization = basic;
		http_request(req, resp);
		if (resp->status == 401)
			*note = "The registry refused the stored credentials.";
		else
			cache_put(key, basic, 3600);
		return;
	}
	if (pg_strcasecmp(ch->scheme, "Bearer") != 0 || ch->realm[0] == '\0')
	{
		*note = psprintf("The registry asks for %s authentication, which is not supported.", ch->scheme);
		return;
	}

	/* a token endpoint over plain http would expose the credentials */
	realm_origin = http_origin(ch->realm);
	if (realm_origin == NULL || (strncmp(realm_origin, "https:", 6) != 0 && !t->insecure))
	{
		*note = psprintf("The registry's token endpoint %s is not an https URL (plain http is only for an insecure registry).",
						 ch->realm);
		return;
	}

	/* Bearer: a token with the credentials, then anonymously */
	authorization = fetch_token(ch, basic, req->verify_tls, &seconds, note);
	if (authorization == NULL && basic)
		authorization = fetch_token(ch, NULL, req->verify_tls, &seconds, note);
	if (authorization == NULL)
		return;
	req->authorization = authorization;
	http_request(req, resp);
	if (resp->status == 401 && basic)
	{
		char	   *anonymous = fetch_token(ch, NULL, req->verify_tls, &seconds, note);

		if (anonymous)
		{
			req->authorization = authorization = anonymous;
			http_request(req, resp);
		}
	}
	if (resp->status == 401)
	{
		if (*note == NULL)
			*note = basic ? "The registry refused the token obtained with the stored credentials."
				: "The registry refused an anonymous token; credentials may be needed.";
		return;
	}
	*note = NULL;
	/* keep the token a little less long than it lives */
	cache_put(key, authorization, Max(seconds - 10, 5));
}

void
auth_perform(const RegistryTarget *t, HttpRequest *req, HttpResponse *resp, char **note)
{
	char	   *key = cache_key(t);
	Challenge	ch;
	char	   *user = NULL;
	char	   *secret = NULL;
	bool		have_creds;

	*note = NULL;
	if (!of_registry(t, req->url))
	{
		req->authorization = NULL;
		http_request(req, resp);
		if (resp->status == 401)
			*note = psprintf("%s, where the registry sent the import, asks for authentication; the registry's credentials are only sent to the registry.",
							 http_origin(req->url));
		return;
	}
	req->authorization = cache_get(key);
	http_request(req, resp);
	if (resp->status != 401 || resp->www_authenticate == NULL)
		return;
	if (!of_registry(t, resp->effective_url))
	{
		*note = psprintf("%s, where the registry redirected, asks for authentication; the registry's credentials are only sent to the registry.",
						 http_origin(resp->effective_url));
		return;
	}
	if (!parse_challenge(resp->www_authenticate, &ch))
	{
		*note = "The registry's WWW-Authenticate challenge could not be read.";
		return;
	}
	have_creds = lookup_credentials(t->host, t->repository, &user, &secret);
	if (have_creds && !t->credentials)
	{
		/* withheld (see the head of this file): anonymously, and say why */
		answer_challenge(t, &ch, NULL, key, req, resp, note);
		if (resp->status == 401)
			*note = "The stored credentials are not sent over unverified TLS or plain HTTP (an insecure import); the registry must be listed in imagestream.insecure_registries to use them.";
		return;
	}
	answer_challenge(t, &ch, have_creds ? basic_authorization(user, secret) : NULL, key,
					 req, resp, note);
}
