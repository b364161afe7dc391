/*
 * cosign_layout.c
 *		Reading what cosign writes into a registry (cosign_layout.h): a referrers
 *		index and a signature manifest, without raising on bad input.
 *
 * Both are read by one pass of PostgreSQL's JSON parser over the entries of
 * one top-level array ("manifests" of an index, "layers" of a manifest),
 * keeping of each entry the few fields the lookup needs; an entry is
 * judged when it ends, so that what is kept never grows with what a
 * registry sends beyond the bounds the caller gives.
 */
#include "postgres.h"

#include "common/jsonapi.h"
#include "mb/pg_wchar.h"
#include "utils/memutils.h"

#include "compat.h"
#include "cosign_layout.h"
#include "json_fields.h"

#define PATH_DEPTH 5

/* The fields of one entry of the array read. */
typedef struct Entry
{
	char	   *media_type;
	char	   *digest;
	char	   *artifact_type;
	char	   *size;
	char	   *signature;
	bool		signature_too_long;
} Entry;

typedef struct ReadState
{
	JsonLexContext *lex;
	char	   *path[PATH_DEPTH];	/* field names on the way down, by level */
	const char *array;			/* the top-level array whose entries are read */
	bool		is_object;		/* the document is a JSON object */
	bool		has_array;
	bool		in_array;
	bool		in_entry;
	Entry		entry;			/* the entry being read (in the parse context) */
	void		(*entry_done) (struct ReadState *st);
	MemoryContext out;			/* where what is kept goes */
	int			max;			/* entries kept at most */
	int			count;			/* entries that counted */
	List	   *kept;
	char	   *message;		/* set once an entry makes the document bad */
} ReadState;

static bool
at(ReadState *st, int level, const char *name)
{
	return level < PATH_DEPTH && st->path[level] && strcmp(st->path[level], name) == 0;
}

static JSON_ACTION_RESULT
field_start(void *arg, char *fname, bool isnull)
{
	ReadState  *st = arg;
	int			level = st->lex->lex_level;

	if (level < PATH_DEPTH)
	{
		for (int i = level; i < PATH_DEPTH; i++)
		{
			if (st->path[i])
				pfree(st->path[i]);
			st->path[i] = NULL;
		}
		st->path[level] = fname;
	}
	else if (fname)
		pfree(fname);
	JSON_ACTION_DONE;
}

static void
entry_free(Entry *e)
{
	char	   *fields[] = {e->media_type, e->digest, e->artifact_type, e->size, e->signature};

	for (int i = 0; i < lengthof(fields); i++)
		if (fields[i])
			pfree(fields[i]);
	memset(e, 0, sizeof(*e));
}

static JSON_ACTION_RESULT
object_start(void *arg)
{
	ReadState  *st = arg;
	int			level = st->lex->lex_level;

	if (level == 0)
		st->is_object = true;
	else if (level == 2 && st->in_array)
	{
		entry_free(&st->entry);
		st->in_entry = true;
	}
	JSON_ACTION_DONE;
}

static JSON_ACTION_RESULT
object_end(void *arg)
{
	ReadState  *st = arg;

	if (st->lex->lex_level == 2 && st->in_entry)
	{
		st->in_entry = false;
		st->entry_done(st);
		entry_free(&st->entry);
	}
	JSON_ACTION_DONE;
}

static JSON_ACTION_RESULT
array_start(void *arg)
{
	ReadState  *st = arg;

	if (st->lex->lex_level == 1 && at(st, 1, st->array))
		st->has_array = st->in_array = true;
	JSON_ACTION_DONE;
}

static JSON_ACTION_RESULT
array_end(void *arg)
{
	ReadState  *st = arg;

	if (st->lex->lex_level == 1)
		st->in_array = false;
	JSON_ACTION_DONE;
}

/* token as the value of *field (an earlier value of a repeated field freed) */
static void
keep(char **field, char *token)
{
	if (*field)
		pfree(*field);
	*field = token;
}

static JSON_ACTION_RESULT
scalar(void *arg, char *token, JsonTokenType type)
{
	ReadState  *st = arg;
	int			level = st->lex->lex_level;
	Entry	   *e = &st->entry;

	if (token == NULL)
		JSON_ACTION_DONE;
	if (type == JSON_TOKEN_NULL || !st->in_entry)
		pfree(token);
	else if (level == 3 && at(st, 3, "mediaType"))
		keep(&e->media_type, token);
	else if (level == 3 && at(st, 3, "digest"))
		keep(&e->digest, token);
	else if (level == 3 && at(st, 3, "artifactType"))
		keep(&e->artifact_type, token);
	else if (level == 3 && at(st, 3, "size"))
		keep(&e->size, token);
	else if (level == 4 && at(st, 3, "annotations") && at(st, 4, COSIGN_SIGNATURE_ANNOTATION))
	{
		/* (not kept when too long: a registry chooses its length) */
		e->signature_too_long = strlen(token) > COSIGN_SIGNATURE_MAX;
		if (e->signature_too_long)
		{
			pfree(token);
			token = NULL;
		}
		keep(&e->signature, token);
	}
	else
		pfree(token);
	JSON_ACTION_DONE;
}

