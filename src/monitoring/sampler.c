/*
 * sampler.c — fills a PerfoptSample from the machine and the server.
 *
 * Runs in the main worker only.  Rates and ratios are computed over the
 * interval since the previous reading (never since-start totals); a source
 * that cannot be read leaves its fields NaN (NULL) and is logged once until
 * it can be read again.  Counters that go backwards (a stats reset, a
 * wrapped interface counter) give NaN for that interval.
 *
 * The machine part does plain file reads and never errors.  The server part
 * runs SPI queries with plans kept across transactions, so it must be
 * called inside a transaction, and may ereport(ERROR); the worker catches
 * that.
 */
#include "postgres.h"

#include <math.h>

#include "access/xlog.h"
#include "access/xlogrecovery.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "postmaster/postmaster.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "compat.h"
#include "perfopt.h"
#include "procstats.h"
#include "sampler.h"
#include "spiutil.h"

/* /proc/stat grows with the CPU count and /proc/net/dev with interfaces */
#define SMP_BUFSIZE (256 * 1024)

typedef enum SmpSource
{
	SMP_SRC_CPU,
	SMP_SRC_MEMORY,
	SMP_SRC_DATA_DISK,
	SMP_SRC_WAL_DISK,
	SMP_SRC_NETWORK,
	SMP_SRC_LOAD,
	SMP_NSOURCES
} SmpSource;

static const char *const smp_source_names[SMP_NSOURCES] = {
	"stat", "meminfo", "the data directory's filesystem",
	"the pg_wal filesystem", "net/dev", "loadavg"
};

/* per-database counters of the previous reading */
typedef struct SmpDbPrev
{
	Oid			datid;			/* hash key */
	TimestampTz at;
	uint64		seen;			/* reading that last saw it */
	double		commits;
	double		rollbacks;
	double		blks_read;
	double		blks_hit;
	double		deadlocks;
	double		temp_bytes;
	double		tup_read;
	double		tup_written;
} SmpDbPrev;

static char *smp_buf;
static bool smp_failing[SMP_NSOURCES];

static bool smp_have_cpu;
static ProcCpuTimes smp_prev_cpu;
static bool smp_have_net;
static uint64_t smp_prev_rx;
static uint64_t smp_prev_tx;
static TimestampTz smp_prev_net_at;
static bool smp_have_wal;
static XLogRecPtr smp_prev_wal;
static TimestampTz smp_prev_wal_at;
static HTAB *smp_db_prev;
static uint64 smp_reading;

static SPIPlanPtr smp_activity_plan;
static SPIPlanPtr smp_database_plan;

static void
smp_source_result(SmpSource src, bool ok)
{
	/* files under perfopt.procfs_path are named by their full path */
	bool		in_procfs = src != SMP_SRC_DATA_DISK && src != SMP_SRC_WAL_DISK;

	if (!ok && !smp_failing[src])
		ereport(LOG,
				(errmsg("perfopt: could not read %s%s%s",
						in_procfs ? perfopt_procfs_path : "", in_procfs ? "/" : "",
						smp_source_names[src]),
				 errdetail("Its metrics are null until it can be read.")));
	else if (ok && smp_failing[src])
		ereport(LOG,
				(errmsg("perfopt: %s%s%s can be read again",
						in_procfs ? perfopt_procfs_path : "", in_procfs ? "/" : "",
						smp_source_names[src])));
	smp_failing[src] = !ok;
}

static double
smp_seconds_between(TimestampTz from, TimestampTz to)
{
	return (double) (to - from) / USECS_PER_SEC;
}

/* a per-second rate, NaN when the counter went backwards or no time passed */
static double
smp_rate(double prev, double cur, double seconds)
{
	if (cur < prev || seconds <= 0)
		return NAN;
	return (cur - prev) / seconds;
}

/* read perfopt.procfs_path/name into smp_buf; head_only keeps what fits */
static bool
smp_read(const char *name, bool head_only)
{
	char		path[MAXPGPATH];

	snprintf(path, sizeof(path), "%s/%s", perfopt_procfs_path, name);
	if (head_only)
		return procstats_read_file_head(path, smp_buf, SMP_BUFSIZE) >= 0;
	return procstats_read_file(path, smp_buf, SMP_BUFSIZE) >= 0;
}

