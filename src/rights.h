/*
 * rights.h
 *		Namespace rights of the calling role (rights.c).
 */
#ifndef IMAGESTREAM_RIGHTS_H
#define IMAGESTREAM_RIGHTS_H

#include "postgres.h"

/* Superuser, or a member of the extension owner: every right. */
extern bool rights_privileged(Oid role);

/* Whether role has the right level ("view", "edit", "admin") on namespace. */
extern bool rights_can(Oid role, const char *namespace, const char *level);

#endif