/* base64 as cosign writes it (standard alphabet, padded), not empty */
static bool
is_base64(const char *s)
{
	size_t		len = strlen(s);
	size_t		pad = 0;

	if (len == 0 || len % 4 != 0)
		return false;
	while (pad < 2 && s[len - 1 - pad] == '=')
		pad++;
	for (size_t i = 0; i < len - pad; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') ||
			  (s[i] >= '0' && s[i] <= '9') || s[i] == '+' || s[i] == '/'))
			return false;
	return true;
}

static void
referrer_done(ReadState *st)
{
	const Entry *e = &st->entry;
	ListCell   *lc;

	if (e->artifact_type == NULL || strcmp(e->artifact_type, COSIGN_SIGNATURE_ARTIFACT) != 0 ||
		e->digest == NULL)
		return;
	foreach(lc, st->kept)
		if (strcmp(lfirst(lc), e->digest) == 0)
			return;
	/* (a digest listed again counts once) */
	if (++st->count <= st->max)
	{
		MemoryContext old = MemoryContextSwitchTo(st->out);

		st->kept = lappend(st->kept, pstrdup(e->digest));
		MemoryContextSwitchTo(old);
	}
}

static void
layer_done(ReadState *st)
{
	const Entry *e = &st->entry;
	CosignLayer *layer;
	MemoryContext old;
	char	   *end;

	if (++st->count > st->max || st->message)
		return;
	if (e->media_type == NULL || strcmp(e->media_type, COSIGN_SIMPLESIGNING) != 0 ||
		(e->signature == NULL && !e->signature_too_long) || e->digest == NULL)
		return;
	if (e->signature_too_long)
	{
		st->message = MemoryContextStrdup(st->out,
										  psprintf("A signature annotation is longer than %d bytes.",
												   COSIGN_SIGNATURE_MAX));
		return;
	}
	if (!is_base64(e->signature))
	{
		st->message = MemoryContextStrdup(st->out, "A signature annotation is not base64.");
		return;
	}
	old = MemoryContextSwitchTo(st->out);
	layer = palloc(sizeof(CosignLayer));
	layer->digest = pstrdup(e->digest);
	layer->signature = pstrdup(e->signature);
	errno = 0;
	layer->size = e->size ? strtoi64(e->size, &end, 10) : -1;
	if (e->size && (errno != 0 || *end != '\0' || end == e->size || layer->size < 0))
		layer->size = -1;
	st->kept = lappend(st->kept, layer);
	MemoryContextSwitchTo(old);
}

/*
 * Reads the entries of top-level array st->array of body; false when it is
 * not a JSON object that has that array.
 */
static bool
read_entries(ReadState *st, const char *body, size_t len)
{
	JsonSemAction sem;
	MemoryContext parse_ctx;
	JsonParseErrorType parsed;
	char	   *copy;

	if (len > PG_INT32_MAX || !json_depth_within(body, len, JSON_MAX_DEPTH))
		return false;
	st->out = CurrentMemoryContext;
	/* the copy, the lexer, the names on the path and the entry go with parse_ctx */
	parse_ctx = AllocSetContextCreate(CurrentMemoryContext, "imagestream cosign parse",
									  ALLOCSET_SMALL_SIZES);
	MemoryContextSwitchTo(parse_ctx);
	copy = palloc(len + 1);
	memcpy(copy, body, len);
	copy[len] = '\0';
	st->lex = make_json_lexer(copy, (int) len, true);
	memset(&sem, 0, sizeof(sem));
	sem.semstate = st;
	sem.object_field_start = field_start;
	sem.object_start = object_start;
	sem.object_end = object_end;
	sem.array_start = array_start;
	sem.array_end = array_end;
	sem.scalar = scalar;
	parsed = pg_parse_json(st->lex, &sem);
	MemoryContextSwitchTo(st->out);
	MemoryContextDelete(parse_ctx);
	return parsed == JSON_SUCCESS && st->is_object && st->has_array;
}

bool
cosign_read_referrers(const char *body, size_t len, int max, List **digests, bool *more,
					  char **message)
{
	ReadState	st = {0};

	st.array = "manifests";
	st.entry_done = referrer_done;
	st.max = max;
	*digests = NIL;
	*more = false;
	if (!read_entries(&st, body, len))
	{
		*message = pstrdup("The referrers index is not a JSON object with a list of manifests.");
		return false;
	}
	*digests = st.kept;
	*more = st.count > max;
	return true;
}

bool
cosign_read_signatures(const char *body, size_t len, int max_layers, List **layers,
					   char **message)
{
	ReadState	st = {0};

	st.array = "layers";
	st.entry_done = layer_done;
	st.max = max_layers;
	*layers = NIL;
	if (!read_entries(&st, body, len))
		*message = pstrdup("The signature manifest is not a JSON object with a list of layers.");
	else if (st.count > max_layers)
		*message = psprintf("The signature manifest has more than %d layers.", max_layers);
	else if (st.message)
		*message = st.message;
	else
	{
		*layers = st.kept;
		return true;
	}
	return false;
}
