/*
 * cosign.c
 *		cosign's simple signing payload, read with PostgreSQL's JSON parser
 *		(which reports bad input as a result, not an error), and the verdict
 *		on a signature of an image.
 *
 * A payload as cosign writes it:
 *   {"critical":{"identity":{"docker-reference":"REGISTRY/REPO"},
 *    "image":{"docker-manifest-digest":"sha256:..."},
 *    "type":"cosign container image signature"},"optional":null}
 * Only critical.type and critical.image.docker-manifest-digest are read:
 * the digest binds the image's content wherever it was copied to, so the
 * repository named by critical.identity is not compared (doc/security.md,
 * "Signature verification"), nor is anything in "optional".
 *
 * The signature is checked before the payload is parsed, so that the
 * parser reads only bytes a trusted key signed.  The objects read are
 * followed by their depth: the parser calls object_start at the level of
 * the field whose value the object is, and the object's own fields one
 * level deeper.
 */
#include "postgres.h"

#include "common/jsonapi.h"
#include "common/string.h"
#include "mb/pg_wchar.h"
#include "utils/memutils.h"

#include "compat.h"
#include "cosign.h"
#include "json_fields.h"

/* The objects read; any other object or array is OBJ_OTHER. */
typedef enum PayloadObject
{
	OBJ_OTHER = 0,
	OBJ_ROOT,
	OBJ_CRITICAL,
	OBJ_IMAGE
} PayloadObject;

/* the deepest level at which a field of an object read lies */
#define READ_DEPTH 3

/* The fields read; child is the object a field holds, OBJ_OTHER: a string. */
static const struct
{
	PayloadObject parent;
	const char *key;
	const char *path;			/* for the reasons */
	PayloadObject child;
}			fields[] = {
	{OBJ_ROOT, "critical", "critical", OBJ_CRITICAL},
	{OBJ_CRITICAL, "type", "critical.type", OBJ_OTHER},
	{OBJ_CRITICAL, "image", "critical.image", OBJ_IMAGE},
	{OBJ_IMAGE, "docker-manifest-digest", "critical.image.docker-manifest-digest", OBJ_OTHER},
};

/* indexes of fields[] */
#define FIELD_CRITICAL 0
#define FIELD_TYPE 1
#define FIELD_DIGEST 3

typedef struct PayloadState
{
	JsonLexContext *lex;
	const Digest *image;
	/*
	 * per level 1..READ_DEPTH: the object whose fields lie there, and the
	 * field whose value is being read (-1: none)
	 */
	PayloadObject objects[READ_DEPTH + 2];
	int			field[READ_DEPTH + 2];
	unsigned	seen;			/* bit i: fields[i] was given */
	bool		root_object;
	bool		type_ok;
	bool		digest_ok;
	bool		failed;			/* why holds the first refusal */
	CosignReason *why;
} PayloadState;

static void
refuse_field(PayloadState *st, int f, const char *what)
{
	if (st->failed)
		return;
	st->failed = true;
	cosign_reason_set(st->why, "The payload's %s %s.", fields[f].path, what);
}

static void
check_string(PayloadState *st, int f, const char *value)
{
	Digest		named;
	char		text[DIGEST_MAX_TEXT];
	char		expected[DIGEST_MAX_TEXT];

	if (f == FIELD_TYPE)
	{
		if (strcmp(value, COSIGN_SIGNATURE_TYPE) == 0)
			st->type_ok = true;
		else
			refuse_field(st, f, "is not \"" COSIGN_SIGNATURE_TYPE "\"");
		return;
	}
	Assert(f == FIELD_DIGEST);
	/* exactly as a digest is written: cosign compares the text */
	if (!digest_parse(value, strlen(value), &named, NULL) ||
		digest_format(&named, text) != strlen(value) || strcmp(text, value) != 0)
	{
		refuse_field(st, f, "is not a digest");
		return;
	}
	if (digest_equal(&named, st->image))
	{
		st->digest_ok = true;
		return;
	}
	if (!st->failed)
	{
		st->failed = true;
		digest_format(st->image, expected);
		cosign_reason_set(st->why, "The payload names %s, not %s.", text, expected);
	}
}

/*
 * A value at level: the object, array or scalar (token, of type) that a
 * field of an object read holds, or anything else.
 */
static void
value_at(PayloadState *st, int level, bool object, bool array, char *token,
		 JsonTokenType type)
{
	int			f = level >= 1 && level <= READ_DEPTH && st->objects[level] != OBJ_OTHER ?
		st->field[level] : -1;

	if (object || array)
	{
		if (level + 1 <= READ_DEPTH)
		{
			st->objects[level + 1] = object && f >= 0 ? fields[f].child : OBJ_OTHER;
			st->field[level + 1] = -1;
		}
	}
	if (f < 0)
		return;
	st->field[level] = -1;
	if (fields[f].child != OBJ_OTHER)
	{
		if (!object)
			refuse_field(st, f, "is not an object");
	}
	else if (object || array || type != JSON_TOKEN_STRING)
		refuse_field(st, f, "is not a string");
	else
		check_string(st, f, token);
}

