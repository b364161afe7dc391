/*
 * registry.c
 *		The registry client (doc/import.md) of the OCI distribution / Docker
 *		Registry HTTP API V2: manifests, blobs and tag lists, every body
 *		verified against its digest, failures turned into OpenShift's reasons.
 *
 * fetch.c decides what to fetch; the SQL import records the results by the
 * rules of the model.
 */
#include "postgres.h"

#include <curl/curl.h>

#include "datatype/timestamp.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "auth.h"
#include "headers.h"
#include "http.h"
#include "json_fields.h"
#include "manifest.h"
#include "policy.h"
#include "registry.h"
#include "registry_hosts.h"
#include "settings.h"

static void
fail(RegistryFailure *o, const char *reason, const char *fmt,...) pg_attribute_printf(3, 4);

static void
fail(RegistryFailure *o, const char *reason, const char *fmt,...)
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
	o->reason = reason;
	o->message = buf.data;
	o->unreachable = false;
}

void
read_budget_start(ReadBudget *b, int limit_kb, const char *setting)
{
	b->start = http_bytes_received;
	b->limit_kb = limit_kb;
	b->setting = setting;
}

void
read_budget_resume(ReadBudget *b, int limit_kb, const char *setting, uint64 already_read)
{
	read_budget_start(b, limit_kb, setting);
	b->start -= Min(already_read, b->start);
}

uint64
read_budget_left(const ReadBudget *b)
{
	uint64		read = http_bytes_received - b->start;
	uint64		limit = (uint64) b->limit_kb * 1024;

	return read >= limit ? 0 : limit - read;
}

char *
size_text(int kb)
{
	if (kb % (1024 * 1024) == 0)
		return psprintf("%d GB", kb / (1024 * 1024));
	if (kb % 1024 == 0)
		return psprintf("%d MB", kb / 1024);
	return psprintf("%d kB", kb);
}

void
registry_target(const ImageRefParts *ref, bool insecure, RegistryTarget *t)
{
	bool		listed_insecure;

	if (ref->domain_len == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("image reference \"%.*s\" names no registry", (int) ref->path_len, ref->path)));
	t->host = pnstrdup(ref->domain, ref->domain_len);
	t->repository = pnstrdup(ref->path, ref->path_len);
	t->api_host = strcmp(t->host, "docker.io") == 0 ? pstrdup("registry-1.docker.io") : t->host;
	listed_insecure = policy_registry_insecure(t->host);
	t->insecure = insecure || listed_insecure;

	/*
	 * Any editor may ask for an insecure import; the stored credentials must
	 * not cross a connection that someone on the path could read or answer
	 * unless the superuser chose so for the registry (S25).
	 */
	t->credentials = !t->insecure || listed_insecure;
	t->stored = NULL;
	t->budget = NULL;
}

bool
registry_same_credentials(const RegistryCredentials *a, const RegistryCredentials *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a->identity, b->identity) == 0;
}

/*
 * Whether an insecure registry was found to answer only plain HTTP: it is
 * not tried over HTTPS again, so an unchanged check stays one request.
 */
static bool
plain_http_known(const char *api_host)
{
	return registry_host_scheme(api_host) == HOST_SCHEME_PLAIN_HTTP;
}

void
registry_settle_scheme(const RegistryTarget *t)
{
	HttpRequest req = {0};
	HttpResponse resp;
	char		why[512];

	if (!t->insecure || registry_host_scheme(t->api_host) != HOST_SCHEME_UNKNOWN ||
		!policy_registry_allowed(t->host, why, sizeof(why)))
		return;
	req.method = "GET";
	req.url = psprintf("https://%s/v2/", t->api_host);
	req.max_body = 64 * 1024;
	http_request(&req, &resp);
	if (resp.status > 0)
		registry_host_set_scheme(t->api_host, HOST_SCHEME_HTTPS);
	else if (!resp.blocked)
	{
		req.url = psprintf("http://%s/v2/", t->api_host);
		http_request(&req, &resp);
		if (resp.status > 0)
			registry_host_set_scheme(t->api_host, HOST_SCHEME_PLAIN_HTTP);
	}
}

