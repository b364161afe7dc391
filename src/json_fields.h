/*
 * json_fields.h
 *		Reading a few top-level fields of a small JSON object (a token
 *		response) without raising errors on bad input.
 */
#ifndef IMAGESTREAM_JSON_FIELDS_H
#define IMAGESTREAM_JSON_FIELDS_H

#include "postgres.h"

/*
 * Fills values[i] with the text of top-level scalar field names[i] (palloc'd,
 * NULL when absent or not a scalar).  False when json is not a JSON object.
 */
extern bool json_top_fields(const char *json, size_t len, const char *const *names,
							int count, char **values);

#endif
