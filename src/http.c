/*
 * http.c
 *		HTTP requests on libcurl for the registry client.
 *
 * libcurl allocates with malloc and calls back into our code; nothing here
 * may longjmp across it, so the callbacks only collect into malloc'd
 * buffers, and PostgreSQL errors (a cancel, a timeout) can only be raised
 * between curl calls, where PG_TRY releases the transfer.  The waits between
 * those calls are http_wait.c's (a session per request or batch, ended on
 * every path).  One easy handle is kept per process so that connections to
 * a registry are reused.
 *
 * No proxy is taken from the environment (http_proxy, https_proxy,
 * all_proxy): it would carry every request past blocked_networks, which
 * would then only see the proxy's address.  imagestream.proxy names one
 * explicitly (security finding S22).  Its own address is the superuser's
 * choice and is not checked; instead the host each request is for is
 * resolved here and all its addresses checked, before libcurl opens a
 * connection (to the proxy, or a CONNECT tunnel through it) and before it
 * sends a request on a connection it reuses, so redirects are checked too.
 * https goes through a CONNECT tunnel: TLS, its verification and the
 * Authorization header stay end to end; plain http (insecure registries) is
 * forwarded, and the proxy sees it whole.
 */
#include "postgres.h"

#include <ctype.h>

#include <unistd.h>

#include <arpa/inet.h>
#include <curl/curl.h>

#include "lib/stringinfo.h"
#include "miscadmin.h"

#include "http.h"
#include "http_wait.h"
#include "policy.h"
#include "settings.h"

void		(*http_wait_hook) (void) = NULL;
int			http_in_flight = 0;
uint64		http_bytes_received = 0;
uint64		http_requests = 0;

static CURLM *multi = NULL;
static CurlWait *multi_wait = NULL;
static CURL *easy = NULL;

/*
 * Every option is checked: a request must not go out without the protocols,
 * the TLS verification or the limits set here because libcurl refused one
 * (built without it, out of memory).  Not for the callbacks, which must not
 * raise errors.
 */
