/*
 * manifest.c
 *		Reading OCI and Docker schema 2 manifests and indexes for the import,
 *		and the media types they come in: the one table of the types read,
 *		which of them are indexes, and the Accept header that asks for them.
 */
#include "postgres.h"

#include "common/jsonapi.h"
#include "mb/pg_wchar.h"
#include "utils/memutils.h"

#include "compat.h"
#include "json_fields.h"
#include "manifest.h"

#define PATH_DEPTH 6

/*
 * The media types read, in the order of the Accept header: indexes first,
 * so that a registry serves a multi-platform tag whole rather than the
 * image of one platform it chose.
 */
typedef struct ManifestType
{
	const char *name;
	bool		is_index;
} ManifestType;

static const ManifestType manifest_types[] = {
	{MT_OCI_INDEX, true},
	{MT_DOCKER_LIST, true},
	{MT_OCI_MANIFEST, false},
	{MT_DOCKER_MANIFEST, false},
};

static const ManifestType *
find_type(const char *media_type)
{
	if (media_type == NULL)
		return NULL;
	for (int i = 0; i < lengthof(manifest_types); i++)
		if (strcmp(media_type, manifest_types[i].name) == 0)
			return &manifest_types[i];
	return NULL;
}

bool
manifest_type_known(const char *media_type)
{
	return find_type(media_type) != NULL;
}

bool
manifest_type_is_index(const char *media_type)
{
	const ManifestType *t = find_type(media_type);

	Assert(t != NULL);
	return t->is_index;
}

bool
manifest_type_is_schema1(const char *media_type)
{
	return media_type &&
		strncmp(media_type, MT_DOCKER_SCHEMA1_PREFIX, strlen(MT_DOCKER_SCHEMA1_PREFIX)) == 0;
}

const char *
manifest_type_by_shape(bool has_manifests, bool has_config)
{
	return has_manifests ? MT_OCI_INDEX : has_config ? MT_OCI_MANIFEST : NULL;
}

char *
manifest_type_refusal(const char *media_type)
{
	return psprintf("Media type \"%s\" is not an OCI or Docker schema 2 image manifest or index.",
					media_type);
}

const char *
manifest_accept(void)
{
	static char accept[256];

	if (accept[0] == '\0')
	{
		for (int i = 0; i < lengthof(manifest_types); i++)
		{
			if (i > 0)
				strlcat(accept, ", ", sizeof(accept));
			strlcat(accept, manifest_types[i].name, sizeof(accept));
		}
		Assert(strlen(accept) < sizeof(accept) - 1);
	}
	return accept;
}

/*
 * Where the parser is: the field names on the way down, by level.  The
 * parser hands the callbacks a palloc'd copy of every field name and scalar;
 * they free what they do not keep (an index of "1,1,1,..." took twelve
 * times its size), and keep values in out.
 */
typedef struct ReadState
{
	JsonLexContext *lex;
	char	   *path[PATH_DEPTH];
	MemoryContext out;			/* where the Manifest's fields go */
	Manifest   *m;
	char	   *declared_type;
	char	   *schema_version;
	bool		has_config;
	bool		has_layers;
	bool		has_manifests;
	ManifestChild *child;		/* the manifests[] entry being read */
} ReadState;

static bool
at(ReadState *st, int level, const char *name)
{
	return level < PATH_DEPTH && st->path[level] && strcmp(st->path[level], name) == 0;
}

