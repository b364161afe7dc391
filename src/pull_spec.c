/*
 * pull_spec.c
 *		The pull spec consumers of a tag must use: its current image by
 *		digest, from the source repository (reference policy Source) or from
 *		the stream's repository on imagestream.local_registry (policy Local).
 *		resolve() and the image_stream_tags view share it.
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"

#include "digest_type.h"
#include "pull_spec.h"
#include "ref_type.h"
#include "settings.h"

Datum
pull_spec_datum(Datum reference, bool has_image, Datum image, bool local_policy,
				const char *namespace, const char *stream)
{
	ImageRefParts p;

	/* a reference-only event: the pull spec is the reference as recorded */
	if (!has_image)
		return reference;
	if (local_policy && imagestream_local_registry && imagestream_local_registry[0])
	{
		char	   *local = psprintf("%s/%s/%s", imagestream_local_registry, namespace, stream);

		datum_get_ref(DirectFunctionCall1(image_ref_in, CStringGetDatum(local)), &p);
	}
	else
		datum_get_ref(reference, &p);
	p.tag_len = 0;
	datum_get_digest(image, &p.digest);
	p.has_digest = true;
	return ref_get_datum(&p);
}

/*
 * SQL: _pull_spec_of(reference, image, local_policy, namespace, stream), for
 * the view; NULL when the tag has no event.  Not STRICT, because a NULL image
 * is a reference-only event and a NULL local_policy means Source; a NULL
 * reference, namespace or stream gives NULL (any role may call it).
 */
PG_FUNCTION_INFO_V1(imagestream_pull_spec);
Datum
imagestream_pull_spec(PG_FUNCTION_ARGS)
{
	if (PG_ARGISNULL(0) || PG_ARGISNULL(3) || PG_ARGISNULL(4))
		PG_RETURN_NULL();
	PG_RETURN_DATUM(pull_spec_datum(PG_GETARG_DATUM(0), !PG_ARGISNULL(1), PG_GETARG_DATUM(1),
									!PG_ARGISNULL(2) && PG_GETARG_BOOL(2),
									text_to_cstring(PG_GETARG_TEXT_PP(3)),
									text_to_cstring(PG_GETARG_TEXT_PP(4))));
}
