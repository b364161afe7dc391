/*
 * worker_periodic.h
 *		What the background worker does on a clock rather than for due
 *		tags: the candidates the gates hold back whose age has come, and the
 *		namespaces' retention rules (doc/gates.md).
 */
#ifndef IMAGESTREAM_WORKER_PERIODIC_H
#define IMAGESTREAM_WORKER_PERIODIC_H

#include "datatype/timestamp.h"

/*
 * Runs each periodic task in a short transaction of its own, at most once a
 * second; returns when one is due next (never sooner than a second from
 * now), or DT_NOEND when nothing waits on time.
 */
extern TimestampTz periodic_run(TimestampTz now);

#endif
