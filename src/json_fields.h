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
 * The deepest nesting of objects and arrays a reader of registry JSON
 * accepts.  PostgreSQL's parser recurses once per level and raises "stack
 * depth limit exceeded" long before the bytes a registry may send run out;
 * manifests, indexes, tag lists and token answers nest a few levels.
 */
#define JSON_MAX_DEPTH 64

/*
 * Whether json (len bytes) nests objects and arrays at most max_depth deep.
 * A scan of the bytes that knows only strings and brackets: valid JSON or
 * not, it never recurses, and the parser runs only on what passed.
 */
extern bool json_depth_within(const char *json, size_t len, int max_depth);

/*
 * Fills values[i] with the text of top-level scalar field names[i] (palloc'd,
 * NULL when absent or not a scalar).  False when json is not a JSON object,
 * or nests deeper than JSON_MAX_DEPTH.
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
