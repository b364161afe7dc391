/*
 * credentials.h
 *		The stored registry credentials of the targets an import fetches,
 *		those of the namespace it fetches for or server-wide ones, looked up
 *		by whoever builds the targets (the SQL entry points, the worker) and
 *		handed down in them, so that the network layer runs no query.
 */
#ifndef IMAGESTREAM_CREDENTIALS_H
#define IMAGESTREAM_CREDENTIALS_H

#include "fetch_many.h"

/*
 * Sets each target's stored credentials (RegistryTarget.stored) for the
 * fetch of namespaces[i] (NULL: server-wide credentials only): those of
 * imagestream.registry_credential of that namespace with the longest
 * registry prefix of its host/repository, else the server-wide ones with
 * the longest prefix, else NULL.  One query for them all, each distinct
 * namespace and host/repository asked once.  Outside a transaction (the
 * worker between its transactions) the query runs in a short one of its
 * own.  They are allocated in the current memory context, which the caller
 * ends with the fetch.
 */
extern void credentials_attach(RegistryTarget **targets, const char *const *namespaces, int n);

/* The same for the items not settled (namespaces[i] for items[i]). */
extern void credentials_attach_items(FetchItem *items, const char *const *namespaces, int n);

#endif
