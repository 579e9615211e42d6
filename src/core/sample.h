/*
 * sample.h — one sample of the machine and the server, as the worker takes
 * it and as shared memory keeps it, plus the field tables that every
 * consumer (JSON documents, Prometheus text, the perfopt_samples table and
 * the perfopt_recent_samples view) walks, so a metric is declared once.
 *
 * Every metric is a double; NaN means "not available in this sample" and is
 * rendered as SQL NULL / JSON null, and omitted from Prometheus.
 */
#ifndef PERFOPT_SAMPLE_H
#define PERFOPT_SAMPLE_H

#include "datatype/timestamp.h"

typedef struct PerfoptDbSample
{
	Oid			datid;
	char		datname[NAMEDATALEN];
	double		backends;
	double		commits_per_second;
	double		rollbacks_per_second;
	double		cache_hit_pct;
	double		deadlocks;
	double		temp_bytes;
	double		tuples_read_per_second;
	double		tuples_written_per_second;
} PerfoptDbSample;

typedef struct PerfoptSample
{
	TimestampTz sampled_at;
	double		interval_seconds;	/* elapsed since the previous reading */
	bool		is_standby;

	/* machine */
	double		cpu_busy_pct;
	double		cpu_user_pct;
	double		cpu_system_pct;
	double		cpu_iowait_pct;
	double		cpu_count;
	double		load_1m;
	double		load_5m;
	double		load_15m;
	double		memory_used_pct;
	double		memory_used_bytes;
	double		memory_limit_bytes;
	double		memory_from_cgroup;	/* 1 when the limit is a cgroup's */
	double		data_disk_used_pct;
	double		data_disk_free_bytes;
	double		wal_disk_used_pct;
	double		wal_disk_free_bytes;
	double		network_rx_bytes_per_second;
	double		network_tx_bytes_per_second;

	/* server */
	double		connections_active;
	double		connections_idle;
	double		connections_idle_in_transaction;
	double		connections_waiting_on_lock;
	double		connections_total;
	double		connections_available;	/* max_connections - reserved */
	double		pool_utilization_pct;
	double		wal_bytes_per_second;
	double		oldest_query_age_seconds;
	double		oldest_idle_in_transaction_age_seconds;

	/* per database, bounded by perfopt.max_databases */
	int			ndatabases;
	int			ndatabases_omitted;
	PerfoptDbSample databases[FLEXIBLE_ARRAY_MEMBER];
} PerfoptSample;

/* bytes one sample occupies with room for perfopt.max_databases entries */
#define PerfoptSampleSize(maxdb) \
	MAXALIGN(offsetof(PerfoptSample, databases) + sizeof(PerfoptDbSample) * (maxdb))

typedef enum PerfoptFieldGroup
{
	PERFOPT_GROUP_SYSTEM,
	PERFOPT_GROUP_SERVER
} PerfoptFieldGroup;

/*
 * One metric: where it lives, its SQL column / JSON key, and how it is
 * exported to Prometheus (prom_name NULL: not exported).  Entries sharing a
 * prom_name must be adjacent; they form one family told apart by prom_label.
 */
typedef struct PerfoptField
{
	const char *name;
	size_t		offset;
	PerfoptFieldGroup group;
	const char *prom_name;
	const char *prom_label;
	double		prom_scale;
	const char *prom_help;
} PerfoptField;

extern const PerfoptField perfopt_sample_fields[];
extern const int perfopt_sample_nfields;
extern const PerfoptField perfopt_db_fields[];
extern const int perfopt_db_nfields;

static inline double
perfopt_field_value(const PerfoptField *f, const void *base)
{
	return *(const double *) ((const char *) base + f->offset);
}

/* fill every metric with NaN */
extern void perfopt_sample_clear(PerfoptSample *s);

#endif							/* PERFOPT_SAMPLE_H */
