/*
 * settings.h
 *		Every setting of the extension (imagestream.*), defined in
 *		settings.c.  Sizes are in kB and times in ms, as the GUC units say.
 */
#ifndef IMAGESTREAM_SETTINGS_H
#define IMAGESTREAM_SETTINGS_H

/* Names and announcements. */
extern char *imagestream_local_registry;
extern char *imagestream_notify_channel;

/*
 * Which registries imports reach, and how (policy.c, http.c): the registry
 * lists are comma-separated host[:port] patterns with "*" wildcards, the
 * networks a list in CIDR notation.
 */
extern char *imagestream_allowed_registries;
extern char *imagestream_blocked_registries;
extern char *imagestream_insecure_registries;
extern char *imagestream_blocked_networks;
extern char *imagestream_ca_file;
extern char *imagestream_proxy;
extern int	imagestream_request_timeout;	/* ms */

/* What an import chooses and reads (doc/import.md, doc/security.md S15). */
extern char *imagestream_preferred_platform;
extern int	imagestream_max_manifest_size;	/* kB */
extern int	imagestream_max_config_size;	/* kB */
extern int	imagestream_max_index_children;
extern int	imagestream_max_import_size;	/* kB */
extern int	imagestream_max_tag_list_size;	/* kB */
extern int	imagestream_max_bulk_import;

/* The background worker. */
extern bool imagestream_enable_worker;
extern int	imagestream_import_interval;	/* ms */
extern int	imagestream_max_imports_per_minute;
extern int	imagestream_max_concurrent_requests;
extern int	imagestream_max_requests_per_registry;
extern int	imagestream_max_cycle_size; /* kB */

/* Defines them all, from _PG_init. */
extern void settings_define(void);

#endif
