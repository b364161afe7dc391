/*
 * trigger_write.c
 *		imagestream._trigger_write: the UPDATE of one image change trigger
 *		(src/sql/code/125_triggers.sql), run with the rights of the role that
 *		owns the trigger.
 *
 * Rights.  A tag moves inside a SECURITY DEFINER body, or in the worker:
 * neither has the rights of the trigger's owner, and SET ROLE is refused
 * inside a SECURITY DEFINER function.  So the user id is switched here as
 * PostgreSQL does for REFRESH MATERIALIZED VIEW: SetUserIdAndSecContext
 * with SECURITY_RESTRICTED_OPERATION.  The executor then checks the owner's
 * column privileges and applies row-level security as the owner, exactly as
 * if it had run the statement itself.  The statement has settings of its
 * own (search_path, row_security on, a short lock timeout).
 *
 * Code.  The statement runs in the transaction of whoever moves the tag: a
 * tenant's session, another tenant's (an alias), the worker's for everyone.
 * Code of the table's (its triggers and rules, what its policies, checks,
 * generated columns and indexes call) would run there, where nothing bounds
 * it: PL/pgSQL catches a cancel and goes on.  So the table, its partitions
 * and its children may run none: no trigger or rule, and their expressions
 * call only what PostgreSQL itself defines (_foreign_code).  They are
 * checked locked, so that no trigger is added between check and statement.
 *
 * Time.  What is left is PostgreSQL's own work: a row lock waited for a
 * second at most (lock_timeout), a scan of the table.  The statements of
 * one owner in one transaction run for at most 5 s in all (a timeout of
 * ours): a tenant's huge table holds up a worker's transaction that long
 * at most.
 *
 * An error goes up: the caller runs this in a subtransaction, whose abort
 * also restores the user id and the settings.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "storage/latch.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/timeout.h"
#include "utils/timestamp.h"

#include "rights.h"

/* How long the trigger's UPDATE waits for a row lock before it fails. */
#define TRIGGER_LOCK_TIMEOUT "1s"
/* How long the statements of one owner may run in all in a transaction. */
#define TRIGGER_OWNER_BUDGET_MS 5000

/* The time left to the statement under way: a timeout of our own. */
static TimeoutId limit_timeout = MAX_TIMEOUTS;
static volatile sig_atomic_t limit_reached = false;

/* Milliseconds each owner's statements used in this transaction. */
typedef struct OwnerSpent
{
	Oid			owner;
	int64		spent_ms;
} OwnerSpent;
static HTAB *spent = NULL;		/* in TopTransactionContext */

/* Set as StatementTimeoutHandler would, but told apart by limit_reached. */
static void
limit_handler(void)
{
	limit_reached = true;
	QueryCancelPending = true;
	InterruptPending = true;
	SetLatch(MyLatch);
}

static void
forget_spent(XactEvent event, void *arg)
{
	if (event != XACT_EVENT_PRE_COMMIT && event != XACT_EVENT_PARALLEL_PRE_COMMIT &&
		event != XACT_EVENT_PRE_PREPARE)
		spent = NULL;			/* freed with TopTransactionContext */
}

