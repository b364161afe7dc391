/*
 * credentials.c
 *		The stored registry credentials of the targets an import fetches
 *		(credentials.h).
 *
 * postgres_fdw looks a user mapping up before it connects and hands it to
 * its connection code; so here: the callers that build fetch targets read
 * imagestream.registry_credential once for them all, as the extension owner
 * the import functions run as, and the registry client below only sends
 * what it is handed, by the rules at the head of auth.c.  The secrets live
 * in the caller's memory context, for as long as its fetch.
 *
 * Credentials belong to a namespace or are server-wide (namespace '', as
 * OpenShift keeps pull secrets per project): a target fetched for a
 * namespace gets that namespace's credentials with the longest registry
 * prefix of its repository, else the server-wide ones with the longest
 * prefix.  Each comes with its identity (registry.h), under which auth.c
 * keeps what is obtained with them.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/snapmgr.h"

#include "credentials.h"
#include "relation.h"

/* A distinct namespace and registry repository among the targets. */
typedef struct Repository
{
	const char *namespace;		/* whose credentials, or NULL: server-wide
								 * only */
	char	   *name;			/* host/repository */
	RegistryTarget *target;
} Repository;

static int
by_namespace_and_name(const void *a, const void *b)
{
	const Repository *x = a;
	const Repository *y = b;
	int			c;

	if (x->namespace == NULL || y->namespace == NULL)
		c = (x->namespace != NULL) - (y->namespace != NULL);
	else
		c = strcmp(x->namespace, y->namespace);
	return c != 0 ? c : strcmp(x->name, y->name);
}

/*
 * The lookup ($1 the hosts, $2 the names host/repository, $3 the
 * namespaces): for each, the namespace, registry prefix, username and
 * secret of the credentials to send, and the hash of username and secret
 * that makes their identity change with them.  Every operator and function
 * is named by schema, whatever search_path is in effect.
 */
#define LOOKUP_HEAD \
"SELECT k.i, c.namespace, c.registry, c.username, c.secret, " \
"  pg_catalog.encode(pg_catalog.sha256(pg_catalog.sha256(pg_catalog.textsend(c.username)) " \
"    OPERATOR(pg_catalog.||) pg_catalog.textsend(c.secret)), 'hex') " \
"FROM ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($2), pg_catalog.unnest($3)) " \
"  WITH ORDINALITY AS k(host, name, ns, i) " \
"CROSS JOIN LATERAL ("

/*
 * The namespace's credentials stored for the longest prefix of
 * host/repository at a "/" (host[:port], host/a, host/a/b, ..., not the
 * whole name), else the server-wide ones.  The prefixes are probed in the
 * primary key together with the namespace, so that a lookup reads the rows
 * it may use and no others, however many credentials a namespace stores.
 */
static const char *const lookup_query =
LOOKUP_HEAD
"  SELECT r.namespace, r.registry, r.username, r.secret "
"  FROM imagestream.registry_credential r "
"  WHERE r.namespace OPERATOR(pg_catalog.=) ANY (ARRAY[k.ns, ''::text]) "
"    AND r.registry OPERATOR(pg_catalog.=) ANY (ARRAY("
"      SELECT pg_catalog.array_to_string(s.parts[1:p.n], '/') "
"      FROM pg_catalog.string_to_array(k.name, '/') AS s(parts), "
"        pg_catalog.generate_series(1, pg_catalog.cardinality(s.parts) OPERATOR(pg_catalog.-) 1) AS p(n))) "
"  ORDER BY r.namespace OPERATOR(pg_catalog.=) '', pg_catalog.length(r.registry) DESC LIMIT 1) c";

/*
 * The table of 0.2.0, which the library meets between the server's restart
 * with it and ALTER EXTENSION UPDATE (doc/upgrading.md): server-wide
 * credentials only, the longest prefix as 0.2.0 found it.  It goes with the
 * first release whose previous release has the namespace column.
 */
static const char *const lookup_query_0_2_0 =
LOOKUP_HEAD
"  SELECT ''::text AS namespace, r.registry, r.username, r.secret "
"  FROM imagestream.registry_credential r "
"  WHERE r.registry OPERATOR(pg_catalog.=) k.host "
"     OR pg_catalog.starts_with(k.name, r.registry OPERATOR(pg_catalog.||) '/') "
"  ORDER BY pg_catalog.length(r.registry) DESC LIMIT 1) c";

/* (planned once per process: every import looks credentials up) */
static SPIPlanPtr plan = NULL;
static SPIPlanPtr plan_0_2_0 = NULL;

static SPIPlanPtr
prepared(SPIPlanPtr *cached, const char *query)
{
	Oid			types[3] = {TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID};

	if (*cached == NULL)
	{
		SPIPlanPtr	p = SPI_prepare(query, 3, types);

		if (p == NULL || SPI_keepplan(p) != 0)
			elog(ERROR, "could not prepare the lookup of registry credentials");
		*cached = p;
	}
	return *cached;
}

