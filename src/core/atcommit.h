/*
 * atcommit.h — state a SQL call stages and its transaction's commit
 * applies to shared memory (atcommit.c).
 */
#ifndef PERFOPT_ATCOMMIT_H
#define PERFOPT_ATCOMMIT_H

typedef void (*PerfoptAtCommitFn) (void);
typedef void (*PerfoptApplyItemFn) (const void *data);

/*
 * Stage an item: at this transaction's commit apply(data) runs (a copy of
 * size bytes, in staging order with the others), unless the
 * subtransaction that staged it, or one it was handed to, aborts.
 * apply() runs after the commit is durable: it must not ERROR.
 */
extern void perfopt_at_commit(PerfoptApplyItemFn apply, const void *data, size_t size);

/*
 * A channel of state the part keeps itself: pending in the subtransaction
 * that staged it last (handed to the parent at its commit); at commit
 * apply() then discard(), at the abort of that subtransaction or of the
 * transaction discard() alone (discard may be NULL).  A channel is known
 * by its apply function.
 */
extern void perfopt_at_commit_sub(PerfoptAtCommitFn apply, PerfoptAtCommitFn discard);

#endif							/* PERFOPT_ATCOMMIT_H */
