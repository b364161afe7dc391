/*
 * resolve.c
 *		imagestream.resolve(tag, missing_ok): the pull spec of a tag, the
 *		call consumers make most.
 *
 * It is one probe of the tag table's unique index (namespace, stream, name),
 * read directly rather than through SPI or PL/pgSQL: per call that saves the
 * executor start-up of an inner query and the save and restore of a
 * function's search_path, which made the PL/pgSQL version 7 times slower
 * than a plain indexed table (doc/performance.md).  The name is split,
 * checked and if need be refused by names.c, as _parse_tag does.  The index
 * scan checks no table privilege; the namespace right is checked here first,
 * and a missing right is reported by _require, which words that refusal.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/skey.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/pg_enum.h"
#include "catalog/pg_type.h"
#include "executor/tuptable.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "parser/parse_func.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "names.h"
#include "pull_spec.h"
#include "relation.h"
#include "rights.h"

/* Calls imagestream.name(args...) directly, without an ACL check. */
static Datum
call_sql(const char *name, int nargs, Oid *argtypes, Datum *args, bool *nulls)
{
	LOCAL_FCINFO(fcinfo, 2);
	FmgrInfo	flinfo;
	Oid			fn = LookupFuncName(list_make2(makeString(IMAGESTREAM_SCHEMA), makeString(pstrdup(name))),
									nargs, argtypes, false);

	fmgr_info(fn, &flinfo);
	InitFunctionCallInfoData(*fcinfo, &flinfo, nargs, InvalidOid, NULL, NULL);
	for (int i = 0; i < nargs; i++)
	{
		fcinfo->args[i].value = args[i];
		fcinfo->args[i].isnull = nulls[i];
	}
	return FunctionCallInvoke(fcinfo);
}

/* The view right on the namespace; _require words the refusal. */
static void
require_view(const char *namespace)
{
	Oid			types[2] = {TEXTOID, TEXTOID};
	Datum		args[2] = {CStringGetTextDatum(namespace), CStringGetTextDatum("view")};
	bool		nulls[2] = {false, false};

	if (rights_can(rights_role(), namespace, "view"))
		return;
	call_sql("_require", 2, types, args, nulls);
	elog(ERROR, "imagestream: _require granted what rights_can refused");
}

static bool
enum_is(Datum value, const char *label)
{
	HeapTuple	tup = SearchSysCache1(ENUMOID, value);
	bool		result;

	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for enum value %u", DatumGetObjectId(value));
	result = strcmp(NameStr(((Form_pg_enum) GETSTRUCT(tup))->enumlabel), label) == 0;
	ReleaseSysCache(tup);
	return result;
}

static char *
column_text(TupleTableSlot *slot, AttrNumber att)
{
	bool		isnull;
	Datum		d = slot_getattr(slot, att, &isnull);

	return isnull ? NULL : TextDatumGetCString(d);
}

PG_FUNCTION_INFO_V1(imagestream_resolve);
Datum
imagestream_resolve(PG_FUNCTION_ARGS)
{
	bool		missing_ok = !PG_ARGISNULL(1) && PG_GETARG_BOOL(1);
	char	   *input = PG_ARGISNULL(0) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(0));
	NameParts	name;
	Oid			relid;
	Relation	rel;
	Relation	idx;
	ScanKeyData keys[3];
	IndexScanDesc scan;
	TupleTableSlot *slot;
	bool		found;
	bool		ref_null = true;
	Datum		result = (Datum) 0;
	char	   *import_status = NULL;
	char	   *import_reason = NULL;
	char	   *import_message = NULL;

	name_parse(NAME_TAG, input, &name);
	require_view(name.namespace);

	relid = imagestream_relid("tag");
	rel = table_open(relid, AccessShareLock);
	idx = index_open(imagestream_relid("tag_namespace_stream_name_key"), AccessShareLock);
	ScanKeyInit(&keys[0], 1, BTEqualStrategyNumber, F_TEXTEQ, CStringGetTextDatum(name.namespace));
	ScanKeyInit(&keys[1], 2, BTEqualStrategyNumber, F_TEXTEQ, CStringGetTextDatum(name.stream));
	ScanKeyInit(&keys[2], 3, BTEqualStrategyNumber, F_TEXTEQ, CStringGetTextDatum(name.tag));
	slot = table_slot_create(rel, NULL);
	scan = index_beginscan(rel, idx, GetActiveSnapshot(), 3, 0);
	index_rescan(scan, keys, 3, NULL, 0);
	found = index_getnext_slot(scan, ForwardScanDirection, slot);
	if (found)
	{
		bool		image_null;
		bool		has_spec_null;
		bool		policy_null;
		Datum		reference = slot_getattr(slot, imagestream_column(relid, "docker_image_reference"), &ref_null);
		Datum		image = slot_getattr(slot, imagestream_column(relid, "image"), &image_null);
		Datum		has_spec = slot_getattr(slot, imagestream_column(relid, "has_spec"), &has_spec_null);
		Datum		policy = slot_getattr(slot, imagestream_column(relid, "reference_policy"), &policy_null);

		/* a copy: the tuple's buffer is released before returning */
		if (!ref_null)
			result = PointerGetDatum(PG_DETOAST_DATUM_COPY(
				pull_spec_datum(reference, !image_null, image,
								DatumGetBool(has_spec) && enum_is(policy, "Local"),
								name.namespace, name.stream)));
		else
		{
			import_status = column_text(slot, imagestream_column(relid, "import_status"));
			import_reason = column_text(slot, imagestream_column(relid, "import_reason"));
			import_message = column_text(slot, imagestream_column(relid, "import_message"));
		}
	}
	index_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);
	index_close(idx, AccessShareLock);
	table_close(rel, AccessShareLock);

	if (!ref_null)
		PG_RETURN_DATUM(result);

	if (missing_ok)
		PG_RETURN_NULL();
	if (!found)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("image stream tag \"%s\" does not exist", input)));
	if (import_status && strcmp(import_status, "False") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("image stream tag \"%s\" has no image", input),
				 errdetail("Its import failed (%s): %s",
						   import_reason ? import_reason : "", import_message ? import_message : "")));
	ereport(ERROR,
			(errcode(ERRCODE_NO_DATA_FOUND),
			 errmsg("image stream tag \"%s\" has no image", input),
			 errdetail("It has not been imported yet.")));
	PG_RETURN_NULL();			/* not reached */
}
