/*
 * commit_steps.c
 *		Work done as a transaction commits, under a lock held only while it
 *		commits (findings S20 and S24).
 *
 * Some writes must be finished in commit order against what other
 * transactions committed: change log ids (change_commit.c), and the
 * privilege that makes a role's namespace grants count (grantee_commit.c).
 * Locking from the first write to the commit would let one open transaction
 * stop every writer of every namespace.  Instead the transaction's last step
 * before its commit record (XACT_EVENT_PRE_COMMIT, after deferred triggers,
 * where no user code runs any more) takes the step's commit lock and does
 * the work; the lock is held from there to the end of the commit only, so
 * committers queue for the moment each takes to commit, never behind a
 * transaction still open.  Each step has its own lock: a commit that waits
 * in one step holds up no commit of the other.
 */
#include "postgres.h"

#include "access/xact.h"
#include "commands/extension.h"
#include "miscadmin.h"
#include "storage/lock.h"
#include "utils/inval.h"

#include "commit_steps.h"

typedef struct CommitStep
{
	bool		(*pending) (void);
	void		(*run) (void);
	void		(*reset) (void);

	/*
	 * The step's commit lock: an advisory lock tag with a last field that no
	 * SQL function produces (pg_advisory_lock and its kin use 1 and 2), so no
	 * role can take it and hold it.
	 */
	uint16		lock;
	const char *changed;		/* for PREPARE's refusal: what it changed */
	const char *detail;
} CommitStep;

static const CommitStep steps[] = {
	{change_commit_pending, change_commit_run, change_commit_reset, 15,
	"image stream tags", "Change log ids are assigned when the transaction commits."},
	{grantee_commit_pending, grantee_commit_run, grantee_commit_reset, 16,
	"namespace grants", "The privilege that makes a grant count is set when the transaction commits."},
};

static bool callback_registered = false;

/*
 * Takes a step's commit lock (held to the end of the transaction), then
 * reads the catalog changes of transactions that committed before it: a
 * step may read and change catalog rows they changed.
 */
static void
take_commit_lock(uint16 lock)
{
	Oid			extension = get_extension_oid("imagestream", true);
	LOCKTAG		tag;

	/* (an extension dropped since took the steps' objects with it) */
	if (!OidIsValid(extension))
		return;
	SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, extension, 0, lock);
	(void) LockAcquire(&tag, ExclusiveLock, false, false);
	AcceptInvalidationMessages();
}

static void
commit_steps_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_PRE_COMMIT:
			for (int i = 0; i < lengthof(steps); i++)
			{
				if (steps[i].pending())
				{
					take_commit_lock(steps[i].lock);
					steps[i].run();
				}
			}
			break;
		case XACT_EVENT_PRE_PREPARE:
			for (int i = 0; i < lengthof(steps); i++)
				if (steps[i].pending())
					ereport(ERROR,
							(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
							 errmsg("cannot PREPARE a transaction that changed %s", steps[i].changed),
							 errdetail("%s", steps[i].detail)));
			break;
		default:
			/* committed, aborted or prepared: nothing left to do */
			for (int i = 0; i < lengthof(steps); i++)
				steps[i].reset();
			break;
	}
}

void
commit_steps_arm(void)
{
	if (!callback_registered)
	{
		RegisterXactCallback(commit_steps_callback, NULL);
		callback_registered = true;
	}
}
