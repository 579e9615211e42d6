/*
 * perfopt.h — the configuration every part reads: GUC variables defined in
 * perfopt.c, and the few constants shared across parts.
 *
 * GUC variables are written only by the GUC machinery; parts read them.
 */
#ifndef PERFOPT_H
#define PERFOPT_H

#define PERFOPT_VERSION "1.1"

/* bounds of the sampling interval, shared by the GUC and the SQL calls */
#define PERFOPT_MIN_INTERVAL_MS 100
#define PERFOPT_MAX_INTERVAL_MS (24 * 60 * 60 * 1000)

extern bool perfopt_enable_performance_monitoring;
extern int	perfopt_monitoring_interval;
extern bool perfopt_enable_auto_optimization;
extern int	perfopt_auto_optimization_interval;
extern bool perfopt_enable_emergency_optimization;
extern int	perfopt_emergency_idle_in_transaction_age;
extern int	perfopt_emergency_blocker_age;
extern int	perfopt_alert_sustained_samples;
extern int	perfopt_alert_resolve_samples;
extern double perfopt_alert_resolve_margin;
extern int	perfopt_alert_forecast_horizon;
extern int	perfopt_trend_window;
extern int	perfopt_alert_dwell;
extern int	perfopt_slow_query_ms;
extern int	perfopt_history_interval;
extern int	perfopt_history_retention;
extern int	perfopt_max_index_builds;
extern int	perfopt_job_lock_timeout;
extern int	perfopt_job_statement_timeout;
extern int	perfopt_sample_ring_size;
extern int	perfopt_max_databases;
extern char *perfopt_database;
extern char *perfopt_procfs_path;
extern int	perfopt_advisor_max_statements;
extern int	perfopt_advisor_statement_timeout;
extern int	perfopt_min_cost_reduction;
extern int	perfopt_min_table_size;
extern int	perfopt_index_storage_budget;
extern double perfopt_min_workload_saving;
extern int	perfopt_unused_index_min_age;
extern int	perfopt_advisor_interval;
extern int	perfopt_job_max_attempts;
extern double perfopt_vacuum_dead_ratio;
extern double perfopt_analyze_stale_ratio;
extern char *perfopt_maintenance_window;
extern int	perfopt_verification_window;
extern bool perfopt_auto_rollback;
extern bool perfopt_drop_superseded_indexes;

/* is now inside perfopt.maintenance_window (always, when it is empty)? */
extern bool perfopt_in_maintenance_window(int *minutes_until_open);

#endif							/* PERFOPT_H */
