/*
 * relation.c
 *		The extension's own tables, found by name in its schema.  The hot
 *		read paths (resolve, the rights check) scan them directly; looking
 *		the OIDs up per call costs a few syscache probes and survives DROP
 *		and CREATE EXTENSION in the same session.
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "utils/lsyscache.h"

#include "relation.h"

Oid
imagestream_relid(const char *name)
{
	Oid			relid = get_relname_relid(name, get_namespace_oid(IMAGESTREAM_SCHEMA, false));

	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation \"%s.%s\" does not exist", IMAGESTREAM_SCHEMA, name),
				 errhint("Reinstall the extension imagestream.")));
	return relid;
}

AttrNumber
imagestream_column(Oid relid, const char *name)
{
	AttrNumber	att = get_attnum(relid, name);

	if (att == InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("column \"%s\" of relation \"%s.%s\" does not exist",
						name, IMAGESTREAM_SCHEMA, get_rel_name(relid)),
				 errhint("Reinstall the extension imagestream.")));
	return att;
}
