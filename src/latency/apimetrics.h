/*
 * apimetrics.h — the "api" document (apimetrics.c): the statement latency
 * of the last interval and since the reset, for perfopt_status() and
 * perfopt_metrics().
 */
#ifndef PERFOPT_APIMETRICS_H
#define PERFOPT_APIMETRICS_H

#include "lib/stringinfo.h"

/*
 * {"track":..., "last_interval":...[, "since_reset":...]}: the last
 * interval overall only (perfopt_status), per database too
 * (perfopt_metrics: a snapshot, the same from every database), and
 * since the reset (perfopt_api_metrics).
 */
typedef enum PerfoptApiDetail
{
	PERFOPT_API_OVERALL,
	PERFOPT_API_DATABASES,
	PERFOPT_API_ALL
} PerfoptApiDetail;

extern void perfopt_api_json(StringInfo buf, PerfoptApiDetail detail);

#endif							/* PERFOPT_APIMETRICS_H */