/* Whether a failed HTTPS attempt found a server that only speaks HTTP. */
static bool
answers_plain_http(const RegistryTarget *t)
{
	HttpRequest req = {0};
	HttpResponse resp;

	req.method = "GET";
	req.url = psprintf("http://%s/v2/", t->api_host);
	req.max_body = 64 * 1024;
	http_request(&req, &resp);
	return resp.status > 0;
}

static void
fail_budget(const RegistryTarget *t, RegistryFailure *o)
{
	fail(o, "ManifestTooLarge", "The import of %s would read more than %s (%s) from registry %s.",
		 t->repository, t->budget->setting, size_text(t->budget->limit_kb), t->api_host);
}

/*
 * One request to the registry API at path (below /v2/<repository>/ unless
 * absolute_url), HTTPS first and plain HTTP too for an insecure registry.
 * The body may be max_body bytes long, and no longer than the target's
 * budget leaves.  False, with the failure in o, when no HTTP answer came,
 * the answer was an authentication refusal, or the budget ran out.
 */
static bool
registry_request(const RegistryTarget *t, const char *path, const char *absolute_url,
				 const char *method, const char *accept, size_t max_body,
				 HttpResponse *resp, RegistryFailure *o)
{
	static const char *const schemes[] = {"https", "http"};
	char		why[512];
	int			i;
	char	   *note = NULL;
	uint64		left = t->budget ? read_budget_left(t->budget) : PG_UINT64_MAX;

	if (!policy_registry_allowed(t->host, why, sizeof(why)))
	{
		fail(o, "Forbidden", "%s", why);
		return false;
	}
	if (left == 0)
	{
		fail_budget(t, o);
		return false;
	}
	for (i = (t->insecure && plain_http_known(t->api_host)) ? 1 : 0; i < (t->insecure ? 2 : 1); i++)
	{
		HttpRequest req = {0};

		req.method = method;
		req.url = absolute_url ? absolute_url
			: psprintf("%s://%s/v2/%s/%s", schemes[i], t->api_host, t->repository, path);
		req.accept = accept;
		req.max_body = (size_t) Min((uint64) max_body, left);
		req.verify_tls = !t->insecure;
		auth_perform(t, &req, resp, &note);
		if (resp->status > 0 || resp->blocked || absolute_url)
		{
			if (i == 1 && resp->status > 0)
				registry_host_set_scheme(t->api_host, HOST_SCHEME_PLAIN_HTTP);
			else if (i == 0 && resp->status > 0 && t->insecure)
				registry_host_set_scheme(t->api_host, HOST_SCHEME_HTTPS);
			break;
		}
	}
	if (resp->blocked)
	{
		if (resp->blocked_address[0] == '\0')
			fail(o, "Forbidden", "The connection to %s was refused: a host it leads to does not resolve here, so imagestream.blocked_networks cannot be checked before the proxy connects to it.",
				 t->api_host);
		else
			fail(o, "Forbidden", "The connection to %s was refused: address %s is in imagestream.blocked_networks.",
				 t->api_host, resp->blocked_address);
		return false;
	}
	/* cut by the budget, not by the request's own limit */
	if (resp->too_large && left < (uint64) max_body)
	{
		fail_budget(t, o);
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
		o->unreachable = resp->unreachable;
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

static const char *const http_day_names[] = {
	"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"
};
static const char *const http_long_day_names[] = {
	"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"
};
static const char *const http_month_names[] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"
};

/* Exactly n digits at *p: their value in *out, *p past them. */
static bool
take_digits(const char **p, int n, int *out)
{
	int			v = 0;

	for (int i = 0; i < n; i++)
	{
		if ((*p)[i] < '0' || (*p)[i] > '9')
			return false;
		v = v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	*out = v;
	return true;
}

/* The literal lit at *p: *p past it. */
static bool
take_literal(const char **p, const char *lit)
{
	size_t		len = strlen(lit);

	if (strncmp(*p, lit, len) != 0)
		return false;
	*p += len;
	return true;
}

/* One of names followed by the literal after at *p: its index in *out. */
static bool
take_name(const char **p, const char *const *names, int count, const char *after, int *out)
{
	for (int i = 0; i < count; i++)
	{
		const char *q = *p;

		if (take_literal(&q, names[i]) && take_literal(&q, after))
		{
			*p = q;
			*out = i;
			return true;
		}
	}
	return false;
}

/* hour ":" minute ":" second, each two digits. */
static bool
take_time_of_day(const char **p, int *hour, int *minute, int *second)
{
	return take_digits(p, 2, hour) && take_literal(p, ":") &&
		take_digits(p, 2, minute) && take_literal(p, ":") &&
		take_digits(p, 2, second) &&
		*hour <= 23 && *minute <= 59 && *second <= 60;
}

/*
 * An HTTP-date (RFC 9110 section 5.6.7), case-sensitive as its grammar is:
 * IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT"), or the obsolete forms a
 * recipient must also accept, RFC 850 ("Sunday, 06-Nov-94 08:49:37 GMT", a
 * year more than 50 years ahead of now's being the century before) and
 * asctime ("Sun Nov  6 08:49:37 1994").  The day name is not checked
 * against the date.  Its instant in *at.
 */
static bool
parse_http_date(const char *s, TimestampTz now, TimestampTz *at)
{
	const char *p = s;
	int			wday,
				mon,
				mday,
				year,
				hour,
				minute,
				second;

	if (take_name(&p, http_day_names, lengthof(http_day_names), ", ", &wday))
	{
		/* IMF-fixdate */
		if (!(take_digits(&p, 2, &mday) && take_literal(&p, " ") &&
			  take_name(&p, http_month_names, lengthof(http_month_names), " ", &mon) &&
			  take_digits(&p, 4, &year) && take_literal(&p, " ") &&
			  take_time_of_day(&p, &hour, &minute, &second) && take_literal(&p, " GMT")))
			return false;
	}
	else if (take_name(&p, http_long_day_names, lengthof(http_long_day_names), ", ", &wday))
	{
		/* rfc850-date */
		int			yy,
					this_year,
					m,
					d;

		if (!(take_digits(&p, 2, &mday) && take_literal(&p, "-") &&
			  take_name(&p, http_month_names, lengthof(http_month_names), "-", &mon) &&
			  take_digits(&p, 2, &yy) && take_literal(&p, " ") &&
			  take_time_of_day(&p, &hour, &minute, &second) && take_literal(&p, " GMT")))
			return false;
		j2date((int) (now / USECS_PER_DAY) + POSTGRES_EPOCH_JDATE, &this_year, &m, &d);
		year = this_year - this_year % 100 + yy;
		if (year > this_year + 50)
			year -= 100;
	}
	else if (take_name(&p, http_day_names, lengthof(http_day_names), " ", &wday))
	{
		/* asctime-date: the day of the month is two digits or a space and one */
		if (!take_name(&p, http_month_names, lengthof(http_month_names), " ", &mon))
			return false;
		if (*p == ' ')
		{
			p++;
			if (!take_digits(&p, 1, &mday))
				return false;
		}
		else if (!take_digits(&p, 2, &mday))
			return false;
		if (!(take_literal(&p, " ") && take_time_of_day(&p, &hour, &minute, &second) &&
			  take_literal(&p, " ") && take_digits(&p, 4, &year)))
			return false;
	}
	else
		return false;
	if (*p != '\0')
		return false;
	mon += 1;
	if (mday < 1 || mday > day_tab[isleap(year) ? 1 : 0][mon - 1])
		return false;
	*at = (TimestampTz) (date2j(year, mon, mday) - POSTGRES_EPOCH_JDATE) * USECS_PER_DAY +
		(TimestampTz) ((hour * 60 + minute) * 60 + second) * USECS_PER_SEC;
	return true;
}

/*
 * The seconds a 429's Retry-After asks to wait (RFC 9110 section 10.2.3):
 * delay-seconds (digits, at most INT_MAX), or an HTTP-date, rounded up
 * from now.  0 when it asks for no wait of its own: a date not after now
 * (retry now), or a value of neither form, which is ignored.  Either way
 * the worker's own back-off of a failing tag (1 s, 2 s, 4 s, ... up to the
 * interval) still spaces its retries.
 */
static int
retry_after_seconds(const char *value, TimestampTz now)
{
	const char *p = value;
	TimestampTz at;
	int64		wait;

	if (*p >= '0' && *p <= '9')
	{
		int64		seconds = 0;

		for (; *p >= '0' && *p <= '9'; p++)
			seconds = Min(seconds * 10 + (*p - '0'), (int64) PG_INT32_MAX);
		return *p == '\0' ? (int) seconds : 0;
	}
	if (!parse_http_date(value, now, &at) || at <= now)
		return 0;
	wait = (at - now + USECS_PER_SEC - 1) / USECS_PER_SEC;
	return (int) Min(wait, (int64) PG_INT32_MAX);
}

/* A failure for an HTTP status that is not a success. */
static void
fail_status(const RegistryTarget *t, const char *what, const HttpResponse *resp, RegistryFailure *o)
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
			o->retry_after = resp->retry_after
				? retry_after_seconds(resp->retry_after, GetCurrentTimestamp()) : 0;
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
			Digest *out, RegistryFailure *o)
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
	if ((expected && !digest_equal(out, expected)) ||
		(have_announced && announced.algorithm == out->algorithm &&
		 !digest_equal(out, &announced)))
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

static void
take_body(const HttpResponse *resp, const Digest *d, RegistryBody *out)
{
	char	   *ct = resp->content_type ? pstrdup(resp->content_type) : NULL;

	if (ct && strchr(ct, ';'))
		*strchr(ct, ';') = '\0';
	out->digest = *d;
	out->content_type = ct;
	out->data = resp->body;
	out->len = resp->body_len;
	out->unchanged = false;
}

/*
 * Whether a Content-Type (parameters and case aside) is media type type.
 */
static bool
content_type_is(const char *content_type, const char *type)
{
	size_t		len = strlen(type);

	return content_type && pg_strncasecmp(content_type, type, len) == 0 &&
		(content_type[len] == '\0' || content_type[len] == ';' || content_type[len] == ' ');
}

bool
registry_get_manifest(const RegistryTarget *t, const char *reference, const Digest *known,
					  RegistryBody *out, RegistryFailure *f)
{
	HttpResponse resp;

	memset(out, 0, sizeof(*out));
	memset(f, 0, sizeof(*f));
	if (known)
	{
		char		text[DIGEST_MAX_TEXT];

		digest_format(known, text);
		if (registry_request(t, psprintf("manifests/%s", reference), NULL, "HEAD", manifest_accept(),
							 0, &resp, f) &&
			resp.status == 200 && resp.docker_content_digest &&
			strcmp(resp.docker_content_digest, text) == 0)
		{
			out->unchanged = true;
			out->digest = *known;
			return true;
		}
		memset(f, 0, sizeof(*f));
	}
	return registry_get_manifest_within(t, reference, manifest_accept(),
										(size_t) imagestream_max_manifest_size * 1024,
										psprintf("imagestream.max_manifest_size (%s)",
												 size_text(imagestream_max_manifest_size)),
										out, f);
}

bool
registry_get_manifest_within(const RegistryTarget *t, const char *reference, const char *accept,
							 size_t max_len, const char *limit, RegistryBody *out,
							 RegistryFailure *f)
{
	bool		by_digest = strchr(reference, ':') != NULL;
	Digest		requested;
	Digest		got;
	HttpResponse resp;
	ParseError	err;
	char	   *what = psprintf("manifest %s of %s", reference, t->repository);

	memset(out, 0, sizeof(*out));
	memset(f, 0, sizeof(*f));
	if (by_digest && !digest_parse(reference, strlen(reference), &requested, &err))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid digest \"%s\"", reference), errdetail_internal("%s", err.detail)));
	if (!registry_request(t, psprintf("manifests/%s", reference), NULL, "GET", accept, max_len,
						  &resp, f))
		return false;
	if (resp.too_large)
		fail(f, "ManifestTooLarge", "The %s is over %s.", what, limit);
	else if (resp.status != 200)
		fail_status(t, what, &resp, f);
	else if (resp.content_type &&
			 pg_strncasecmp(resp.content_type, MT_DOCKER_SCHEMA1_PREFIX,
							strlen(MT_DOCKER_SCHEMA1_PREFIX)) == 0)
		/*
		 * schema 1 digests cover a payload without its signatures: refuse
		 * first (a media type, the Content-Type is compared without case)
		 */
		fail(f, "UnsupportedMediaType",
			 "The %s is a Docker schema 1 manifest, which is not supported; push the image again with a current client.",
			 what);
	else if (verify_body(&resp, by_digest ? &requested : NULL, what, &got, f))
	{
		take_body(&resp, &got, out);
		return true;
	}
	return false;
}

