/*
 * json_fields.c
 *		Top-level fields of a JSON object, with PostgreSQL's own JSON parser,
 *		which reports bad input as a result rather than an error.
 *
 * The parser hands each callback a palloc'd copy of every field name and
 * scalar: kept, they took up to twelve times the size of the input (a
 * 16-byte chunk header and 8 bytes at least for "1," in an array).  The
 * callbacks free what they do not keep, and the rest of the parse (the copy
 * of the input, the lexer) goes with a memory context of its own.
 */
#include "postgres.h"

#include "common/jsonapi.h"
#include "mb/pg_wchar.h"
#include "utils/memutils.h"

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
	/* json_top_array */
	MemoryContext out;			/* where kept values go */
	bool		in_array;		/* in the array of the field asked for */
	List	  **elements;
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

	if (st->lex->lex_level == 1)
	{
		st->current = -1;
		st->in_array = false;
		for (i = 0; i < st->count; i++)
			if (strcmp(fname, st->names[i]) == 0)
				st->current = i;
	}
	if (fname)
		pfree(fname);
	JSON_ACTION_DONE;
}

static JSON_ACTION_RESULT
fields_scalar(void *arg, char *token, JsonTokenType tokentype)
{
	FieldsState *st = arg;

	st->seen_root = true;
	if (st->current >= 0 && st->lex->lex_level == 1 && tokentype != JSON_TOKEN_NULL)
		st->values[st->current] = MemoryContextStrdup(st->out, token);
	if (token)
		pfree(token);
	JSON_ACTION_DONE;
}

/* Parses json (len bytes) with the callbacks in sem, in a context of its own. */
static bool
parse(const char *json, size_t len, FieldsState *st, JsonSemAction *sem)
{
	MemoryContext parse_ctx;
	MemoryContext old;
	JsonParseErrorType result;
	char	   *copy;

	/* (PostgreSQL's parser recurses: a registry's nesting must not reach its limit) */
	if (len > PG_INT32_MAX || !json_depth_within(json, len, JSON_MAX_DEPTH))
		return false;
	parse_ctx = AllocSetContextCreate(CurrentMemoryContext, "imagestream JSON parse",
									  ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(parse_ctx);
	/* all len bytes: pnstrdup would stop at a NUL, short of what the lexer reads */
	copy = palloc(len + 1);
	memcpy(copy, json, len);
	copy[len] = '\0';
	st->lex = make_json_lexer(copy, (int) len, true);
	st->current = -1;
	sem->semstate = st;
	sem->object_start = fields_object_start;
	sem->array_start = sem->array_start ? sem->array_start : fields_array_start;
	sem->object_field_start = fields_field_start;
	sem->scalar = sem->scalar ? sem->scalar : fields_scalar;
	result = pg_parse_json(st->lex, sem);
	MemoryContextSwitchTo(old);
	MemoryContextDelete(parse_ctx);
	st->lex = NULL;
	return result == JSON_SUCCESS && st->root_is_object;
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

	memset(values, 0, sizeof(char *) * count);
	memset(&st, 0, sizeof(st));
	memset(&sem, 0, sizeof(sem));
	st.names = names;
	st.count = count;
	st.values = values;
	st.out = CurrentMemoryContext;
	return parse(json, len, &st, &sem);
}

/* the array of the field asked for starts (at level 1, as its value) */
static JSON_ACTION_RESULT
array_array_start(void *arg)
{
	FieldsState *st = arg;

	st->seen_root = true;
	if (st->lex->lex_level == 1 && st->current == 0)
		st->in_array = true;
	JSON_ACTION_DONE;
}

static JSON_ACTION_RESULT
array_scalar(void *arg, char *token, JsonTokenType tokentype)
{
	FieldsState *st = arg;

	st->seen_root = true;
	if (st->lex->lex_level == 1)
		st->in_array = false;	/* the field's value is no array */
	else if (st->lex->lex_level == 2 && st->in_array && st->current == 0 &&
			 tokentype != JSON_TOKEN_NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(st->out);

		*st->elements = lappend(*st->elements, pstrdup(token));
		MemoryContextSwitchTo(old);
	}
	if (token)
		pfree(token);
	JSON_ACTION_DONE;
}

bool
json_top_array(const char *json, size_t len, const char *name, MemoryContext out,
			   List **elements)
{
	FieldsState st;
	JsonSemAction sem;
	const char *names[1] = {name};

	memset(&st, 0, sizeof(st));
	memset(&sem, 0, sizeof(sem));
	st.names = names;
	st.count = 1;
	st.out = out;
	st.elements = elements;
	sem.array_start = array_array_start;
	sem.scalar = array_scalar;
	return parse(json, len, &st, &sem);
}
