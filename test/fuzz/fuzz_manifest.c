/*
 * fuzz_manifest.c
 *		libFuzzer target over manifest_read and manifest_choose_child
 *		(src/manifest.c), json_top_fields (src/json_fields.c), which reads
 *		token responses the same way, and the readers of cosign's referrers
 *		index and signature manifest (src/cosign_layout.c).  Linked with the
 *		frontend build of PostgreSQL's JSON parser and pg_stubs.c (see there
 *		why).
 *
 * The first byte chooses the Content-Type the body is served with; the rest
 * is the body.  Besides memory errors (ASan) and undefined behaviour (UBSan)
 * it checks what manifest.h and json_fields.h promise: a failure has a known
 * reason and a message, a success has one of the four media types (the
 * served one when it is one of them), an image has its config digest and an
 * index its children, the chosen child is a child and is chosen by the
 * documented preference, and both readers agree on what a JSON object is;
 * the cosign readers keep no more than their bounds, each digest once, and
 * only signatures that are base64 within COSIGN_SIGNATURE_MAX.
 */
#include "postgres.h"

#include <stdio.h>
#include <stdlib.h>

#include "cosign_layout.h"
#include "json_fields.h"
#include "manifest.h"
#include "pg_stubs.h"

#define CHECK(cond) \
	do { if (!(cond)) { fprintf(stderr, "check failed: %s (line %d)\n", #cond, __LINE__); abort(); } } while (0)

#define NOT_JSON_OBJECT "The manifest is not a valid JSON object."
#define TOO_DEEP "The manifest nests objects and arrays more than"

static const char *const content_types[] = {
	MT_OCI_MANIFEST,
	MT_OCI_INDEX,
	MT_DOCKER_MANIFEST,
	MT_DOCKER_LIST,
	"application/json",			/* generic: the body decides */
	"text/plain",
	"application/vnd.example.unknown+json",
	NULL,						/* no Content-Type header */
};

#define N_CONTENT_TYPES (sizeof(content_types) / sizeof(content_types[0]))

static bool
is_manifest_type(const char *t)
{
	return t && (strcmp(t, MT_OCI_MANIFEST) == 0 || strcmp(t, MT_OCI_INDEX) == 0 ||
				 strcmp(t, MT_DOCKER_MANIFEST) == 0 || strcmp(t, MT_DOCKER_LIST) == 0);
}

/* every field is NULL or a string within its allocation (ASan checks strlen) */
static void
check_string(const char *s)
{
	if (s)
		(void) strlen(s);
}

static bool
matches(const ManifestChild *c, const char *os, const char *arch, const char *variant)
{
	return c->os && c->architecture && strcmp(c->os, os) == 0 &&
		strcmp(c->architecture, arch) == 0 &&
		(variant == NULL || variant[0] == '\0' || (c->variant && strcmp(c->variant, variant) == 0));
}

/* manifest.h: the preferred platform, then linux/amd64, then the first */
static void
check_choice(const Manifest *m, const char *os, const char *arch, const char *variant)
{
	ManifestChild *chosen = manifest_choose_child(m, os, arch, variant);
	ListCell   *lc;
	bool		member = false;
	bool		preferred = matches(chosen, os, arch, variant);
	bool		fallback = matches(chosen, "linux", "amd64", NULL);

	foreach(lc, m->children)
	{
		ManifestChild *c = lfirst(lc);

		if (c == chosen)
		{
			member = true;
			break;
		}
		/* nothing before the chosen child was a better choice */
		CHECK(!matches(c, os, arch, variant));
		CHECK(preferred || !matches(c, "linux", "amd64", NULL));
	}
	CHECK(member);
	if (!preferred)
		foreach(lc, m->children)
			CHECK(!matches(lfirst(lc), os, arch, variant));
	if (!preferred && !fallback)
	{
		CHECK(chosen == linitial(m->children));
		foreach(lc, m->children)
			CHECK(!matches(lfirst(lc), "linux", "amd64", NULL));
	}
}

static void
check_manifest(const char *body, size_t len, const char *content_type, bool *json_object)
{
	Manifest	m;
	const char *reason = NULL;
	char	   *message = NULL;
	ListCell   *lc;

	if (!manifest_read(body, len, content_type, &m, &reason, &message))
	{
		CHECK(reason != NULL && message != NULL);
		CHECK(strcmp(reason, "InvalidManifest") == 0 ||
			  strcmp(reason, "UnsupportedMediaType") == 0);
		CHECK(strlen(message) > 0);
		/* nesting is judged before the parser runs, and by json_fields alike */
		if (strncmp(message, TOO_DEEP, strlen(TOO_DEEP)) == 0)
		{
			CHECK(!json_depth_within(body, len, JSON_MAX_DEPTH));
			*json_object = false;
			return;
		}
		/* any other refusal comes after the body was read as a JSON object */
		*json_object = strcmp(message, NOT_JSON_OBJECT) != 0;
		return;
	}
	*json_object = true;
	/* a served type that is neither a manifest type nor generic is refused */
	CHECK(content_type == NULL || is_manifest_type(content_type) ||
		  strcmp(content_type, "application/json") == 0 ||
		  strcmp(content_type, "text/plain") == 0);
	CHECK(is_manifest_type(m.media_type));
	CHECK(!is_manifest_type(content_type) || strcmp(m.media_type, content_type) == 0);
	CHECK(m.is_index == (strcmp(m.media_type, MT_OCI_INDEX) == 0 ||
						 strcmp(m.media_type, MT_DOCKER_LIST) == 0));
	check_string(m.config_digest);
	if (!m.is_index)
	{
		CHECK(m.config_digest != NULL);
		return;
	}
	CHECK(m.children != NIL && list_length(m.children) >= 1);
	foreach(lc, m.children)
	{
		ManifestChild *c = lfirst(lc);

		CHECK(c != NULL);
		check_string(c->digest);
		check_string(c->media_type);
		check_string(c->os);
		check_string(c->architecture);
		check_string(c->variant);
	}
	check_choice(&m, "linux", "amd64", NULL);
	check_choice(&m, "linux", "arm64", "v8");
	check_choice(&m, "linux", "arm", "");
	check_choice(&m, "windows", "amd64", NULL);
	{
		/* the platform of the last child, so that a preference matches */
		ManifestChild *last = llast(m.children);

		if (last->os && last->architecture)
			check_choice(&m, last->os, last->architecture, last->variant);
	}
}

static void
check_fields(const char *body, size_t len, bool manifest_saw_object)
{
	static const char *const names[] = {"token", "access_token", "expires_in", "issued_at"};
	char	   *values[lengthof(names)];
	bool		object = json_top_fields(body, len, names, lengthof(names), values);
	size_t		i = 0;

	/* json_fields.h: false when json is not a JSON object */
	while (i < len && (body[i] == ' ' || body[i] == '\t' || body[i] == '\n' || body[i] == '\r'))
		i++;
	CHECK(!object || (i < len && body[i] == '{'));
	/* manifest_read checks the same, more strictly (no leading space) */
	CHECK(!manifest_saw_object || object);
	CHECK(manifest_saw_object || !object || body[0] != '{');
	if (object)
		for (i = 0; i < lengthof(names); i++)
			check_string(values[i]);
}

/* the bounds of cosign_layout.h's readers, as the signature lookup gives them */
#define COSIGN_FUZZ_MAX 4

static void
check_cosign(const char *body, size_t len)
{
	List	   *digests;
	List	   *layers;
	bool		more;
	char	   *message = NULL;
	ListCell   *lc;

	if (cosign_read_referrers(body, len, COSIGN_FUZZ_MAX, &digests, &more, &message))
	{
		CHECK(list_length(digests) <= COSIGN_FUZZ_MAX);
		CHECK(!more || list_length(digests) == COSIGN_FUZZ_MAX);
		foreach(lc, digests)
		{
			ListCell   *other;

			check_string(lfirst(lc));
			for (other = lnext(digests, lc); other; other = lnext(digests, other))
				CHECK(strcmp(lfirst(lc), lfirst(other)) != 0);
		}
	}
	else
		CHECK(digests == NIL && message != NULL && strlen(message) > 0);
	message = NULL;
	if (cosign_read_signatures(body, len, COSIGN_FUZZ_MAX, &layers, &message))
	{
		CHECK(list_length(layers) <= COSIGN_FUZZ_MAX);
		foreach(lc, layers)
		{
			CosignLayer *l = lfirst(lc);
			size_t		n = strlen(l->signature);

			check_string(l->digest);
			CHECK(n > 0 && n <= COSIGN_SIGNATURE_MAX && n % 4 == 0);
			CHECK(strspn(l->signature, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=") == n);
			CHECK(l->size >= -1);
		}
	}
	else
		CHECK(layers == NIL && message != NULL && strlen(message) > 0);
}

int			LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	const char *content_type;
	size_t		len;
	char	   *body;
	bool		json_object;

	if (size == 0)
		return 0;
	content_type = content_types[data[0] % N_CONTENT_TYPES];
	len = size - 1;
	/* an exact-size copy without a terminator, as a response body */
	body = malloc(len ? len : 1);
	memcpy(body, data + 1, len);
	/*
	 * (deep nesting too: both readers refuse it before the frontend parser,
	 * which lacks the server's check_stack_depth(), would overflow the stack)
	 */
	check_manifest(body, len, content_type, &json_object);
	check_fields(body, len, json_object);
	check_cosign(body, len);
	stub_reset_memory();
	free(body);
	return 0;
}