static JSON_ACTION_RESULT
read_field_start(void *arg, char *fname, bool isnull)
{
	ReadState  *st = arg;
	int			level = st->lex->lex_level;

	if (level < PATH_DEPTH)
	{
		int			i;

		/* the names of the field before at this level and below are done */
		for (i = level; i < PATH_DEPTH; i++)
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

static JSON_ACTION_RESULT
read_object_start(void *arg)
{
	ReadState  *st = arg;
	int			level = st->lex->lex_level;

	/* entering an element of the top-level "manifests" array */
	if (level == 2 && at(st, 1, "manifests"))
	{
		MemoryContext old = MemoryContextSwitchTo(st->out);

		st->child = palloc0(sizeof(ManifestChild));
		st->m->children = lappend(st->m->children, st->child);
		MemoryContextSwitchTo(old);
	}
	if (level == 1 && at(st, 1, "config"))
		st->has_config = true;
	JSON_ACTION_DONE;
}

static JSON_ACTION_RESULT
read_array_start(void *arg)
{
	ReadState  *st = arg;

	if (st->lex->lex_level == 1 && at(st, 1, "layers"))
		st->has_layers = true;
	if (st->lex->lex_level == 1 && at(st, 1, "manifests"))
		st->has_manifests = true;
	JSON_ACTION_DONE;
}

/* token, kept in out (and the earlier value of *field freed) */
static void
keep(ReadState *st, char **field, char *token)
{
	if (*field)
		pfree(*field);
	*field = MemoryContextStrdup(st->out, token);
}

static JSON_ACTION_RESULT
read_scalar(void *arg, char *token, JsonTokenType type)
{
	ReadState  *st = arg;
	int			level = st->lex->lex_level;

	if (type == JSON_TOKEN_NULL || token == NULL)
		;
	else if (level == 1 && at(st, 1, "mediaType"))
		keep(st, &st->declared_type, token);
	else if (level == 1 && at(st, 1, "schemaVersion"))
		keep(st, &st->schema_version, token);
	else if (level == 2 && at(st, 1, "config") && at(st, 2, "digest"))
		keep(st, &st->m->config_digest, token);
	else if (level == 3 && at(st, 1, "manifests") && st->child)
	{
		if (at(st, 3, "digest"))
			keep(st, &st->child->digest, token);
		else if (at(st, 3, "mediaType"))
			keep(st, &st->child->media_type, token);
	}
	else if (level == 4 && at(st, 1, "manifests") && at(st, 3, "platform") && st->child)
	{
		if (at(st, 4, "os"))
			keep(st, &st->child->os, token);
		else if (at(st, 4, "architecture"))
			keep(st, &st->child->architecture, token);
		else if (at(st, 4, "variant"))
			keep(st, &st->child->variant, token);
	}
	if (token)
		pfree(token);
	JSON_ACTION_DONE;
}

bool
manifest_read(const char *body, size_t len, const char *content_type, Manifest *out,
			  const char **reason, char **message)
{
	ReadState	st;
	JsonSemAction sem;
	const char *type;
	char	   *copy;
	MemoryContext parse_ctx;
	JsonParseErrorType parsed;

	memset(out, 0, sizeof(*out));
	memset(&st, 0, sizeof(st));
	memset(&sem, 0, sizeof(sem));
	st.m = out;
	st.out = CurrentMemoryContext;
	if (len > PG_INT32_MAX)
	{
		*reason = "InvalidManifest";
		*message = pstrdup("The manifest is too large to read.");
		return false;
	}
	if (!json_depth_within(body, len, JSON_MAX_DEPTH))
	{
		*reason = "InvalidManifest";
		*message = psprintf("The manifest nests objects and arrays more than %d levels deep.",
							JSON_MAX_DEPTH);
		return false;
	}
	/* the copy, the lexer and the names on the path go with parse_ctx */
	parse_ctx = AllocSetContextCreate(CurrentMemoryContext, "imagestream manifest parse",
									  ALLOCSET_DEFAULT_SIZES);
	MemoryContextSwitchTo(parse_ctx);
	/* all len bytes: pnstrdup would stop at a NUL, short of what the lexer reads */
	copy = palloc(len + 1);
	memcpy(copy, body, len);
	copy[len] = '\0';
	st.lex = make_json_lexer(copy, (int) len, true);
	sem.semstate = &st;
	sem.object_field_start = read_field_start;
	sem.object_start = read_object_start;
	sem.array_start = read_array_start;
	sem.scalar = read_scalar;
	parsed = pg_parse_json(st.lex, &sem);
	MemoryContextSwitchTo(st.out);
	MemoryContextDelete(parse_ctx);
	if (parsed != JSON_SUCCESS || len == 0 || body[0] != '{')
	{
		*reason = "InvalidManifest";
		*message = pstrdup("The manifest is not a valid JSON object.");
		return false;
	}
	if ((st.schema_version && strcmp(st.schema_version, "1") == 0) ||
		manifest_type_is_schema1(st.declared_type))
	{
		*reason = "UnsupportedMediaType";
		*message = pstrdup(MANIFEST_SCHEMA1_REFUSAL);
		return false;
	}
	/* the served type, unless it is generic, then the declared one, then the shape */
	type = manifest_type_known(content_type) ? content_type : NULL;
	if (type == NULL && content_type && strcmp(content_type, "application/json") != 0 &&
		strcmp(content_type, "text/plain") != 0)
	{
		*reason = "UnsupportedMediaType";
		*message = manifest_type_refusal(content_type);
		return false;
	}
	if (type == NULL)
		type = st.declared_type;
	if (type == NULL)
		type = manifest_type_by_shape(st.has_manifests, st.has_config);
	if (!manifest_type_known(type))
	{
		*reason = "UnsupportedMediaType";
		*message = manifest_type_refusal(type ? type : "(none)");
		return false;
	}
	out->media_type = pstrdup(type);
	out->is_index = manifest_type_is_index(type);
	if (out->is_index ? !st.has_manifests || out->children == NIL
		: !st.has_config || !st.has_layers || out->config_digest == NULL)
	{
		*reason = "InvalidManifest";
		*message = pstrdup(out->is_index ? "The index lists no manifests."
						   : "The manifest lacks its config descriptor or its list of layers.");
		return false;
	}
	return true;
}

ManifestChild *
manifest_find_child(const Manifest *m, const char *os, const char *architecture,
					const char *variant)
{
	ListCell   *lc;

	foreach(lc, m->children)
	{
		ManifestChild *c = lfirst(lc);

		if (c->os && c->architecture && strcmp(c->os, os) == 0 &&
			strcmp(c->architecture, architecture) == 0 &&
			(variant == NULL || variant[0] == '\0' || (c->variant && strcmp(c->variant, variant) == 0)))
			return c;
	}
	return NULL;
}

ManifestChild *
manifest_choose_child(const Manifest *m, const char *os, const char *architecture,
					  const char *variant)
{
	ManifestChild *c = manifest_find_child(m, os, architecture, variant);

	if (c == NULL)
		c = manifest_find_child(m, "linux", "amd64", NULL);
	return c ? c : linitial(m->children);
}
