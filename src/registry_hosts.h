/*
 * registry_hosts.h
 *		What this process learnt about each registry host it talked to: the
 *		scheme an insecure one answers on, the Authorization values that
 *		worked for its repositories until they expire, and whether it was
 *		found unreachable.  One hash table keyed by API host (host[:port]),
 *		pruned of what expired.
 */
#ifndef IMAGESTREAM_REGISTRY_HOSTS_H
#define IMAGESTREAM_REGISTRY_HOSTS_H

#include "registry.h"

/* The scheme an insecure registry was found to answer on. */
typedef enum HostScheme
{
	HOST_SCHEME_UNKNOWN,
	HOST_SCHEME_HTTPS,
	HOST_SCHEME_PLAIN_HTTP
} HostScheme;

extern HostScheme registry_host_scheme(const char *api_host);
extern void registry_host_set_scheme(const char *api_host, HostScheme scheme);

/*
 * The Authorization value stored under key (auth.c's: one per registry
 * repository and the credentials it was obtained with, or none) that has
 * not expired, or NULL; and storing one for seconds.  An expired value is
 * wiped from memory; a value too long to keep, or beyond the bounds of the
 * table, is not stored (registry_hosts.c).
 */
extern const char *registry_host_authorization(const char *api_host, const char *key);
extern void registry_host_set_authorization(const char *api_host, const char *key,
											const char *authorization, int seconds);

/*
 * The failure that found the host unreachable, while it is remembered, or
 * NULL.  Remembered for remember_ms, or with 0 until
 * registry_hosts_forget_unreachable.
 */
extern const RegistryFailure *registry_host_unreachable(const char *api_host);
extern void registry_host_set_unreachable(const char *api_host, const RegistryFailure *f,
										  int remember_ms);
extern void registry_hosts_forget_unreachable(void);

#endif
