/*
 * atcommit.c — the one pair of transaction callbacks through which SQL
 * writes shared memory at commit.
 *
 * A part stages a change in its own static state and names it here by
 * its apply and discard functions (a channel): the first call registers
 * the callbacks, each call marks the channel pending in the current
 * transaction.  At commit (a parallel worker's included) every pending
 * channel's apply() runs, then its discard(); at abort only discard().
 * PREPARE TRANSACTION is neither: what a prepared transaction staged stays
 * pending in the session.  A channel staged with perfopt_at_commit_sub()
 * also remembers the subtransaction that staged it: that
 * subtransaction's commit hands it to the parent, its abort discards the
 * channel at once.
 */
#include "postgres.h"

#include "access/xact.h"

#include "atcommit.h"

/* more than the parts use; one more is a programming error */
#define AT_COMMIT_MAX_CHANNELS 8

typedef struct AtCommitChannel
{
	PerfoptAtCommitFn apply;
	PerfoptAtCommitFn discard;
	bool		pending;
	bool		follows_subxacts;
	SubTransactionId subid;		/* staged in it (follows_subxacts only) */
} AtCommitChannel;

static AtCommitChannel channels[AT_COMMIT_MAX_CHANNELS];
static int	nchannels = 0;
static bool callbacks_registered = false;

static void
ac_xact_callback(XactEvent event, void *arg)
{
	bool		commit;

	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
			commit = true;
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
			commit = false;
			break;
		default:
			return;
	}
	for (int i = 0; i < nchannels; i++)
	{
		AtCommitChannel *c = &channels[i];

		if (!c->pending)
			continue;
		c->pending = false;
		if (commit)
			c->apply();
		if (c->discard)
			c->discard();
	}
}

static void
ac_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
					SubTransactionId parentSubid, void *arg)
{
	for (int i = 0; i < nchannels; i++)
	{
		AtCommitChannel *c = &channels[i];

		if (!c->pending || !c->follows_subxacts || c->subid != mySubid)
			continue;
		if (event == SUBXACT_EVENT_COMMIT_SUB)
			c->subid = parentSubid;
		else if (event == SUBXACT_EVENT_ABORT_SUB)
		{
			c->pending = false;
			if (c->discard)
				c->discard();
		}
	}
}

static void
ac_stage(PerfoptAtCommitFn apply, PerfoptAtCommitFn discard, bool follows_subxacts)
{
	AtCommitChannel *c = NULL;

	if (!callbacks_registered)
	{
		RegisterXactCallback(ac_xact_callback, NULL);
		RegisterSubXactCallback(ac_subxact_callback, NULL);
		callbacks_registered = true;
	}
	for (int i = 0; i < nchannels && c == NULL; i++)
		if (channels[i].apply == apply)
			c = &channels[i];
	if (c == NULL)
	{
		if (nchannels >= AT_COMMIT_MAX_CHANNELS)
			elog(ERROR, "perfopt: too many at-commit channels");
		c = &channels[nchannels++];
		c->apply = apply;
		c->discard = discard;
		c->follows_subxacts = follows_subxacts;
	}
	c->pending = true;
	if (follows_subxacts)
		c->subid = GetCurrentSubTransactionId();
}

void
perfopt_at_commit(PerfoptAtCommitFn apply, PerfoptAtCommitFn discard)
{
	ac_stage(apply, discard, false);
}

void
perfopt_at_commit_sub(PerfoptAtCommitFn apply, PerfoptAtCommitFn discard)
{
	ac_stage(apply, discard, true);
}
