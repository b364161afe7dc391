/*
 * http_wait.c
 *		A libcurl multi handle driven by a WaitEventSet (http_wait.h).
 *
 * libcurl tells which sockets it wants to watch, and for what, through
 * CURLMOPT_SOCKETFUNCTION; each event is handed back with
 * curl_multi_socket_action.  When it next wants to run without an event is
 * asked before each wait (curl_multi_timeout): the time left on libcurl's
 * own monotonic clock, which a step of the wall clock does not move (a
 * deadline kept on the wall clock would sleep an hour past request_timeout
 * when the clock steps back an hour).  The set also holds MyLatch and
 * postmaster death, so that a cancel, a SIGTERM, a reload or new work for
 * the worker wakes the wait at once, and nothing polls: a request that
 * waits 30 s for its registry costs no wake-up but the events of its own
 * socket.
 *
 * The callback runs inside libcurl and must not raise an error (nothing may
 * longjmp across it): it only notes, in malloc'd memory, what each socket
 * is watched for.  The set is brought up to date before each wait.
 *
 * PostgreSQL 15 cannot remove an event from a WaitEventSet, and a position
 * in it stays bound to one descriptor; building the set anew costs a system
 * call per socket watched, which a batch of hundreds of requests must not
 * pay at each wait.  So positions outlive what libcurl watches:
 * - a socket libcurl closed left the kernel's set with close(): its
 *   position is dead, never touched again, and a socket opened later on its
 *   number gets a position of its own;
 * - a connection libcurl keeps open but no longer watches (between two
 *   transfers) keeps its position, waiting to be readable only, and takes
 *   the events libcurl asks for again when it carries the next transfer.
 * The set is built anew when it is full or half of it is dead, or when a
 * position libcurl does not watch reports an event (an idle connection its
 * peer closed would otherwise wake every wait).
 *
 * Telling the two apart needs to know what libcurl opens and closes: every
 * socket it opens or closes for a connection goes through opensocket_cb
 * (http.c) and curl_wait_close_socket, which count each descriptor's
 * openings and closings (its generation).  A socket libcurl did not open
 * that way (its resolver's socket pair, closed without telling us) is dead
 * once libcurl lets go of it, or once ours is opened on its number; while
 * it may still be open, and so in the kernel's set, its number is added
 * again only to a set built anew.  The same generations keep an event from
 * reaching a socket that an earlier event of the same wait had libcurl
 * close and open again on its number.  (A free list of positions would not
 * help: a position cannot take another descriptor.)
 */
#include "postgres.h"

#include <unistd.h>

#include "miscadmin.h"
#include "pgstat.h"
#include "storage/latch.h"
#include "utils/memutils.h"

#include "compat.h"
#include "http_wait.h"

/* What libcurl asks of a descriptor, as its callback left it. */
typedef struct WatchedSocket
{
	uint32		want;			/* WL_SOCKET_* libcurl asks for; 0: none */
	bool		removed;		/* libcurl let go of it since the last update */
	int			pos;			/* its position in the set; 0 (the latch's):
								 * none */
	bool		lingers;		/* a dead position may hold it, still open */
	uint32		lingers_opened; /* its generation then */
} WatchedSocket;

typedef enum SlotState
{
	SLOT_WATCHED,				/* libcurl watches its socket */
	SLOT_IDLE,					/* open, but libcurl does not watch it */
	SLOT_DEAD					/* closed, or may be: never touched again */
} SlotState;

/* A position of the set that holds a socket. */
typedef struct SetSlot
{
	curl_socket_t fd;
	uint32		opened;			/* socket_opened[fd] when it was added */
	uint32		has;			/* what the set waits for */
	SlotState	state;
} SetSlot;

struct CurlWait
{
	CURLM	   *multi;
	WatchedSocket *sockets;		/* by descriptor; malloc'd */
	int			nsockets;
	bool		changed;		/* a socket's entry changed since the last
								 * wait */
	uint64		turns_seen;		/* socket_turns then */
	bool		lost;			/* the callback had no memory to note one */
	bool		rebuild;		/* a position libcurl does not watch reported
								 * an event */
	WaitEventSet *set;			/* during a session */
	SetSlot    *slots;			/* by position; in TopMemoryContext */
	int			slots_len;
	int			set_size;
	int			set_used;
	int			dead;			/* positions SLOT_DEAD */
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

CurlWait *
curl_wait_create(CURLM *multi)
{
	CurlWait   *w = calloc(1, sizeof(CurlWait));

	if (w == NULL)
		return NULL;
	w->multi = multi;
	if (curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, socket_cb) != CURLM_OK ||
		curl_multi_setopt(multi, CURLMOPT_SOCKETDATA, w) != CURLM_OK)
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
	SetSlot    *slot;
	int			pos;

	Assert(w->set_used < w->set_size && s->want != 0 && s->pos == 0);
	pos = AddWaitEventToSet(w->set, s->want, fd, NULL, NULL);
	Assert(pos == w->set_used && pos > 0);
	slot = &w->slots[pos];
	slot->fd = fd;
	slot->opened = opened_now(fd);
	slot->has = s->want;
	slot->state = SLOT_WATCHED;
	s->pos = pos;
	w->set_used++;
}

