/*
 * grantee_commit.c
 *		The privilege that makes a role's namespace grants count, set as the
 *		transaction commits (finding S24; doc/model.md, "namespace_grant").
 *
 * A row of namespace_grant counts only while its grantee holds EXECUTE on
 * namespace_grantee() (src/rights.c).  That privilege is one catalog row,
 * the function's ACL, that every grantee shares: two transactions that set
 * it at once collide on the row, and one that decides from a snapshot
 * missing the other's grant rows ends wrong.  Writers of grants used to lock
 * the table until their commit, so that one admin's open transaction held up
 * grants in every namespace.  Now the trigger on namespace_grant only notes
 * whose rows changed, and the commit (commit_steps.c), under the commit lock
 * and with a snapshot taken after it, looks at each such role's rows as
 * committed plus this transaction's own and grants or revokes the privilege
 * to match.  Every commit that changed a role's rows does so, one at a
 * time, so the privilege is held exactly while the role has rows, in
 * whatever order concurrent grants and revokes commit.
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/parsenodes.h"
#include "nodes/value.h"
#include "storage/bufmgr.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "commit_steps.h"
#include "relation.h"
#include "rights.h"

/* roles whose grant rows this transaction changed (in TopTransactionContext) */
static List *changed_roles = NIL;

bool
grantee_commit_pending(void)
{
	return changed_roles != NIL;
}

void
grantee_commit_reset(void)
{
	changed_roles = NIL;
}

static void
note_role(HeapTuple tuple, TupleDesc desc)
{
	bool		isnull;
	Datum		grantee = heap_getattr(tuple, SPI_fnumber(desc, "grantee"), desc, &isnull);
	MemoryContext old;

	if (isnull)
		return;
	old = MemoryContextSwitchTo(TopTransactionContext);
	changed_roles = list_append_unique_oid(changed_roles, DatumGetObjectId(grantee));
	MemoryContextSwitchTo(old);
	commit_steps_arm();
}

/* The trigger on namespace_grant: notes the grantees of the changed row. */
PG_FUNCTION_INFO_V1(imagestream_namespace_grant_changed);
Datum
imagestream_namespace_grant_changed(PG_FUNCTION_ARGS)
{
	TriggerData *trigger = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_AFTER(trigger->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(trigger->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("function %s must be fired AFTER ... FOR EACH ROW", "_namespace_grant_marker")));
	note_role(trigger->tg_trigtuple, trigger->tg_relation->rd_att);
	if (TRIGGER_FIRED_BY_UPDATE(trigger->tg_event))
		note_role(trigger->tg_newtuple, trigger->tg_relation->rd_att);
	return PointerGetDatum(NULL);
}

/*
 * Runs a statement (with $1 if nargs is 1) under a snapshot taken now,
 * after the commit lock.
 */
static void
run_latest(const char *sql, int nargs, Oid type, Datum arg, int expected)
{
	SPIPlanPtr	plan = SPI_prepare(sql, nargs, &type);

	if (plan == NULL ||
		SPI_execute_snapshot(plan, &arg, NULL, GetLatestSnapshot(), InvalidSnapshot,
							 false, true, 0) != expected)
		elog(ERROR, "could not run \"%s\"", sql);
	SPI_freeplan(plan);
}

/*
 * Locks the marker's catalog row without waiting.  Every grantee holds a
 * privilege on the function, so PostgreSQL lets it run GRANT or REVOKE on it
 * (warning that nothing was granted, but rewriting the row) and keep the row
 * locked in an open transaction: waiting for that here, under the commit
 * lock, would hold up every commit that changes grants.
 */
static void
lock_marker_row(Oid marker)
{
	Relation	rel = table_open(ProcedureRelationId, RowExclusiveLock);
	HeapTuple	cached = SearchSysCache1(PROCOID, ObjectIdGetDatum(marker));
	HeapTupleData tuple;
	Buffer		buffer;
	TM_FailureData failure;
	TM_Result	result;

	if (!HeapTupleIsValid(cached))
		elog(ERROR, "cache lookup failed for function %u", marker);
	tuple.t_self = cached->t_self;
	ReleaseSysCache(cached);
	result = heap_lock_tuple(rel, &tuple, GetCurrentCommandId(true), LockTupleExclusive,
							 LockWaitSkip, false, &buffer, &failure);
	ReleaseBuffer(buffer);
	table_close(rel, NoLock);
	if (result == TM_WouldBlock)
		ereport(ERROR,
				(errcode(ERRCODE_LOCK_NOT_AVAILABLE),
				 errmsg("could not set the privilege that makes namespace grants count"),
				 errdetail("Another transaction is changing the privileges of function imagestream.namespace_grantee()."),
				 errhint("Try again when that transaction has ended.")));
	if (result != TM_Ok)
		ereport(ERROR,
				(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
				 errmsg("could not set the privilege that makes namespace grants count"),
				 errdetail("Another transaction changed the privileges of function imagestream.namespace_grantee() at the same time."),
				 errhint("Try again.")));
}

