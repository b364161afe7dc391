/*
 * auth.c
 *		Answering a registry's WWW-Authenticate challenge.
 *
 * The stored credentials come with the target (RegistryTarget.stored): the
 * caller read them from imagestream.registry_credential (credentials.c), so
 * that no query runs here.  No secret leaves this file except in the
 * Authorization header sent to the registry or its token endpoint, and in
 * the values that worked, which the table of registry hosts keeps until they
 * expire (registry_hosts.c).
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
 *
 * Credentials belong to a namespace, or are server-wide; the caller hands
 * down those of the namespace the fetch is for.  What is obtained with them
 * is kept under their identity (cache_key), never under the repository
 * alone, so that one namespace's token is never sent for another's import.
 */
#include "postgres.h"

#include "common/base64.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"

#include "auth.h"
#include "headers.h"
#include "json_fields.h"
#include "registry.h"
#include "registry_hosts.h"

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

/*
 * The key of a target's Authorization value among its host's:
 * host/repository and the identity of the stored credentials it sends (a
 * namespace's, or the server-wide ones, of a version: registry.h), or
 * anonymous, set apart again when over a connection that is not verified.
 * So a value obtained with one namespace's credentials serves their
 * imports alone, and no longer once they change or are dropped; a
 * namespace with credentials never takes an anonymous value, nor one
 * without them a value obtained with credentials.
 */
static char *
cache_key(const RegistryTarget *t)
{
	if (t->stored && t->credentials)
		return psprintf("%s/%s %s", t->host, t->repository, t->stored->identity);
	return psprintf("%s/%s anonymous%s", t->host, t->repository, t->credentials ? "" : " unverified");
}

static const char *
cache_get(const RegistryTarget *t, const char *key)
{
	const char *cached = registry_host_authorization(t->api_host, key);

	/* a copy: the table may drop its own once it expires */
	return cached ? pstrdup(cached) : NULL;
}

static void
cache_put(const RegistryTarget *t, const char *key, const char *authorization, int seconds)
{
	registry_host_set_authorization(t->api_host, key, authorization, seconds);
}

const char *
auth_cached(const RegistryTarget *t)
{
	return cache_get(t, cache_key(t));
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
			cache_put(t, key, basic, 3600);
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
	cache_put(t, key, authorization, Max(seconds - 10, 5));
}

void
auth_perform(const RegistryTarget *t, HttpRequest *req, HttpResponse *resp, char **note)
{
	char	   *key = cache_key(t);
	Challenge	ch;
	const RegistryCredentials *creds = t->stored;

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
	req->authorization = cache_get(t, key);
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
	if (creds && !t->credentials)
	{
		/* withheld (see the head of this file): anonymously, and say why */
		answer_challenge(t, &ch, NULL, key, req, resp, note);
		if (resp->status == 401)
			*note = "The stored credentials are not sent over unverified TLS or plain HTTP (an insecure import); the registry must be listed in imagestream.insecure_registries to use them.";
		return;
	}
	answer_challenge(t, &ch, creds ? basic_authorization(creds->username, creds->secret) : NULL,
					 key, req, resp, note);
}
