/*
 * export.h — renders samples and status as JSON text (turned into jsonb by
 * the SQL functions) and as Prometheus text.  Reads only what it is given.
 */
#ifndef PERFOPT_EXPORT_H
#define PERFOPT_EXPORT_H

#include "lib/stringinfo.h"
#include "sample.h"
#include "shmem.h"

/* {"k": v, ...} of one field group of a sample */
extern void perfopt_json_group(StringInfo buf, const PerfoptSample *s,
							   PerfoptFieldGroup group);

/* [{"datid":..,"datname":..,...}, ...] */
extern void perfopt_json_databases(StringInfo buf, const PerfoptSample *s);

/* the metrics document: sampled_at, interval, and the asked-for parts */
extern void perfopt_json_metrics(StringInfo buf, const PerfoptSample *s,
								 bool system, bool server);

/* the whole Prometheus exposition; latest may be NULL (no sample yet) */
extern void perfopt_prometheus(StringInfo buf, const PerfoptSample *latest,
							   const PerfoptStatus *st);

#endif							/* PERFOPT_EXPORT_H */
