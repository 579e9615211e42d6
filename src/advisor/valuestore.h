/*
 * valuestore.h — the value samples: for the statements that matter, a
 * small reservoir of the parameter values they were run with, kept in
 * shared memory only (valuestore.c; captured by valuecapture.c).
 *
 * These values are user data.  They never leave the server's memory: no
 * message quotes them, nothing writes them to a table or a file, and one
 * SQL function only returns them, perfopt_replica_workload()
 * (replicaread.c), to members of perfopt_replica_reader, for a primary's
 * advisor, which keeps them in its memory as its own (docs/security.md).
 * The advisor reads them through perfopt_value_samples() inside its own
 * process; status documents carry counts only.  One more exception is the
 * advisor's: a value nearly every sampled execution of a statement shares
 * (an application constant) may become a partial index's predicate in a
 * recommendation (valuecost.c, docs/security.md).
 */
#ifndef PERFOPT_VALUESTORE_H
#define PERFOPT_VALUESTORE_H

#include "nodes/pg_list.h"
#include "storage/lwlock.h"
#include "utils/timestamp.h"

/* observations one statement's reservoir holds (Algorithm R's k) */
#define PERFOPT_VALUE_SLOTS 16
/* distinct value sets kept per statement (identical ones share a set) */
#define PERFOPT_VALUE_SETS 8
/* bytes of value text per statement, all its sets together */
#define PERFOPT_VALUE_ARENA 2048
/* a longer value (its text form) leaves its whole set unsampled */
#define PERFOPT_VALUE_MAX_LEN 256

/* perfopt.value_sample_statements (restart) and perfopt.value_sample_rate */
extern int	perfopt_value_sample_statements;
extern double perfopt_value_sample_rate;

typedef struct PerfoptValueSet
{
	int			weight;			/* how often this set was seen among those kept */
	int			nparams;		/* $1..$nparams of the pg_stat_statements text */
	char	  **values;			/* text input form per $n; NULL = SQL NULL */
} PerfoptValueSet;

/*
 * The value sets kept for a statement, as pg_stat_statements names it;
 * palloc'd in CurrentMemoryContext; NIL when none are kept (or sampling
 * is off in this session: perfopt.value_sample_rate = 0).
 */
extern List *perfopt_value_samples(Oid dbid, Oid userid, uint64 queryid);

/*
 * The advisor, before it reads the workload: forget what pg_stat_statements
 * forgot (every entry kept from before its last full reset, and this
 * database's entries whose statement it no longer has); everything when
 * sampling is off in this session.  Runs SPI; a no-op without the store.
 */
extern void perfopt_value_samples_sync(void);

/* the capture (valuecapture.c): one execution's values, already text */
extern void perfopt_value_store_add(Oid dbid, Oid userid, uint64 queryid,
									int nparams, char *const *values, double time_ms);
/* the capture gave up on one execution's values (a long value, a type it leaves out) */
extern void perfopt_value_store_count_skipped(void);
/* is there a store at all (perfopt.value_sample_statements > 0 and preloaded)? */
extern bool perfopt_value_store_ready(void);

/* counts only, never values: for perfopt_status() */
typedef struct PerfoptValueCounts
{
	int			capacity;		/* statements the store can hold */
	int			statements;		/* statements with samples */
	int			value_sets;		/* distinct sets kept, all statements */
	int			observations;	/* filled reservoir slots, all statements */
	uint64		offered;		/* executions whose values reached the store */
	uint64		dropped;		/* of those, not kept: no room for a new set */
	uint64		skipped;		/* sampled executions whose values were left out */
	uint64		evicted;		/* statements evicted to make room */
} PerfoptValueCounts;

extern void perfopt_value_store_counts(PerfoptValueCounts *c);

/* _PG_init: its shared memory (when perfopt.value_sample_statements > 0) */
extern void perfopt_value_store_shmem_register(void);

#endif							/* PERFOPT_VALUESTORE_H */