static void
smp_cpu(PerfoptSample *s)
{
	ProcCpuTimes cur;
	bool		ok = smp_read("stat", true) && procstats_parse_cpu(smp_buf, &cur);

	smp_source_result(SMP_SRC_CPU, ok);
	if (!ok)
	{
		smp_have_cpu = false;
		return;
	}
	if (smp_have_cpu)
	{
		ProcCpuPercent pct;

		procstats_cpu_percent(&smp_prev_cpu, &cur, &pct);
		s->cpu_busy_pct = pct.busy;
		s->cpu_user_pct = pct.user;
		s->cpu_system_pct = pct.system;
		s->cpu_iowait_pct = pct.iowait;
	}
	smp_prev_cpu = cur;
	smp_have_cpu = true;
}

static void
smp_memory(PerfoptSample *s)
{
	uint64_t	used;
	uint64_t	limit;
	uint64_t	total;
	uint64_t	avail;
	bool		ok;

	if (smp_read("self/cgroup", false) &&
		procstats_cgroup_memory("/sys/fs/cgroup", smp_buf, &used, &limit) &&
		limit > 0)
	{
		s->memory_used_bytes = (double) used;
		s->memory_limit_bytes = (double) limit;
		s->memory_used_pct = 100.0 * (double) used / (double) limit;
		s->memory_from_cgroup = 1;
		smp_source_result(SMP_SRC_MEMORY, true);
		return;
	}

	ok = smp_read("meminfo", false) &&
		procstats_parse_meminfo(smp_buf, &total, &avail) &&
		total > 0 && avail <= total;
	smp_source_result(SMP_SRC_MEMORY, ok);
	if (!ok)
		return;
	s->memory_used_bytes = (double) (total - avail);
	s->memory_limit_bytes = (double) total;
	s->memory_used_pct = 100.0 * (double) (total - avail) / (double) total;
	s->memory_from_cgroup = 0;
}

static void
smp_disk(SmpSource src, const char *path, double *used_pct, double *free_bytes)
{
	uint64_t	total;
	uint64_t	avail;
	double		pct;
	bool		ok = procstats_disk(path, &total, &avail, &pct);

	smp_source_result(src, ok);
	if (!ok)
		return;
	*used_pct = pct;
	*free_bytes = (double) avail;
}

static void
smp_network(PerfoptSample *s, TimestampTz now)
{
	uint64_t	rx;
	uint64_t	tx;
	bool		ok = smp_read("net/dev", false) && procstats_parse_netdev(smp_buf, &rx, &tx);

	smp_source_result(SMP_SRC_NETWORK, ok);
	if (!ok)
	{
		smp_have_net = false;
		return;
	}
	if (smp_have_net)
	{
		double		secs = smp_seconds_between(smp_prev_net_at, now);

		s->network_rx_bytes_per_second = smp_rate(smp_prev_rx, rx, secs);
		s->network_tx_bytes_per_second = smp_rate(smp_prev_tx, tx, secs);
	}
	smp_prev_rx = rx;
	smp_prev_tx = tx;
	smp_prev_net_at = now;
	smp_have_net = true;
}

static void
smp_load(PerfoptSample *s)
{
	double		load[3];
	bool		ok = smp_read("loadavg", false) && procstats_parse_loadavg(smp_buf, load);
	int			ncpu = procstats_cpu_count();

	smp_source_result(SMP_SRC_LOAD, ok);
	if (ok)
	{
		s->load_1m = load[0];
		s->load_5m = load[1];
		s->load_15m = load[2];
	}
	if (ncpu > 0)
		s->cpu_count = ncpu;
}

void
perfopt_sampler_machine(PerfoptSample *s)
{
	TimestampTz now = GetCurrentTimestamp();

	smp_cpu(s);
	smp_memory(s);
	/* the worker's working directory is the data directory */
	smp_disk(SMP_SRC_DATA_DISK, ".", &s->data_disk_used_pct, &s->data_disk_free_bytes);
	smp_disk(SMP_SRC_WAL_DISK, "pg_wal", &s->wal_disk_used_pct, &s->wal_disk_free_bytes);
	smp_network(s, now);
	smp_load(s);
}