#define set_option(handle, option, value) \
	option_set(curl_easy_setopt((handle), (option), (value)), #option)
#define get_info(handle, info, out) \
	info_got(curl_easy_getinfo((handle), (info), (out)), #info)

static void
option_set(CURLcode code, const char *option)
{
	if (code != CURLE_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not set libcurl option %s: %s", option, curl_easy_strerror(code))));
}

static void
info_got(CURLcode code, const char *info)
{
	if (code != CURLE_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not read libcurl information %s: %s", info, curl_easy_strerror(code))));
}

/* What the callbacks collect; malloc'd, freed by transfer_free. */
typedef struct Transfer
{
	char	   *body;
	size_t		len;
	size_t		cap;
	size_t		max_body;
	bool		too_large;
	bool		blocked;
	char		blocked_address[INET6_ADDRSTRLEN];
	char	   *headers[5];
	CURL	   *handle;			/* through imagestream.proxy; else NULL */
	char	   *allowed_host;	/* the last host found not blocked */
} Transfer;

static const char *const captured[5] = {
	"content-type", "docker-content-digest", "www-authenticate", "link", "retry-after"
};

static void
transfer_free(Transfer *t)
{
	int			i;

	free(t->body);
	free(t->allowed_host);
	for (i = 0; i < lengthof(t->headers); i++)
		free(t->headers[i]);
	memset(t, 0, sizeof(*t));
}

static size_t
write_cb(char *data, size_t size, size_t nmemb, void *arg)
{
	Transfer   *t = arg;
	size_t		n = size * nmemb;

	if (t->len + n > t->max_body)
	{
		t->too_large = true;
		return 0;				/* ends the transfer with CURLE_WRITE_ERROR */
	}
	if (t->len + n + 1 > t->cap)
	{
		size_t		cap = Max(t->cap * 2, t->len + n + 1);
		char	   *grown = realloc(t->body, Max(cap, 4096));

		if (grown == NULL)
			return 0;
		t->body = grown;
		t->cap = Max(cap, 4096);
	}
	memcpy(t->body + t->len, data, n);
	t->len += n;
	return n;
}

static size_t
header_cb(char *data, size_t size, size_t nmemb, void *arg)
{
	Transfer   *t = arg;
	size_t		n = size * nmemb;
	const char *colon = memchr(data, ':', n);
	int			i;

	/* a new status line: headers of an earlier answer (a redirect) are void */
	if (n >= 5 && strncmp(data, "HTTP/", 5) == 0)
	{
		for (i = 0; i < lengthof(t->headers); i++)
		{
			free(t->headers[i]);
			t->headers[i] = NULL;
		}
		return n;
	}
	if (colon == NULL)
		return n;
	for (i = 0; i < lengthof(captured); i++)
	{
		size_t		name_len = strlen(captured[i]);
		const char *v;
		const char *end = data + n;

		if ((size_t) (colon - data) != name_len || pg_strncasecmp(data, captured[i], name_len) != 0)
			continue;
		v = colon + 1;
		while (v < end && (*v == ' ' || *v == '\t'))
			v++;
		while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
			end--;
		free(t->headers[i]);
		t->headers[i] = strndup(v, end - v);
	}
	return n;
}

static void
note_blocked(Transfer *t, const struct sockaddr *addr)
{
	const void *in = addr->sa_family == AF_INET6
		? (const void *) &((const struct sockaddr_in6 *) addr)->sin6_addr
		: (const void *) &((const struct sockaddr_in *) addr)->sin_addr;

	t->blocked = true;
	if (inet_ntop(addr->sa_family, in, t->blocked_address, sizeof(t->blocked_address)) == NULL)
		strcpy(t->blocked_address, "?");
}

/*
 * Through the proxy: is the host of the URL libcurl is about to request (a
 * redirect's, after one) in blocked_networks?  A blocked host leaves
 * blocked_address empty when its name does not resolve here.  Runs inside
 * libcurl: malloc only.
 */
static bool
proxy_target_blocked(Transfer *t)
{
	char	   *url = NULL;
	CURLU	   *u = curl_url();
	char	   *host = NULL;
	struct sockaddr_storage addr;
	bool		unresolved;
	bool		blocked = true;

	if (u && curl_easy_getinfo(t->handle, CURLINFO_EFFECTIVE_URL, &url) == CURLE_OK && url &&
		curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
		curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK)
	{
		char	   *bare = host;
		size_t		len = strlen(host);

		/* an IPv6 literal without its brackets */
		if (len > 2 && host[0] == '[' && host[len - 1] == ']')
		{
			bare = host + 1;
			host[len - 1] = '\0';
		}
		if (t->allowed_host && strcmp(t->allowed_host, bare) == 0)
			blocked = false;
		else if (!policy_host_blocked(bare, &addr, &unresolved))
		{
			free(t->allowed_host);
			t->allowed_host = strdup(bare);
			blocked = false;
		}
		else if (unresolved)
		{
			t->blocked = true;
			t->blocked_address[0] = '\0';
		}
		else
			note_blocked(t, (struct sockaddr *) &addr);
	}
	else
		t->blocked = true;
	curl_free(host);
	curl_url_cleanup(u);
	return blocked;
}

static curl_socket_t
opensocket_cb(void *arg, curlsocktype purpose, struct curl_sockaddr *address)
{
	Transfer   *t = arg;
	curl_socket_t fd;

	if (t->handle ? proxy_target_blocked(t) : policy_address_blocked(&address->addr))
	{
		if (!t->handle)
			note_blocked(t, &address->addr);
		return CURL_SOCKET_BAD;
	}
	fd = socket(address->family, address->socktype, address->protocol);
	if (fd != CURL_SOCKET_BAD && !curl_wait_opened(fd))
	{
		close(fd);
		return CURL_SOCKET_BAD;
	}
	return fd;
}

/* Through the proxy, a connection libcurl reuses is checked here. */
static int
prereq_cb(void *arg, char *primary_ip, char *local_ip, int primary_port, int local_port)
{
	return proxy_target_blocked(arg) ? CURL_PREREQFUNC_ABORT : CURL_PREREQFUNC_OK;
}

static void
ensure_handles(void)
{
	if (multi == NULL)
	{
		CURLM	   *m = NULL;

		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK ||
			(m = curl_multi_init()) == NULL ||
			(multi_wait = curl_wait_create(m)) == NULL)
		{
			curl_multi_cleanup(m);
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg("could not initialize libcurl")));
		}
		multi = m;
	}
	if (easy == NULL && (easy = curl_easy_init()) == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("could not create a libcurl handle")));
}

