/*
 * replica.h — replica workloads: the statements hot standbys run, which
 * the primary's pg_stat_statements never sees.
 *
 * On every server, perfopt_replica_workload() (replicaread.c) returns this
 * server's pg_stat_statements entries with their value samples, to the
 * role perfopt_replica_reader only.  On a primary, the advisor reads it
 * from each standby of perfopt.advisor_standbys (replica.c) and merges
 * those statements into its workload; the value samples it receives stay
 * in the advise run's memory like its own.
 */
#ifndef PERFOPT_REPLICA_H
#define PERFOPT_REPLICA_H

#include "nodes/pg_list.h"

/* entries perfopt.advisor_standbys may list (and status slots kept) */
#define PERFOPT_MAX_STANDBYS 16

/* perfopt.advisor_standbys and perfopt.advisor_standby_timeout */
extern char *perfopt_standby_conninfos;
extern int	perfopt_advisor_standby_timeout;

/*
 * What one server ran of a workload statement: its calls and the value
 * sets it kept (PerfoptValueSet).  local: the primary's own, whose sets
 * valuecost.c reads from the store.
 */
typedef struct AdvReplicaPart
{
	double		calls;
	bool		local;
	List	   *sets;
} AdvReplicaPart;

/* _PG_init: the two GUCs (before the prefix is reserved) and the status memory */
extern void perfopt_replica_define_gucs(void);
extern void perfopt_replica_shmem_register(void);

/*
 * The advisor's workload (workload.c): statements (AdvStatement) merged
 * with those the standbys ran, by text, role and database, ordered as
 * workload.c orders them and cut at perfopt.advisor_max_statements.
 * Unreachable standbys are skipped with a WARNING and counted.
 */
extern List *adv_replica_merge(List *statements);

/*
 * valuecost.c: the value sets a statement is costed with.  local: the
 * primary's own (PerfoptValueSet).  For a statement some standby also
 * ran, every server's sets weighted by its share of the calls; else local
 * (and with perfopt.value_sample_rate = 0 here, whatever the standbys sent).
 */
struct AdvStatement;
extern List *adv_replica_value_samples(struct AdvStatement *st, List *local);

/*
 * hygiene.c: the scans of an index on the standbys this advise run read
 * (a physical standby has the primary's OIDs); 0 when none is listed, -1
 * when one could not be read: then nobody can tell the index is unused.
 */
extern double adv_replica_index_scans(Oid indexrelid);

/* does perfopt.advisor_standbys list a standby? (jobs/verify.c: their scans are not counted) */
extern bool adv_replica_standbys_listed(void);

/* workload.c: is the text one pg_stat_statements normalizes (no literal kept)? */
extern bool adv_surely_normalized(const char *text);

#endif							/* PERFOPT_REPLICA_H */
