/*
 * pg_stubs.c
 *		The few backend symbols that src/manifest.c and src/json_fields.c need
 *		outside a server.  Why this file exists: those two files are backend
 *		code (postgres.h), but all they call besides PostgreSQL's JSON parser
 *		is memory allocation, lappend(), memory contexts and
 *		GetDatabaseEncoding(); the parser
 *		itself comes from the frontend library libpgcommon.a (with
 *		libpgport.a), which postgresql-server-dev-15 ships.  Neither file
 *		raises errors (both report through their results), so there is no
 *		ereport machinery here: a call to it would fail to link.
 *
 * palloc and friends stand for a memory context that the harness resets
 * after every input (stub_reset_memory), as the server resets the context
 * an import runs in; the contexts the two files make for a parse are that
 * one context too, deleted with it.  Every chunk is a malloc of its own, so that
 * AddressSanitizer sees an access past its end.  Defining palloc here keeps
 * libpgcommon's fe_memutils.o (its own palloc) out of the link.
 */
#include "postgres.h"

#include "mb/pg_wchar.h"
#include "nodes/pg_list.h"
#include "utils/memutils.h"

#include "pg_stubs.h"

typedef struct Chunk
{
	struct Chunk *prev;
	struct Chunk *next;
	Size		size;
	Size		pad;			/* keeps the payload 16-byte aligned */
} Chunk;

static Chunk chunks = {&chunks, &chunks, 0, 0};

static void *
link_chunk(Chunk *c, Size size)
{
	if (c == NULL)
		abort();
	c->size = size;
	c->prev = &chunks;
	c->next = chunks.next;
	chunks.next->prev = c;
	chunks.next = c;
	return c + 1;
}

static Chunk *
unlink_chunk(void *pointer)
{
	Chunk	   *c = (Chunk *) pointer - 1;

	c->prev->next = c->next;
	c->next->prev = c->prev;
	return c;
}

void
stub_reset_memory(void)
{
	while (chunks.next != &chunks)
		free(unlink_chunk(chunks.next + 1));
}

void *
palloc(Size size)
{
	/* the server refuses these with an ERROR; no input here is that big */
	if (!AllocSizeIsValid(size))
		abort();
	return link_chunk(malloc(sizeof(Chunk) + size), size);
}

void *
palloc0(Size size)
{
	void	   *p = palloc(size);

	memset(p, 0, size);
	return p;
}

void *
repalloc(void *pointer, Size size)
{
	if (!AllocSizeIsValid(size))
		abort();
	return link_chunk(realloc(unlink_chunk(pointer), sizeof(Chunk) + size), size);
}

void
pfree(void *pointer)
{
	free(unlink_chunk(pointer));
}

char *
pstrdup(const char *in)
{
	return pnstrdup(in, strlen(in));
}

char *
pnstrdup(const char *in, Size len)
{
	char	   *out;

	len = strnlen(in, len);
	out = palloc(len + 1);
	memcpy(out, in, len);
	out[len] = '\0';
	return out;
}

MemoryContext CurrentMemoryContext = NULL;

MemoryContext
AllocSetContextCreateInternal(MemoryContext parent, const char *name, Size minContextSize,
							  Size initBlockSize, Size maxBlockSize)
{
	static MemoryContextData the_context;

	return &the_context;
}

void
MemoryContextDelete(MemoryContext context)
{
}

char *
MemoryContextStrdup(MemoryContext context, const char *string)
{
	return pstrdup(string);
}

/* The server's list.c, reduced to appending to a pointer list. */
List *
lappend(List *list, void *datum)
{
	if (list == NIL)
	{
		list = palloc(offsetof(List, initial_elements) + 4 * sizeof(ListCell));
		list->type = T_List;
		list->length = 0;
		list->max_length = 4;
		list->elements = list->initial_elements;
	}
	else if (list->length == list->max_length)
	{
		ListCell   *cells = palloc(2 * list->max_length * sizeof(ListCell));

		memcpy(cells, list->elements, list->length * sizeof(ListCell));
		if (list->elements != list->initial_elements)
			pfree(list->elements);
		list->elements = cells;
		list->max_length *= 2;
	}
	list->elements[list->length++].ptr_value = datum;
	return list;
}

/* A UTF8 database, as the tests and most installations have. */
int
GetDatabaseEncoding(void)
{
	return PG_UTF8;
}
