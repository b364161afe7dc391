/*
 * json_fields.c
 *		Top-level scalar fields of a JSON object, with PostgreSQL's own JSON
 *		parser, which reports bad input as a result rather than an error.
 */
#include "postgres.h"

#include "common/jsonapi.h"
#include "mb/pg_wchar.h"

#include "compat.h"
#include "json_fields.h"

typedef struct FieldsState
{
	JsonLexContext *lex;
	const char *const *names;
	int			count;
	char	  **values;
	int			current;		/* index of the field being read, or -1 */
	bool		root_is_object;
	bool		seen_root;
} FieldsState;

static JSON_ACTION_RESULT
fields_object_start(void *arg)
{
	FieldsState *st = arg;

	if (!st->seen_root)
		st->root_is_object = true;
	st->seen_root = true;
	JSON_ACTION_DONE;
}

/* a top-level array is no object, nor is any object inside it */
static JSON_ACTION_RESULT
fields_array_start(void *arg)
{
	FieldsState *st = arg;

	st->seen_root = true;
	JSON_ACTION_DONE;
}

static JSON_ACTION_RESULT
fields_field_start(void *arg, char *fname, bool isnull)
{
	FieldsState *st = arg;
	int			i;

	st->current = -1;
	if (st->lex->lex_level != 1)
		JSON_ACTION_DONE;
	for (i = 0; i < st->count; i++)
		if (strcmp(fname, st->names[i]) == 0)
			st->current = i;
	JSON_ACTION_DONE;
}

static JSON_ACTION_RESULT
fields_scalar(void *arg, char *token, JsonTokenType tokentype)
{
	FieldsState *st = arg;

	st->seen_root = true;
	if (st->current >= 0 && st->lex->lex_level == 1 && tokentype != JSON_TOKEN_NULL)
		st->values[st->current] = pstrdup(token);
	st->current = -1;
	JSON_ACTION_DONE;
}

bool
json_depth_within(const char *json, size_t len, int max_depth)
{
	int			depth = 0;
	bool		in_string = false;

	for (size_t i = 0; i < len; i++)
	{
		char		c = json[i];

		if (in_string)
		{
			if (c == '\\')
				i++;			/* the escaped character, whatever it is */
			else if (c == '"')
				in_string = false;
		}
		else if (c == '"')
			in_string = true;
		else if (c == '{' || c == '[')
		{
			if (++depth > max_depth)
				return false;
		}
		else if ((c == '}' || c == ']') && depth > 0)
			depth--;
	}
	return true;
}

bool
json_top_fields(const char *json, size_t len, const char *const *names, int count,
				char **values)
{
	FieldsState st;
	JsonSemAction sem;
	JsonParseErrorType result;
	char	   *copy;

	memset(values, 0, sizeof(char *) * count);
	memset(&st, 0, sizeof(st));
	memset(&sem, 0, sizeof(sem));
	if (len > PG_INT32_MAX || !json_depth_within(json, len, JSON_MAX_DEPTH))
		return false;
	/* all len bytes: pnstrdup would stop at a NUL, short of what the lexer reads */
	copy = palloc(len + 1);
	memcpy(copy, json, len);
	copy[len] = '\0';
	st.lex = make_json_lexer(copy, (int) len, true);
	st.names = names;
	st.count = count;
	st.values = values;
	st.current = -1;
	sem.semstate = &st;
	sem.object_start = fields_object_start;
	sem.array_start = fields_array_start;
	sem.object_field_start = fields_field_start;
	sem.scalar = fields_scalar;
	result = pg_parse_json(st.lex, &sem);
	return result == JSON_SUCCESS && st.root_is_object;
}
