/*
 * settings.h
 *		The extension's settings (imagestream.*), defined in imagestream.c.
 *		The registry policy lists are declared in policy.h.
 */
#ifndef IMAGESTREAM_SETTINGS_H
#define IMAGESTREAM_SETTINGS_H

extern char *imagestream_local_registry;
extern char *imagestream_notify_channel;
extern char *imagestream_ca_file;
extern char *imagestream_proxy;
extern char *imagestream_preferred_platform;
extern int	imagestream_max_manifest_size;	/* kB */
extern int	imagestream_request_timeout;	/* ms */
extern int	imagestream_max_bulk_import;

/* What is read from registries (doc/import.md, doc/security.md S15). */
extern int	imagestream_max_config_size;	/* kB */
extern int	imagestream_max_index_children;
extern int	imagestream_max_import_size;	/* kB */
extern int	imagestream_max_tag_list_size;	/* kB */
extern int	imagestream_max_cycle_size; /* kB */

#endif
