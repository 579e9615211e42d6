/*
 * configadvice.c — configuration advice beside the index advice: rows of
 * perfopt_recommendations of kind 'configuration', each with the
 * ALTER SYSTEM it suggests and its evidence in words.  Nothing is applied:
 * perfopt_optimize() acts on create_index and create_statistics rows only.
 *
 * Evidence comes from the sample ring (connections, idle in transaction,
 * memory) and from the cumulative statistics (pg_stat_database,
 * pg_stat_bgwriter or, from 17, pg_stat_checkpointer, pg_stat_user_tables),
 * each rule with a floor of activity below which it says nothing:
 *
 * - connections: the peak in use near max_connections with idle sessions
 *   dominating -> a pooler and fewer connections; without idle ones ->
 *   more connections;
 * - shared_buffers: a cache hit ratio below 99% over at least 100,000
 *   block reads while shared_buffers is under a quarter of the memory;
 * - work_mem: temporary files whose mean size exceeds work_mem;
 * - autovacuum: tables with more than 20% dead rows (and 10,000);
 * - checkpoints: more requested than timed checkpoints (and 5);
 * - idle in transaction: sessions seen idle in transaction for 30 s or
 *   more while idle_in_transaction_session_timeout is off.
 */
#include "postgres.h"

#include <math.h>

#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/guc.h"

#include "advisor.h"
#include "compat.h"
#include "shmem.h"
#include "spiutil.h"

/* a row of SPI's result as doubles, NaN for NULL; false without a row */
static bool
ca_row(const char *sql, double *out, int n)
{
	if (SPI_execute(sql, true, 1) != SPI_OK_SELECT || SPI_processed != 1)
		return false;
	for (int i = 0; i < n; i++)
	{
		bool		isnull;
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, i + 1, &isnull);

		out[i] = isnull ? NAN : DatumGetFloat8(d);
	}
	return true;
}

/* a recommendation appended to *recs, all of it in cxt (SPI's memory goes at SPI_finish) */
static void
ca_add(List **recs, MemoryContext cxt, const char *setting, const char *ddl, const char *reason)
{
	MemoryContext old = MemoryContextSwitchTo(cxt);
	AdvRecommendation *rec = palloc0(sizeof(AdvRecommendation));

	rec->kind = "configuration";
	rec->setting = pstrdup(setting);
	rec->ddl = pstrdup(ddl);
	rec->definition = psprintf("configuration: %s", setting);
	rec->statements_json = "[]";
	rec->reason = pstrdup(reason);
	*recs = lappend(*recs, rec);
	MemoryContextSwitchTo(old);
}

/* a size in kB as PostgreSQL writes it */
static char *
ca_size(double kb)
{
	if (kb >= 1024 * 1024 && fmod(kb, 1024 * 1024) == 0)
		return psprintf("%.0fGB", kb / (1024 * 1024));
	if (kb >= 1024 && fmod(kb, 1024) == 0)
		return psprintf("%.0fMB", kb / 1024);
	return psprintf("%.0fkB", kb);
}