static char *
pstrdup_or_null(const char *s)
{
	return s ? pstrdup(s) : NULL;
}

/*
 * Adds "name: value" to a request's header list.  libcurl answers NULL when
 * it has no memory, and keeps the list as it was (the caller frees it): a
 * request must not go out without a header it was given.
 */
static void
add_header(struct curl_slist *volatile *headers, const char *name, const char *value)
{
	struct curl_slist *added = curl_slist_append(*headers, psprintf("%s: %s", name, value));

	if (added == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory"),
				 errdetail("libcurl could not add the %s header of a registry request.", name)));
	*headers = added;
}

static void
set_options(CURL *easy, const HttpRequest *req, Transfer *t, struct curl_slist *headers,
			char *errbuf)
{
	long		timeout = imagestream_request_timeout;

	curl_easy_reset(easy);
	set_option(easy, CURLOPT_URL, req->url);
	set_option(easy, CURLOPT_NOBODY, strcmp(req->method, "HEAD") == 0 ? 1L : 0L);
	set_option(easy, CURLOPT_HTTPHEADER, headers);
	set_option(easy, CURLOPT_USERAGENT, "imagestream/" IMAGESTREAM_VERSION);
	set_option(easy, CURLOPT_FOLLOWLOCATION, 1L);
	set_option(easy, CURLOPT_MAXREDIRS, 5L);
#if LIBCURL_VERSION_NUM >= 0x075500
	set_option(easy, CURLOPT_PROTOCOLS_STR, "http,https");
	set_option(easy, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#else
	set_option(easy, CURLOPT_PROTOCOLS, (long) (CURLPROTO_HTTP | CURLPROTO_HTTPS));
	set_option(easy, CURLOPT_REDIR_PROTOCOLS, (long) (CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	set_option(easy, CURLOPT_TIMEOUT_MS, timeout);
	set_option(easy, CURLOPT_CONNECTTIMEOUT_MS, Min(timeout, 10000L));
	set_option(easy, CURLOPT_NOSIGNAL, 1L);
	set_option(easy, CURLOPT_SSL_VERIFYPEER, req->verify_tls ? 1L : 0L);
	set_option(easy, CURLOPT_SSL_VERIFYHOST, req->verify_tls ? 2L : 0L);
	if (imagestream_ca_file && imagestream_ca_file[0])
	{
		/* the system store stays trusted through its directory */
		set_option(easy, CURLOPT_CAINFO, imagestream_ca_file);
		set_option(easy, CURLOPT_CAPATH, "/etc/ssl/certs");
	}
	set_option(easy, CURLOPT_WRITEFUNCTION, write_cb);
	set_option(easy, CURLOPT_WRITEDATA, t);
	set_option(easy, CURLOPT_HEADERFUNCTION, header_cb);
	set_option(easy, CURLOPT_HEADERDATA, t);
	set_option(easy, CURLOPT_OPENSOCKETFUNCTION, opensocket_cb);
	set_option(easy, CURLOPT_OPENSOCKETDATA, t);
	set_option(easy, CURLOPT_CLOSESOCKETFUNCTION, curl_wait_close_socket);
	set_option(easy, CURLOPT_ERRORBUFFER, errbuf);
	if (imagestream_proxy[0])
	{
		t->handle = easy;
		set_option(easy, CURLOPT_PROXY, imagestream_proxy);
		/* every host, whatever no_proxy says */
		set_option(easy, CURLOPT_NOPROXY, "");
		set_option(easy, CURLOPT_PREREQFUNCTION, prereq_cb);
		set_option(easy, CURLOPT_PREREQDATA, t);
	}
	else
		set_option(easy, CURLOPT_PROXY, "");
}

/* p past prefix, digits and suffix; NULL when p does not start so. */
static const char *
skip_number_phrase(const char *p, const char *prefix, const char *suffix)
{
	size_t		len = strlen(prefix);

	if (strncmp(p, prefix, len) != 0 || !isdigit((unsigned char) p[len]))
		return NULL;
	p += len;
	while (isdigit((unsigned char) *p))
		p++;
	len = strlen(suffix);
	return strncmp(p, suffix, len) == 0 ? p + len : NULL;
}

/*
 * libcurl's message without its timings and byte counts ("after 3 ms",
 * "with 12 bytes received"), which differ from one attempt to the next: a
 * failure that did not change must read the same, or each retry records it
 * again (a condition, a change and a NOTIFY).
 */
static char *
stable_error(const char *msg)
{
	StringInfoData out;
	const char *p = msg;

	initStringInfo(&out);
	while (*p)
	{
		const char *q;

		if ((q = skip_number_phrase(p, " after ", " ms")) != NULL ||
			(q = skip_number_phrase(p, " after ", " milliseconds")) != NULL ||
			(q = skip_number_phrase(p, " with ", " bytes received")) != NULL ||
			(q = skip_number_phrase(p, " with ", " out of ")) != NULL)
		{
			/* "with N out of M bytes received": skip the rest too */
			while (isdigit((unsigned char) *q))
				q++;
			if (strncmp(q, " bytes received", 15) == 0)
				q += 15;
			p = q;
			continue;
		}
		appendStringInfoChar(&out, *p++);
	}
	return out.data;
}

/*
 * Whether a transfer ended without reaching its host: the name did not
 * resolve, or no connection could be made (refused, or timed out before
 * connecting).  A connection blocked_networks refused is not counted: it
 * ends at once anyway, and keeps its own message.
 */
static bool
host_unreachable(CURL *easy, CURLcode code, const Transfer *t)
{
	curl_off_t	connect_us = 0;

	if (t->blocked)
		return false;
	if (code == CURLE_COULDNT_RESOLVE_HOST || code == CURLE_COULDNT_CONNECT)
		return true;
	if (code != CURLE_OPERATION_TIMEDOUT)
		return false;
	get_info(easy, CURLINFO_CONNECT_TIME_T, &connect_us);
	return connect_us == 0;
}

/* Copies a finished transfer into resp (palloc'd). */
static void
fill_response(CURL *easy, CURLcode code, Transfer *t, const char *errbuf, HttpResponse *resp)
{
	char	   *effective = NULL;
	curl_off_t	received = 0;

	memset(resp, 0, sizeof(*resp));
	get_info(easy, CURLINFO_RESPONSE_CODE, &resp->status);
	get_info(easy, CURLINFO_EFFECTIVE_URL, &effective);
	get_info(easy, CURLINFO_SIZE_DOWNLOAD_T, &received);
	http_bytes_received += received;
	resp->curl_code = code;
	resp->too_large = t->too_large;
	resp->blocked = t->blocked;
	resp->blocked_address = t->blocked ? pstrdup(t->blocked_address) : NULL;
	resp->unreachable = code != CURLE_OK && host_unreachable(easy, code, t);
	resp->error = code != CURLE_OK ? stable_error(errbuf[0] ? errbuf : curl_easy_strerror(code)) : NULL;
	resp->body = palloc(t->len + 1);
	if (t->len > 0)
		memcpy(resp->body, t->body, t->len);
	resp->body[t->len] = '\0';
	resp->body_len = t->len;
	resp->content_type = pstrdup_or_null(t->headers[0]);
	resp->docker_content_digest = pstrdup_or_null(t->headers[1]);
	resp->www_authenticate = pstrdup_or_null(t->headers[2]);
	resp->link = pstrdup_or_null(t->headers[3]);
	resp->retry_after = pstrdup_or_null(t->headers[4]);
	resp->effective_url = pstrdup_or_null(effective);
	/* a transfer that failed, or broke off, is no answer */
	if (code != CURLE_OK && !t->too_large)
		resp->status = 0;
}

void
http_request(const HttpRequest *req, HttpResponse *resp)
{
	Transfer	t;
	struct curl_slist *volatile headers = NULL;
	char		errbuf[CURL_ERROR_SIZE];
	volatile CURLcode code = CURLE_OK;

	ensure_handles();
	memset(&t, 0, sizeof(t));
	errbuf[0] = '\0';
	t.max_body = req->max_body;

	PG_TRY();
	{
		CURLMsg    *msg;
		int			left;
		bool		done = false;

		if (req->accept)
			add_header(&headers, "Accept", req->accept);
		if (req->authorization)
			add_header(&headers, "Authorization", req->authorization);
		set_options(easy, req, &t, headers, errbuf);
		curl_wait_begin(multi_wait);
		if (curl_multi_add_handle(multi, easy) != CURLM_OK)
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg("could not start a registry request")));
		http_requests++;
		http_in_flight = 1;
		code = CURLE_RECV_ERROR;
		while (!done && curl_wait_step(multi_wait, true) == CURLM_OK)
		{
			while ((msg = curl_multi_info_read(multi, &left)) != NULL)
				if (msg->msg == CURLMSG_DONE && msg->easy_handle == easy)
				{
					code = msg->data.result;
					done = true;
				}
			if (http_wait_hook)
				http_wait_hook();
		}
		http_in_flight = 0;
		curl_multi_remove_handle(multi, easy);
		curl_wait_end(multi_wait);
		/* the buffers below live on this stack frame only */
		set_option(easy, CURLOPT_ERRORBUFFER, NULL);
		fill_response(easy, code, &t, errbuf, resp);
	}
	PG_CATCH();
	{
		/* a cancel or error mid-transfer: drop the handle and its connection */
		http_in_flight = 0;
		curl_multi_remove_handle(multi, easy);
		curl_wait_end(multi_wait);
		curl_easy_cleanup(easy);
		easy = NULL;
		curl_slist_free_all(headers);
		transfer_free(&t);
		PG_RE_THROW();
	}
	PG_END_TRY();
	curl_slist_free_all(headers);
	transfer_free(&t);
}

char *
http_origin(const char *url)
{
	CURLU	   *u = curl_url();
	char	   *scheme = NULL;
	char	   *host = NULL;
	char	   *port = NULL;
	char	   *origin = NULL;

	if (u == NULL)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	if (url && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
		curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
		curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
		curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK &&
		(strcmp(scheme, "http") == 0 || strcmp(scheme, "https") == 0))
	{
		char	   *p;

		origin = psprintf("%s://%s:%s", scheme, host, port);
		for (p = origin; *p; p++)
			*p = pg_tolower((unsigned char) *p);
	}
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
	return origin;
}

bool
http_check_proxy(char **newval, void **extra, GucSource source)
{
	CURLU	   *u;
	char	   *scheme = NULL;
	char	   *user = NULL;
	char	   *path = NULL;
	char	   *query = NULL;
	bool		ok;

	if ((*newval)[0] == '\0')
		return true;
	if ((u = curl_url()) == NULL)
	{
		GUC_check_errcode(ERRCODE_OUT_OF_MEMORY);
		return false;
	}
	ok = curl_url_set(u, CURLUPART_URL, *newval, 0) == CURLUE_OK &&
		curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
		strcmp(scheme, "http") == 0 &&
		curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_NO_USER &&
		curl_url_get(u, CURLUPART_PATH, &path, 0) == CURLUE_OK && strcmp(path, "/") == 0 &&
		curl_url_get(u, CURLUPART_QUERY, &query, 0) == CURLUE_NO_QUERY;
	curl_free(scheme);
	curl_free(user);
	curl_free(path);
	curl_free(query);
	curl_url_cleanup(u);
	if (!ok)
		GUC_check_errdetail("Give an HTTP proxy as http://host[:port], without credentials or a path.");
	return ok;
}

char *
http_escape(const char *s)
{
	char	   *escaped;
	char	   *result;

	ensure_handles();
	escaped = curl_easy_escape(easy, s, 0);
	if (escaped == NULL)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	result = pstrdup(escaped);
	curl_free(escaped);
	return result;
}

/* A transfer of a batch, in memory that stays put while curl uses it. */
typedef struct BatchSlot
{
	CURL	   *handle;
	Transfer	t;
	struct curl_slist *headers;
	char		errbuf[CURL_ERROR_SIZE];
	bool		running;
	bool		ended;			/* its item has its answer */
} BatchSlot;

/*
 * The groups of a batch, interned, so that choosing the next request costs
 * O(groups) rather than a scan of the whole batch: a batch holds thousands
 * of requests and few registries.
 */
typedef struct BatchGroups
{
	int			count;
	int		   *of;				/* item -> group */
	int		   *running;		/* group -> requests running */
	int		   *next;			/* group -> first item not yet started */
	int		   *unreachable;	/* group -> item whose host could not be
								 * reached, or -1 */
} BatchGroups;

/*
 * Batches run on a multi handle of their own, so that single requests (a
 * token, a manifest) can run while one is under way in the background; it
 * is kept, with its connections, for the next batch.  One batch at a time.
 */
static CURLM *batch_multi = NULL;
static CurlWait *batch_wait = NULL;
static bool batch_multi_busy = false;

struct HttpBatch
{
	CURLM	   *multi;
	MemoryContext ctx;			/* where the responses go */
	HttpBatchItem *items;
	int			n;
	int			max_total;
	int			max_per_group;
	BatchSlot  *slots;
	BatchGroups groups;
	int			running;
	int			done;
};

static void
batch_release(HttpBatch *b, BatchSlot *slot)
{
	curl_multi_remove_handle(b->multi, slot->handle);
	curl_easy_cleanup(slot->handle);
	curl_slist_free_all(slot->headers);
	transfer_free(&slot->t);
	slot->handle = NULL;
	slot->headers = NULL;
	slot->running = false;
}

static void
groups_init(BatchGroups *g, const HttpBatchItem *items, int n)
{
	const char **names = palloc(sizeof(char *) * Max(n, 1));
	int			i;

	g->count = 0;
	g->of = palloc(sizeof(int) * Max(n, 1));
	for (i = 0; i < n; i++)
	{
		int			k;

		for (k = 0; k < g->count && strcmp(names[k], items[i].group) != 0; k++)
			;
		if (k == g->count)
			names[g->count++] = items[i].group;
		g->of[i] = k;
	}
	g->running = palloc0(sizeof(int) * Max(g->count, 1));
	g->next = palloc0(sizeof(int) * Max(g->count, 1));
	g->unreachable = palloc(sizeof(int) * Max(g->count, 1));
	for (i = 0; i < g->count; i++)
	{
		while (g->next[i] < n && g->of[g->next[i]] != i)
			g->next[i]++;
		g->unreachable[i] = -1;
	}
	pfree(names);
}

/* The earliest item not started whose group has room, or -1. */
static int
groups_take(BatchGroups *g, int n, int max_per_group)
{
	int			best = -1;
	int			k;

	for (k = 0; k < g->count; k++)
		if (g->next[k] < n && g->running[k] < max_per_group &&
			(best < 0 || g->next[k] < best))
			best = g->next[k];
	if (best >= 0)
	{
		k = g->of[best];
		g->running[k]++;
		do
			g->next[k]++;
		while (g->next[k] < n && g->of[g->next[k]] != k);
	}
	return best;
}

/* Another request's answer, for a request to the same host not sent. */
static void
copy_response(const HttpResponse *from, const HttpRequest *req, HttpResponse *to)
{
	*to = *from;
	to->body = pstrdup(from->body);
	to->error = pstrdup_or_null(from->error);
	to->content_type = NULL;
	to->docker_content_digest = NULL;
	to->www_authenticate = NULL;
	to->link = NULL;
	to->retry_after = NULL;
	to->effective_url = pstrdup(req->url);
}

/*
 * Starts what the limits allow, in order.  Requests to a host that could
 * not be reached in this batch end at once with its answer: a host that
 * drops packets would otherwise cost a timeout per request, per-registry
 * limit at a time (500 tags at 4 and 5 s: ten minutes, other registries'
 * tags waiting behind them).
 */
static void
batch_start_more(HttpBatch *b)
{
	int			i;

	while (b->running < b->max_total &&
		   (i = groups_take(&b->groups, b->n, b->max_per_group)) >= 0)
	{
		BatchSlot  *slot = &b->slots[i];
		HttpBatchItem *item = &b->items[i];
		int			g = b->groups.of[i];

		if (b->groups.unreachable[g] >= 0)
		{
			copy_response(&b->items[b->groups.unreachable[g]].resp, &item->req, &item->resp);
			slot->ended = true;
			b->groups.running[g]--;
			b->done++;
			continue;
		}

		if ((slot->handle = curl_easy_init()) == NULL)
			ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("could not create a libcurl handle")));
		slot->running = true;
		b->running++;
		slot->t.max_body = item->req.max_body;
		if (item->req.accept)
			add_header(&slot->headers, "Accept", item->req.accept);
		if (item->req.authorization)
			add_header(&slot->headers, "Authorization", item->req.authorization);
		set_options(slot->handle, &item->req, &slot->t, slot->headers, slot->errbuf);
		set_option(slot->handle, CURLOPT_PRIVATE, (void *) (intptr_t) i);
		if (curl_multi_add_handle(b->multi, slot->handle) != CURLM_OK)
			ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR), errmsg("could not start a registry request")));
		http_in_flight = b->running;
		http_requests++;
	}
}

