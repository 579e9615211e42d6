/*
 * alerts.h — alerts against the thresholds, and trends (alerts.c for the
 * evaluation in the worker, alerts_sql.c for the SQL surface).
 *
 * Open alerts live in shared memory (so a standby, or a server whose disk
 * is full, still has them) and are written to perfopt_alerts_data in
 * perfopt.database whenever they change; one open alert per (metric,
 * subject), escalated and de-escalated in place.
 */
#ifndef PERFOPT_ALERTS_H
#define PERFOPT_ALERTS_H

#include "datatype/timestamp.h"
#include "storage/lwlock.h"

#include "sample.h"
#include "trends.h"

typedef enum AlertSeverity
{
	ALERT_NONE = 0,
	ALERT_LOW,
	ALERT_MEDIUM,
	ALERT_HIGH,
	ALERT_CRITICAL
} AlertSeverity;

#define PERFOPT_MAX_ALERTS 128
#define PERFOPT_ALERT_MESSAGE 320

typedef struct PerfoptAlert
{
	int64		id;
	char		type[16];		/* cpu, memory, disk, database, api */
	char		metric[48];		/* the thresholds document's key path */
	char		subject[NAMEDATALEN];	/* host, data, wal, server, a database */
	int			severity;		/* AlertSeverity */
	bool		open;
	bool		persisted;		/* a row exists in perfopt_alerts_data */
	bool		dirty;			/* changed since it was last written */
	double		value;
	double		threshold;
	TimestampTz first_seen;
	TimestampTz last_seen;
	TimestampTz resolved_at;
	char		resolved_by[NAMEDATALEN];
	char		message[PERFOPT_ALERT_MESSAGE];
} PerfoptAlert;

/* a series' trend as the worker published it */
typedef struct PerfoptTrend
{
	char		metric[48];
	char		subject[NAMEDATALEN];
	double		warning;
	double		critical;
	TimestampTz at;
	TrendResult r;
} PerfoptTrend;

extern const char *perfopt_alert_severity_name(int severity);
extern bool perfopt_alert_datums(const PerfoptAlert *a, Datum *values);

/* NOTIFY perfopt_alerts, at commit, with the transition as JSON */
extern void perfopt_alert_notify(int64 id, const char *event, const char *metric,
								 const char *severity, bool open, double value, double threshold);

/* _PG_init: its shared memory */
extern void perfopt_alerts_shmem_register(void);

/* the worker, after each sample: evaluate (no transaction needed) ... */
extern void perfopt_alerts_evaluate(const PerfoptSample *s);
/* ... whether anything waits to be written (or the table to be read) ... */
extern bool perfopt_alerts_to_write(void);
/* ... and write what changed, in its transaction (primary, extension there) */
extern void perfopt_alerts_load_on_standby(void);
extern void perfopt_alerts_persist(void);
/* after that transaction committed */
extern void perfopt_alerts_persisted(void);

/* copies for SQL: palloc'd arrays, counts returned */
extern int	perfopt_alerts_copy(PerfoptAlert **out);
extern int	perfopt_trends_copy(PerfoptTrend **out);
/* a manual resolve committed: forget the shared-memory copy */
extern void perfopt_alerts_forget(int64 id);

#endif							/* PERFOPT_ALERTS_H */
