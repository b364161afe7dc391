/*
 * pull_spec.h
 *		The pull spec of a tag's current event (pull_spec.c).
 */
#ifndef IMAGESTREAM_PULL_SPEC_H
#define IMAGESTREAM_PULL_SPEC_H

#include "postgres.h"

/*
 * reference and image are the tag's head columns; local_policy is has_spec
 * and reference policy Local.
 */
extern Datum pull_spec_datum(Datum reference, bool has_image, Datum image,
							 bool local_policy, const char *namespace, const char *stream);

#endif
