/*
 * worker_listing.h
 *		The background worker's listings (doc/worker.md): the upstream tag
 *		lists it reads every import_interval, a page (one request) at a time
 *		between its other work, each page handed at once to the SQL function
 *		of its kind of listing.  Two kinds:
 *		- a stream's scheduled repository: the tags new upstream become
 *		  pending spec tags of the stream;
 *		- a policy listing (one repository listed with one namespace's
 *		  credentials for the tag policies that share it): the last page
 *		  chooses each policy's winner and moves the tags whose winner
 *		  changed.
 *		Either way the worker then imports those tags as any other.
 */
#ifndef IMAGESTREAM_WORKER_LISTING_H
#define IMAGESTREAM_WORKER_LISTING_H

#include "worker_chunks.h"
#include "worker_schedule.h"

typedef enum ListingKind
{
	LISTING_REPOSITORY,			/* _due_repositories(), _repository_page */
	LISTING_POLICY				/* _due_policy_listings(), _policy_listing_page */
} ListingKind;

#define LISTING_KINDS 2

/* A listing's identity (zeroed first: it is hashed as bytes). */
typedef struct ListingKey
{
	ListingKind kind;
	int64		id;				/* the stream's id, or the policy listing's */
} ListingKey;

/*
 * A listing, kept across cycles: when it is due next, and where a listing
 * under way goes on.  The strings are in TopMemoryContext.
 */
typedef struct ListingSchedule
{
	ListingKey	key;			/* hash key */
	TagSchedule timing;			/* by the rules of worker_schedule.c;
								 * timing.tag_id is key.id */
	char	   *listing;		/* the repository of the listing under way, or
								 * NULL */
	char	   *next_page;		/* the URL of its next page */
	int			pages;			/* its pages read so far */
	int			added;			/* the tags its pages added (or moved) so far */
	uint64		read;			/* the bytes it read so far */
} ListingSchedule;

/* A listing due this cycle. */
typedef struct DueListing
{
	ListingSchedule *entry;
	char	   *repository;
	bool		insecure;
	char	   *namespace;		/* whose credentials list it */
} DueListing;

/* The worker's listings, by kind and id; the loop keeps them. */
typedef struct WorkerListings
{
	HTAB	   *listings;		/* ListingSchedule by ListingKey */
	uint64		cycle;			/* cycles that read them so far */
} WorkerListings;

extern void listings_init(WorkerListings *l);

/*
 * Reads the listings of both kinds in a transaction of their own; *due is
 * set to those due now (in loop_ctx), a listing under way among them, and
 * their number returned; *next_due moves to the next of the others if it is
 * earlier.  None of a kind whose function the extension's objects lack
 * (0.2.0's, in the upgrade window: doc/upgrading.md).
 */
extern int	listings_read_due(WorkerListings *l, MemoryContext loop_ctx, TimestampTz now,
							  TimestampTz *next_due, DueListing **due);

/*
 * Lists the due listings a page at a time, in turn, each page one request
 * taking one import of the budget, for as long as no tag is due (until), no
 * new work waits and the cycle may still read (pipeline): whatever runs
 * over waits at most for the one request under way, and a listing cut short
 * goes on in the next cycle.  *next_due moves to when a listing that ended
 * is due again (its back-off, after a failure) if that is earlier, so that
 * the worker wakes for it.  Returns whether its pages added or moved tags,
 * which the next cycle imports: it should start at once.
 */
extern bool listings_run(WorkerSchedule *schedule, ChunkPipeline *pipeline, DueListing *due,
						 int n, TimestampTz until, TimestampTz *next_due);

#endif
