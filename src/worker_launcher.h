/*
 * worker_launcher.h
 *		The launcher, which starts a background worker for each database
 *		that has the extension.
 */
#ifndef IMAGESTREAM_WORKER_LAUNCHER_H
#define IMAGESTREAM_WORKER_LAUNCHER_H

extern void launcher_register(void);

#endif
