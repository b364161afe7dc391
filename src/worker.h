/*
 * worker.h
 *		The background worker that keeps scheduled tags current.
 */
#ifndef IMAGESTREAM_WORKER_H
#define IMAGESTREAM_WORKER_H

extern void worker_register(void);

#endif
