/*
 * imagestream.c
 *		The module's entry point: settings.
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/guc.h"

#include "settings.h"

PG_MODULE_MAGIC;

char	   *imagestream_local_registry = NULL;
char	   *imagestream_notify_channel = NULL;

void		_PG_init(void);

void
_PG_init(void)
{
	DefineCustomStringVariable("imagestream.local_registry",
							   "Registry host that serves image streams by pullthrough (reference policy Local).",
							   "When set, a stream's local repository is <local_registry>/<namespace>/<name>.",
							   &imagestream_local_registry,
							   "",
							   PGC_SUSET,
							   0,
							   NULL, NULL, NULL);
	DefineCustomStringVariable("imagestream.notify_channel",
							   "Channel on which tag changes are announced with NOTIFY.",
							   NULL,
							   &imagestream_notify_channel,
							   "imagestream",
							   PGC_SUSET,
							   0,
							   NULL, NULL, NULL);
	MarkGUCPrefixReserved("imagestream");
}
