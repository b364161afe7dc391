/*
 * change_actor.c
 *		The actor of a change row (doc/model.md, "change"): the role that
 *		made the change, or the background worker for its own imports.
 *
 * The role is the one rights are checked against (rights.c): the caller an
 * API entry noted, not the owner its SECURITY DEFINER body runs as.  It is
 * written as regrole writes it, quoted when it needs quotes, so that no
 * role, whatever its name, reads as the worker's "imagestream worker" (a
 * name with a space is always quoted).  No argument carries it: a caller
 * cannot choose what is recorded.
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"

#include "change_actor.h"
#include "rights.h"

bool		change_actor_worker = false;

/* SQL: _change_actor() */
PG_FUNCTION_INFO_V1(imagestream_change_actor);
Datum
imagestream_change_actor(PG_FUNCTION_ARGS)
{
	if (change_actor_worker)
		PG_RETURN_TEXT_P(cstring_to_text("imagestream worker"));
	PG_RETURN_TEXT_P(cstring_to_text(quote_identifier(GetUserNameFromId(rights_role(), false))));
}
