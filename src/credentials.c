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
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/snapmgr.h"

#include "credentials.h"

/* A distinct registry repository among the targets. */
typedef struct Repository
{
	char	   *name;			/* host/repository */
	RegistryTarget *target;
} Repository;

static int
by_name(const void *a, const void *b)
{
	return strcmp(((const Repository *) a)->name, ((const Repository *) b)->name);
}

/*
 * For each distinct host/repository ($1 the hosts, $2 the names), the
 * credentials with the longest registry prefix.  Every operator and function
 * is named by schema, whatever search_path is in effect.
 */
static const char *const lookup_query =
"SELECT k.i, c.username, c.secret "
"FROM ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($2)) WITH ORDINALITY AS k(host, name, i) "
"CROSS JOIN LATERAL ("
"  SELECT r.username, r.secret FROM imagestream.registry_credential r "
"  WHERE r.registry OPERATOR(pg_catalog.=) k.host "
"     OR pg_catalog.starts_with(k.name, r.registry OPERATOR(pg_catalog.||) '/') "
"  ORDER BY pg_catalog.length(r.registry) DESC LIMIT 1) c";

/* (planned once per process: every import looks credentials up) */
static SPIPlanPtr plan = NULL;

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
	Oid			types[2] = {TEXTARRAYOID, TEXTARRAYOID};
	Datum		values[2];

	for (int i = 0; i < n; i++)
	{
		hosts[i] = CStringGetTextDatum(repos[i].target->host);
		names[i] = CStringGetTextDatum(repos[i].name);
		found[i] = NULL;
	}
	values[0] = PointerGetDatum(construct_array(hosts, n, TEXTOID, -1, false, TYPALIGN_INT));
	values[1] = PointerGetDatum(construct_array(names, n, TEXTOID, -1, false, TYPALIGN_INT));
	if (own_transaction)
	{
		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		PushActiveSnapshot(GetTransactionSnapshot());
	}
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (plan == NULL)
	{
		SPIPlanPtr	prepared = SPI_prepare(lookup_query, 2, types);

		if (prepared == NULL || SPI_keepplan(prepared) != 0)
			elog(ERROR, "could not prepare the lookup of registry credentials");
		plan = prepared;
	}
	if (SPI_execute_plan(plan, values, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read the stored registry credentials");
	for (uint64 row = 0; row < SPI_processed; row++)
	{
		HeapTuple	tup = SPI_tuptable->vals[row];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		int64		i = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull)) - 1;
		RegistryCredentials *c;

		Assert(!isnull && i >= 0 && i < n);
		c = MemoryContextAlloc(caller, sizeof(RegistryCredentials));
		c->username = MemoryContextStrdup(caller, SPI_getvalue(tup, desc, 2));
		c->secret = MemoryContextStrdup(caller, SPI_getvalue(tup, desc, 3));
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
credentials_attach(RegistryTarget **targets, int n)
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
		repos[i].name = psprintf("%s/%s", targets[i]->host, targets[i]->repository);
		repos[i].target = targets[i];
	}
	qsort(repos, n, sizeof(Repository), by_name);
	for (int i = 0; i < n; i++)
		if (i == 0 || strcmp(repos[i].name, repos[i - 1].name) != 0)
			distinct[ndistinct++] = repos[i];
	found = palloc(sizeof(RegistryCredentials *) * ndistinct);
	lookup(distinct, ndistinct, found);
	for (int i = 0, d = -1; i < n; i++)
	{
		if (i == 0 || strcmp(repos[i].name, repos[i - 1].name) != 0)
			d++;
		repos[i].target->stored = found[d];
	}
}

void
credentials_attach_items(FetchItem *items, int n)
{
	RegistryTarget **targets = palloc(sizeof(RegistryTarget *) * Max(n, 1));
	int			m = 0;

	for (int i = 0; i < n; i++)
		if (!items[i].settled)
			targets[m++] = &items[i].target;
	credentials_attach(targets, m);
}
