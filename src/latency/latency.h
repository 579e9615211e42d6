/*
 * latency.h — statement latency, errors and rollbacks measured inside the
 * server (latency.c): executor and utility hooks write per-backend
 * histograms in shared memory, readers sum them per database.
 */
#ifndef PERFOPT_LATENCY_H
#define PERFOPT_LATENCY_H

#include "lib/stringinfo.h"
#include "storage/lwlock.h"
#include "utils/timestamp.h"

#include "latency_hist.h"

/* perfopt.track */
typedef enum PerfoptTrack
{
	PERFOPT_TRACK_NONE,
	PERFOPT_TRACK_TOP,
	PERFOPT_TRACK_ALL
} PerfoptTrack;

extern int	perfopt_track;

/*
 * Executor runs and utility commands under way in this backend (latency.c
 * counts them): 0 while a top-level statement is parsed, starts or ends.
 */
extern int	perfopt_statement_nesting;

/* counters of one database (or all of them, or the "other" row) */
typedef struct LatCounters
{
	Oid			dboid;			/* InvalidOid: all databases / other */
	uint64		errors;			/* statements that ended in ERROR */
	uint64		rollbacks;		/* transactions that ended in a rollback */
	LatencyHist hist;			/* statements that completed */
} LatCounters;

/* a reading: overall, per database (at most perfopt.max_databases), other */
typedef struct LatReading
{
	TimestampTz start;			/* since: the reset, or the interval's start */
	TimestampTz end;
	LatCounters all;
	LatCounters other;
	int			ndbs;
	LatCounters *dbs;			/* palloc'd, ndbs entries */
} LatReading;

/* _PG_init: its shared memory, with an LWLock of its own */
extern void perfopt_latency_shmem_register(void);

extern void perfopt_latency_install_hooks(void);

/* perfopt's own background processes call this: they are not measured */
extern void perfopt_latency_ignore_self(void);

/* since the last reset, summed from every backend */
extern void perfopt_latency_read_total(LatReading *r);
/* the last interval, as the worker published it; false if none yet */
extern bool perfopt_latency_read_interval(LatReading *r);
/* the worker, after each sample: publish the interval since the last call */
extern void perfopt_latency_tick(void);
/* perfopt_reset_api_metrics() */
extern void perfopt_latency_reset(void);

/* JSON of one LatCounters over seconds: count, throughput, percentiles... */
extern void perfopt_latency_json_stats(StringInfo buf, const LatCounters *c, double seconds);
/* {"since":..., "seconds":..., "overall":{...}, "databases":[...]} */
extern void perfopt_latency_json_reading(StringInfo buf, const LatReading *r);
/* the Prometheus histogram and error counters, since the reset */
extern void perfopt_latency_prometheus(StringInfo buf);

#endif							/* PERFOPT_LATENCY_H */
