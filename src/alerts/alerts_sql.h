/*
 * alerts_sql.h — the alerts' part of the status document (alerts_sql.c).
 */
#ifndef PERFOPT_ALERTS_SQL_H
#define PERFOPT_ALERTS_SQL_H

#include "lib/stringinfo.h"

/* {"open": n, "low": n, ..., "trends": [series with a forecast or an anomaly]} */
extern void perfopt_alerts_status_json(StringInfo buf);

/* perfopt_alerts_open{severity=...}: the open alerts, for the exposition */
extern void perfopt_alerts_prometheus(StringInfo buf);

#endif							/* PERFOPT_ALERTS_SQL_H */
