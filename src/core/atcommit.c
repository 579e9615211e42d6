/*
 * atcommit.c — the one pair of transaction callbacks through which SQL
 * writes shared memory at commit.
 *
 * A part stages a change as an item of a channel, the channel named by its
 * apply function: perfopt_at_commit() copies the item into the transaction
 * with the subtransaction that staged it.  A subtransaction's commit hands
 * its items to its parent, its abort drops them (ROLLBACK TO SAVEPOINT, a
 * failed PL/pgSQL block), so that what is applied is exactly what the
 * committed SQL did.  At commit (a parallel worker's included) each item's
 * apply() runs, in the order they were staged; at abort nothing does.
 *
 * Monitoring control (control.c) stages in its own state instead, a
 * channel of perfopt_at_commit_sub(): pending in the subtransaction that
 * staged it last, discarded by that subtransaction's abort.
 *
 * PREPARE TRANSACTION is refused when anything is staged: a prepared
 * transaction commits in whatever session runs COMMIT PREPARED, where
 * nothing of this one's staging exists.
 */
#include "postgres.h"

#include "access/xact.h"
#include "nodes/pg_list.h"
#include "utils/memutils.h"

#include "atcommit.h"

/* more than the parts use; one more is a programming error */
#define AT_COMMIT_MAX_CHANNELS 8

/* perfopt_at_commit_sub()'s channels */
typedef struct AtCommitChannel
{
	PerfoptAtCommitFn apply;
	PerfoptAtCommitFn discard;
	bool		pending;
	SubTransactionId subid;		/* staged in it */
} AtCommitChannel;

/* perfopt_at_commit()'s items, in TopTransactionContext */
typedef struct AtCommitItem
{
	PerfoptApplyItemFn apply;
	SubTransactionId subid;		/* staged in it, or handed to it */
	char		data[FLEXIBLE_ARRAY_MEMBER];
} AtCommitItem;

static AtCommitChannel channels[AT_COMMIT_MAX_CHANNELS];
static int	nchannels = 0;
static List *items = NIL;
static bool callbacks_registered = false;

static bool
ac_anything_pending(void)
{
	for (int i = 0; i < nchannels; i++)
		if (channels[i].pending)
			return true;
	return items != NIL;
}

static void
ac_xact_callback(XactEvent event, void *arg)
{
	bool		commit;
	List	   *staged = items;
	ListCell   *lc;

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
		case XACT_EVENT_PRE_PREPARE:
			if (ac_anything_pending())
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("cannot PREPARE a transaction that called perfopt's functions that change its state"),
						 errdetail("Their changes take effect at this session's commit.")));
			return;
		default:
			return;
	}
	/* (the list lives in TopTransactionContext, which goes after this) */
	items = NIL;
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
	if (commit)
		foreach(lc, staged)
		{
			AtCommitItem *item = lfirst(lc);

			item->apply(item->data);
		}
}

static void
ac_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
					SubTransactionId parentSubid, void *arg)
{
	ListCell   *lc;

	if (event != SUBXACT_EVENT_COMMIT_SUB && event != SUBXACT_EVENT_ABORT_SUB)
		return;
	for (int i = 0; i < nchannels; i++)
	{
		AtCommitChannel *c = &channels[i];

		if (!c->pending || c->subid != mySubid)
			continue;
		if (event == SUBXACT_EVENT_COMMIT_SUB)
			c->subid = parentSubid;
		else
		{
			c->pending = false;
			if (c->discard)
				c->discard();
		}
	}
	/* items of deeper subtransactions were handed to this one or dropped */
	foreach(lc, items)
	{
		AtCommitItem *item = lfirst(lc);

		if (item->subid != mySubid)
			continue;
		if (event == SUBXACT_EVENT_COMMIT_SUB)
			item->subid = parentSubid;
		else
		{
			items = foreach_delete_current(items, lc);
			pfree(item);
		}
	}
}

static void
ac_register(void)
{
	if (callbacks_registered)
		return;
	RegisterXactCallback(ac_xact_callback, NULL);
	RegisterSubXactCallback(ac_subxact_callback, NULL);
	callbacks_registered = true;
}

void
perfopt_at_commit(PerfoptApplyItemFn apply, const void *data, size_t size)
{
	MemoryContext old;
	AtCommitItem *item;

	ac_register();
	old = MemoryContextSwitchTo(TopTransactionContext);
	item = palloc(offsetof(AtCommitItem, data) + Max(size, 1));
	item->apply = apply;
	item->subid = GetCurrentSubTransactionId();
	if (size > 0)
		memcpy(item->data, data, size);
	items = lappend(items, item);
	MemoryContextSwitchTo(old);
}

void
perfopt_at_commit_sub(PerfoptAtCommitFn apply, PerfoptAtCommitFn discard)
{
	AtCommitChannel *c = NULL;

	ac_register();
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
	}
	c->pending = true;
	c->subid = GetCurrentSubTransactionId();
}
