/*
 * registry.c
 *		The registry client of SPEC section 5 (OCI distribution / Docker
 *		Registry HTTP API V2): manifests, blobs and tag lists, every body
 *		verified against its digest, failures turned into OpenShift's reasons.
 *
 * The SQL functions here do network I/O only; import.sql decides what to
 * fetch and records the results by the rules of the model.
 */
#include "postgres.h"

#include <curl/curl.h>

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/builtins.h"

#include "auth.h"
#include "digest_type.h"
#include "headers.h"
#include "http.h"
#include "policy.h"
#include "ref_type.h"
#include "settings.h"

#define MANIFEST_TYPES \
	"application/vnd.oci.image.index.v1+json, " \
	"application/vnd.docker.distribution.manifest.list.v2+json, " \
	"application/vnd.oci.image.manifest.v1+json, " \
	"application/vnd.docker.distribution.manifest.v2+json"

#define CONFIG_MAX_BYTES (16 * 1024 * 1024)
#define TAG_PAGES_MAX 1000

typedef struct Target
{
	char	   *host;			/* registry as written in the reference */
	char	   *api_host;		/* where requests go (Docker Hub's differs) */
	char	   *repository;
	bool		insecure;		/* plain HTTP and unverified TLS allowed */
} Target;

/* The outcome of one operation, as the SQL functions return it. */
typedef struct Outcome
{
	const char *status;			/* "ok", "unchanged" or "failed" */
	const char *reason;
	char	   *message;
	int			retry_after;	/* seconds, from a 429 */
} Outcome;

static void
fail(Outcome *o, const char *reason, const char *fmt,...) pg_attribute_printf(3, 4);

static void
fail(Outcome *o, const char *reason, const char *fmt,...)
{
	va_list		ap;
	StringInfoData buf;

	initStringInfo(&buf);
	for (;;)
	{
		int			needed;

		va_start(ap, fmt);
		needed = appendStringInfoVA(&buf, fmt, ap);
		va_end(ap);
		if (needed == 0)
			break;
		enlargeStringInfo(&buf, needed);
	}
	o->status = "failed";
	o->reason = reason;
	o->message = buf.data;
}

static void
target_init(Datum ref, bool insecure, Target *t)
{
	ImageRefParts p;

	datum_get_ref(ref, &p);
	if (p.domain_len == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("image reference \"%.*s\" names no registry", (int) p.path_len, p.path)));
	t->host = pnstrdup(p.domain, p.domain_len);
	t->repository = pnstrdup(p.path, p.path_len);
	t->api_host = strcmp(t->host, "docker.io") == 0 ? pstrdup("registry-1.docker.io") : t->host;
	t->insecure = insecure || policy_registry_insecure(t->host);
}

/* Whether a failed HTTPS attempt found a server that only speaks HTTP. */
static bool
answers_plain_http(const Target *t)
{
	HttpRequest req = {0};
	HttpResponse resp;

	req.method = "GET";
	req.url = psprintf("http://%s/v2/", t->api_host);
	req.max_body = 64 * 1024;
	http_request(&req, &resp);
	return resp.status > 0;
}

/*
 * One request to the registry API at path (below /v2/<repository>/ unless
 * absolute_url), HTTPS first and plain HTTP too for an insecure registry.
 * False, with the failure in o, when no HTTP answer came or the answer was
 * an authentication refusal.
 */