/*
 * Runs the lookup of repos[0..n-1] and sets found[i] for those that have
 * credentials.  The worker fetches outside any transaction: then it runs in
 * a short one of its own (SPI needs one), and the caller's memory context
 * and resource owner are restored after it.
 */
static void
lookup(Repository *repos, int n, RegistryCredentials **found)
{
	MemoryContext caller = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	bool		own_transaction = !IsTransactionState();
	Datum	   *hosts = palloc(sizeof(Datum) * n);
	Datum	   *names = palloc(sizeof(Datum) * n);
	Datum	   *namespaces = palloc(sizeof(Datum) * n);
	bool	   *no_namespace = palloc(sizeof(bool) * n);
	int			dims[1] = {n};
	int			lbs[1] = {1};
	Datum		values[3];
	SPIPlanPtr	p;

	for (int i = 0; i < n; i++)
	{
		hosts[i] = CStringGetTextDatum(repos[i].target->host);
		names[i] = CStringGetTextDatum(repos[i].name);
		no_namespace[i] = repos[i].namespace == NULL;
		namespaces[i] = no_namespace[i] ? (Datum) 0 : CStringGetTextDatum(repos[i].namespace);
		found[i] = NULL;
	}
	values[0] = PointerGetDatum(construct_array(hosts, n, TEXTOID, -1, false, TYPALIGN_INT));
	values[1] = PointerGetDatum(construct_array(names, n, TEXTOID, -1, false, TYPALIGN_INT));
	values[2] = PointerGetDatum(construct_md_array(namespaces, no_namespace, 1, dims, lbs, TEXTOID,
												   -1, false, TYPALIGN_INT));
	if (own_transaction)
	{
		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		PushActiveSnapshot(GetTransactionSnapshot());
	}
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	p = get_attnum(imagestream_relid("registry_credential"), "namespace") != InvalidAttrNumber
		? prepared(&plan, lookup_query) : prepared(&plan_0_2_0, lookup_query_0_2_0);
	if (SPI_execute_plan(p, values, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read the stored registry credentials");
	for (uint64 row = 0; row < SPI_processed; row++)
	{
		HeapTuple	tup = SPI_tuptable->vals[row];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		int64		i = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull)) - 1;
		char	   *ns = SPI_getvalue(tup, desc, 2);
		RegistryCredentials *c;

		Assert(!isnull && i >= 0 && i < n);
		c = MemoryContextAlloc(caller, sizeof(RegistryCredentials));
		c->username = MemoryContextStrdup(caller, SPI_getvalue(tup, desc, 4));
		c->secret = MemoryContextStrdup(caller, SPI_getvalue(tup, desc, 5));
		/* (no namespace name is "*", nor has a space: src/names.c) */
		c->identity = MemoryContextStrdup(caller, psprintf("%s %s %s", ns[0] ? ns : "*",
														   SPI_getvalue(tup, desc, 3),
														   SPI_getvalue(tup, desc, 6)));
		found[i] = c;
	}
	SPI_finish();
	if (own_transaction)
	{
		PopActiveSnapshot();
		CommitTransactionCommand();
		MemoryContextSwitchTo(caller);
		CurrentResourceOwner = owner;
	}
}

void
credentials_attach(RegistryTarget **targets, const char *const *namespaces, int n)
{
	Repository *repos;
	Repository *distinct;
	RegistryCredentials **found;
	int			ndistinct = 0;

	if (n == 0)
		return;
	repos = palloc(sizeof(Repository) * n);
	distinct = palloc(sizeof(Repository) * n);
	for (int i = 0; i < n; i++)
	{
		repos[i].namespace = namespaces[i];
		repos[i].name = psprintf("%s/%s", targets[i]->host, targets[i]->repository);
		repos[i].target = targets[i];
	}
	qsort(repos, n, sizeof(Repository), by_namespace_and_name);
	for (int i = 0; i < n; i++)
		if (i == 0 || by_namespace_and_name(&repos[i], &repos[i - 1]) != 0)
			distinct[ndistinct++] = repos[i];
	found = palloc(sizeof(RegistryCredentials *) * ndistinct);
	lookup(distinct, ndistinct, found);
	for (int i = 0, d = -1; i < n; i++)
	{
		if (i == 0 || by_namespace_and_name(&repos[i], &repos[i - 1]) != 0)
			d++;
		repos[i].target->stored = found[d];
	}
}

void
credentials_attach_items(FetchItem *items, const char *const *namespaces, int n)
{
	RegistryTarget **targets = palloc(sizeof(RegistryTarget *) * Max(n, 1));
	const char **of = palloc(sizeof(char *) * Max(n, 1));
	int			m = 0;

	for (int i = 0; i < n; i++)
		if (!items[i].settled)
		{
			of[m] = namespaces[i];
			targets[m++] = &items[i].target;
		}
	credentials_attach(targets, of, m);
}
