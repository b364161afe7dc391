/*
 * settings.h
 *		The extension's settings (imagestream.*), defined in imagestream.c.
 */
#ifndef IMAGESTREAM_SETTINGS_H
#define IMAGESTREAM_SETTINGS_H

extern char *imagestream_local_registry;
extern char *imagestream_notify_channel;

#endif
