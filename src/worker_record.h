/*
 * worker_record.h
 *		The background worker's SPI: its short transactions, and recording
 *		the results of a chunk of due tags by the SQL functions of the
 *		history rules.
 */
#ifndef IMAGESTREAM_WORKER_RECORD_H
#define IMAGESTREAM_WORKER_RECORD_H

#include "fetch.h"
#include "fetch_many.h"
#include "worker_schedule.h"

/*
 * The worker's short transactions, with SPI connected and a snapshot: the
 * memory context current at the beginning is current again at the end.
 */
extern void worker_begin_transaction(void);
extern void worker_end_transaction(void);

/*
 * May one more message about a single tag (or repository) be logged now?
 * At most LOG_BURST a minute, and how many were left out is said when the
 * next minute starts.
 */
extern bool worker_log_allowed(void);

/*
 * Records the results of a chunk's tags (tags[i]'s in results[i]) in one
 * transaction, polling background (the next chunk's fetch, or NULL)
 * meanwhile; the tags whose results could not be recorded back off.
 */
extern void record_results(WorkerSchedule *s, FetchMany *background, MemoryContext loop_ctx,
						   DueTag **tags, FetchResult **results, int n);

#endif
