/*
 * http.h
 *		One HTTP request on libcurl, with the limits of doc/import.md, the
 *		blocked networks checked on every connection, and the backend
 *		responsive to cancellation while it waits (http_wait.c).
 */
#ifndef IMAGESTREAM_HTTP_H
#define IMAGESTREAM_HTTP_H

#include "postgres.h"

#include "utils/guc.h"

typedef struct HttpRequest
{
	const char *method;			/* "GET" or "HEAD" */
	const char *url;
	const char *accept;			/* Accept header, or NULL */
	const char *authorization;	/* Authorization header value, or NULL */
	size_t		max_body;		/* a longer body ends the transfer */
	bool		verify_tls;
} HttpRequest;

typedef struct HttpResponse
{
	long		status;			/* 0 when no HTTP answer came */
	char	   *body;			/* palloc'd, NUL-terminated */
	size_t		body_len;
	bool		too_large;		/* the body passed max_body */
	bool		blocked;		/* a connection was refused by blocked_networks */
	bool		unreachable;	/* no connection to the host could be made */
	char	   *blocked_address;
	int			curl_code;		/* CURLcode of the transfer */
	char	   *error;			/* libcurl's message when curl_code != 0 */
	char	   *content_type;	/* headers of the final answer, or NULL */
	char	   *docker_content_digest;
	char	   *www_authenticate;
	char	   *link;
	char	   *retry_after;
	char	   *effective_url;
} HttpResponse;

extern void http_request(const HttpRequest *req, HttpResponse *resp);

/* One request of a batch; requests of one group share a per-group limit. */
typedef struct HttpBatchItem
{
	HttpRequest req;
	const char *group;
	HttpResponse resp;
} HttpBatchItem;

/*
 * Performs the requests concurrently on libcurl's multi interface, at most
 * max_total at once and max_per_group per group, reusing connections.
 */
extern void http_batch(HttpBatchItem *items, int n, int max_total, int max_per_group);

/*
 * The same in steps, for a batch that runs while the caller does other
 * work: start it, poll it now and then (never waits, never raises: a failure
 * cancels the batch), and finish it (waits for the rest).  A cancelled
 * batch's unfinished requests have no answer (status 0).  Responses are
 * allocated in the memory context current at the start.
 */
typedef struct HttpBatch HttpBatch;
extern HttpBatch *http_batch_start(HttpBatchItem *items, int n, int max_total, int max_per_group);
extern void http_batch_poll(HttpBatch *b);
extern void http_batch_finish(HttpBatch *b);
extern void http_batch_cancel(HttpBatch *b);

/*
 * Called each time a request's wait wakes up (the latch, after
 * CHECK_FOR_INTERRUPTS, or a socket, or libcurl's timer): the worker reloads
 * its settings there.  The wait itself ends the process on postmaster
 * death, and sets the latch again on return if it reset it, so the caller
 * still sees whatever set it.
 */
extern void (*http_wait_hook) (void);

/*
 * The origin of an absolute http or https URL: "scheme://host:port" in lower
 * case, the port always written (palloc'd); NULL for anything else.
 */
extern char *http_origin(const char *url);

/* GUC check hook of imagestream.proxy: empty, or http://host[:port]. */
extern bool http_check_proxy(char **newval, void **extra, GucSource source);

/* URL-encodes s (palloc'd). */
extern char *http_escape(const char *s);

/* Requests in flight now, and bytes received and requests made by this process. */
extern int	http_in_flight;
extern uint64 http_bytes_received;
extern uint64 http_requests;

#endif