static JSON_ACTION_RESULT
payload_object_start(void *arg)
{
	PayloadState *st = arg;

	if (st->lex->lex_level == 0)
	{
		st->root_object = true;
		st->objects[1] = OBJ_ROOT;
		st->field[1] = -1;
	}
	else
		value_at(st, st->lex->lex_level, true, false, NULL, JSON_TOKEN_INVALID);
	JSON_ACTION_DONE;
}

static JSON_ACTION_RESULT
payload_array_start(void *arg)
{
	PayloadState *st = arg;

	value_at(st, st->lex->lex_level, false, true, NULL, JSON_TOKEN_INVALID);
	JSON_ACTION_DONE;
}

static JSON_ACTION_RESULT
payload_scalar(void *arg, char *token, JsonTokenType type)
{
	PayloadState *st = arg;

	value_at(st, st->lex->lex_level, false, false, token, type);
	if (token)
		pfree(token);
	JSON_ACTION_DONE;
}

static bool
same_ignoring_ascii_case(const char *a, const char *b)
{
	for (; *a && *b; a++, b++)
		if (pg_ascii_tolower((unsigned char) *a) != pg_ascii_tolower((unsigned char) *b))
			return false;
	return *a == *b;
}

static JSON_ACTION_RESULT
payload_field_start(void *arg, char *key, bool isnull)
{
	PayloadState *st = arg;
	int			level = st->lex->lex_level;

	if (key && level <= READ_DEPTH && st->objects[level] != OBJ_OTHER)
	{
		st->field[level] = -1;
		for (int f = 0; f < lengthof(fields); f++)
		{
			if (fields[f].parent != st->objects[level])
				continue;
			if (strcmp(key, fields[f].key) == 0)
			{
				if (st->seen & (1U << f))
					refuse_field(st, f, "is given twice");
				st->seen |= 1U << f;
				st->field[level] = f;
				break;
			}
			if (same_ignoring_ascii_case(key, fields[f].key))
				refuse_field(st, f, "is given under a key that differs from it in case");
		}
		if (!pg_is_ascii(key) && !st->failed)
		{
			st->failed = true;
			cosign_reason_set(st->why, "The payload has a key that is not ASCII in an object cosign reads.");
		}
	}
	if (key)
		pfree(key);
	JSON_ACTION_DONE;
}

bool
cosign_payload_names(const char *payload, size_t len, const Digest *image, CosignReason *why)
{
	PayloadState st;
	JsonSemAction sem;
	JsonParseErrorType result;
	MemoryContext parse_ctx;
	MemoryContext old;
	char	   *copy;

	if (len > COSIGN_PAYLOAD_MAX)
	{
		cosign_reason_set(why, "The payload is larger than %d bytes.", COSIGN_PAYLOAD_MAX);
		return false;
	}
	/* (the parser recurses once per level) */
	if (!json_depth_within(payload, len, JSON_MAX_DEPTH))
	{
		cosign_reason_set(why, "The payload nests objects and arrays more than %d deep.", JSON_MAX_DEPTH);
		return false;
	}
	memset(&st, 0, sizeof(st));
	memset(&sem, 0, sizeof(sem));
	st.image = image;
	st.why = why;
	parse_ctx = AllocSetContextCreate(CurrentMemoryContext, "imagestream signature payload",
									  ALLOCSET_SMALL_SIZES);
	old = MemoryContextSwitchTo(parse_ctx);
	copy = palloc(len + 1);
	memcpy(copy, payload, len);
	copy[len] = '\0';
	st.lex = make_json_lexer(copy, (int) len, true);
	sem.semstate = &st;
	sem.object_start = payload_object_start;
	sem.array_start = payload_array_start;
	sem.scalar = payload_scalar;
	sem.object_field_start = payload_field_start;
	result = pg_parse_json(st.lex, &sem);
	MemoryContextSwitchTo(old);
	MemoryContextDelete(parse_ctx);

	if (result != JSON_SUCCESS)
		cosign_reason_set(why, "The payload is not valid JSON.");
	else if (!st.root_object)
		cosign_reason_set(why, "The payload is not a JSON object.");
	else if (st.failed)
		return false;			/* why says it */
	else if (!(st.seen & (1U << FIELD_CRITICAL)))
		cosign_reason_set(why, "The payload has no critical object.");
	else if (!st.type_ok)
		cosign_reason_set(why, "The payload has no critical.type.");
	else if (!st.digest_ok)
		cosign_reason_set(why, "The payload has no critical.image.docker-manifest-digest.");
	else
		return true;
	return false;
}

bool
cosign_verify(const char *payload, size_t payload_len, const char *signature,
			  size_t signature_len, const char *pem, size_t pem_len, const Digest *image,
			  CosignReason *why)
{
	return cosign_signature_valid((const uint8_t *) payload, payload_len, signature,
								  signature_len, pem, pem_len, why) &&
		cosign_payload_names(payload, payload_len, image, why);
}
