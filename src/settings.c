/*
 * settings.c
 *		The extension's settings: every imagestream.* variable and its
 *		definition (name, default, bounds, context, hooks, description),
 *		as doc/settings.md describes them and test/t/037_settings.pl checks.
 *
 * The check and assign hooks stay with the code that understands the value
 * (policy.c parses networks, http.c proxies).
 */
#include "postgres.h"

#include <limits.h>

#include "miscadmin.h"
#include "utils/guc.h"

#include "http.h"
#include "policy.h"
#include "settings.h"

char	   *imagestream_local_registry = NULL;
char	   *imagestream_notify_channel = NULL;
char	   *imagestream_ca_file = NULL;
char	   *imagestream_proxy = NULL;
char	   *imagestream_preferred_platform = NULL;
int			imagestream_max_manifest_size = 4096;
int			imagestream_request_timeout = 30000;
int			imagestream_max_bulk_import = 50;
int			imagestream_max_config_size = 16 * 1024;
int			imagestream_max_index_children = 64;
int			imagestream_max_import_size = 64 * 1024;
int			imagestream_max_tag_list_size = 8 * 1024;
int			imagestream_max_cycle_size = 128 * 1024;
char	   *imagestream_allowed_registries = NULL;
char	   *imagestream_blocked_registries = NULL;
char	   *imagestream_insecure_registries = NULL;
char	   *imagestream_blocked_networks = NULL;
bool		imagestream_enable_worker = true;
int			imagestream_import_interval = 15 * 60 * 1000;
int			imagestream_max_imports_per_minute = 60;
int			imagestream_max_concurrent_requests = 16;
int			imagestream_max_requests_per_registry = 4;

/* read by _notify_change through current_setting(); id by default (S19) */
static int	notify_payload = 1;
static const struct config_enum_entry notify_payload_options[] = {
	{"full", 0, false},
	{"id", 1, false},
	{NULL, 0, false}
};

/* read by _number_changes through current_setting() (finding S26) */
static double notify_queue_limit = 0.5;

/* Network and policy settings: superuser only (doc/worker.md, doc/settings.md). */
static void
define_string(const char *name, const char *short_desc, char **var, const char *boot,
			  GucStringCheckHook check, GucStringAssignHook assign)
{
	DefineCustomStringVariable(name, short_desc, NULL, var, boot, PGC_SUSET, 0,
							   check, assign, NULL);
}

