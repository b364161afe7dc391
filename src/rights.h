/*
 * rights.h
 *		Namespace rights of the calling role (rights.c).
 */
#ifndef IMAGESTREAM_RIGHTS_H
#define IMAGESTREAM_RIGHTS_H

#include "postgres.h"

/*
 * The role whose rights count: the caller an API entry noted (api_call.c),
 * else current_user (in a SECURITY DEFINER function, its owner).
 */
extern Oid	rights_role(void);

/* The caller noted by the outermost API entry; InvalidOid outside one. */
extern Oid	api_call_caller(void);
extern Oid	api_call_suspend(void);
extern void api_call_resume(Oid saved);

/* Superuser, or a member of the extension owner: every right. */
extern bool rights_privileged(Oid role);

/* Whether role has the right level ("view", "edit", "admin") on namespace. */
extern bool rights_can(Oid role, const char *namespace, const char *level);

/* The function namespace_grantee(), whose ACL marks grantees; InvalidOid if none. */
extern Oid	rights_marker(void);

/*
 * Whether grantee holds EXECUTE on the marker itself (not through PUBLIC or
 * a role): the privilege that makes its namespace_grant rows count
 * (src/sql/code/030_rights.sql).  DROP OWNED BY revokes it, and a role that gets
 * the OID of a dropped one does not have it.
 */
extern bool rights_marked(Oid marker, Oid grantee);

#endif
