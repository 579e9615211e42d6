/*
 * perfopt.c — the entry point: _PG_init defines the GUCs, installs the
 * shared-memory hooks and registers the main background worker.
 *
 * Runs in the postmaster while shared_preload_libraries loads; refuses to
 * run any other way, because every part needs the shared memory and the
 * worker that only preloading provides.
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "postmaster/bgworker.h"
#include "utils/datetime.h"
#include "utils/guc.h"
#include "utils/timestamp.h"

#include "advisor.h"
#include "alerts.h"
#include "control.h"
#include "latency.h"
#include "compat.h"
#include "ownsql.h"
#include "perfopt.h"
#include "replica.h"
#include "shmem.h"
#include "valuecapture.h"
#include "valuestore.h"
#include "worker.h"

PG_MODULE_MAGIC;

bool		perfopt_enable_performance_monitoring = true;
int			perfopt_monitoring_interval = 30000;
bool		perfopt_enable_auto_optimization = false;
int			perfopt_auto_optimization_interval = 24 * 3600;
bool		perfopt_enable_emergency_optimization = false;
int			perfopt_emergency_idle_in_transaction_age = 300;
int			perfopt_emergency_blocker_age = 60;
int			perfopt_alert_sustained_samples = 3;
int			perfopt_alert_resolve_samples = 3;
double		perfopt_alert_resolve_margin = 5;
int			perfopt_alert_forecast_horizon = 3600;
int			perfopt_trend_window = 60;
int			perfopt_alert_dwell = 300;
int			perfopt_slow_query_ms = 1000;
int			perfopt_history_interval = 60;
int			perfopt_history_retention = 7 * 24 * 60;
int			perfopt_max_index_builds = 1;
int			perfopt_job_lock_timeout = 5000;
int			perfopt_job_statement_timeout = 3600000;
int			perfopt_sample_ring_size = 720;
int			perfopt_max_databases = 64;
char	   *perfopt_database = NULL;
char	   *perfopt_procfs_path = NULL;
int			perfopt_advisor_max_statements = 1000;
int			perfopt_advisor_statement_timeout = 5000;
int			perfopt_min_cost_reduction = 20;
int			perfopt_min_table_size = 1024;
int			perfopt_index_storage_budget = 10240;
double		perfopt_min_workload_saving = 0.5;
int			perfopt_unused_index_min_age = 7 * 24 * 60;
int			perfopt_advisor_interval = 3600;
int			perfopt_job_max_attempts = 5;
double		perfopt_vacuum_dead_ratio = 0.2;
double		perfopt_analyze_stale_ratio = 0.1;
char	   *perfopt_maintenance_window = NULL;
int			perfopt_verification_window = 3600;
bool		perfopt_auto_rollback = false;
bool		perfopt_drop_superseded_indexes = true;

void		_PG_init(void);

/* "HH:MM-HH:MM" into minutes of the day; false when malformed */
static bool
parse_window(const char *text, int *start, int *end)
{
	int			h1,
				m1,
				h2,
				m2;
	char		tail;

	/* "HH:MM-HH:MM" at most; longer digit runs would overflow %d */
	if (strlen(text) > 11 ||
		sscanf(text, "%d:%d-%d:%d%c", &h1, &m1, &h2, &m2, &tail) != 4 ||
		h1 < 0 || h1 > 23 || h2 < 0 || h2 > 24 || m1 < 0 || m1 > 59 || m2 < 0 || m2 > 59 ||
		(h2 == 24 && m2 != 0))
		return false;
	*start = h1 * 60 + m1;
	*end = h2 * 60 + m2;
	return *start != *end;
}

static bool
check_maintenance_window(char **newval, void **extra, GucSource source)
{
	int			start;
	int			end;

	if (*newval == NULL || (*newval)[0] == '\0' || parse_window(*newval, &start, &end))
		return true;
	GUC_check_errdetail("Use \"HH:MM-HH:MM\" in server time, for example \"01:00-05:00\", or an empty string for any time.");
	return false;
}