void
settings_define(void)
{
	define_string("imagestream.local_registry",
				  "Registry that serves image streams by pullthrough (reference policy Local).",
				  &imagestream_local_registry, "", NULL, NULL);
	define_string("imagestream.notify_channel",
				  "Channel on which tag changes are announced with NOTIFY.",
				  &imagestream_notify_channel, "imagestream", NULL, NULL);
	DefineCustomEnumVariable("imagestream.notify_payload",
							 "What a change's NOTIFY carries: its id alone (id), which listeners read through changes_since() with their rights, or every field (full).",
							 NULL, &notify_payload, 1, notify_payload_options, PGC_SUSET, 0,
							 NULL, NULL, NULL);
	DefineCustomRealVariable("imagestream.notify_queue_limit",
							 "Fraction of the server's notification queue past which changes are logged but not announced.",
							 "Any role can fill the queue, which is shared by every channel, while a listener idles in a transaction; a full queue would fail every commit that announces a change.",
							 &notify_queue_limit, 0.5, 0.0, 1.0, PGC_SUSET, 0,
							 NULL, NULL, NULL);
	define_string("imagestream.allowed_registries",
				  "Registries imports may contact: comma-separated host[:port] patterns with * wildcards.",
				  &imagestream_allowed_registries, "*", NULL, NULL);
	define_string("imagestream.blocked_registries",
				  "Registries imports may not contact, even when allowed.",
				  &imagestream_blocked_registries, "", NULL, NULL);
	define_string("imagestream.insecure_registries",
				  "Registries reached over plain HTTP or unverified TLS.",
				  &imagestream_insecure_registries, "", NULL, NULL);
	define_string("imagestream.ca_file",
				  "PEM file of certificate authorities trusted besides the system store.",
				  &imagestream_ca_file, "", NULL, NULL);
	DefineCustomStringVariable("imagestream.proxy",
							   "HTTP proxy (http://host:port) for every registry request; empty: none, whatever the environment says.",
							   NULL, &imagestream_proxy, "", PGC_SIGHUP, 0,
							   http_check_proxy, NULL, NULL);
	define_string("imagestream.blocked_networks",
				  "Networks no import connects to, checked on the address actually connected to.",
				  &imagestream_blocked_networks,
				  "127.0.0.0/8,169.254.0.0/16,::1/128,fe80::/10",
				  policy_check_networks, policy_assign_networks);
	define_string("imagestream.preferred_platform",
				  "Platform (os/architecture[/variant]) chosen from a manifest list in Legacy import mode.",
				  &imagestream_preferred_platform, "linux/amd64", NULL, NULL);
	DefineCustomIntVariable("imagestream.max_manifest_size",
							"Largest manifest an import reads.",
							NULL, &imagestream_max_manifest_size,
							4096, 1, 1024 * 1024, PGC_SUSET, GUC_UNIT_KB,
							NULL, NULL, NULL);
	DefineCustomIntVariable("imagestream.request_timeout",
							"Time limit of each registry request.",
							NULL, &imagestream_request_timeout,
							30000, 100, 3600 * 1000, PGC_SUSET, GUC_UNIT_MS,
							NULL, NULL, NULL);
	DefineCustomIntVariable("imagestream.max_bulk_import",
							"Most tags one import of a whole repository imports (-1: no limit).",
							NULL, &imagestream_max_bulk_import,
							50, -1, PG_INT32_MAX, PGC_SUSET, 0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("imagestream.max_config_size",
							"Largest config blob an import reads.",
							NULL, &imagestream_max_config_size,
							16 * 1024, 1, 1024 * 1024, PGC_SUSET, GUC_UNIT_KB,
							NULL, NULL, NULL);
	DefineCustomIntVariable("imagestream.max_index_children",
							"Most distinct manifests an index may list for a PreserveOriginal import.",
							NULL, &imagestream_max_index_children,
							64, 1, 100000, PGC_SUSET, 0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("imagestream.max_import_size",
							"Most bytes one import reads from registries: a tag's source, or all sources of an import of all tags.",
							NULL, &imagestream_max_import_size,
							64 * 1024, 1, MAX_KILOBYTES, PGC_SUSET, GUC_UNIT_KB,
							NULL, NULL, NULL);
	DefineCustomIntVariable("imagestream.max_tag_list_size",
							"Most bytes of tag list pages an import of all tags reads.",
							NULL, &imagestream_max_tag_list_size,
							8 * 1024, 1, MAX_KILOBYTES, PGC_SUSET, GUC_UNIT_KB,
							NULL, NULL, NULL);
	DefineCustomIntVariable("imagestream.max_cycle_size",
							"Most bytes the worker reads from registries in one cycle; the tags left wait for the next.",
							NULL, &imagestream_max_cycle_size,
							128 * 1024, 1, MAX_KILOBYTES, PGC_SIGHUP, GUC_UNIT_KB,
							NULL, NULL, NULL);
	DefineCustomBoolVariable("imagestream.enable_worker",
							 "Whether the background worker imports scheduled and pending tags.",
							 NULL, &imagestream_enable_worker, true, PGC_SIGHUP, 0,
							 NULL, NULL, NULL);
	DefineCustomIntVariable("imagestream.import_interval",
							"Least time between two checks of a scheduled tag.",
							NULL, &imagestream_import_interval,
							15 * 60 * 1000, 1000, PG_INT32_MAX, PGC_SIGHUP, GUC_UNIT_MS,
							NULL, NULL, NULL);
	DefineCustomIntVariable("imagestream.max_imports_per_minute",
							"Most tag checks the worker makes per minute (-1: no limit); bursts up to twice that.",
							NULL, &imagestream_max_imports_per_minute,
							60, -1, PG_INT32_MAX, PGC_SIGHUP, 0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("imagestream.max_concurrent_requests",
							"Most registry requests the worker has in flight at once.",
							NULL, &imagestream_max_concurrent_requests,
							16, 1, 1024, PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("imagestream.max_requests_per_registry",
							"Most registry requests the worker has in flight at once to one registry.",
							NULL, &imagestream_max_requests_per_registry,
							4, 1, 1024, PGC_SIGHUP, 0, NULL, NULL, NULL);

	MarkGUCPrefixReserved("imagestream");
}