static bool
registry_request(const Target *t, const char *path, const char *absolute_url,
				 const char *method, const char *accept, size_t max_body,
				 HttpResponse *resp, Outcome *o)
{
	static const char *const schemes[] = {"https", "http"};
	char		why[512];
	int			i;
	char	   *note = NULL;

	if (!policy_registry_allowed(t->host, why, sizeof(why)))
	{
		fail(o, "Forbidden", "%s", why);
		return false;
	}
	for (i = 0; i < (t->insecure ? 2 : 1); i++)
	{
		HttpRequest req = {0};

		req.method = method;
		req.url = absolute_url ? absolute_url
			: psprintf("%s://%s/v2/%s/%s", schemes[i], t->api_host, t->repository, path);
		req.accept = accept;
		req.max_body = max_body;
		req.verify_tls = !t->insecure;
		auth_perform(t->host, t->repository, &req, resp, &note);
		if (resp->status > 0 || resp->blocked || absolute_url)
			break;
	}
	if (resp->blocked)
	{
		fail(o, "Forbidden", "The connection to %s was refused: address %s is in imagestream.blocked_networks.",
			 t->api_host, resp->blocked_address);
		return false;
	}
	if (resp->status == 0 && !resp->too_large)
	{
		switch (resp->curl_code)
		{
			case CURLE_OPERATION_TIMEDOUT:
				fail(o, "Timeout", "Registry %s did not answer within imagestream.request_timeout: %s.",
					 t->api_host, resp->error);
				break;
			case CURLE_TOO_MANY_REDIRECTS:
				fail(o, "InternalError", "Registry %s redirected more than 5 times.", t->api_host);
				break;
			case CURLE_UNSUPPORTED_PROTOCOL:
				fail(o, "Forbidden", "Registry %s redirected to a URL that is not http or https.", t->api_host);
				break;
			case CURLE_SSL_CONNECT_ERROR:
			case CURLE_RECV_ERROR:
				if (!t->insecure && answers_plain_http(t))
				{
					fail(o, "InsecureRequired",
						 "Registry %s answers only plain HTTP; import it as insecure or list it in imagestream.insecure_registries.",
						 t->api_host);
					break;
				}
				/* FALLTHROUGH */
			default:
				fail(o, "InternalError", "Registry %s could not be reached: %s.", t->api_host, resp->error);
		}
		return false;
	}
	if (resp->status == 401)
	{
		fail(o, "Unauthorized", "Registry %s refused access to %s. %s", t->api_host, t->repository,
			 note ? note : "");
		return false;
	}
	return true;
}

/* A failure for an HTTP status that is not a success. */
static void
fail_status(const Target *t, const char *what, const HttpResponse *resp, Outcome *o)
{
	switch (resp->status)
	{
		case 403:
			fail(o, "Forbidden", "Registry %s forbids access to %s.", t->api_host, what);
			break;
		case 404:
			fail(o, "NotFound", "Registry %s has no %s.", t->api_host, what);
			break;
		case 429:
			o->retry_after = resp->retry_after ? atoi(resp->retry_after) : 0;
			fail(o, "TooManyRequests", "Registry %s asked to slow down%s.", t->api_host,
				 resp->retry_after ? psprintf(" (Retry-After: %s)", resp->retry_after) : "");
			break;
		default:
			fail(o, "InternalError", "Registry %s answered HTTP %ld for %s.", t->api_host, resp->status, what);
	}
}

/*
 * Checks a body against the digest it must have: the one asked for, or the
 * one the registry announced.  The digest is computed over the exact bytes.
 */
static bool
verify_body(const HttpResponse *resp, const Digest *expected, const char *what,
			Digest *out, Outcome *o)
{
	Digest		announced;
	ParseError	err;
	DigestAlgorithm algorithm = expected ? expected->algorithm : DIGEST_SHA256;
	bool		have_announced = false;

	if (resp->docker_content_digest)
	{
		if (!digest_parse(resp->docker_content_digest, strlen(resp->docker_content_digest),
						  &announced, &err))
		{
			fail(o, "DigestMismatch", "The registry announced an invalid digest for %s: %s", what, err.detail);
			return false;
		}
		have_announced = true;
		if (!expected)
			algorithm = announced.algorithm;
	}
	if (!digest_compute(algorithm, resp->body, resp->body_len, out))
		ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR), errmsg("could not compute a digest")));
	if ((expected && memcmp(out, expected, sizeof(Digest)) != 0) ||
		(have_announced && announced.algorithm == out->algorithm &&
		 memcmp(out, &announced, sizeof(Digest)) != 0))
	{
		char		got[DIGEST_MAX_TEXT];
		char		want[DIGEST_MAX_TEXT];

		digest_format(out, got);
		digest_format(expected ? expected : &announced, want);
		fail(o, "DigestMismatch", "The content of %s hashes to %s, not %s.", what, got, want);
		return false;
	}
	return true;
}

