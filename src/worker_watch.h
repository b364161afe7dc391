/*
 * worker_watch.h
 *		The background worker's memory of the tags it watches: the upstream
 *		references they follow (each in the due heap, with its followers),
 *		and what a check needs of a tag's row, kept until the row may have
 *		changed (doc/worker.md, "The due queue").
 */
#ifndef IMAGESTREAM_WORKER_WATCH_H
#define IMAGESTREAM_WORKER_WATCH_H

#include "worker_schedule.h"

/* The empty memory (s->tags is the caller's), in TopMemoryContext. */
extern void watch_init(WorkerSchedule *s);

/*
 * Forgets every reference and all that tags keep, and empties the heap (a
 * full read follows): the tags keep their timing.
 */
extern void watch_reset(WorkerSchedule *s);

/* w follows source (insecure): it moves to that reference, made if new. */
extern void watch_follow(WorkerSchedule *s, WatchedTag *w, const char *source, bool insecure);

/*
 * w follows nothing while it is read again; a reference left without
 * followers goes, unless a cycle took it from the heap (watch_untake).
 */
extern void watch_unfollow(WorkerSchedule *s, WatchedTag *w);

/* A reference not taken goes into the heap at wake, or sooner if it is in later. */
extern void watch_wake_by(WorkerSchedule *s, WatchedRef *r, TimestampTz wake);

/*
 * A reference a cycle took from the heap, which it goes back into (the
 * caller places it): false if no follower is left, and then it is gone.
 */
extern bool watch_untake(WorkerSchedule *s, WatchedRef *r);

/*
 * Keeps what a check of w needs, from its row; false (nothing kept) when
 * its known digest is not a sha256 one (nor none).
 */
extern bool watch_keep(WorkerSchedule *s, WatchedTag *w, const char *namespace, int64 stream_id,
					   bool preserve, const char *known, int known_len, const char *prefer_os,
					   const char *prefer_arch, bool signatures);

/* Lets go of what w kept. */
extern void watch_drop(WorkerSchedule *s, WatchedTag *w);

#endif
