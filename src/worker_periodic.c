/*
 * worker_periodic.c
 *		What the background worker does on a clock (worker_periodic.h).
 *
 * The work itself is SQL: each function applies what is due and returns
 * when it is due next, which the worker sleeps no longer than.  They run
 * after a cycle's checks, so they never delay a pushed tag's import, at
 * most once a second however often new work wakes the worker (new work may
 * bring an earlier time: a candidate held back until it is old enough, a
 * retention rule, whose sessions wake the worker as they commit), each in
 * a transaction of its own: one that fails is logged and tried again a
 * minute later, and holds up neither the other nor the cycle.  With
 * nothing due each is a read that writes nothing.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "pgstat.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "worker_periodic.h"
#include "worker_record.h"

/* Not more often than this, in ms. */
#define PERIODIC_MIN_INTERVAL_MS 1000
/* After a failure, in ms. */
#define PERIODIC_RETRY_MS 60000

typedef struct PeriodicTask
{
	const char *function;		/* its signature, for to_regprocedure */
	const char *call;
	TimestampTz next;			/* when it said it is due next */
	TimestampTz retry_at;		/* after a failure: not before */
} PeriodicTask;

static PeriodicTask tasks[] = {
	/* gated candidates old enough now (155_gates.sql) */
	{"imagestream._gates_recheck(integer)", "SELECT imagestream._gates_recheck()", DT_NOEND, 0},
	/* namespaces' retention rules, hourly (255_retention.sql) */
	{"imagestream._retention_apply()", "SELECT imagestream._retention_apply()", DT_NOEND, 0},
};

static TimestampTz last_run = 0;

/*
 * Runs one task in a transaction of its own: when it is due next, DT_NOEND
 * when nothing waits on time or the extension has no such function yet (an
 * extension older than its library).
 */
static TimestampTz
run_task(const PeriodicTask *task)
{
	Oid			argtypes[1] = {TEXTOID};
	Datum		args[1];
	TimestampTz next = DT_NOEND;
	bool		isnull;

	worker_begin_transaction();
	pgstat_report_activity(STATE_RUNNING, task->call);
	args[0] = CStringGetTextDatum(task->function);
	if (SPI_execute_with_args("SELECT pg_catalog.to_regprocedure($1) IS NOT NULL", 1, argtypes,
							  args, NULL, true, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not look up %s", task->function);
	if (DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull)))
	{
		Datum		d;

		if (SPI_execute(task->call, false, 1) != SPI_OK_SELECT || SPI_processed != 1)
			elog(ERROR, "%s returned no row", task->call);
		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
		if (!isnull)
			next = DatumGetTimestampTz(d);
	}
	worker_end_transaction();
	return next;
}

/* Runs a task, its failure logged and tried again a minute later. */
static void
run_guarded(PeriodicTask *task, TimestampTz now)
{
	MemoryContext ctx = CurrentMemoryContext;

	PG_TRY();
	{
		/* (never sooner than the next run may be) */
		task->next = Max(run_task(task), TimestampTzPlusMilliseconds(now, PERIODIC_MIN_INTERVAL_MS));
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(ctx);
		edata = CopyErrorData();
		FlushErrorState();
		AbortCurrentTransaction();
		MemoryContextSwitchTo(ctx);
		if (worker_log_allowed())
			ereport(LOG, (errmsg("imagestream worker: %s failed: %s", task->call, edata->message)));
		FreeErrorData(edata);
		task->retry_at = TimestampTzPlusMilliseconds(now, PERIODIC_RETRY_MS);
		task->next = task->retry_at;
	}
	PG_END_TRY();
}

TimestampTz
periodic_run(TimestampTz now)
{
	TimestampTz next = DT_NOEND;

	/* within a second of the last run: the next cycle after it */
	if (last_run != 0 && now < TimestampTzPlusMilliseconds(last_run, PERIODIC_MIN_INTERVAL_MS))
		return TimestampTzPlusMilliseconds(last_run, PERIODIC_MIN_INTERVAL_MS);
	last_run = now;
	for (int i = 0; i < lengthof(tasks); i++)
	{
		if (now >= tasks[i].retry_at)
			run_guarded(&tasks[i], now);
		next = Min(next, tasks[i].next);
	}
	return next;
}