bool
registry_get_blob(const RegistryTarget *t, const Digest *d, RegistryBody *out, RegistryFailure *f)
{
	return registry_get_blob_within(t, d, (size_t) imagestream_max_config_size * 1024,
									psprintf("imagestream.max_config_size (%s)",
											 size_text(imagestream_max_config_size)),
									out, f);
}

bool
registry_get_blob_within(const RegistryTarget *t, const Digest *d, size_t max_len,
						 const char *limit, RegistryBody *out, RegistryFailure *f)
{
	char		text[DIGEST_MAX_TEXT];
	Digest		got;
	HttpResponse resp;
	char	   *what;

	memset(out, 0, sizeof(*out));
	memset(f, 0, sizeof(*f));
	digest_format(d, text);
	what = psprintf("blob %s of %s", text, t->repository);
	if (!registry_request(t, psprintf("blobs/%s", text), NULL, "GET", NULL, max_len, &resp, f))
		return false;
	if (resp.too_large)
		fail(f, "ManifestTooLarge", "The %s is over %s.", what, limit);
	else if (resp.status != 200)
		fail_status(t, what, &resp, f);
	else if (verify_body(&resp, d, what, &got, f))
	{
		take_body(&resp, &got, out);
		return true;
	}
	return false;
}

/*
 * A registry without the referrers API answers 404 (the distribution spec:
 * one that has it never does), or, as go-containerregistry (cosign's
 * client) also takes it, 400, 406, or a 200 that is not an OCI index.
 */
