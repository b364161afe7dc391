/*
 * worker_ddl.c
 *		Statements that need a database with no other connection (DROP,
 *		ALTER ... RENAME and SET TABLESPACE of a database, CREATE DATABASE
 *		copying it) stop that database's worker first, as DROP DATABASE
 *		stops autovacuum's; the launcher starts it again afterwards if the
 *		database is still there (worker_launcher.c).
 *
 * Only for the database's owner (or a superuser): the statement checks
 * that itself only later, and anybody else could otherwise stop any
 * database's worker, and make it forget its schedule, at will.
 */
#include "postgres.h"

#include <signal.h>

#include "commands/dbcommands.h"
#include "commands/defrem.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "pgstat.h"
#include "storage/latch.h"
#include "tcop/utility.h"

#include "compat.h"
#include "worker_ddl.h"
#include "worker_shmem.h"

/* How long the statement waits for the worker to leave before going on. */
#define STOP_WAIT_MS 10000

static ProcessUtility_hook_type prev_utility_hook = NULL;

static Oid
option_database(List *options, const char *name, const char *dbname)
{
	ListCell   *lc;

	foreach(lc, options)
	{
		DefElem    *option = lfirst_node(DefElem, lc);

		if (strcmp(option->defname, name) == 0)
			return get_database_oid(dbname ? dbname : defGetString(option), true);
	}
	return InvalidOid;
}

/* The database the statement needs to itself; InvalidOid for any other. */
static Oid
database_needed_alone(Node *stmt)
{
	switch (nodeTag(stmt))
	{
		case T_DropdbStmt:
			return get_database_oid(((DropdbStmt *) stmt)->dbname, true);
		case T_RenameStmt:
			if (((RenameStmt *) stmt)->renameType == OBJECT_DATABASE)
				return get_database_oid(((RenameStmt *) stmt)->subname, true);
			return InvalidOid;
		case T_CreatedbStmt:
			return option_database(((CreatedbStmt *) stmt)->options, "template", NULL);
		case T_AlterDatabaseStmt:
			return option_database(((AlterDatabaseStmt *) stmt)->options, "tablespace",
								   ((AlterDatabaseStmt *) stmt)->dbname);
		default:
			return InvalidOid;
	}
}

/* Ends the database's worker and waits, a bounded time, until it is gone. */
static void
stop_worker(Oid database)
{
	pid_t		pid = slot_pid(database);

	if (pid == 0)
		return;
	(void) kill(pid, SIGTERM);
	for (int waited = 0; waited < STOP_WAIT_MS && slot_pid(database) == pid; waited += 10)
	{
		CHECK_FOR_INTERRUPTS();
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 10,
						 PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}

static void
worker_ddl_utility(PlannedStmt *pstmt, const char *queryString, bool readOnlyTree,
				   ProcessUtilityContext context, ParamListInfo params,
				   QueryEnvironment *queryEnv, DestReceiver *dest, QueryCompletion *qc)
{
	Node	   *stmt = pstmt->utilityStmt;
	Oid			database = database_needed_alone(stmt);
	bool		creates = IsA(stmt, CreatedbStmt);

	if (OidIsValid(database) && database_ownercheck(database, GetUserId()))
		stop_worker(database);
	else
		database = InvalidOid;
	/* the extension created here: this database's worker, once committed */
	if (IsA(stmt, CreateExtensionStmt) &&
		strcmp(((CreateExtensionStmt *) stmt)->extname, "imagestream") == 0)
		worker_wake_at_commit();

	/* a scan once committed: the new database, or whether the stopped one is left */
	if (creates || OidIsValid(database))
		launcher_scan_at_commit();
	if (prev_utility_hook)
		prev_utility_hook(pstmt, queryString, readOnlyTree, context, params, queryEnv,
						  dest, qc);
	else
		standard_ProcessUtility(pstmt, queryString, readOnlyTree, context, params,
								queryEnv, dest, qc);
}

void
worker_ddl_install(void)
{
	prev_utility_hook = ProcessUtility_hook;
	ProcessUtility_hook = worker_ddl_utility;
}