static SPIPlanPtr
smp_prepare(const char *sql)
{
	SPIPlanPtr	plan = SPI_prepare(sql, 0, NULL);

	if (plan == NULL)
		elog(ERROR, "perfopt: SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
	if (SPI_keepplan(plan) != 0)
		elog(ERROR, "perfopt: SPI_keepplan failed");
	return plan;
}

/* column i (1-based) of the current SPI row as a double, NaN for NULL */
static double
smp_col(int row, int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col, &isnull);

	return isnull ? NAN : DatumGetFloat8(d);
}

static void
smp_connections(PerfoptSample *s)
{
	if (smp_activity_plan == NULL)
		smp_activity_plan = smp_prepare(
										"/* perfopt */ SELECT"
										" pg_catalog.count(*) FILTER (WHERE state OPERATOR(pg_catalog.=) 'active')::pg_catalog.float8,"
										" pg_catalog.count(*) FILTER (WHERE state OPERATOR(pg_catalog.=) 'idle')::pg_catalog.float8,"
										" pg_catalog.count(*) FILTER (WHERE state OPERATOR(pg_catalog.~~) 'idle in transaction%')::pg_catalog.float8,"
										" pg_catalog.count(*) FILTER (WHERE wait_event_type OPERATOR(pg_catalog.=) 'Lock')::pg_catalog.float8,"
										" pg_catalog.count(*)::pg_catalog.float8,"
										" EXTRACT(epoch FROM pg_catalog.max(pg_catalog.now() OPERATOR(pg_catalog.-) query_start)"
										"  FILTER (WHERE state OPERATOR(pg_catalog.=) 'active'"
										"  AND pid OPERATOR(pg_catalog.<>) pg_catalog.pg_backend_pid()))::pg_catalog.float8,"
										" EXTRACT(epoch FROM pg_catalog.max(pg_catalog.now() OPERATOR(pg_catalog.-) state_change)"
										"  FILTER (WHERE state OPERATOR(pg_catalog.~~) 'idle in transaction%'))::pg_catalog.float8"
										" FROM pg_catalog.pg_stat_activity WHERE backend_type OPERATOR(pg_catalog.=) 'client backend'");

	if (SPI_execute_plan(smp_activity_plan, NULL, NULL, true, 1) != SPI_OK_SELECT ||
		SPI_processed != 1)
		elog(ERROR, "perfopt: could not read pg_stat_activity");

	s->connections_active = smp_col(0, 1);
	s->connections_idle = smp_col(0, 2);
	s->connections_idle_in_transaction = smp_col(0, 3);
	s->connections_waiting_on_lock = smp_col(0, 4);
	s->connections_total = smp_col(0, 5);
	s->oldest_query_age_seconds = isnan(smp_col(0, 6)) ? 0 : smp_col(0, 6);
	s->oldest_idle_in_transaction_age_seconds = isnan(smp_col(0, 7)) ? 0 : smp_col(0, 7);
	s->connections_available = MaxConnections - PERFOPT_RESERVED_CONNECTIONS;
	if (s->connections_available > 0)
		s->pool_utilization_pct = 100.0 * s->connections_total / s->connections_available;
}

static void
smp_wal(PerfoptSample *s, TimestampTz now)
{
	XLogRecPtr	pos = s->is_standby ? GetXLogReplayRecPtr(NULL) : GetXLogInsertRecPtr();

	if (smp_have_wal)
		s->wal_bytes_per_second = smp_rate((double) smp_prev_wal, (double) pos,
										   smp_seconds_between(smp_prev_wal_at, now));
	smp_prev_wal = pos;
	smp_prev_wal_at = now;
	smp_have_wal = true;
}