bool
registry_get_referrers(const RegistryTarget *t, const Digest *d, const char *artifact_type,
					   size_t max_len, const char *limit, RegistryBody *out, bool *supported,
					   RegistryFailure *f)
{
	char		text[DIGEST_MAX_TEXT];
	HttpResponse resp;
	char	   *what;

	memset(out, 0, sizeof(*out));
	memset(f, 0, sizeof(*f));
	*supported = false;
	digest_format(d, text);
	what = psprintf("the referrers of %s in %s", text, t->repository);
	if (!registry_request(t, psprintf("referrers/%s?artifactType=%s", text, http_escape(artifact_type)),
						  NULL, "GET", MT_OCI_INDEX, max_len, &resp, f))
		return false;
	if (resp.status == 404 || resp.status == 400 || resp.status == 406)
		return true;
	if (resp.too_large)
		fail(f, "ManifestTooLarge", "The index of %s is over %s.", what, limit);
	else if (resp.status != 200)
		fail_status(t, what, &resp, f);
	else
	{
		*supported = content_type_is(resp.content_type, MT_OCI_INDEX);
		out->content_type = resp.content_type ? pstrdup(resp.content_type) : NULL;
		out->data = resp.body;
		out->len = resp.body_len;
		return true;
	}
	return false;
}

