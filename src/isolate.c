/*
 * isolate.c
 *		One source's work, its errors caught (isolate.h).
 *
 * The worker fetches many sources in one cycle and import_image(all_tags)
 * many in one call: an error raised while one source is fetched or read
 * (a value out of range, a reference stored before it was refused, memory)
 * must fail that source only.  PostgreSQL allows carrying on after an error
 * only once what it interrupted is cleaned up: a subtransaction's rollback
 * inside a transaction, an abort of any transaction outside one, as
 * autovacuum does between its tables.  libcurl's handles are released by
 * http.c's own PG_TRY blocks as the error passes; memory stays in the
 * caller's context, which the caller resets.
 */
#include "postgres.h"

#include "access/xact.h"
#include "miscadmin.h"
#include "utils/resowner.h"

#include "isolate.h"

ErrorData *
run_isolated(void (*fn) (void *arg), void *arg)
{
	MemoryContext ctx = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	bool		in_transaction = IsTransactionState();
	ErrorData  *volatile edata = NULL;

	if (in_transaction)
	{
		BeginInternalSubTransaction(NULL);
		MemoryContextSwitchTo(ctx);
	}
	PG_TRY();
	{
		fn(arg);
		if (in_transaction)
			ReleaseCurrentSubTransaction();
	}
	PG_CATCH();
	{
		HOLD_INTERRUPTS();
		MemoryContextSwitchTo(ctx);
		edata = CopyErrorData();
		FlushErrorState();
		if (in_transaction)
			RollbackAndReleaseCurrentSubTransaction();
		else
			AbortCurrentTransaction();	/* one fn opened, if any */
		RESUME_INTERRUPTS();
		if (edata->sqlerrcode == ERRCODE_QUERY_CANCELED)
			ReThrowError(edata);
	}
	PG_END_TRY();
	MemoryContextSwitchTo(ctx);
	CurrentResourceOwner = owner;
	return edata;
}
