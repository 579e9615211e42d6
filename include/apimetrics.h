/*
 * apimetrics.h — the "api" document (apimetrics.c): the statement latency
 * of the last interval and since the reset, for perfopt_status() and
 * perfopt_metrics().
 */
#ifndef PERFOPT_APIMETRICS_H
#define PERFOPT_APIMETRICS_H

#include "lib/stringinfo.h"

/* {"track":..., "last_interval":...[, "since_reset":...]} */
extern void perfopt_api_json(StringInfo buf, bool overall_only);

#endif							/* PERFOPT_APIMETRICS_H */
