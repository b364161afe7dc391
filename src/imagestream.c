/*
 * imagestream.c
 *		The module's entry point: it defines the settings (settings.c),
 *		installs the log hook and, when preloaded, the launcher of the
 *		workers.
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"

#include "log_redact.h"
#include "settings.h"
#include "worker_ddl.h"
#include "worker_launcher.h"
#include "worker_shmem.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

void
_PG_init(void)
{
	settings_define();
	log_redact_install();

	/* the workers need their shared memory, so only when preloaded */
	if (process_shared_preload_libraries_in_progress)
	{
		worker_shmem_init_hooks();
		launcher_register();
		worker_ddl_install();
	}
}