/*
 * libcurl could not move the batch on (out of memory, say), and would not
 * at the next step either: the batch is cancelled, and its requests not
 * answered yet end with that failure.
 */
static void
batch_fail(HttpBatch *b, CURLMcode rc)
{
	char	   *message = psprintf("libcurl failed while waiting for the requests: %s",
								   curl_multi_strerror(rc));

	ereport(LOG,
			(errmsg("a batch of %d registry requests was cancelled with %d not answered",
					b->n, b->n - b->done),
			 errdetail("%s.", message)));
	for (int i = 0; i < b->n; i++)
		if (!b->slots[i].ended)
		{
			HttpResponse *resp = &b->items[i].resp;

			memset(resp, 0, sizeof(*resp));
			resp->body = pstrdup("");
			/* (libcurl has no code of its own for a failed multi handle) */
			resp->curl_code = CURLE_FAILED_INIT;
			resp->error = message;
			resp->effective_url = pstrdup(b->items[i].req.url);
		}
	http_batch_cancel(b);
}

/*
 * Progress, after waiting for something to happen if block; returns how
 * many requests ended.
 */
static int
batch_step(HttpBatch *b, bool block)
{
	CURLMsg    *msg;
	int			left;
	int			finished = 0;
	CURLMcode	rc;
	MemoryContext old = MemoryContextSwitchTo(b->ctx);

	batch_start_more(b);
	if (b->running > 0 && (rc = curl_wait_step(batch_wait, block)) != CURLM_OK)
	{
		batch_fail(b, rc);
		MemoryContextSwitchTo(old);
		return 0;
	}
	while ((msg = curl_multi_info_read(b->multi, &left)) != NULL)
	{
		void	   *priv = NULL;
		int			i;

		if (msg->msg != CURLMSG_DONE)
			continue;
		get_info(msg->easy_handle, CURLINFO_PRIVATE, (char **) &priv);
		i = (int) (intptr_t) priv;
		fill_response(b->slots[i].handle, msg->data.result, &b->slots[i].t, b->slots[i].errbuf,
					  &b->items[i].resp);
		if (b->items[i].resp.unreachable && b->groups.unreachable[b->groups.of[i]] < 0)
			b->groups.unreachable[b->groups.of[i]] = i;
		batch_release(b, &b->slots[i]);
		b->slots[i].ended = true;
		b->groups.running[b->groups.of[i]]--;
		b->running--;
		http_in_flight = b->running;
		b->done++;
		finished++;
	}
	/* ended requests make room for others at once */
	batch_start_more(b);
	MemoryContextSwitchTo(old);
	return finished;
}