/* what the sample ring saw: peak connections, idle share, idle in transaction */
static void
ca_connections(List **recs, MemoryContext cxt)
{
	PerfoptSample **ring;
	int			n = perfopt_ring_copy(&ring);
	double		peak_total = 0,
				peak_active = 0,
				sum_total = 0,
				sum_idle = 0,
				max_iit = 0,
				available = NAN;
	int			used = 0;

	for (int i = 0; i < n; i++)
	{
		PerfoptSample *s = ring[i];

		if (isnan(s->connections_total))
			continue;
		used++;
		peak_total = fmax(peak_total, s->connections_total);
		peak_active = fmax(peak_active, s->connections_active);
		sum_total += s->connections_total;
		sum_idle += isnan(s->connections_idle) ? 0 : s->connections_idle;
		if (!isnan(s->oldest_idle_in_transaction_age_seconds))
			max_iit = fmax(max_iit, s->oldest_idle_in_transaction_age_seconds);
		available = s->connections_available;
	}
	if (used < 10 || isnan(available) || available <= 0)
		return;

	if (peak_total >= 0.8 * available)
	{
		double		idle_share = sum_total > 0 ? sum_idle / sum_total : 0;

		if (idle_share >= 0.5)
		{
			int			target = (int) Max(20, ceil(peak_active * 2));

			ca_add(recs, cxt, "max_connections",
										  psprintf("ALTER SYSTEM SET max_connections = %d", target),
										  psprintf("connections: at the peak %.0f of %.0f available connections were in use, but only %.0f were active and %.0f%% of the connections sampled were idle: put a connection pooler (PgBouncer in transaction mode) in front of the server and lower max_connections to about twice the active peak (needs a restart)",
												   peak_total, available, peak_active, 100 * idle_share));
		}
		else
			ca_add(recs, cxt, "max_connections",
										  psprintf("ALTER SYSTEM SET max_connections = %d",
												   (int) ceil(MaxConnections * 1.25)),
										  psprintf("connections: at the peak %.0f of %.0f available connections were in use and most were working (%.0f active): raise max_connections by a quarter (needs a restart; each connection costs memory)",
												   peak_total, available, peak_active));
	}

	if (max_iit >= 30 && strcmp(GetConfigOption("idle_in_transaction_session_timeout", false, false), "0") == 0)
		ca_add(recs, cxt, "idle_in_transaction_session_timeout",
									  "ALTER SYSTEM SET idle_in_transaction_session_timeout = '5min'",
									  psprintf("idle in transaction: a session stayed idle inside a transaction for %.0f s (in the samples kept); it holds locks and a snapshot that stop vacuum meanwhile, and idle_in_transaction_session_timeout is off",
											   max_iit));
}