static void
smp_one_database(PerfoptSample *s, int row, TimestampTz now)
{
	bool		isnull;
	Oid			datid = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[row],
													   SPI_tuptable->tupdesc, 1, &isnull));
	char	   *datname = SPI_getvalue(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, 2);
	double		commits = smp_col(row, 4);
	double		rollbacks = smp_col(row, 5);
	double		blks_read = smp_col(row, 6);
	double		blks_hit = smp_col(row, 7);
	double		deadlocks = smp_col(row, 8);
	double		temp_bytes = smp_col(row, 9);
	double		tup_read = smp_col(row, 10);
	double		tup_written = smp_col(row, 11);
	SmpDbPrev  *prev;
	bool		found;

	if (s->ndatabases >= perfopt_max_databases)
	{
		s->ndatabases_omitted++;
		return;
	}

	prev = hash_search(smp_db_prev, &datid, HASH_ENTER, &found);
	if (found)
	{
		PerfoptDbSample *d = &s->databases[s->ndatabases];
		double		secs = smp_seconds_between(prev->at, now);
		double		dhit = blks_hit - prev->blks_hit;
		double		dread = blks_read - prev->blks_read;

		d->datid = datid;
		strlcpy(d->datname, datname ? datname : "", NAMEDATALEN);
		d->backends = smp_col(row, 3);
		d->commits_per_second = smp_rate(prev->commits, commits, secs);
		d->rollbacks_per_second = smp_rate(prev->rollbacks, rollbacks, secs);
		d->cache_hit_pct = (dhit >= 0 && dread >= 0 && dhit + dread > 0) ?
			100.0 * dhit / (dhit + dread) : NAN;
		d->deadlocks = deadlocks >= prev->deadlocks ? deadlocks - prev->deadlocks : NAN;
		d->temp_bytes = temp_bytes >= prev->temp_bytes ? temp_bytes - prev->temp_bytes : NAN;
		d->tuples_read_per_second = smp_rate(prev->tup_read, tup_read, secs);
		d->tuples_written_per_second = smp_rate(prev->tup_written, tup_written, secs);
		s->ndatabases++;
	}
	prev->at = now;
	prev->seen = smp_reading;
	prev->commits = commits;
	prev->rollbacks = rollbacks;
	prev->blks_read = blks_read;
	prev->blks_hit = blks_hit;
	prev->deadlocks = deadlocks;
	prev->temp_bytes = temp_bytes;
	prev->tup_read = tup_read;
	prev->tup_written = tup_written;
}

static void
smp_databases(PerfoptSample *s, TimestampTz now)
{
	HASH_SEQ_STATUS seq;
	SmpDbPrev  *prev;

	if (smp_database_plan == NULL)
		smp_database_plan = smp_prepare(
										"/* perfopt */ SELECT datid, datname, numbackends::pg_catalog.float8,"
										" xact_commit::pg_catalog.float8, xact_rollback::pg_catalog.float8,"
										" blks_read::pg_catalog.float8, blks_hit::pg_catalog.float8, deadlocks::pg_catalog.float8,"
										" temp_bytes::pg_catalog.float8,"
										" (tup_returned OPERATOR(pg_catalog.+) tup_fetched)::pg_catalog.float8,"
										" (tup_inserted OPERATOR(pg_catalog.+) tup_updated OPERATOR(pg_catalog.+) tup_deleted)::pg_catalog.float8"
										" FROM pg_catalog.pg_stat_database s"
										/* templates and closed databases run no workload */
										" WHERE s.datname IS NOT NULL AND EXISTS (SELECT 1 FROM pg_catalog.pg_database d"
										"   WHERE d.oid OPERATOR(pg_catalog.=) s.datid AND d.datallowconn AND NOT d.datistemplate)"
										" ORDER BY s.datname");

	if (SPI_execute_plan(smp_database_plan, NULL, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "perfopt: could not read pg_stat_database");

	smp_reading++;
	s->ndatabases = 0;
	s->ndatabases_omitted = 0;
	for (uint64 row = 0; row < SPI_processed; row++)
		smp_one_database(s, (int) row, now);

	/* forget dropped databases */
	hash_seq_init(&seq, smp_db_prev);
	while ((prev = hash_seq_search(&seq)) != NULL)
	{
		if (prev->seen != smp_reading)
			hash_search(smp_db_prev, &prev->datid, HASH_REMOVE, NULL);
	}
}

void
perfopt_sampler_server(PerfoptSample *s)
{
	TimestampTz now = GetCurrentTimestamp();

	s->is_standby = RecoveryInProgress();
	smp_wal(s, now);

	perfopt_spi_connect();
	smp_connections(s);
	smp_databases(s, now);
	SPI_finish();
}

void
perfopt_sampler_init(void)
{
	HASHCTL		ctl;

	smp_buf = MemoryContextAlloc(TopMemoryContext, SMP_BUFSIZE);

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(Oid);
	ctl.entrysize = sizeof(SmpDbPrev);
	smp_db_prev = hash_create("perfopt database counters", 64, &ctl,
							  HASH_ELEM | HASH_BLOBS);
}