static OwnerSpent *
owner_spent(Oid owner)
{
	OwnerSpent *entry;
	bool		found;

	if (limit_timeout == MAX_TIMEOUTS)
	{
		limit_timeout = RegisterTimeout(USER_TIMEOUT, limit_handler);
		RegisterXactCallback(forget_spent, NULL);
	}
	if (spent == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(Oid);
		ctl.entrysize = sizeof(OwnerSpent);
		ctl.hcxt = TopTransactionContext;
		spent = hash_create("imagestream trigger time", 16, &ctl,
							HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	entry = hash_search(spent, &owner, HASH_ENTER, &found);
	if (!found)
		entry->spent_ms = 0;
	return entry;
}

/*
 * The statement's time limit is over (the timer may also have fired after
 * it ended): its cancel is ours, not the session's.
 */
static void
limit_end(OwnerSpent *entry, TimestampTz started)
{
	disable_timeout(limit_timeout, false);
	if (limit_reached)
		QueryCancelPending = false;
	entry->spent_ms += TimestampDifferenceMilliseconds(started, GetCurrentTimestamp());
}

/*
 * Runs the statement (or with check_only, plans it) in the time the owner
 * has left; the cancel of that timeout leaves as an error WHEN OTHERS
 * catches, a cancel the session received as it came.
 */
static int64
run_limited(Oid owner, const char *relname, const char *sql, Oid *argtypes,
			Datum *values, const char *nulls, bool check_only)
{
	MemoryContext cxt = CurrentMemoryContext;
	OwnerSpent *entry = owner_spent(owner);
	int64		limit = TRIGGER_OWNER_BUDGET_MS - entry->spent_ms;
	TimestampTz started = GetCurrentTimestamp();
	int64		written = 0;

	if (limit <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("the image change triggers of role %s used their time in this transaction",
						GetUserNameFromId(owner, false)),
				 errdetail("The triggers of one role run for at most %d ms in all in one transaction.",
						   TRIGGER_OWNER_BUDGET_MS)));

	limit_reached = false;
	enable_timeout_after(limit_timeout, (int) limit);
	PG_TRY();
	{
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		if (check_only)
		{
			if (SPI_prepare(sql, 3, argtypes) == NULL)
				elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
		}
		else
		{
			int			rc = SPI_execute_with_args(sql, 3, argtypes, values, nulls, false, 0);

			if (rc != SPI_OK_UPDATE)
				elog(ERROR, "SPI_execute_with_args failed: %s", SPI_result_code_string(rc));
			written = (int64) SPI_processed;
		}
		SPI_finish();
	}
	PG_CATCH();
	{
		bool		ours = limit_reached;
		ErrorData  *edata;

		limit_end(entry, started);
		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		if (edata->sqlerrcode != ERRCODE_QUERY_CANCELED || !ours)
			PG_RE_THROW();
		FlushErrorState();
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("the image change trigger's statement on \"%s\" ran out of time", relname),
				 errdetail("The triggers of one role run for at most %d ms in all in one transaction.",
						   TRIGGER_OWNER_BUDGET_MS)));
	}
	PG_END_TRY();
	limit_end(entry, started);
	return written;
}

/*
 * Locks target and every relation an UPDATE of it reaches, and refuses it
 * if one of them would run code (see the top of this file).
 */
static void
refuse_foreign_code(Oid relid, const char *relname)
{
	MemoryContext cxt = CurrentMemoryContext;
	Oid			argtypes[1] = {REGCLASSOID};
	Datum		values[1] = {ObjectIdGetDatum(relid)};
	char	   *found = NULL;

	(void) find_all_inheritors(relid, RowExclusiveLock, NULL);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute_with_args("SELECT imagestream._foreign_code($1)", 1, argtypes, values, NULL,
							  true, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "_foreign_code failed");
	found = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	if (found)
		found = MemoryContextStrdup(cxt, found);
	SPI_finish();
	if (found)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("an image change trigger cannot write relation \"%s\"", relname),
				 errdetail("An update of it would run code of its own (%s), in the transaction of whoever moves the tag.",
						   found),
				 errhint("A trigger's table may have no trigger or rule, and its policies, checks, generated columns and indexes may call only built-in functions; react to a move with LISTEN or changes_since() instead.")));
}

static AttrNumber
column_of(Oid relid, const char *column)
{
	AttrNumber	att = get_attnum(relid, column);

	if (att == InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("column \"%s\" of relation \"%s\" does not exist",
						column, get_rel_name(relid))));
	return att;
}

/*
 * _trigger_write(owner oid, namespace text, target regclass, column_name name,
 *	 key_column name, key_value text, field_path text[], spec text) → bigint
 *
 * Sets column_name (with field_path: that path inside the jsonb column) to
 * spec in the rows of target whose key_column is key_value, as owner, who
 * must still have the edit right on the tag's namespace; returns how many
 * rows it set.  With spec NULL it only checks: the statement is planned and
 * the key value read as the key column's type, and nothing is written.
 */