/*
 * One page of the tag list, at url (NULL: the first): its tags appended to
 * *tags in context out, and the URL of the next page, if any, in *next
 * (in out).  Names that are not tags are left out: a registry cannot make
 * an import fail, or create a tag, with one.
 */
static bool
tag_list_page(const RegistryTarget *t, const char *url, List **tags, char **next,
			  MemoryContext out, RegistryFailure *f)
{
	HttpResponse resp;
	char		link[2048];
	List	   *page = NIL;
	ListCell   *lc;

	*next = NULL;
	if (!registry_request(t, "tags/list?n=1000", url, "GET", "application/json",
						  (size_t) imagestream_max_manifest_size * 1024, &resp, f))
		return false;
	if (resp.too_large)
	{
		fail(f, "ManifestTooLarge", "A tag list page of %s is over imagestream.max_manifest_size (%s).",
			 t->repository, size_text(imagestream_max_manifest_size));
		return false;
	}
	if (resp.status != 200)
	{
		fail_status(t, psprintf("the tag list of %s", t->repository), &resp, f);
		return false;
	}
	if (!json_depth_within(resp.body, resp.body_len, JSON_MAX_DEPTH))
	{
		fail(f, "InternalError", "A tag list page of %s nests more than %d levels deep.",
			 t->repository, JSON_MAX_DEPTH);
		return false;
	}
	if (!json_top_array(resp.body, resp.body_len, "tags", CurrentMemoryContext, &page))
	{
		fail(f, "InternalError", "Registry %s sent a tag list page of %s that is not a JSON object.",
			 t->api_host, t->repository);
		return false;
	}
	foreach(lc, page)
	{
		const char *name = lfirst(lc);
		ParseError	err;

		if (ref_tag_valid(name, strlen(name), &err))
		{
			MemoryContext old = MemoryContextSwitchTo(out);

			*tags = lappend(*tags, pstrdup(name));
			MemoryContextSwitchTo(old);
		}
	}
	if (resp.link == NULL || !parse_next_link(resp.link, link, sizeof(link)))
		return true;
	/* a relative link continues on the URL that answered */
	if (link[0] == '/')
	{
		const char *answered = resp.effective_url;
		const char *host_end = strstr(answered, "://");

		host_end = host_end ? strchr(host_end + 3, '/') : NULL;
		*next = MemoryContextStrdup(out, psprintf("%.*s%s", host_end ? (int) (host_end - answered)
												  : (int) strlen(answered), answered, link));
	}
	else if (strncmp(link, "http://", 7) == 0 || strncmp(link, "https://", 8) == 0)
		*next = MemoryContextStrdup(out, link);
	else
	{
		fail(f, "InternalError", "Registry %s sent a tag list link that is not a URL.", t->api_host);
		return false;
	}
	return true;
}

