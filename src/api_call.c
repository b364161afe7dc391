/*
 * api_call.c
 *		The entry of each API function that checks namespace rights: note
 *		the role that called it, then run its SECURITY DEFINER body.
 *
 * A SECURITY DEFINER function cannot see who called it: inside, current_user
 * is its owner and the role before the switch is gone.  So each such API
 * function F is this C function, SECURITY INVOKER, and its body is
 * imagestream._api_F with the same arguments.  Here GetUserId() is the role
 * PostgreSQL checks any privilege against at this point: the session's role,
 * or the owner of a SECURITY DEFINER function that calls F.  Rights are those
 * of that role (rights.c).  The bodies are not executable by PUBLIC; fmgr
 * checks no privilege when they are called from here, so no role can call a
 * body with a caller of its choosing.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_proc.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/value.h"
#include "parser/parse_func.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

#include "rights.h"

/* the role the outermost API call noted; InvalidOid outside any */
static Oid	api_caller = InvalidOid;

typedef struct ApiBody
{
	FmgrInfo	flinfo;
	Oid			owner;			/* the role the body runs as */
} ApiBody;

Oid
api_call_caller(void)
{
	return api_caller;
}

/*
 * Code run as another role from inside a call (an image change trigger's
 * statement, src/trigger_write.c) is that role's, not the caller's: no
 * caller, so that rights are the current user's.  Returns the caller to
 * give back to api_call_resume.
 */
Oid
api_call_suspend(void)
{
	Oid			saved = api_caller;

	api_caller = InvalidOid;
	return saved;
}

void
api_call_resume(Oid saved)
{
	api_caller = saved;
}

/* imagestream._api_F for the entry F, looked up once per call site */
static ApiBody *
api_body_lookup(FmgrInfo *entry)
{
	HeapTuple	tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(entry->fn_oid));
	Form_pg_proc proc;
	char	   *schema;
	char	   *name;
	Oid			body_oid;
	ApiBody    *body;

	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for function %u", entry->fn_oid);
	proc = (Form_pg_proc) GETSTRUCT(tup);
	schema = get_namespace_name(proc->pronamespace);
	name = psprintf("_api_%s", NameStr(proc->proname));
	body_oid = LookupFuncName(list_make2(makeString(schema), makeString(name)),
							  proc->pronargs, proc->proargtypes.values, true);
	ReleaseSysCache(tup);
	if (!OidIsValid(body_oid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_FUNCTION),
				 errmsg("function %s.%s has no body", schema, name + strlen("_api_")),
				 errhint("The extension's SQL objects do not match its library; run ALTER EXTENSION imagestream UPDATE.")));

	body = MemoryContextAllocZero(entry->fn_mcxt, sizeof(ApiBody));
	fmgr_info_cxt(body_oid, &body->flinfo, entry->fn_mcxt);
	tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(body_oid));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for function %u", body_oid);
	body->owner = ((Form_pg_proc) GETSTRUCT(tup))->proowner;
	ReleaseSysCache(tup);
	return body;
}

PG_FUNCTION_INFO_V1(imagestream_api_call);
Datum
imagestream_api_call(PG_FUNCTION_ARGS)
{
	FmgrInfo   *entry = fcinfo->flinfo;
	ApiBody    *body = entry->fn_extra;
	Oid			saved = api_caller;
	volatile Datum result = (Datum) 0;

	if (body == NULL)
		entry->fn_extra = body = api_body_lookup(entry);

	/*
	 * An API function called by another one's body (rollback reads
	 * history) keeps the caller the outer call noted; any other role is a
	 * new caller.
	 */
	if (!(OidIsValid(api_caller) && GetUserId() == body->owner))
		api_caller = GetUserId();

	body->flinfo.fn_expr = entry->fn_expr;
	fcinfo->flinfo = &body->flinfo;
	PG_TRY();
	{
		result = FunctionCallInvoke(fcinfo);
	}
	PG_FINALLY();
	{
		fcinfo->flinfo = entry;
		api_caller = saved;
	}
	PG_END_TRY();
	return result;
}
