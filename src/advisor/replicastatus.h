/*
 * replicastatus.h — what the advisor's last attempts to read each standby
 * of perfopt.advisor_standbys gave (replicastatus.c), for
 * perfopt_advisor_standbys().  Names and counts only: no conninfo, no
 * password, no statement, no value.
 */
#ifndef PERFOPT_REPLICASTATUS_H
#define PERFOPT_REPLICASTATUS_H

/* one attempt on standby name (replica.c's display name) from this database */
extern void adv_replica_status_record(const char *name, bool ok, int statements,
									  const char *error);

#endif							/* PERFOPT_REPLICASTATUS_H */
