/*
 * http_wait.c
 *		A libcurl multi handle driven by a WaitEventSet (http_wait.h).
 *
 * libcurl tells which sockets it wants to watch, and for what, through
 * CURLMOPT_SOCKETFUNCTION, and when it wants to run next through
 * CURLMOPT_TIMERFUNCTION; each event is handed back with
 * curl_multi_socket_action.  The set also holds MyLatch and postmaster
 * death, so that a cancel, a SIGTERM, a reload or new work for the worker
 * wakes the wait at once, and nothing polls: a request that waits 30 s for
 * its registry costs no wake-up but the events of its own socket.
 *
 * The callbacks run inside libcurl and must not raise an error (nothing may
 * longjmp across it): they only note, in malloc'd memory, what each socket
 * is watched for.  The set is brought up to date before each wait.
 *
 * PostgreSQL 15 cannot remove an event from a WaitEventSet, and a position
 * in it stays bound to one descriptor.  So a socket libcurl no longer
 * watches stays in the set until the set is built anew, which is done
 * before the next wait: an idle connection left in it would wake every wait
 * once its peer closes it.  Building anew costs a few system calls per
 * socket watched; it is avoided in the common case, a connection that ends
 * one transfer and carries the next (keep-alive): libcurl removes its
 * socket and asks for it again before we wait, and the set just changes the
 * events it waits for.  That is only right while the descriptor is the
 * same socket: libcurl may close a socket and open another that gets the
 * same number (its resolver's socket pair is closed without telling us,
 * and the connection's socket opened on that number is, to libcurl, the
 * same descriptor, watched for other events or for the same ones).  Every
 * socket libcurl opens or closes for a connection goes through
 * opensocket_cb (http.c) and curl_wait_close_socket, which count each
 * descriptor's openings and closings; a position is reused only for the
 * socket it was added for, and a socket removed and asked for again only
 * when libcurl opened it itself (else it may have been closed unseen).  (A
 * free list of positions would not help: a position cannot take another
 * descriptor.)
 */
#include "postgres.h"

#include <unistd.h>

#include "miscadmin.h"
#include "pgstat.h"
#include "storage/latch.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "http_wait.h"

/* A descriptor libcurl watches, as its callback left it, and in the set. */
typedef struct WatchedSocket
{
	uint32		want;			/* WL_SOCKET_* libcurl asks for; 0: none */
	uint32		has;			/* what the set waits for; 0: not in it */
	int			pos;			/* its position in the set, when has */
	uint32		opened;			/* socket_opened[fd] when it entered the set */
	bool		removed;		/* libcurl let go of it since */
} WatchedSocket;

struct CurlWait
{
	CURLM	   *multi;
	WatchedSocket *sockets;		/* by descriptor; malloc'd */
	int			nsockets;
	bool		changed;		/* a socket's entry changed since the last
								 * wait */
	uint64		turns_seen;		/* socket_turns then */
	bool		lost;			/* a callback had no memory to note one */
	bool		timer_on;
	TimestampTz timer_at;		/* when libcurl wants to run */
	WaitEventSet *set;			/* during a session */
	int			set_size;
	int			set_used;
	int			latch_pos;
	bool		latch_reset;	/* a wait of this session reset the latch */
};

/*
 * For each descriptor, how often libcurl opened a socket on it or closed
 * one: odd while a socket libcurl opened is open on it.  malloc'd.
 */
static uint32 *socket_opened = NULL;
static int	socket_opened_len = 0;

/*
 * Sockets opened or closed by libcurl in all: a socket closed and another
 * opened on its descriptor may look, to libcurl, like one it watches for
 * the same events as before, and call no callback.
 */
static uint64 socket_turns = 0;

static uint32
opened_now(curl_socket_t fd)
{
	return fd < socket_opened_len ? socket_opened[fd] : 0;
}

bool
curl_wait_opened(curl_socket_t fd)
{
	if (fd >= socket_opened_len)
	{
		int			len = Max(fd + 1, Max(64, socket_opened_len * 2));
		uint32	   *grown = realloc(socket_opened, sizeof(uint32) * len);

		if (grown == NULL)
			return false;
		memset(grown + socket_opened_len, 0, sizeof(uint32) * (len - socket_opened_len));
		socket_opened = grown;
		socket_opened_len = len;
	}
	socket_opened[fd] += (socket_opened[fd] & 1) ? 2 : 1;
	socket_turns++;
	return true;
}

