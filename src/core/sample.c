/*
 * sample.c — the metric tables: every field of a sample, its SQL column /
 * JSON key, and its Prometheus name, once.  Consumers walk these tables;
 * adding a metric means adding a struct member and one line here (and the
 * column in perfopt--1.0.sql, which a regression test compares).
 */
#include "postgres.h"

#include <math.h>

#include "sample.h"

#define SYS(f, pn, pl, sc, help) \
	{#f, offsetof(PerfoptSample, f), PERFOPT_GROUP_SYSTEM, pn, pl, sc, help}
#define SRV(f, pn, pl, sc, help) \
	{#f, offsetof(PerfoptSample, f), PERFOPT_GROUP_SERVER, pn, pl, sc, help}
#define DB(f, pn, sc, help) \
	{#f, offsetof(PerfoptDbSample, f), PERFOPT_GROUP_SERVER, pn, NULL, sc, help}

#define CPU_HELP "Share of CPU time spent per mode over the last sampling interval (0-1)."
#define CONN_HELP "Client connections by state."

const PerfoptField perfopt_sample_fields[] = {
	SYS(cpu_busy_pct, "perfopt_system_cpu_usage_ratio", NULL, 0.01,
		"Share of CPU time not idle or waiting for I/O over the last sampling interval (0-1)."),
	SYS(cpu_user_pct, "perfopt_system_cpu_mode_ratio", "mode=\"user\"", 0.01, CPU_HELP),
	SYS(cpu_system_pct, "perfopt_system_cpu_mode_ratio", "mode=\"system\"", 0.01, CPU_HELP),
	SYS(cpu_iowait_pct, "perfopt_system_cpu_mode_ratio", "mode=\"iowait\"", 0.01, CPU_HELP),
	SYS(cpu_count, "perfopt_system_cpus", NULL, 1, "Online CPUs."),
	SYS(load_1m, "perfopt_system_load_average", "period=\"1m\"", 1, "System load average."),
	SYS(load_5m, "perfopt_system_load_average", "period=\"5m\"", 1, "System load average."),
	SYS(load_15m, "perfopt_system_load_average", "period=\"15m\"", 1, "System load average."),
	SYS(memory_used_pct, "perfopt_system_memory_utilization_ratio", NULL, 0.01,
		"Memory in use over the cgroup limit when one is set, else over MemTotal (0-1)."),
	SYS(memory_used_bytes, "perfopt_system_memory_used_bytes", NULL, 1,
		"Memory in use (cgroup memory.current, else MemTotal - MemAvailable)."),
	SYS(memory_limit_bytes, "perfopt_system_memory_limit_bytes", NULL, 1,
		"Memory available to the server (cgroup memory.max, else MemTotal)."),
	SYS(memory_from_cgroup, "perfopt_system_memory_cgroup_limited", NULL, 1,
		"1 when memory figures come from a cgroup v2 limit."),
	SYS(data_disk_used_pct, "perfopt_system_disk_utilization_ratio", "filesystem=\"data\"", 0.01,
		"Used share of the filesystem, computed like df (0-1)."),
	SYS(wal_disk_used_pct, "perfopt_system_disk_utilization_ratio", "filesystem=\"wal\"", 0.01,
		"Used share of the filesystem, computed like df (0-1)."),
	SYS(data_disk_free_bytes, "perfopt_system_disk_free_bytes", "filesystem=\"data\"", 1,
		"Bytes available to unprivileged users on the filesystem."),
	SYS(wal_disk_free_bytes, "perfopt_system_disk_free_bytes", "filesystem=\"wal\"", 1,
		"Bytes available to unprivileged users on the filesystem."),
	SYS(network_rx_bytes_per_second, "perfopt_system_network_bytes_per_second", "direction=\"receive\"", 1,
		"Network traffic over all interfaces but lo over the last sampling interval."),
	SYS(network_tx_bytes_per_second, "perfopt_system_network_bytes_per_second", "direction=\"transmit\"", 1,
		"Network traffic over all interfaces but lo over the last sampling interval."),

	SRV(connections_active, "perfopt_database_connections", "state=\"active\"", 1, CONN_HELP),
	SRV(connections_idle, "perfopt_database_connections", "state=\"idle\"", 1, CONN_HELP),
	SRV(connections_idle_in_transaction, "perfopt_database_connections", "state=\"idle_in_transaction\"", 1, CONN_HELP),
	SRV(connections_waiting_on_lock, "perfopt_database_connections", "state=\"waiting_on_lock\"", 1, CONN_HELP),
	SRV(connections_total, "perfopt_database_connections_in_use", NULL, 1,
		"Client connections in any state."),
	SRV(connections_available, "perfopt_database_connections_max", NULL, 1,
		"max_connections - superuser_reserved_connections."),
	SRV(pool_utilization_pct, "perfopt_database_pool_utilization_ratio", NULL, 0.01,
		"Client connections over max_connections - superuser_reserved_connections (0-1)."),
	SRV(wal_bytes_per_second, "perfopt_database_wal_bytes_per_second", NULL, 1,
		"WAL written (on a standby: replayed) over the last sampling interval."),
	SRV(oldest_query_age_seconds, "perfopt_database_oldest_query_age_seconds", NULL, 1,
		"Age of the longest-running active statement."),
	SRV(oldest_idle_in_transaction_age_seconds, "perfopt_database_oldest_idle_in_transaction_age_seconds", NULL, 1,
		"Time the oldest idle-in-transaction session has been idle."),
};
const int	perfopt_sample_nfields = lengthof(perfopt_sample_fields);

const PerfoptField perfopt_db_fields[] = {
	DB(backends, "perfopt_database_backends", 1, "Backends connected to the database."),
	DB(commits_per_second, "perfopt_database_commits_per_second", 1,
	   "Transactions committed per second over the last sampling interval."),
	DB(rollbacks_per_second, "perfopt_database_rollbacks_per_second", 1,
	   "Transactions rolled back per second over the last sampling interval."),
	DB(cache_hit_pct, "perfopt_database_cache_hit_ratio", 0.01,
	   "blks_hit / (blks_hit + blks_read) over the last sampling interval (0-1)."),
	DB(deadlocks, "perfopt_database_deadlocks_last_interval", 1,
	   "Deadlocks detected during the last sampling interval."),
	DB(temp_bytes, "perfopt_database_temp_bytes_last_interval", 1,
	   "Bytes written to temporary files during the last sampling interval."),
	DB(tuples_read_per_second, "perfopt_database_tuples_read_per_second", 1,
	   "Rows returned and fetched per second over the last sampling interval."),
	DB(tuples_written_per_second, "perfopt_database_tuples_written_per_second", 1,
	   "Rows inserted, updated and deleted per second over the last sampling interval."),
};
const int	perfopt_db_nfields = lengthof(perfopt_db_fields);

void
perfopt_sample_clear(PerfoptSample *s)
{
	for (int i = 0; i < perfopt_sample_nfields; i++)
		*(double *) ((char *) s + perfopt_sample_fields[i].offset) = NAN;
	s->ndatabases = 0;
	s->ndatabases_omitted = 0;
	s->interval_seconds = NAN;
}
