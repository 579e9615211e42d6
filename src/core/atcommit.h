/*
 * atcommit.h — state a SQL call stages and its transaction's commit
 * applies to shared memory (atcommit.c).
 */
#ifndef PERFOPT_ATCOMMIT_H
#define PERFOPT_ATCOMMIT_H

typedef void (*PerfoptAtCommitFn) (void);

/*
 * The calling part has staged something in its own static state: at this
 * transaction's commit apply() runs and then discard(), at its abort
 * discard() alone (discard may be NULL).  A channel is known by its apply
 * function; call again each time it stages more, until the transaction
 * ends.  apply() runs after the commit is durable: it must not ERROR.
 */
extern void perfopt_at_commit(PerfoptAtCommitFn apply, PerfoptAtCommitFn discard);

/*
 * The same for a channel that follows subtransactions: the abort of the
 * subtransaction that staged last (or of the one its commit passed the
 * staging to) discards everything the channel staged in the transaction.
 */
extern void perfopt_at_commit_sub(PerfoptAtCommitFn apply, PerfoptAtCommitFn discard);

#endif							/* PERFOPT_ATCOMMIT_H */
