/*
 * rights.c
 *		Who is calling, and the namespace rights it has (doc/security.md).
 *
 * The API functions run SECURITY DEFINER bodies (they write tables no
 * ordinary role may write), so current_user inside them is the extension
 * owner.  The role that matters is the one that called the API, as
 * PostgreSQL would check a privilege at that point: the session's role, or
 * the owner of a SECURITY DEFINER function that called it.  The API entry
 * notes it (api_call.c); outside an API call (views, policies, resolve())
 * it is current_user.
 *
 * The check runs for every resolve() and, through the row-level security
 * policies, for every row a role reads, so it is C reading the grants'
 * primary key directly rather than a query.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/indexing.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_proc.h"
#include "executor/tuptable.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/value.h"
#include "parser/parse_func.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "relation.h"
#include "rights.h"

/*
 * The ranking of rights: view < edit < admin; 0 for anything else.  SQL
 * asks it through _level_rank.
 */
static int
level_rank(const char *level)
{
	if (strcmp(level, "view") == 0)
		return 1;
	if (strcmp(level, "edit") == 0)
		return 2;
	if (strcmp(level, "admin") == 0)
		return 3;
	return 0;
}

static Oid
extension_owner(void)
{
	Relation	rel = table_open(ExtensionRelationId, AccessShareLock);
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;
	Oid			owner = InvalidOid;

	ScanKeyInit(&key, Anum_pg_extension_extname, BTEqualStrategyNumber, F_NAMEEQ,
				CStringGetDatum("imagestream"));
	scan = systable_beginscan(rel, ExtensionNameIndexId, true, NULL, 1, &key);
	tup = systable_getnext(scan);
	if (HeapTupleIsValid(tup))
		owner = ((Form_pg_extension) GETSTRUCT(tup))->extowner;
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return owner;
}

bool
rights_privileged(Oid role)
{
	Oid			owner;

	if (superuser_arg(role))
		return true;
	owner = extension_owner();
	return OidIsValid(owner) && has_privs_of_role(role, owner);
}

/* The function namespace_grantee(); InvalidOid if there is none. */
Oid
rights_marker(void)
{
	return LookupFuncName(list_make2(makeString(IMAGESTREAM_SCHEMA), makeString("namespace_grantee")),
						  0, NULL, true);
}

bool
rights_marked(Oid marker, Oid grantee)
{
	HeapTuple	tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(marker));
	Datum		acl_datum;
	bool		isnull;
	bool		found = false;

	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for function %u", marker);
	acl_datum = SysCacheGetAttr(PROCOID, tup, Anum_pg_proc_proacl, &isnull);
	if (!isnull)
	{
		Acl		   *acl = DatumGetAclP(acl_datum);
		AclItem    *items = ACL_DAT(acl);

		for (int i = 0; i < ACL_NUM(acl) && !found; i++)
			found = items[i].ai_grantee == grantee && (items[i].ai_privs & ACL_EXECUTE) != 0;
		/* it runs per row a policy checks: free a detoasted copy */
		if ((Pointer) acl != DatumGetPointer(acl_datum))
			pfree(acl);
	}
	ReleaseSysCache(tup);
	return found;
}

/*
 * Whether grantee's namespace_grant rows count.  Under the SQL objects of
 * 0.2.0 (the library updated, ALTER EXTENSION UPDATE not run yet) there is
 * no marker, and a row counts as it did then.
 */
static bool
holds_grants(Oid grantee)
{
	Oid			marker = rights_marker();

	return !OidIsValid(marker) || rights_marked(marker, grantee);
}

/* A grant of at least rank on namespace held by role (or a role it inherits). */
static bool
granted(Oid role, const char *namespace, int rank)
{
	Oid			relid = imagestream_relid("namespace_grant");
	Relation	rel = table_open(relid, AccessShareLock);
	Relation	idx = index_open(imagestream_relid("namespace_grant_pkey"), AccessShareLock);
	AttrNumber	grantee_att = imagestream_column(relid, "grantee");
	AttrNumber	level_att = imagestream_column(relid, "level");
	TupleTableSlot *slot = table_slot_create(rel, NULL);
	IndexScanDesc scan = index_beginscan(rel, idx, GetActiveSnapshot(), 1, 0);
	ScanKeyData key;
	bool		found = false;

	ScanKeyInit(&key, 1, BTEqualStrategyNumber, F_TEXTEQ, CStringGetTextDatum(namespace));
	index_rescan(scan, &key, 1, NULL, 0);
	while (!found && index_getnext_slot(scan, ForwardScanDirection, slot))
	{
		bool		isnull;
		Oid			grantee = DatumGetObjectId(slot_getattr(slot, grantee_att, &isnull));
		char	   *level = TextDatumGetCString(slot_getattr(slot, level_att, &isnull));

		found = level_rank(level) >= rank && has_privs_of_role(role, grantee) && holds_grants(grantee);
	}
	index_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);
	index_close(idx, AccessShareLock);
	table_close(rel, AccessShareLock);
	return found;
}

bool
rights_can(Oid role, const char *namespace, const char *level)
{
	int			rank = level_rank(level);

	if (rights_privileged(role))
		return true;
	return rank > 0 && granted(role, namespace, rank);
}

Oid
rights_role(void)
{
	Oid			caller = api_call_caller();

	return OidIsValid(caller) ? caller : GetUserId();
}

PG_FUNCTION_INFO_V1(imagestream_calling_role);
Datum
imagestream_calling_role(PG_FUNCTION_ARGS)
{
	PG_RETURN_OID(rights_role());
}

PG_FUNCTION_INFO_V1(imagestream_privileged);
Datum
imagestream_privileged(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(rights_privileged(rights_role()));
}

/* SQL: _can(namespace, level); a NULL namespace or level only for the privileged */
PG_FUNCTION_INFO_V1(imagestream_can);
Datum
imagestream_can(PG_FUNCTION_ARGS)
{
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		PG_RETURN_BOOL(rights_privileged(rights_role()));
	PG_RETURN_BOOL(rights_can(rights_role(), text_to_cstring(PG_GETARG_TEXT_PP(0)),
							  text_to_cstring(PG_GETARG_TEXT_PP(1))));
}

/* SQL: _level_rank(level): 1 to 3, NULL for what is not a right */
PG_FUNCTION_INFO_V1(imagestream_level_rank);
Datum
imagestream_level_rank(PG_FUNCTION_ARGS)
{
	int			rank = level_rank(text_to_cstring(PG_GETARG_TEXT_PP(0)));

	if (rank == 0)
		PG_RETURN_NULL();
	PG_RETURN_INT32(rank);
}