int
curl_wait_close_socket(void *arg, curl_socket_t fd)
{
	if (fd < socket_opened_len)
		socket_opened[fd] += (socket_opened[fd] & 1) ? 1 : 2;
	socket_turns++;
	return close(fd);
}

/* CURLMOPT_SOCKETFUNCTION: malloc only. */
static int
socket_cb(CURL *easy, curl_socket_t fd, int what, void *arg, void *socketp)
{
	CurlWait   *w = arg;
	WatchedSocket *s;

	if (fd < 0)
		return 0;
	if (fd >= w->nsockets)
	{
		int			len = Max(fd + 1, Max(64, w->nsockets * 2));
		WatchedSocket *grown = realloc(w->sockets, sizeof(WatchedSocket) * len);

		if (grown == NULL)
		{
			/* (failing here would make libcurl give up the handle for good) */
			w->lost = true;
			return 0;
		}
		memset(grown + w->nsockets, 0, sizeof(WatchedSocket) * (len - w->nsockets));
		w->sockets = grown;
		w->nsockets = len;
	}
	s = &w->sockets[fd];
	switch (what)
	{
		case CURL_POLL_IN:
			s->want = WL_SOCKET_READABLE;
			break;
		case CURL_POLL_OUT:
			s->want = WL_SOCKET_WRITEABLE;
			break;
		case CURL_POLL_INOUT:
			s->want = WL_SOCKET_READABLE | WL_SOCKET_WRITEABLE;
			break;
		default:
			s->want = 0;
			s->removed = true;
			break;
	}
	w->changed = true;
	return 0;
}

/* CURLMOPT_TIMERFUNCTION: -1 means no timer. */
static int
timer_cb(CURLM *multi, long timeout_ms, void *arg)
{
	CurlWait   *w = arg;

	w->timer_on = timeout_ms >= 0;
	if (w->timer_on)
		w->timer_at = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), timeout_ms);
	return 0;
}

CurlWait *
curl_wait_create(CURLM *multi)
{
	CurlWait   *w = calloc(1, sizeof(CurlWait));

	if (w == NULL)
		return NULL;
	w->multi = multi;
	if (curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, socket_cb) != CURLM_OK ||
		curl_multi_setopt(multi, CURLMOPT_SOCKETDATA, w) != CURLM_OK ||
		curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, timer_cb) != CURLM_OK ||
		curl_multi_setopt(multi, CURLMOPT_TIMERDATA, w) != CURLM_OK)
	{
		free(w);
		return NULL;
	}
	return w;
}

static void
add_socket(CurlWait *w, curl_socket_t fd)
{
	WatchedSocket *s = &w->sockets[fd];

	Assert(w->set_used < w->set_size && s->want != 0);
	s->pos = AddWaitEventToSet(w->set, s->want, fd, NULL, NULL);
	s->has = s->want;
	s->opened = opened_now(fd);
	s->removed = false;
	w->set_used++;
}

/* A new set: the latch, postmaster death and the sockets libcurl watches. */
static void
build_set(CurlWait *w)
{
	int			watched = 0;

	if (w->set)
		FreeWaitEventSet(w->set);
	w->set = NULL;
	for (int fd = 0; fd < w->nsockets; fd++)
	{
		w->sockets[fd].has = 0;
		if (w->sockets[fd].want)
			watched++;
	}
	/* room for more: each socket added later would otherwise build anew */
	w->set_size = 2 + Max(16, 2 * watched);
	w->set = CreateWaitEventSet(TopMemoryContext, w->set_size);
	w->latch_pos = AddWaitEventToSet(w->set, WL_LATCH_SET, PGINVALID_SOCKET, MyLatch, NULL);
	w->set_used = 1;
	if (IsUnderPostmaster)
	{
		AddWaitEventToSet(w->set, WL_EXIT_ON_PM_DEATH, PGINVALID_SOCKET, NULL, NULL);
		w->set_used++;
	}
	for (int fd = 0; fd < w->nsockets; fd++)
		if (w->sockets[fd].want)
			add_socket(w, fd);
	w->changed = false;
	w->turns_seen = socket_turns;
}