bool
perfopt_in_maintenance_window(int *minutes_until_open)
{
	int			start;
	int			end;
	int			now_min;
	struct pg_tm tm;
	fsec_t		fsec;
	int			tz;

	*minutes_until_open = 0;
	if (perfopt_maintenance_window == NULL || perfopt_maintenance_window[0] == '\0' ||
		!parse_window(perfopt_maintenance_window, &start, &end))
		return true;
	if (timestamp2tm(GetCurrentTimestamp(), &tz, &tm, &fsec, NULL, NULL) != 0)
		return true;
	now_min = tm.tm_hour * 60 + tm.tm_min;
	/* the window may wrap past midnight */
	if (start < end ? (now_min >= start && now_min < end) : (now_min >= start || now_min < end))
		return true;
	*minutes_until_open = (start - now_min + 24 * 60) % (24 * 60);
	return false;
}

static const struct config_enum_entry track_options[] = {
	{"none", PERFOPT_TRACK_NONE, false},
	{"top", PERFOPT_TRACK_TOP, false},
	{"all", PERFOPT_TRACK_ALL, false},
	{NULL, 0, false}
};

static void
perfopt_define_gucs(void)
{
	DefineCustomBoolVariable("perfopt.enable_performance_monitoring",
							 "Samples machine and server metrics in the background.",
							 NULL, &perfopt_enable_performance_monitoring, true,
							 PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("perfopt.monitoring_interval",
							"Time between two samples.",
							NULL, &perfopt_monitoring_interval, 30000,
							PERFOPT_MIN_INTERVAL_MS, PERFOPT_MAX_INTERVAL_MS,
							PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomBoolVariable("perfopt.enable_auto_optimization",
							 "Lets the worker build recommended indexes and run maintenance on its own.",
							 "Off by default: nothing changes unless asked.",
							 &perfopt_enable_auto_optimization, false,
							 PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("perfopt.auto_optimization_interval",
							"Time between two automatic optimization runs.",
							"Takes a unit: '24h', '6h'; a bare number is seconds.",
							&perfopt_auto_optimization_interval, 24 * 3600,
							10, 365 * 24 * 3600, PGC_SIGHUP, GUC_UNIT_S, NULL, NULL, NULL);
	DefineCustomBoolVariable("perfopt.enable_emergency_optimization",
							 "Lets perfopt terminate long idle-in-transaction sessions when connections are critical and cancel long blocking statements when query time is critical.",
							 NULL, &perfopt_enable_emergency_optimization, false,
							 PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("perfopt.emergency_idle_in_transaction_age",
							"Sessions idle in transaction longer than this are terminated when connection utilization is critical (emergency optimization).",
							NULL, &perfopt_emergency_idle_in_transaction_age, 300, 1, 7 * 24 * 3600,
							PGC_SIGHUP, GUC_UNIT_S, NULL, NULL, NULL);
	DefineCustomIntVariable("perfopt.emergency_blocker_age",
							"Statements running longer than this that block others are cancelled when query time is critical (emergency optimization).",
							NULL, &perfopt_emergency_blocker_age, 60, 1, 7 * 24 * 3600,
							PGC_SIGHUP, GUC_UNIT_S, NULL, NULL, NULL);
	DefineCustomIntVariable("perfopt.alert_sustained_samples",
							"Samples in a row past a warning threshold before its alert is high (medium before).",
							NULL, &perfopt_alert_sustained_samples, 3, 1, 10000,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("perfopt.alert_resolve_samples",
							"Samples in a row clear of the warning threshold before an alert resolves by itself.",
							NULL, &perfopt_alert_resolve_samples, 3, 1, 10000,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomRealVariable("perfopt.alert_resolve_margin",
							 "How far below its warning threshold a value must be to count as clear, in percent of the threshold.",
							 NULL, &perfopt_alert_resolve_margin, 5, 0, 100,
							 PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("perfopt.alert_forecast_horizon",
							"A trend that reaches a warning threshold within this time opens a low alert (0: never).",
							NULL, &perfopt_alert_forecast_horizon, 3600, 0, 30 * 24 * 3600,
							PGC_SIGHUP, GUC_UNIT_S, NULL, NULL, NULL);
	DefineCustomIntVariable("perfopt.alert_dwell",
							"Least time an alert's lower state must hold before the alert is lowered or resolved; also the least span of a trend that may forecast, and five times how long a worse state must last before an alert opens or escalates.",
							"Hysteresis in time, so that it holds at every sampling interval. 0: samples only.",
							&perfopt_alert_dwell, 300, 0, 24 * 3600,
							PGC_SIGHUP, GUC_UNIT_S, NULL, NULL, NULL);
	DefineCustomIntVariable("perfopt.trend_window",
							"Samples a trend is fitted to.",
							NULL, &perfopt_trend_window, 60, 5, 240,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("perfopt.slow_query_ms",
							"Mean execution time above which a statement counts as slow.",
							NULL, &perfopt_slow_query_ms, 1000, 0, INT_MAX,
							PGC_SUSET, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("perfopt.history_interval",
							"Minimum time between two samples written to perfopt_samples.",
							"Samples in between stay in shared memory only.",
							&perfopt_history_interval, 60, 1, 24 * 60 * 60,
							PGC_SIGHUP, GUC_UNIT_S, NULL, NULL, NULL);
	DefineCustomIntVariable("perfopt.history_retention",
							"How long rows stay in perfopt_samples.",
							NULL, &perfopt_history_retention, 7 * 24 * 60,
							1, 3650 * 24 * 60, PGC_SIGHUP, GUC_UNIT_MIN,
							NULL, NULL, NULL);
	DefineCustomIntVariable("perfopt.max_index_builds",
							"Concurrent index builds perfopt may run at once.",
							NULL, &perfopt_max_index_builds, 1, 0, 16,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("perfopt.job_lock_timeout",
							"lock_timeout for perfopt's maintenance jobs.",
							NULL, &perfopt_job_lock_timeout, 5000, 1, INT_MAX,
							PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("perfopt.job_statement_timeout",
							"statement_timeout for perfopt's maintenance jobs (0: none).",
							NULL, &perfopt_job_statement_timeout, 3600000, 0, INT_MAX,
							PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("perfopt.sample_ring_size",
							"Samples kept in shared memory.",
							NULL, &perfopt_sample_ring_size, 720, 16, 100000,
							PGC_POSTMASTER, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("perfopt.max_databases",
							"Databases tracked per sample; the rest are counted as omitted.",
							NULL, &perfopt_max_databases, 64, 1, 4096,
							PGC_POSTMASTER, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("perfopt.database",
							   "Database the worker connects to and writes history in.",
							   NULL, &perfopt_database, "postgres",
							   PGC_POSTMASTER, 0, NULL, NULL, NULL);

	DefineCustomStringVariable("perfopt.procfs_path",
							   "Where the machine's /proc is mounted.",
							   "Containers that mount the host's /proc elsewhere point this there.",
							   &perfopt_procfs_path, "/proc",
							   PGC_POSTMASTER, 0, NULL, NULL, NULL);

	DefineCustomIntVariable("perfopt.advisor_max_statements",
							"Statements of pg_stat_statements the advisor considers: slow ones first, then by total time.",
							NULL, &perfopt_advisor_max_statements, 1000, 1, 100000,
							PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("perfopt.advisor_statement_timeout",
							"Longest the advisor analyzes and plans one statement in one run; past it the statement is skipped.",
							"Planning runs functions the planner folds: a slow one must not stall the advisor. 0 means no limit.",
							&perfopt_advisor_statement_timeout, 5000, 0, INT_MAX,
							PGC_SUSET, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("perfopt.min_cost_reduction",
							"Percent by which an index must cut some statement's plan cost to be recommended.",
							NULL, &perfopt_min_cost_reduction, 20, 1, 100,
							PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("perfopt.min_table_size",
							"Tables smaller than this get no index recommendations.",
							NULL, &perfopt_min_table_size, 1024, 0, INT_MAX,
							PGC_SUSET, GUC_UNIT_KB, NULL, NULL, NULL);
	DefineCustomIntVariable("perfopt.index_storage_budget",
							"Total size of the indexes one advisor run may recommend.",
							"Never more than a quarter of the data directory's free space either.",
							&perfopt_index_storage_budget, 10240, 1, INT_MAX,
							PGC_SUSET, GUC_UNIT_MB, NULL, NULL, NULL);
	DefineCustomRealVariable("perfopt.min_workload_saving",
							 "Percent of the workload's recorded time an index must save, net of its write cost.",
							 NULL, &perfopt_min_workload_saving, 0.5, 0.0, 100.0,
							 PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("perfopt.advisor_interval",
							"Time between two refreshes of the recommendations in every database (0: only on request).",
							NULL, &perfopt_advisor_interval, 3600, 0, 7 * 24 * 3600,
							PGC_SIGHUP, GUC_UNIT_S, NULL, NULL, NULL);
	DefineCustomIntVariable("perfopt.job_max_attempts",
							"Attempts a job gets when it meets a lock timeout or a deadlock.",
							"Retries wait 5 s, then twice as long each time.",
							&perfopt_job_max_attempts, 5, 1, 100,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomRealVariable("perfopt.vacuum_dead_ratio",
							 "Share of dead rows above which perfopt_optimize() queues VACUUM (ANALYZE).",
							 NULL, &perfopt_vacuum_dead_ratio, 0.2, 0.0, 1.0,
							 PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomRealVariable("perfopt.analyze_stale_ratio",
							 "Share of rows changed since the last ANALYZE above which perfopt_optimize() queues ANALYZE.",
							 NULL, &perfopt_analyze_stale_ratio, 0.1, 0.0, 100.0,
							 PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("perfopt.maintenance_window",
							   "Server-time window in which index builds may start, as HH:MM-HH:MM (empty: any time).",
							   NULL, &perfopt_maintenance_window, "",
							   PGC_SIGHUP, 0, check_maintenance_window, NULL, NULL);
	DefineCustomIntVariable("perfopt.verification_window",
							"How long a built index is observed before perfopt judges whether it helped.",
							NULL, &perfopt_verification_window, 3600, 1, 30 * 24 * 3600,
							PGC_SIGHUP, GUC_UNIT_S, NULL, NULL, NULL);
	DefineCustomBoolVariable("perfopt.drop_superseded_indexes",
							 "Drops an index perfopt built once a newer index perfopt built serves the same lookups and passed its verification.",
							 "Indexes perfopt did not build are never dropped.",
							 &perfopt_drop_superseded_indexes, true,
							 PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomBoolVariable("perfopt.auto_rollback",
							 "Drops an index perfopt built when it went unused or made a statement slower.",
							 "Off by default: the verdict is recorded either way.",
							 &perfopt_auto_rollback, false,
							 PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("perfopt.unused_index_min_age",
							"How long statistics must have been collected before an index without scans is called unused.",
							NULL, &perfopt_unused_index_min_age, 7 * 24 * 60, 0, INT_MAX,
							PGC_SUSET, GUC_UNIT_MIN, NULL, NULL, NULL);

	DefineCustomEnumVariable("perfopt.track",
							 "Statements whose latency perfopt measures: top-level ones, all (nested too), or none.",
							 NULL, &perfopt_track, PERFOPT_TRACK_TOP, track_options,
							 PGC_SUSET, 0, NULL, NULL, NULL);

	DefineCustomIntVariable("perfopt.value_sample_statements",
							"Statements whose parameter values perfopt samples for the advisor, in shared memory (about 2.3 kB each).",
							"0 turns value sampling off and leaves out its shared memory and hooks.",
							&perfopt_value_sample_statements, 1000, 0, 100000,
							PGC_POSTMASTER, 0, NULL, NULL, NULL);
	DefineCustomRealVariable("perfopt.value_sample_rate",
							 "Fraction of top-level statement executions whose parameter values perfopt samples (0: none).",
							 "At 0 the advisor also ignores the values kept, and its next run forgets them.",
							 &perfopt_value_sample_rate, 0.01, 0.0, 1.0,
							 PGC_SUSET, 0, NULL, perfopt_value_capture_rate_assign, NULL);

	/* perfopt.advisor_standbys, perfopt.advisor_standby_timeout */
	perfopt_replica_define_gucs();

	MarkGUCPrefixReserved("perfopt");
}

void
_PG_init(void)
{
	if (!process_shared_preload_libraries_in_progress)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("perfopt can only be loaded via shared_preload_libraries"),
				 errhint("Add perfopt to shared_preload_libraries in postgresql.conf and restart the server.")));

	perfopt_define_gucs();
	perfopt_shmem_install_hooks();
	/* the parts' shared memory, set up in this order at startup */
	perfopt_control_shmem_register();
	perfopt_latency_shmem_register();
	perfopt_alerts_shmem_register();
	perfopt_value_store_shmem_register();
	perfopt_replica_shmem_register();
	perfopt_whatif_install_hook();
	perfopt_collect_install_hook();
	perfopt_latency_install_hooks();
	perfopt_value_capture_install_hooks();
	/* through 17 the marker stays in place: no hook on every statement */
	if (PERFOPT_STMT_LOCATION_SKIPS_COMMENTS)
		perfopt_ownsql_install_hook();
	perfopt_worker_register();
}
