/*
 * json_fields.h
 *		Reading a few top-level fields of a JSON object (a token response, a
 *		tag list page) without raising errors on bad input, in memory that
 *		does not grow with the number of values it skips.
 */
#ifndef IMAGESTREAM_JSON_FIELDS_H
#define IMAGESTREAM_JSON_FIELDS_H

#include "postgres.h"

#include "nodes/pg_list.h"

/*
 * Fills values[i] with the text of top-level scalar field names[i] (palloc'd,
 * NULL when absent or not a scalar).  False when json is not a JSON object.
 */
extern bool json_top_fields(const char *json, size_t len, const char *const *names,
							int count, char **values);

/*
 * Appends to *elements (in context out) the text of each scalar element, not
 * null, of the array that is top-level field name.  False when json is not a
 * JSON object.
 */
extern bool json_top_array(const char *json, size_t len, const char *name, MemoryContext out,
						   List **elements);

#endif
