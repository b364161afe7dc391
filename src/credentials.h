/*
 * credentials.h
 *		The stored registry credentials of the targets an import fetches,
 *		looked up by whoever builds the targets (the SQL entry points, the
 *		worker) and handed down in them, so that the network layer runs no
 *		query.
 */
#ifndef IMAGESTREAM_CREDENTIALS_H
#define IMAGESTREAM_CREDENTIALS_H

#include "fetch_many.h"

/*
 * Sets each target's stored credentials (RegistryTarget.stored): those of
 * imagestream.registry_credential with the longest registry prefix of its
 * host/repository, or NULL.  One query for them all, each distinct
 * host/repository asked once.  Outside a transaction (the worker between
 * its transactions) the query runs in a short one of its own.  They are
 * allocated in the current memory context, which the caller ends with the
 * fetch.
 */
extern void credentials_attach(RegistryTarget **targets, int n);

/* The same for the items not settled. */
extern void credentials_attach_items(FetchItem *items, int n);

#endif
