/*
 * auth.h
 *		Registry authentication: anonymous, Basic, and the Bearer token flow
 *		with tokens cached per registry repository and credentials (a
 *		namespace's, the server-wide ones, or none) until they expire.
 */
#ifndef IMAGESTREAM_AUTH_H
#define IMAGESTREAM_AUTH_H

#include "http.h"

/*
 * Performs req, answering a 401 challenge as the registry asks, with the
 * target's stored credentials (RegistryTarget.stored) when it has any, and once
 * more anonymously when those are refused (as OpenShift does).  A URL off
 * the registry's origin gets no credentials, no token and no answer to its
 * challenge.  A target without the credentials flag (an insecure import
 * of a registry the superuser did not list insecure) gets neither the
 * credentials nor a token obtained with them: it is answered anonymously.
 * *note explains an authentication failure in a sentence (NULL otherwise).
 */
struct RegistryTarget;
extern void auth_perform(const struct RegistryTarget *t, HttpRequest *req,
						 HttpResponse *resp, char **note);

/* The Authorization value that last worked for the target, or NULL. */
extern const char *auth_cached(const struct RegistryTarget *t);

#endif