static Datum
outcome_datum(FunctionCallInfo fcinfo, const Outcome *o, Datum *extra, bool *extra_null, int nextra)
{
	TupleDesc	desc;
	Datum		values[8];
	bool		nulls[8] = {0};
	int			i;

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	values[0] = CStringGetTextDatum(o->status);
	nulls[1] = o->reason == NULL;
	values[1] = o->reason ? CStringGetTextDatum(o->reason) : (Datum) 0;
	nulls[2] = o->message == NULL;
	values[2] = o->message ? CStringGetTextDatum(o->message) : (Datum) 0;
	for (i = 0; i < nextra; i++)
	{
		values[3 + i] = extra[i];
		nulls[3 + i] = extra_null[i];
	}
	return HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(desc), values, nulls));
}

static bytea *
body_bytea(const HttpResponse *resp)
{
	bytea	   *b = palloc(VARHDRSZ + resp->body_len);

	SET_VARSIZE(b, VARHDRSZ + resp->body_len);
	memcpy(VARDATA(b), resp->body, resp->body_len);
	return b;
}

/*
 * _registry_manifest(ref, reference, insecure, known) -> (status, reason,
 * message, digest, media_type, manifest, retry_after).  reference is a tag
 * or a digest.  With known, an unchanged tag costs one HEAD request.
 */
PG_FUNCTION_INFO_V1(imagestream_registry_manifest);
Datum
imagestream_registry_manifest(PG_FUNCTION_ARGS)
{
	Target		t;
	char	   *reference = text_to_cstring(PG_GETARG_TEXT_PP(1));
	bool		by_digest = strchr(reference, ':') != NULL;
	Digest		requested;
	Digest		known;
	Digest		got;
	HttpResponse resp;
	Outcome		o = {"ok", NULL, NULL, 0};
	Datum		extra[4] = {0};
	bool		extra_null[4] = {true, true, true, true};
	char	   *what;
	ParseError	err;
	size_t		max_body = (size_t) imagestream_max_manifest_size * 1024;

	target_init(PG_GETARG_DATUM(0), PG_GETARG_BOOL(2), &t);
	what = psprintf("manifest %s of %s", reference, t.repository);
	if (by_digest && !digest_parse(reference, strlen(reference), &requested, &err))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid digest \"%s\"", reference), errdetail_internal("%s", err.detail)));
	if (!PG_ARGISNULL(3))
	{
		datum_get_digest(PG_GETARG_DATUM(3), &known);
		if (registry_request(&t, psprintf("manifests/%s", reference), NULL, "HEAD",
							 MANIFEST_TYPES, 0, &resp, &o) &&
			resp.status == 200 && resp.docker_content_digest)
		{
			char		text[DIGEST_MAX_TEXT];

			digest_format(&known, text);
			if (strcmp(resp.docker_content_digest, text) == 0)
			{
				o.status = "unchanged";
				extra[0] = digest_get_datum(&known);
				extra_null[0] = false;
				PG_RETURN_DATUM(outcome_datum(fcinfo, &o, extra, extra_null, 4));
			}
		}
		o.status = "ok";
		o.reason = NULL;
		o.message = NULL;
	}

	if (registry_request(&t, psprintf("manifests/%s", reference), NULL, "GET",
						 MANIFEST_TYPES, max_body, &resp, &o))
	{
		if (resp.too_large)
			fail(&o, "ManifestTooLarge", "The %s is over imagestream.max_manifest_size (%d kB).",
				 what, imagestream_max_manifest_size);
		else if (resp.status != 200)
			fail_status(&t, what, &resp, &o);
		else if (resp.content_type &&
				 pg_strncasecmp(resp.content_type, "application/vnd.docker.distribution.manifest.v1", 47) == 0)
			/* schema 1 digests cover a payload without its signatures: refuse first */
			fail(&o, "UnsupportedMediaType",
				 "The %s is a Docker schema 1 manifest, which is not supported; push the image again with a current client.",
				 what);
		else if (verify_body(&resp, by_digest ? &requested : NULL, what, &got, &o))
		{
			char	   *ct = resp.content_type ? pstrdup(resp.content_type) : NULL;

			if (ct && strchr(ct, ';'))
				*strchr(ct, ';') = '\0';
			extra[0] = digest_get_datum(&got);
			extra_null[0] = false;
			extra[1] = ct ? CStringGetTextDatum(ct) : (Datum) 0;
			extra_null[1] = ct == NULL;
			extra[2] = PointerGetDatum(body_bytea(&resp));
			extra_null[2] = false;
		}
	}
	if (o.retry_after > 0)
	{
		extra[3] = Int32GetDatum(o.retry_after);
		extra_null[3] = false;
	}
	PG_RETURN_DATUM(outcome_datum(fcinfo, &o, extra, extra_null, 4));
}

