/*
 * worker_periodic.c
 *		What the background worker does on a clock (worker_periodic.h).
 *
 * The work itself is SQL (_worker_periodic(), src/sql/code/290_worker.sql);
 * it runs after a cycle's checks, so it never delays a pushed tag's import,
 * and at most once a second however often new work wakes the worker.  A
 * session that gives it a new time (a candidate held back until it is old
 * enough) wakes the worker as it commits.
 */
#include "postgres.h"

#include "executor/spi.h"
#include "pgstat.h"
#include "utils/timestamp.h"

#include "worker_periodic.h"
#include "worker_record.h"

/* Not more often than this, in ms. */
#define PERIODIC_MIN_INTERVAL_MS 1000

static TimestampTz last_run = 0;
static TimestampTz next_run = DT_NOEND;

TimestampTz
periodic_run(TimestampTz now)
{
	bool		isnull = true;
	Datum		next = (Datum) 0;
	TimestampTz soonest = TimestampTzPlusMilliseconds(now, PERIODIC_MIN_INTERVAL_MS);

	if (last_run != 0 && now < TimestampTzPlusMilliseconds(last_run, PERIODIC_MIN_INTERVAL_MS))
		return Max(next_run, TimestampTzPlusMilliseconds(last_run, PERIODIC_MIN_INTERVAL_MS));
	last_run = now;
	worker_begin_transaction();
	pgstat_report_activity(STATE_RUNNING, "imagestream worker: gates");
	/* (an extension older than its library has no such function yet) */
	if (SPI_execute("SELECT FROM pg_catalog.pg_proc p "
					"WHERE p.oid = pg_catalog.to_regprocedure('imagestream._worker_periodic()')",
					true, 1) == SPI_OK_SELECT && SPI_processed == 1)
	{
		if (SPI_execute("SELECT imagestream._worker_periodic()", false, 1) != SPI_OK_SELECT ||
			SPI_processed != 1)
			elog(ERROR, "imagestream._worker_periodic() returned no row");
		next = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	}
	next_run = isnull ? DT_NOEND : Max(DatumGetTimestampTz(next), soonest);
	worker_end_transaction();
	return next_run;
}
