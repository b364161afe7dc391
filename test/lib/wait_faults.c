/*
 * wait_faults.c
 *		Faults for test/t/046_wait_faults.pl, preloaded into the server
 *		(LD_PRELOAD; the test builds it with the system's cc):
 *
 * - while the file $WAIT_FAULTS_CLOCK_BACK exists, gettimeofday (and so
 *   GetCurrentTimestamp) runs an hour behind: the wall clock stepped back,
 *   as by NTP or a resumed virtual machine; the monotonic clock goes on;
 * - while the file $WAIT_FAULTS_CURL_FAIL exists, curl_multi_socket_action
 *   fails (CURLM_OUT_OF_MEMORY) without doing anything.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <sys/time.h>
#include <unistd.h>

#include <curl/curl.h>

static int
flag_set(const char *variable)
{
	const char *path = getenv(variable);

	return path != NULL && access(path, F_OK) == 0;
}

int
gettimeofday(struct timeval *tv, void *tz)
{
	static int	(*real) (struct timeval *, void *);
	int			r;

	if (real == NULL)
		real = dlsym(RTLD_NEXT, "gettimeofday");
	r = real(tv, tz);
	if (r == 0 && tv != NULL && flag_set("WAIT_FAULTS_CLOCK_BACK"))
		tv->tv_sec -= 3600;
	return r;
}

CURLMcode
curl_multi_socket_action(CURLM *multi, curl_socket_t s, int ev_bitmask, int *running_handles)
{
	static CURLMcode (*real) (CURLM *, curl_socket_t, int, int *);

	if (flag_set("WAIT_FAULTS_CURL_FAIL"))
		return CURLM_OUT_OF_MEMORY;
	/* libcurl is loaded after this file, with the extension */
	if (real == NULL)
		real = dlsym(RTLD_NEXT, "curl_multi_socket_action");
	return real(multi, s, ev_bitmask, running_handles);
}