HttpBatch *
http_batch_start(HttpBatchItem *items, int n, int max_total, int max_per_group)
{
	HttpBatch  *b = palloc0(sizeof(HttpBatch));

	ensure_handles();
	if (batch_multi == NULL)
	{
		CURLM	   *m = curl_multi_init();

		if (m == NULL || (batch_wait = curl_wait_create(m)) == NULL)
		{
			curl_multi_cleanup(m);
			ereport(ERROR,
					(errcode(ERRCODE_OUT_OF_MEMORY),
					 errmsg("could not create a libcurl handle")));
		}
		batch_multi = m;
	}
	if (batch_multi_busy)
		elog(ERROR, "a batch of registry requests is under way already");
	b->ctx = CurrentMemoryContext;
	b->items = items;
	b->n = n;
	b->max_total = max_total;
	b->max_per_group = max_per_group;
	b->slots = palloc0(sizeof(BatchSlot) * Max(n, 1));
	groups_init(&b->groups, items, n);
	b->multi = batch_multi;
	batch_multi_busy = true;
	PG_TRY();
	{
		curl_wait_begin(batch_wait);
		batch_start_more(b);
	}
	PG_CATCH();
	{
		http_batch_cancel(b);
		PG_RE_THROW();
	}
	PG_END_TRY();
	return b;
}