PG_FUNCTION_INFO_V1(imagestream_trigger_write);
Datum
imagestream_trigger_write(PG_FUNCTION_ARGS)
{
	Oid			owner;
	char	   *namespace;
	Oid			relid;
	char	   *column;
	char	   *key_column;
	char	   *key_value;
	bool		has_path = !PG_ARGISNULL(6);
	bool		check_only = PG_ARGISNULL(7);
	char	   *relname;
	Oid			key_type;
	int32		key_typmod;
	Oid			key_collation;
	Oid			typinput;
	Oid			typioparam;
	Oid			argtypes[3];
	Datum		values[3];
	char		nulls[3] = {' ', ' ', ' '};
	StringInfoData sql;
	Oid			saved_user;
	int			saved_context;
	int			nest_level;
	int64		written;

	for (int i = 0; i <= 5; i++)
		if (PG_ARGISNULL(i))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("argument %d of _trigger_write must not be null", i + 1)));
	owner = PG_GETARG_OID(0);
	namespace = text_to_cstring(PG_GETARG_TEXT_PP(1));
	relid = PG_GETARG_OID(2);
	column = NameStr(*PG_GETARG_NAME(3));
	key_column = NameStr(*PG_GETARG_NAME(4));
	key_value = text_to_cstring(PG_GETARG_TEXT_PP(5));
	relname = get_rel_name(relid);

	if (!rights_can(owner, namespace, "edit"))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for namespace \"%s\"", namespace),
				 errdetail("The owner of an image change trigger needs the edit right on the tag's namespace.")));
	if (relname == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation with OID %u does not exist", relid)));

	refuse_foreign_code(relid, relname);

	/*
	 * The key value is a parameter of the key column's type, read below as
	 * the owner: a type's input function is the type owner's code, so only
	 * base and enum types, whose input functions only a superuser writes
	 * (a domain's CHECK would run user code here).
	 */
	get_atttypetypmodcoll(relid, column_of(relid, key_column), &key_type, &key_typmod, &key_collation);
	(void) column_of(relid, column);
	if (get_typtype(key_type) != TYPTYPE_BASE && get_typtype(key_type) != TYPTYPE_ENUM)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("key column \"%s\" of relation \"%s\" is not of a base or enum type",
						key_column, relname),
				 errdetail("An image change trigger compares its key value with a column of a base type (text, integer, uuid, ...) or an enum, not a domain or composite.")));
	getTypeInputInfo(key_type, &typinput, &typioparam);
	argtypes[0] = key_type;
	argtypes[1] = TEXTOID;
	values[1] = check_only ? (Datum) 0 : PG_GETARG_DATUM(7);
	argtypes[2] = TEXTARRAYOID;
	values[2] = has_path ? PG_GETARG_DATUM(6) : (Datum) 0;
	if (check_only)
		nulls[1] = 'n';
	if (!has_path)
		nulls[2] = 'n';

	initStringInfo(&sql);
	appendStringInfo(&sql, "UPDATE %s SET %s = ",
					 quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)), relname),
					 quote_identifier(column));
	if (has_path)
		appendStringInfo(&sql, "pg_catalog.jsonb_set(%s, $3, pg_catalog.to_jsonb($2))",
						 quote_identifier(column));
	else
		appendStringInfoString(&sql, "$2");
	appendStringInfo(&sql, " WHERE %s OPERATOR(pg_catalog.=) $1", quote_identifier(key_column));

	nest_level = NewGUCNestLevel();
	(void) set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	(void) set_config_option("row_security", "on", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	(void) set_config_option("lock_timeout", TRIGGER_LOCK_TIMEOUT, PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	GetUserIdAndSecContext(&saved_user, &saved_context);
	SetUserIdAndSecContext(owner, saved_context | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	values[0] = OidInputFunctionCall(typinput, key_value, typioparam, key_typmod);

	written = run_limited(owner, relname, sql.data, argtypes, values, nulls, check_only);

	SetUserIdAndSecContext(saved_user, saved_context);
	/* every setting the statement's code made goes too, as for REFRESH MATERIALIZED VIEW */
	AtEOXact_GUC(false, nest_level);
	PG_RETURN_INT64(written);
}