List *
adv_config_advice(void)
{
	MemoryContext cxt = CurrentMemoryContext;
	List	   *recs = NIL;
	double		v[6];

	ca_connections(&recs, cxt);

	perfopt_spi_connect();

	/* shared_buffers against the cache hit ratio of all databases */
	if (ca_row("/* perfopt */ SELECT pg_catalog.sum(blks_hit)::pg_catalog.float8,"
			   " pg_catalog.sum(blks_read)::pg_catalog.float8,"
			   " (SELECT setting::pg_catalog.float8 OPERATOR(pg_catalog.*) 8 FROM pg_catalog.pg_settings"
			   "  WHERE name OPERATOR(pg_catalog.=) 'shared_buffers')"
			   " FROM pg_catalog.pg_stat_database", v, 3) &&
		v[1] >= 100000 && v[0] / (v[0] + v[1]) < 0.99)
	{
		PerfoptSample *latest = perfopt_ring_latest();
		double		ram_kb = latest && !isnan(latest->memory_limit_bytes) ?
			latest->memory_limit_bytes / 1024 : NAN;

		if (!isnan(ram_kb) && v[2] < ram_kb / 4)
		{
			double		target = fmin(ram_kb / 4, v[2] * 2);

			target = floor(target / 1024) * 1024;	/* whole MB */
			ca_add(&recs, cxt, "shared_buffers",
										psprintf("ALTER SYSTEM SET shared_buffers = '%s'", ca_size(target)),
										psprintf("shared_buffers: the cache hit ratio is %.2f%% (%.0f blocks read from disk against %.0f found in the cache since the statistics were reset); shared_buffers is %s of %s of memory: raise it toward a quarter of the memory (needs a restart)",
												 100 * v[0] / (v[0] + v[1]), v[1], v[0], ca_size(v[2]), ca_size(ram_kb)));
		}
	}

	/* work_mem against the temporary files */
	if (ca_row("/* perfopt */ SELECT pg_catalog.sum(temp_files)::pg_catalog.float8,"
			   " pg_catalog.sum(temp_bytes)::pg_catalog.float8,"
			   " (SELECT setting::pg_catalog.float8 FROM pg_catalog.pg_settings"
			   "  WHERE name OPERATOR(pg_catalog.=) 'work_mem')"
			   " FROM pg_catalog.pg_stat_database", v, 3) &&
		v[0] >= 1 && v[1] / v[0] / 1024 > v[2])
	{
		double		mean_kb = v[1] / v[0] / 1024;
		double		target = v[2];

		while (target < mean_kb && target < 1024 * 1024)
			target *= 2;
		ca_add(&recs, cxt, "work_mem",
									psprintf("ALTER SYSTEM SET work_mem = '%s'", ca_size(target)),
									psprintf("work_mem: %.0f temporary files of %s on average were written (%s in all since the statistics were reset) while work_mem is %s: sorts and hashes that spill run from disk; raise work_mem to %s (it is per operation and per connection: check memory against max_connections), or SET it for the sessions that need it",
											 v[0], ca_size(mean_kb), ca_size(v[1] / 1024), ca_size(v[2]), ca_size(target)));
	}

	/* checkpoints requested rather than timed */
	if (ca_row("/* perfopt */ SELECT " PERFOPT_SQL_CHECKPOINTS_TIMED "::pg_catalog.float8, "
			   PERFOPT_SQL_CHECKPOINTS_REQUESTED "::pg_catalog.float8,"
			   " (SELECT setting::pg_catalog.float8 FROM pg_catalog.pg_settings"
			   "  WHERE name OPERATOR(pg_catalog.=) 'max_wal_size')"
			   " FROM " PERFOPT_SQL_CHECKPOINTS_VIEW, v, 3) &&
		v[1] >= 5 && v[1] > v[0])
	{
		double		target = v[2] * 2;	/* MB */

		ca_add(&recs, cxt, "max_wal_size",
									psprintf("ALTER SYSTEM SET max_wal_size = '%s'", ca_size(target * 1024)),
									psprintf("checkpoints: %.0f were requested (by the WAL volume reaching max_wal_size, or by CHECKPOINT commands) against %.0f on schedule; each brings a burst of writes and full-page images: raise max_wal_size from %s to %s",
											 v[1], v[0], ca_size(v[2] * 1024), ca_size(target * 1024)));
	}

	/* autovacuum against the dead rows of this database's tables */
	if (SPI_execute("/* perfopt */ SELECT pg_catalog.quote_ident(schemaname) OPERATOR(pg_catalog.||) '.'"
					" OPERATOR(pg_catalog.||) pg_catalog.quote_ident(relname),"
					" n_dead_tup, n_live_tup,"
					" (SELECT setting FROM pg_catalog.pg_settings"
					"  WHERE name OPERATOR(pg_catalog.=) 'autovacuum_vacuum_scale_factor')"
					" FROM pg_catalog.pg_stat_user_tables"
					" WHERE n_dead_tup OPERATOR(pg_catalog.>=) 10000"
					" AND n_dead_tup OPERATOR(pg_catalog.>) (0.2 OPERATOR(pg_catalog.*)"
					"  (n_live_tup OPERATOR(pg_catalog.+) n_dead_tup))"
					" ORDER BY n_dead_tup DESC LIMIT 5", true, 0) == SPI_OK_SELECT &&
		SPI_processed > 0)
	{
		StringInfoData tables;
		char	   *factor = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 4);

		initStringInfo(&tables);
		for (uint64 r = 0; r < SPI_processed; r++)
			appendStringInfo(&tables, "%s%s (%s dead of %s rows)", r ? ", " : "",
							 SPI_getvalue(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 1),
							 SPI_getvalue(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 2),
							 SPI_getvalue(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 3));
		if (factor && strtod(factor, NULL) > 0.05)
			ca_add(&recs, cxt, "autovacuum_vacuum_scale_factor",
										"ALTER SYSTEM SET autovacuum_vacuum_scale_factor = 0.05",
										psprintf("autovacuum: more than 20%% of the rows are dead in %s; autovacuum_vacuum_scale_factor is %s, so a table waits for that share of dead rows before it is vacuumed: lower it (or set it per table with ALTER TABLE ... SET (autovacuum_vacuum_scale_factor = 0.05)), and check that nothing disables autovacuum on these tables",
												 tables.data, factor));
	}
	SPI_finish();
	MemoryContextSwitchTo(cxt);
	return recs;
}
