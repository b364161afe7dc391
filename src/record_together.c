/*
 * record_together.c
 *		RECORD_TOGETHER_MIN for SQL (src/sql/code/160_record_import.sql).
 */
#include "postgres.h"

#include "fmgr.h"

#include "record_together.h"

PG_FUNCTION_INFO_V1(imagestream_record_together_min);

Datum
imagestream_record_together_min(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(RECORD_TOGETHER_MIN);
}
