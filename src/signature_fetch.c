/*
 * signature_fetch.c
 *		The cosign signatures of an image (signature_fetch.h): where cosign
 *		puts them, read within the bounds of one lookup.
 *
 * cosign stores the signatures of a digest D in a signature manifest, an
 * OCI image manifest whose layers are the simple signing payloads, each
 * with its signature in an annotation.  In OCI 1.1 referrers mode the
 * manifest names D as its subject and the registry lists it among D's
 * referrers (artifactType COSIGN_SIGNATURE_ARTIFACT); otherwise it is the
 * tag "sha256-<hex of D>.sig" of the same repository.  The referrers API is
 * asked first, and the tag only where the registry has no such API, as
 * cosign's client does.  A registry is not trusted with any of it: each
 * manifest and payload is verified against its digest and bounded, and a
 * manifest that breaks a rule gives no signature at all (a gate that needs
 * one then fails closed).
 */
#include "postgres.h"

#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/memutils.h"

#include "cosign_layout.h"
#include "manifest.h"
#include "signature_fetch.h"

/* The manifest types a signature manifest may come in. */
#define SIGNATURE_ACCEPT MT_OCI_MANIFEST ", " MT_DOCKER_MANIFEST

/* A payload blob read, by its digest: one request for it per lookup. */
typedef struct Payload
{
	Digest		digest;
	char	   *data;
	size_t		len;
} Payload;

typedef struct Lookup
{
	const RegistryTarget *t;
	char		subject[DIGEST_MAX_TEXT];
	List	   *found;			/* FoundSignature *, in the lookup's context */
	List	   *payloads;		/* Payload * */
	char	   *error;			/* the first problem */
} Lookup;

static void
problem(Lookup *l, const char *fmt,...) pg_attribute_printf(2, 3);

static void
problem(Lookup *l, const char *fmt,...)
{
	va_list		ap;
	StringInfoData buf;

	if (l->error)
		return;
	initStringInfo(&buf);
	for (;;)
	{
		int			needed;

		va_start(ap, fmt);
		needed = appendStringInfoVA(&buf, fmt, ap);
		va_end(ap);
		if (needed == 0)
			break;
		enlargeStringInfo(&buf, needed);
	}
	l->error = buf.data;
}

/* A payload blob, read once and verified against its digest. */
static const Payload *
payload_get(Lookup *l, const Digest *d, RegistryFailure *f)
{
	ListCell   *lc;
	RegistryBody body;
	Payload    *p;

	foreach(lc, l->payloads)
		if (digest_equal(&((Payload *) lfirst(lc))->digest, d))
			return lfirst(lc);
	if (!registry_get_blob_within(l->t, d, SIGNATURE_PAYLOAD_MAX,
								  size_text(SIGNATURE_PAYLOAD_MAX / 1024), &body, f))
		return NULL;
	p = palloc(sizeof(Payload));
	p->digest = *d;
	p->data = body.data;
	p->len = body.len;
	l->payloads = lappend(l->payloads, p);
	return p;
}

/*
 * The signatures of one signature manifest (what names it, in messages):
 * all of them, or none and a problem.
 */
static void
read_signature_manifest(Lookup *l, const RegistryBody *body, const char *what)
{
	List	   *layers;
	List	   *found = NIL;
	ListCell   *lc;
	char	   *message;

	if (!cosign_read_signatures(body->data, body->len, SIGNATURE_LAYERS_MAX, &layers, &message))
	{
		problem(l, "The signature manifest %s of %s is refused: %s", what, l->t->repository,
				message);
		return;
	}
	foreach(lc, layers)
	{
		CosignLayer *layer = lfirst(lc);
		Digest		d;
		ParseError	err;
		RegistryFailure f;
		const Payload *p;
		FoundSignature *s;

		if (!digest_parse(layer->digest, strlen(layer->digest), &d, &err))
		{
			problem(l, "The signature manifest %s of %s has a payload without a valid digest: %s",
					what, l->t->repository, err.detail);
			return;
		}
		if (layer->size > SIGNATURE_PAYLOAD_MAX)
		{
			problem(l, "The signature manifest %s of %s has a payload of %lld bytes, over %s.",
					what, l->t->repository, (long long) layer->size,
					size_text(SIGNATURE_PAYLOAD_MAX / 1024));
			return;
		}
		if ((p = payload_get(l, &d, &f)) == NULL)
		{
			problem(l, "A payload of the signature manifest %s of %s could not be read: %s",
					what, l->t->repository, f.message);
			return;
		}
		s = palloc(sizeof(FoundSignature));
		s->payload = p->data;
		s->payload_len = p->len;
		s->signature = layer->signature;
		found = lappend(found, s);
		CHECK_FOR_INTERRUPTS();
	}
	l->found = list_concat(l->found, found);
}

