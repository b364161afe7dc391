/*
 * worker_chunks.h
 *		The background worker's chunk pipeline: a cycle's checks (each an
 *		upstream reference with its due tags, group_checks) are made in chunks, the
 *		next chunk's requests running while the results of the one before
 *		are recorded.
 */
#ifndef IMAGESTREAM_WORKER_CHUNKS_H
#define IMAGESTREAM_WORKER_CHUNKS_H

#include "fetch_many.h"
#include "worker_schedule.h"
#include "worker_shmem.h"

/* The pipeline's state: the loop owns it, and passes it to every call. */
typedef struct ChunkPipeline
{
	WorkerSchedule *schedule;	/* the loop's: each check moves a tag's due time */
	MemoryContext loop_ctx;		/* the loop's, reset each cycle */

	/*
	 * The fetch of the next chunk, running while the current one is
	 * recorded; cancelled (pipeline_cancel) by whoever leaves the cycle
	 * early, an error included.
	 */
	FetchMany  *in_background;
	ReadBudget	cycle_read;		/* what the cycle may still read */

	/*
	 * The earliest wake of the references checked this cycle, placed again
	 * by their checks (a failure's back-off may be a second away): the loop
	 * sleeps no longer.
	 */
	TimestampTz next_wake;
} ChunkPipeline;

/* A chunk of checks, and the fetch of their tags' sources once started. */
typedef struct Chunk Chunk;

/*
 * A chunk holds at most CHUNK_CHECKS checks (their HEAD requests take about
 * a second) and CHUNK_TAGS due tags (its fetch items and results): a check
 * holds no more (group_checks), so one always fits.
 */
#define CHUNK_CHECKS 500
#define CHUNK_TAGS 5000

/*
 * Registries found unreachable, not asked again for 30 s (a chunk of their
 * tags would otherwise cost a timeout per wave of requests, each cycle).
 */
#define UNREACHABLE_REMEMBER_MS 30000

/*
 * A reload, or new work committed (or any other signal: the latch is set
 * for many reasons), ends the cycle early; a new one takes it up.
 */
extern bool new_work_waiting(void);

extern void pipeline_init(ChunkPipeline *p, WorkerSchedule *schedule, MemoryContext loop_ctx);
extern void pipeline_cycle_start(ChunkPipeline *p);
extern bool pipeline_read_all(const ChunkPipeline *p);
extern void pipeline_cancel(ChunkPipeline *p);

extern int	chunk_size(const DueCheck *checks, int first, int n);
extern Chunk *chunk_start(ChunkPipeline *p, DueTag **work, const DueCheck *checks, int first,
						  int n);
extern Chunk *chunk_finish(ChunkPipeline *p, Chunk *c, DueTag **work, const DueCheck *checks,
						   int next_first, int next_n, CheckCounts *counts);

#endif
