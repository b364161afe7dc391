/*
 * change_commit.c
 *		Change log ids assigned at commit (doc/model.md, "change").
 *
 * Ids must be dense and in commit order, so that a consumer that has read
 * up to id N never misses a later commit with a smaller id.  Until 0.2.0 a
 * writer locked the change log from its first change to its commit, and one
 * open transaction stopped every writer of every namespace (finding S20).
 * Now a change row is written with a provisional id (negative, from a
 * sequence: concurrent writers never meet on the primary key), and the
 * transaction's commit (commit_steps.c, under the commit lock, held only
 * while committing) numbers its rows max(id) + 1, ... in the order they
 * were written and sends their NOTIFYs: committers queue for the moment each
 * takes to commit, never behind a transaction still open.
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/lsyscache.h"
#include "utils/snapmgr.h"

#include "commit_steps.h"
#include "relation.h"

/* the role that wrote this transaction's first change; InvalidOid if none */
static Oid	numbering_role = InvalidOid;

/*
 * The smallest provisional id this transaction wrote: its rows are the
 * visible provisional ones from there up, and the numbering reads that range
 * of the primary key alone.
 */
static int64 numbering_first = 0;

/*
 * The session's plans of the two statements a commit runs, kept: parsing and
 * planning them at every commit cost a fifth of a one-tag transaction.  (A
 * kept plan is planned again when what it reads changes, as after ALTER
 * EXTENSION UPDATE.)
 */
static SPIPlanPtr max_id_plan = NULL;
static SPIPlanPtr number_plan = NULL;

static SPIPlanPtr
kept_plan(SPIPlanPtr *plan, const char *query, int nargs, Oid *argtypes)
{
	if (*plan == NULL)
	{
		SPIPlanPtr	p = SPI_prepare(query, nargs, argtypes);

		if (p == NULL || SPI_keepplan(p) != 0)
			elog(ERROR, "could not prepare \"%s\"", query);
		*plan = p;
	}
	return *plan;
}

/*
 * The greatest committed id, read under the commit lock with a snapshot
 * taken after it: a repeatable read transaction's own snapshot may predate
 * the last commit.
 */
static int64
committed_max_id(void)
{
	SPIPlanPtr	plan = kept_plan(&max_id_plan,
								 "SELECT coalesce(max(id), 0) FROM imagestream.change WHERE id > 0",
								 0, NULL);
	bool		isnull;

	if (SPI_execute_snapshot(plan, NULL, NULL, GetLatestSnapshot(), InvalidSnapshot,
							 true, false, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not read the change log's last id");
	return DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
}

bool
change_commit_pending(void)
{
	return OidIsValid(numbering_role);
}

void
change_commit_reset(void)
{
	numbering_role = InvalidOid;
	numbering_first = 0;
}

/* Under the commit lock: number this transaction's change rows. */
void
change_commit_run(void)
{
	Oid			schema = get_namespace_oid(IMAGESTREAM_SCHEMA, true);
	Oid			change = OidIsValid(schema) ? get_relname_relid("change", schema) : InvalidOid;
	Oid			save_userid;
	int			save_sec_context;
	Oid			argtypes[2] = {INT8OID, INT8OID};
	Datum		args[2];

	/* (an extension dropped since took its rows with it) */
	if (!OidIsValid(change))
		return;

	/*
	 * As the role that wrote the rows (an API body's owner, or the worker):
	 * the committing session's own role may not write the change log.  An
	 * error aborts the transaction, which restores the role.
	 */
	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	SetUserIdAndSecContext(numbering_role,
						   save_sec_context | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	PushActiveSnapshot(GetTransactionSnapshot());
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	args[0] = Int64GetDatum(committed_max_id());
	args[1] = Int64GetDatum(numbering_first);
	if (SPI_execute_plan(kept_plan(&number_plan, "SELECT imagestream._number_changes($1, $2)",
								   2, argtypes),
						 args, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not number the change log's new rows");
	SPI_finish();
	PopActiveSnapshot();
	SetUserIdAndSecContext(save_userid, save_sec_context);
}

/*
 * _number_at_commit(first_id): this transaction wrote change rows with
 * provisional ids from first_id up; its commit numbers them.
 */
PG_FUNCTION_INFO_V1(imagestream_number_at_commit);
Datum
imagestream_number_at_commit(PG_FUNCTION_ARGS)
{
	int64		first_id;

	/* (reachable only by the extension's owner, who can write the log anyway) */
	if (PG_ARGISNULL(0) || PG_GETARG_INT64(0) >= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the first provisional change id must be negative")));
	first_id = PG_GETARG_INT64(0);
	commit_steps_arm();
	if (!OidIsValid(numbering_role))
	{
		numbering_role = GetUserId();
		numbering_first = first_id;
	}
	else if (first_id < numbering_first)
		numbering_first = first_id;
	PG_RETURN_VOID();
}