/*
 * Whatever errors here is swallowed: the batch is cancelled instead, which
 * leaves the requests not done without an answer (status 0).  Only memory
 * and libcurl are touched, so no transaction state needs cleaning up.
 */
void
http_batch_poll(HttpBatch *b)
{
	MemoryContext old = CurrentMemoryContext;

	if (b->multi == NULL || b->done == b->n)
		return;
	PG_TRY();
	{
		batch_step(b, false);
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(old);
		FlushErrorState();
		http_batch_cancel(b);
	}
	PG_END_TRY();
}

void
http_batch_finish(HttpBatch *b)
{
	PG_TRY();
	{
		while (b->multi != NULL && b->done < b->n)
		{
			batch_step(b, true);
			if (http_wait_hook)
				http_wait_hook();
		}
	}
	PG_CATCH();
	{
		http_batch_cancel(b);
		PG_RE_THROW();
	}
	PG_END_TRY();
	http_batch_cancel(b);
}

void
http_batch_cancel(HttpBatch *b)
{
	if (b->multi == NULL)
		return;
	for (int i = 0; i < b->n; i++)
		if (b->slots[i].running)
			batch_release(b, &b->slots[i]);
	curl_wait_end(batch_wait);
	b->multi = NULL;
	batch_multi_busy = false;
	b->running = 0;
	http_in_flight = 0;
}

void
http_batch(HttpBatchItem *items, int n, int max_total, int max_per_group)
{
	http_batch_finish(http_batch_start(items, n, max_total, max_per_group));
}
