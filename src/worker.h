/*
 * worker.h
 *		The background worker that keeps scheduled tags current.
 */
#ifndef IMAGESTREAM_WORKER_H
#define IMAGESTREAM_WORKER_H

extern char *imagestream_database;
extern bool imagestream_enable_worker;
extern int	imagestream_import_interval;	/* ms */
extern int	imagestream_max_imports_per_minute;
extern int	imagestream_max_concurrent_requests;
extern int	imagestream_max_requests_per_registry;

extern void worker_register(void);

#endif