/* _registry_blob(ref, digest, insecure) -> (status, reason, message, blob) */
PG_FUNCTION_INFO_V1(imagestream_registry_blob);
Datum
imagestream_registry_blob(PG_FUNCTION_ARGS)
{
	Target		t;
	Digest		want;
	Digest		got;
	char		text[DIGEST_MAX_TEXT];
	HttpResponse resp;
	Outcome		o = {"ok", NULL, NULL, 0};
	Datum		extra[1] = {0};
	bool		extra_null[1] = {true};
	char	   *what;

	target_init(PG_GETARG_DATUM(0), PG_GETARG_BOOL(2), &t);
	datum_get_digest(PG_GETARG_DATUM(1), &want);
	digest_format(&want, text);
	what = psprintf("blob %s of %s", text, t.repository);
	if (registry_request(&t, psprintf("blobs/%s", text), NULL, "GET", NULL,
						 CONFIG_MAX_BYTES, &resp, &o))
	{
		if (resp.too_large)
			fail(&o, "ManifestTooLarge", "The %s is over 16 MB.", what);
		else if (resp.status != 200)
			fail_status(&t, what, &resp, &o);
		else if (verify_body(&resp, &want, what, &got, &o))
		{
			extra[0] = PointerGetDatum(body_bytea(&resp));
			extra_null[0] = false;
		}
	}
	PG_RETURN_DATUM(outcome_datum(fcinfo, &o, extra, extra_null, 1));
}

/*
 * _registry_tag_pages(ref, insecure) -> (status, reason, message, pages text[]):
 * the bodies of the tag list pages, following Link rel="next".
 */
PG_FUNCTION_INFO_V1(imagestream_registry_tag_pages);
Datum
imagestream_registry_tag_pages(PG_FUNCTION_ARGS)
{
	Target		t;
	HttpResponse resp;
	Outcome		o = {"ok", NULL, NULL, 0};
	ArrayBuildState *pages = NULL;
	char	   *next = NULL;
	int			n;
	Datum		extra[1] = {0};
	bool		extra_null[1] = {true};

	target_init(PG_GETARG_DATUM(0), PG_GETARG_BOOL(1), &t);
	for (n = 0; n < TAG_PAGES_MAX; n++)
	{
		char		link[2048];

		if (!registry_request(&t, "tags/list?n=1000", next, "GET", "application/json",
							  (size_t) imagestream_max_manifest_size * 1024, &resp, &o))
			break;
		if (resp.status != 200 || resp.too_large)
		{
			if (resp.too_large)
				fail(&o, "InternalError", "A tag list page of %s is over imagestream.max_manifest_size.",
					 t.repository);
			else
				fail_status(&t, psprintf("the tag list of %s", t.repository), &resp, &o);
			break;
		}
		pages = accumArrayResult(pages, CStringGetTextDatum(resp.body), false, TEXTOID,
								 CurrentMemoryContext);
		if (resp.link == NULL || !parse_next_link(resp.link, link, sizeof(link)))
			break;
		/* a relative link continues on the URL that answered */
		if (link[0] == '/')
		{
			const char *url = resp.effective_url;
			const char *host_end = strstr(url, "://");

			host_end = host_end ? strchr(host_end + 3, '/') : NULL;
			next = psprintf("%.*s%s", host_end ? (int) (host_end - url) : (int) strlen(url), url, link);
		}
		else if (strncmp(link, "http://", 7) == 0 || strncmp(link, "https://", 8) == 0)
			next = pstrdup(link);
		else
		{
			fail(&o, "InternalError", "Registry %s sent a tag list link that is not a URL.", t.api_host);
			break;
		}
	}
	if (strcmp(o.status, "ok") == 0 && pages)
	{
		extra[0] = makeArrayResult(pages, CurrentMemoryContext);
		extra_null[0] = false;
	}
	PG_RETURN_DATUM(outcome_datum(fcinfo, &o, extra, extra_null, 1));
}