/* The signature manifests the referrers index lists, by digest. */
static void
read_referrers(Lookup *l, const RegistryBody *index)
{
	List	   *digests;
	bool		more;
	char	   *message;
	ListCell   *lc;

	if (!cosign_read_referrers(index->data, index->len, SIGNATURE_MANIFESTS_MAX, &digests, &more,
							   &message))
	{
		problem(l, "The referrers of %s in %s are refused: %s", l->subject, l->t->repository,
				message);
		return;
	}
	if (more)
		problem(l, "The referrers of %s in %s list more than %d signature manifests: the first %d were read.",
				l->subject, l->t->repository, SIGNATURE_MANIFESTS_MAX, SIGNATURE_MANIFESTS_MAX);
	foreach(lc, digests)
	{
		const char *digest = lfirst(lc);
		Digest		d;
		ParseError	err;
		RegistryBody body;
		RegistryFailure f;
		char		text[DIGEST_MAX_TEXT];

		if (!digest_parse(digest, strlen(digest), &d, &err))
		{
			problem(l, "The referrers of %s in %s list a signature manifest without a valid digest: %s",
					l->subject, l->t->repository, err.detail);
			continue;
		}
		digest_format(&d, text);
		if (!registry_get_manifest_within(l->t, text, SIGNATURE_ACCEPT, SIGNATURE_MANIFEST_MAX,
										  size_text(SIGNATURE_MANIFEST_MAX / 1024), &body, &f))
		{
			problem(l, "The signature manifest %s of %s could not be read: %s", text,
					l->t->repository, f.message);
			continue;
		}
		read_signature_manifest(l, &body, text);
	}
}

/* The signature manifest of cosign's tag: none (404) is no signature. */
static void
read_signature_tag(Lookup *l)
{
	char	   *tag = psprintf("%s.sig", l->subject);
	RegistryBody body;
	RegistryFailure f;
	ParseError	err;

	*strchr(tag, ':') = '-';
	/* (a sha512 digest makes a tag longer than a tag may be) */
	if (!ref_tag_valid(tag, strlen(tag), &err))
	{
		problem(l, "Registry %s has no referrers API, and no tag can name the signatures of %s.",
				l->t->api_host, l->subject);
		return;
	}
	if (!registry_get_manifest_within(l->t, tag, SIGNATURE_ACCEPT, SIGNATURE_MANIFEST_MAX,
									  size_text(SIGNATURE_MANIFEST_MAX / 1024), &body, &f))
	{
		if (strcmp(f.reason, "NotFound") != 0)
			problem(l, "The signature tag %s of %s could not be read: %s", tag, l->t->repository,
					f.message);
		return;
	}
	read_signature_manifest(l, &body, tag);
}

/*
 * What it reads goes with a context of its own: only the signatures found
 * and the error are copied out.
 */
List *
signatures_fetch(const RegistryTarget *t, const Digest *d, char **error)
{
	MemoryContext caller = CurrentMemoryContext;
	MemoryContext ctx = AllocSetContextCreate(caller, "imagestream signature lookup",
											  ALLOCSET_DEFAULT_SIZES);
	Lookup		l = {t};
	RegistryBody index;
	RegistryFailure f;
	bool		supported;
	List	   *found = NIL;
	ListCell   *lc;

	MemoryContextSwitchTo(ctx);
	digest_format(d, l.subject);
	if (!registry_get_referrers(t, d, COSIGN_SIGNATURE_ARTIFACT, SIGNATURE_INDEX_MAX,
								size_text(SIGNATURE_INDEX_MAX / 1024), &index, &supported, &f))
		problem(&l, "The referrers of %s in %s could not be read: %s", l.subject, t->repository,
				f.message);
	else if (supported)
		read_referrers(&l, &index);
	else
		read_signature_tag(&l);

	MemoryContextSwitchTo(caller);
	foreach(lc, l.found)
	{
		FoundSignature *s = lfirst(lc);
		FoundSignature *copy = palloc(sizeof(FoundSignature));

		copy->payload = palloc(Max(s->payload_len, 1));
		memcpy(copy->payload, s->payload, s->payload_len);
		copy->payload_len = s->payload_len;
		copy->signature = pstrdup(s->signature);
		found = lappend(found, copy);
	}
	*error = l.error ? pstrdup(l.error) : NULL;
	MemoryContextDelete(ctx);
	return found;
}
