/*
 * policy.h
 *		Which registries an import may reach: imagestream.allowed_registries,
 *		blocked_registries, insecure_registries and blocked_networks.
 */
#ifndef IMAGESTREAM_POLICY_H
#define IMAGESTREAM_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "utils/guc.h"

/* May an import contact this registry?  If not, why (a sentence). */
extern bool policy_registry_allowed(const char *host, char *why, size_t why_len);

/* Is the registry listed in imagestream.insecure_registries? */
extern bool policy_registry_insecure(const char *host);

/* Is a socket address inside imagestream.blocked_networks? */
extern bool policy_address_blocked(const struct sockaddr *addr);

/*
 * Does a host name (or address literal) resolve here to an address in
 * blocked_networks?  For connections made through a proxy, which resolves
 * the name itself: every address counts, and a name that does not resolve
 * here is refused (*unresolved).  Nothing is resolved while the list is
 * empty.  No palloc: libcurl's callbacks call it.
 */
extern bool policy_host_blocked(const char *host, struct sockaddr_storage *blocked_addr,
								bool *unresolved);

/* GUC hooks for imagestream.blocked_networks. */
extern bool policy_check_networks(char **newval, void **extra, GucSource source);
extern void policy_assign_networks(const char *newval, void *extra);

#endif