static void
kill_slot(CurlWait *w, WatchedSocket *s)
{
	w->slots[s->pos].state = SLOT_DEAD;
	s->pos = 0;
	w->dead++;
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
		WatchedSocket *s = &w->sockets[fd];

		s->pos = 0;
		s->removed = false;
		s->lingers = false;
		if (s->want)
			watched++;
	}
	/* room for more: each socket added later would otherwise build anew */
	w->set_size = 2 + Max(16, 2 * watched);
	if (w->set_size > w->slots_len)
	{
		if (w->slots)
			pfree(w->slots);
		w->slots = NULL;
		w->slots_len = 0;
		w->slots = MemoryContextAlloc(TopMemoryContext, sizeof(SetSlot) * w->set_size);
		w->slots_len = w->set_size;
	}
	w->set = create_session_wait_event_set(w->set_size);
	w->latch_pos = AddWaitEventToSet(w->set, WL_LATCH_SET, PGINVALID_SOCKET, MyLatch, NULL);
	Assert(w->latch_pos == 0);
	w->set_used = 1;
	if (IsUnderPostmaster)
	{
		AddWaitEventToSet(w->set, WL_EXIT_ON_PM_DEATH, PGINVALID_SOCKET, NULL, NULL);
		w->set_used++;
	}
	w->dead = 0;
	w->rebuild = false;
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
	bool		rebuild = w->rebuild;

	if (w->lost)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory"),
				 errdetail("The sockets of a registry request could not be watched.")));
	if (!w->changed && w->turns_seen == socket_turns && !rebuild)
		return;
	/* first the positions of sockets closed since, and what is to be added */
	for (int fd = 0; fd < w->nsockets; fd++)
	{
		WatchedSocket *s = &w->sockets[fd];

		if (s->pos)
		{
			SetSlot    *slot = &w->slots[s->pos];

			if (slot->opened != opened_now(fd))
				kill_slot(w, s);
			else if (s->removed && !(slot->opened & 1))
			{
				/* not opened by opensocket_cb: closed unseen, or still open */
				s->lingers = true;
				s->lingers_opened = slot->opened;
				kill_slot(w, s);
			}
		}
		if (s->want && !s->pos)
		{
			adding++;
			/* (the kernel refuses a socket its set holds already) */
			if (s->lingers && s->lingers_opened == opened_now(fd))
				rebuild = true;
		}
	}
	if (rebuild || w->set_used + adding > w->set_size || 2 * w->dead > w->set_size)
	{
		build_set(w);
		return;
	}
	for (int fd = 0; fd < w->nsockets; fd++)
	{
		WatchedSocket *s = &w->sockets[fd];

		if (s->pos)
		{
			SetSlot    *slot = &w->slots[s->pos];

			/* an idle connection only tells when its peer closes it */
			uint32		events = s->want ? s->want : WL_SOCKET_READABLE;

			if (slot->has != events)
			{
				ModifyWaitEvent(w->set, s->pos, events, NULL);
				slot->has = events;
			}
			slot->state = s->want ? SLOT_WATCHED : SLOT_IDLE;
		}
		else if (s->want)
			add_socket(w, fd);
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
		w->sockets[fd].pos = 0;
	/* whoever set the latch (new work for the worker) still finds it set */
	if (w->latch_reset)
		SetLatch(MyLatch);
	w->latch_reset = false;
}

static CURLMcode
act(CurlWait *w, curl_socket_t fd, int ev_bitmask)
{
	int			running;
	CURLMcode	rc = curl_multi_socket_action(w->multi, fd, ev_bitmask, &running);

	/* (a socket that libcurl closed meanwhile is no failure) */
	return rc == CURLM_BAD_SOCKET ? CURLM_OK : rc;
}

CURLMcode
curl_wait_step(CurlWait *w, bool block)
{
	WaitEvent	events[32];
	long		timeout;
	int			n;
	CURLMcode	rc;

	Assert(w->set != NULL);
	update_set(w);
	/* -1: libcurl has no timer */
	if ((rc = curl_multi_timeout(w->multi, &timeout)) != CURLM_OK)
		return rc;
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
		SetSlot    *slot;

		if (events[i].events & WL_LATCH_SET)
		{
			ResetLatch(MyLatch);
			w->latch_reset = true;
			CHECK_FOR_INTERRUPTS();
			continue;
		}
		slot = &w->slots[events[i].pos];
		Assert(events[i].pos < w->set_used && slot->fd == events[i].fd);
		if (slot->state == SLOT_DEAD)
		{
			/* still open after all (or the set polls closed descriptors) */
			w->rebuild = true;
			continue;
		}
		/* an earlier event had libcurl close it (and maybe open another) */
		if (slot->opened != opened_now(slot->fd))
			continue;
		if (slot->state == SLOT_IDLE)
		{
			w->rebuild = true;
			continue;
		}
		rc = act(w, events[i].fd,
				 ((events[i].events & WL_SOCKET_READABLE) ? CURL_CSELECT_IN : 0) |
				 ((events[i].events & WL_SOCKET_WRITEABLE) ? CURL_CSELECT_OUT : 0));
		if (rc != CURLM_OK)
			return rc;
	}
	/* libcurl's timer, if acting on the sockets did not run it already */
	if ((rc = curl_multi_timeout(w->multi, &timeout)) == CURLM_OK && timeout == 0)
		rc = act(w, CURL_SOCKET_TIMEOUT, 0);
	return rc;
}