/*
 * What reading one page allocates (the body, the parser's tokens) goes with
 * a memory context of its own, so that only the names and the next URL stay.
 */
bool
registry_get_tags_page(const RegistryTarget *t, const char *url, List **tags, char **next,
					   RegistryFailure *f)
{
	MemoryContext out = CurrentMemoryContext;
	MemoryContext page_ctx = AllocSetContextCreate(CurrentMemoryContext, "imagestream tag list page",
												   ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(page_ctx);
	bool		ok;

	memset(f, 0, sizeof(*f));
	ok = tag_list_page(t, url, tags, next, out, f);
	MemoryContextSwitchTo(old);
	if (!ok && f->message)
		f->message = pstrdup(f->message);
	MemoryContextDelete(page_ctx);
	return ok;
}

bool
registry_get_tags(const RegistryTarget *t, List **tags, RegistryFailure *f)
{
	ReadBudget	budget;
	RegistryTarget bounded = *t;
	char	   *url = NULL;
	bool		ok = true;

	*tags = NIL;
	memset(f, 0, sizeof(*f));
	read_budget_start(&budget, imagestream_max_tag_list_size, "imagestream.max_tag_list_size");
	bounded.budget = &budget;
	for (int n = 0; ok && n < TAG_PAGES_MAX; n++)
	{
		char	   *next;

		ok = registry_get_tags_page(&bounded, url, tags, &next, f);
		if (url)
			pfree(url);
		url = next;
		if (url == NULL)
			break;
		CHECK_FOR_INTERRUPTS();
	}
	return ok;
}

bool
registry_prepare_head(const RegistryTarget *t, const char *reference, HttpBatchItem *item)
{
	char		why[512];

	memset(item, 0, sizeof(*item));
	if (!policy_registry_allowed(t->host, why, sizeof(why)))
		return false;
	item->req.method = "HEAD";
	item->req.url = psprintf("%s://%s/v2/%s/manifests/%s",
							 t->insecure && plain_http_known(t->api_host) ? "http" : "https",
							 t->api_host, t->repository, reference);
	item->req.accept = manifest_accept();
	item->req.authorization = auth_cached(t);	/* (a copy) */
	item->req.verify_tls = !t->insecure;
	item->group = t->api_host;
	return true;
}

bool
registry_head_failed(const RegistryTarget *t, const char *reference, const HttpResponse *resp,
					 RegistryFailure *f)
{
	if (resp->status == 0 || resp->status == 401 || resp->status == 200)
		return false;
	memset(f, 0, sizeof(*f));
	fail_status(t, psprintf("manifest %s of %s", reference, t->repository), resp, f);
	return true;
}
