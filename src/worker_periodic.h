/*
 * worker_periodic.h
 *		What the background worker does on a clock rather than for due
 *		tags: the candidates the gates hold back whose age has come
 *		(doc/gates.md), through the SQL function _worker_periodic().
 */
#ifndef IMAGESTREAM_WORKER_PERIODIC_H
#define IMAGESTREAM_WORKER_PERIODIC_H

#include "datatype/timestamp.h"

/*
 * Runs _worker_periodic() in a short transaction of its own, at most once a
 * second; returns when it is due next (never sooner than a second from
 * now), or DT_NOEND when nothing waits on time.
 */
extern TimestampTz periodic_run(TimestampTz now);

#endif
