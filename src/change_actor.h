/*
 * change_actor.h
 *		Who made a change of the change log (change_actor.c).
 */
#ifndef IMAGESTREAM_CHANGE_ACTOR_H
#define IMAGESTREAM_CHANGE_ACTOR_H

#include "postgres.h"

/*
 * The changes of this process are the background worker's own imports: set
 * by the worker when it starts, never by SQL.
 */
extern bool change_actor_worker;

#endif
