/*
 * worker_listing.h
 *		The background worker's repository listings (doc/worker.md): each
 *		stream's scheduled repository is listed every import_interval, a
 *		page (one request) at a time between the worker's other work, and
 *		the tags new upstream become pending spec tags of the stream, which
 *		the worker then imports as any other.
 */
#ifndef IMAGESTREAM_WORKER_LISTING_H
#define IMAGESTREAM_WORKER_LISTING_H

#include "worker_chunks.h"
#include "worker_schedule.h"

/*
 * A scheduled repository, kept across cycles: when it is listed next, and
 * where a listing under way goes on.  The strings are in TopMemoryContext.
 */
typedef struct RepositorySchedule
{
	int64		stream_id;		/* hash key */
	TagSchedule timing;			/* by the rules of worker_schedule.c;
								 * timing.tag_id is the stream's id too */
	char	   *listing;		/* the repository of the listing under way, or
								 * NULL */
	char	   *next_page;		/* the URL of its next page */
	int			pages;			/* its pages read so far */
	int			added;			/* the tags it added so far */
	uint64		read;			/* the bytes it read so far */
} RepositorySchedule;

/* A scheduled repository due this cycle. */
typedef struct DueRepository
{
	RepositorySchedule *entry;
	char	   *repository;
	bool		insecure;
	char	   *namespace;		/* whose credentials list it */
} DueRepository;

/* The worker's repositories, by stream id; the loop keeps them. */
typedef struct RepositoryListings
{
	HTAB	   *repositories;	/* RepositorySchedule by stream_id */
	uint64		cycle;			/* cycles that read them so far */
} RepositoryListings;

extern void listings_init(RepositoryListings *l);

/*
 * Reads the scheduled repositories in a transaction of their own; *due is
 * set to those due now (in loop_ctx), a listing under way among them, and
 * their number returned; *next_due moves to the next of the others if it is
 * earlier.  None on the objects of a release without repository imports
 * (the upgrade window, doc/upgrading.md).
 */
extern int	listings_read_due(RepositoryListings *l, MemoryContext loop_ctx, TimestampTz now,
							  TimestampTz *next_due, DueRepository **due);

/*
 * Lists the due repositories a page at a time, in turn, each page one
 * request taking one import of the budget, for as long as no tag is due
 * (until), no new work waits and the cycle may still read (pipeline):
 * whatever runs over waits at most for the one request under way, and a
 * listing cut short goes on in the next cycle.  Returns whether it added
 * tags, which the next cycle imports: it should start at once.
 */
extern bool listings_run(WorkerSchedule *schedule, ChunkPipeline *pipeline, DueRepository *due,
						 int n, TimestampTz until);

/*
 * The earlier of next_due and the next listing's time, after the cycle's
 * listings moved them: a listing cut short goes on a second later at the
 * latest (sooner when a tag is due or new work commits).
 */
extern TimestampTz listings_next_due(RepositoryListings *l, TimestampTz now, TimestampTz next_due);

#endif
