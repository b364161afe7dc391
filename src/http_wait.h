/*
 * http_wait.h
 *		Waiting for a libcurl multi handle: its sockets and its timer, the
 *		latch and postmaster death in one WaitEventSet, so that a backend or
 *		the worker sleeps until something happens.
 */
#ifndef IMAGESTREAM_HTTP_WAIT_H
#define IMAGESTREAM_HTTP_WAIT_H

#include "postgres.h"

#include <curl/curl.h>

typedef struct CurlWait CurlWait;

/*
 * Makes multi tell its sockets to a CurlWait, kept (malloc'd) as long as
 * the handle; NULL when that fails.
 */
extern CurlWait *curl_wait_create(CURLM *multi);

/*
 * A session of waits (one request, one batch): begin creates the wait set,
 * end frees it and sets the latch again if a wait reset it.  Each exit path
 * of a session must end it.
 */
extern void curl_wait_begin(CurlWait *w);
extern void curl_wait_end(CurlWait *w);

/*
 * Lets libcurl act on what happened, after waiting for it if block: a
 * socket libcurl watches is ready, its timer is due, or the latch is set
 * (then reset, and interrupts processed).  Without block, nothing waits and
 * the latch is left alone.  Returns CURLM_OK, or libcurl's failure.
 */
extern CURLMcode curl_wait_step(CurlWait *w, bool block);

/*
 * The sockets libcurl opens (CURLOPT_OPENSOCKETFUNCTION) and closes
 * (CURLOPT_CLOSESOCKETFUNCTION): a wait set can then tell a socket it
 * holds from another one opened later on the same descriptor.
 * curl_wait_opened returns false when it has no memory to note it.
 */
extern bool curl_wait_opened(curl_socket_t fd);
extern int	curl_wait_close_socket(void *arg, curl_socket_t fd);

#endif
