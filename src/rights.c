/*
 * rights.c
 *		Who is calling: the role whose namespace rights apply.
 *
 * The SQL functions are SECURITY DEFINER (they write tables no ordinary role
 * may write), so current_user inside them is the extension owner.  The role
 * that matters is the one in effect outside any SECURITY DEFINER function:
 * the session's current role as SET ROLE left it, which GetOuterUserId()
 * reports.
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"

PG_FUNCTION_INFO_V1(imagestream_calling_role);
Datum
imagestream_calling_role(PG_FUNCTION_ARGS)
{
	PG_RETURN_OID(GetOuterUserId());
}