/* GRANT EXECUTE ON FUNCTION namespace_grantee() TO role, or REVOKE ALL */
static void
set_marker(Oid marker, const char *role, bool grant)
{
	GrantStmt  *stmt = makeNode(GrantStmt);
	ObjectWithArgs *function = makeNode(ObjectWithArgs);
	AccessPriv *execute = makeNode(AccessPriv);
	RoleSpec   *grantee = makeNode(RoleSpec);

	function->objname = list_make2(makeString(IMAGESTREAM_SCHEMA), makeString("namespace_grantee"));
	function->objargs = NIL;
	execute->priv_name = "execute";
	grantee->roletype = ROLESPEC_CSTRING;
	grantee->rolename = pstrdup(role);
	grantee->location = -1;
	stmt->is_grant = grant;
	stmt->targtype = ACL_TARGET_OBJECT;
	stmt->objtype = OBJECT_FUNCTION;
	stmt->objects = list_make1(function);
	stmt->privileges = grant ? list_make1(execute) : NIL;	/* NIL: ALL */
	stmt->grantees = list_make1(grantee);
	stmt->behavior = DROP_RESTRICT;
	lock_marker_row(marker);
	ExecuteGrantStmt(stmt);
	CommandCounterIncrement();
}

/*
 * Grants or revokes role's privilege to match its rows.  While it holds the
 * privilege, every committed row of it counts (each commit that changed its
 * rows set the privilege after them).  While it does not, committed rows of
 * it are left from before (DROP OWNED BY revoked the privilege, or its OID
 * belonged to a dropped role) and must not count: only this transaction's
 * rows give it the privilege, and those older rows are deleted first.
 */
static void
settle(Oid marker, Oid role)
{
	char	   *name = GetUserNameFromId(role, true);
	bool		held;
	bool		own = false;
	int			older = 0;
	Datum	   *tids;

	/* a dropped role holds nothing; its rows count for no one */
	if (name == NULL)
		return;
	held = rights_marked(marker, role);
	run_latest("SELECT g.ctid, g.xmin FROM imagestream.namespace_grant g WHERE g.grantee = $1",
			   1, OIDOID, ObjectIdGetDatum(role), SPI_OK_SELECT);
	tids = palloc(sizeof(Datum) * (SPI_processed + 1));
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		HeapTuple	row = SPI_tuptable->vals[i];
		TransactionId xmin = DatumGetTransactionId(SPI_getbinval(row, SPI_tuptable->tupdesc, 2, &isnull));

		if (TransactionIdIsCurrentTransactionId(xmin))
			own = true;
		else
			tids[older++] = SPI_getbinval(row, SPI_tuptable->tupdesc, 1, &isnull);
	}
	if (held && !own && older == 0)
		set_marker(marker, name, false);
	else if (!held && own)
	{
		/*
		 * Rows a transaction still open is changing are skipped, not waited
		 * for: the commit lock is held.  (That transaction deletes or
		 * rewrites them; should it abort, they count again.)
		 */
		if (older > 0)
			run_latest("DELETE FROM imagestream.namespace_grant g WHERE g.ctid IN "
					   "(SELECT s.ctid FROM imagestream.namespace_grant s WHERE s.ctid = ANY ($1) "
					   "FOR UPDATE SKIP LOCKED)",
					   1, TIDARRAYOID,
					   PointerGetDatum(construct_array(tids, older, TIDOID, sizeof(ItemPointerData),
													   false, TYPALIGN_SHORT)),
					   SPI_OK_DELETE);
		set_marker(marker, name, true);
	}
}

/* Under the commit lock: settle each role whose rows this transaction changed. */
void
grantee_commit_run(void)
{
	Oid			marker = rights_marker();
	HeapTuple	proc;
	Oid			save_userid;
	int			save_sec_context;

	/* (an extension dropped since took its rows with it) */
	if (!OidIsValid(marker))
		return;
	proc = SearchSysCache1(PROCOID, ObjectIdGetDatum(marker));
	if (!HeapTupleIsValid(proc))
		elog(ERROR, "cache lookup failed for function %u", marker);

	/*
	 * As the function's owner (the extension owner), who may grant it and
	 * write the table; an error aborts the transaction, which restores the
	 * role.
	 */
	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	SetUserIdAndSecContext(((Form_pg_proc) GETSTRUCT(proc))->proowner,
						   save_sec_context | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	ReleaseSysCache(proc);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");

	/* rows of roles that no longer exist count for no one: they go */
	run_latest("DELETE FROM imagestream.namespace_grant g WHERE g.ctid IN "
			   "(SELECT s.ctid FROM imagestream.namespace_grant s "
			   "WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_roles r WHERE r.oid = s.grantee) "
			   "FOR UPDATE OF s SKIP LOCKED)",
			   0, InvalidOid, (Datum) 0, SPI_OK_DELETE);

	/* (the deletes add the roles of the rows they delete to the list) */
	for (int i = 0; i < list_length(changed_roles); i++)
	{
		CHECK_FOR_INTERRUPTS();
		settle(marker, list_nth_oid(changed_roles, i));
	}
	SPI_finish();
	SetUserIdAndSecContext(save_userid, save_sec_context);
}