/* The set made to wait for what libcurl asks for now. */
static void
update_set(CurlWait *w)
{
	int			adding = 0;

	if (w->lost)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory"),
				 errdetail("The sockets of a registry request could not be watched.")));
	if (!w->changed && w->turns_seen == socket_turns)
		return;
	/* first find whether the set must be built anew */
	for (int fd = 0; fd < w->nsockets; fd++)
	{
		WatchedSocket *s = &w->sockets[fd];

		if (s->has == 0)
			adding += s->want != 0;
		else if (s->want == 0 || s->opened != opened_now(fd) ||
				 (s->removed && !(s->opened & 1)))
		{
			build_set(w);
			return;
		}
	}
	if (w->set_used + adding > w->set_size)
	{
		build_set(w);
		return;
	}
	for (int fd = 0; fd < w->nsockets; fd++)
	{
		WatchedSocket *s = &w->sockets[fd];

		if (s->has == 0 && s->want != 0)
			add_socket(w, fd);
		else if (s->has != s->want)
		{
			ModifyWaitEvent(w->set, s->pos, s->want, NULL);
			s->has = s->want;
		}
		s->removed = false;
	}
	w->changed = false;
	w->turns_seen = socket_turns;
}

void
curl_wait_begin(CurlWait *w)
{
	Assert(w->set == NULL);
	/* (waits only look at interrupts when the latch wakes them) */
	CHECK_FOR_INTERRUPTS();

	/*
	 * Between sessions the handle has no transfer, so libcurl watches no
	 * socket: what is noted of the last session is forgotten (a socket it
	 * did not remove, say after a callback had no memory, is closed, or
	 * another file by now).
	 */
	for (int fd = 0; fd < w->nsockets; fd++)
		w->sockets[fd].want = 0;
	w->lost = false;
	w->latch_reset = false;
	build_set(w);
}

void
curl_wait_end(CurlWait *w)
{
	if (w->set)
		FreeWaitEventSet(w->set);
	w->set = NULL;
	for (int fd = 0; fd < w->nsockets; fd++)
		w->sockets[fd].has = 0;
	/* whoever set the latch (new work for the worker) still finds it set */
	if (w->latch_reset)
		SetLatch(MyLatch);
	w->latch_reset = false;
}

static bool
act(CurlWait *w, curl_socket_t fd, int ev_bitmask)
{
	int			running;
	CURLMcode	rc = curl_multi_socket_action(w->multi, fd, ev_bitmask, &running);

	/* (a socket that libcurl closed meanwhile is no failure) */
	return rc == CURLM_OK || rc == CURLM_BAD_SOCKET;
}

bool
curl_wait_step(CurlWait *w, bool block)
{
	WaitEvent	events[32];
	long		timeout = -1;
	int			n;
	bool		ok = true;

	Assert(w->set != NULL);
	update_set(w);
	if (w->timer_on)
	{
		long		secs;
		int			usecs;

		TimestampDifference(GetCurrentTimestamp(), w->timer_at, &secs, &usecs);
		/* rounded up: woken too early, libcurl has nothing to do */
		timeout = Min(secs * 1000 + (usecs + 999) / 1000, (long) INT_MAX);
	}
	if (!block)
	{
		timeout = 0;
		ModifyWaitEvent(w->set, w->latch_pos, WL_LATCH_SET, NULL);
	}
	n = WaitEventSetWait(w->set, timeout, events, lengthof(events), PG_WAIT_EXTENSION);
	if (!block)
		ModifyWaitEvent(w->set, w->latch_pos, WL_LATCH_SET, MyLatch);
	for (int i = 0; i < n; i++)
	{
		if (events[i].events & WL_LATCH_SET)
		{
			ResetLatch(MyLatch);
			w->latch_reset = true;
			CHECK_FOR_INTERRUPTS();
			continue;
		}
		ok &= act(w, events[i].fd,
				  ((events[i].events & WL_SOCKET_READABLE) ? CURL_CSELECT_IN : 0) |
				  ((events[i].events & WL_SOCKET_WRITEABLE) ? CURL_CSELECT_OUT : 0));
	}
	if (w->timer_on && GetCurrentTimestamp() >= w->timer_at)
	{
		/* one-shot: libcurl sets it again, even when it ran early */
		w->timer_on = false;
		ok &= act(w, CURL_SOCKET_TIMEOUT, 0);
	}
	return ok;
}
