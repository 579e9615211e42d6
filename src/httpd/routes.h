/*
 * routes.h — perfopt-httpd's REST routes (routes.c): one table, a row
 * per route and method, that says everything the rest of the shim needs
 * to know about a request: its path pattern, the methods it takes, the
 * SQL function it calls, read-only or state-changing, its rate class and
 * its Cache-Control.  Matching (handler.c), rate limiting (stats.c),
 * dispatch (calls.c) and logging all read it.  Pure C.
 */
#ifndef PERFOPT_HTTPD_ROUTES_H
#define PERFOPT_HTTPD_ROUTES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* the routes of the REST API */
typedef enum HdRoute
{
	HD_ROUTE_NONE = 0,
	HD_STATUS,					/* GET  /api/v1/performance/status */
	HD_OPTIMIZE,				/* POST /api/v1/performance/optimize */
	HD_HISTORY,					/* GET  /api/v1/performance/history */
	HD_RECOMMENDATIONS,			/* GET  /api/v1/performance/recommendations */
	HD_METRICS,					/* GET  /api/v1/performance/metrics */
	HD_METRICS_HISTORY,			/* GET  /api/v1/performance/metrics/history */
	HD_ALERTS,					/* GET  /api/v1/performance/alerts */
	HD_ALERT_RESOLVE,			/* POST /api/v1/performance/alerts/{id}/resolve */
	HD_ALERTS_RESOLVE,			/* POST /api/v1/performance/alerts/resolve (bulk) */
	HD_THRESHOLDS,				/* GET and PUT /api/v1/performance/thresholds */
	HD_DATABASE,				/* GET  /api/v1/performance/database */
	HD_DATABASE_OPTIMIZE,		/* POST /api/v1/performance/database/optimize */
	HD_API,						/* GET  /api/v1/performance/api */
	HD_MONITORING_START,		/* POST /api/v1/performance/monitoring/start */
	HD_MONITORING_STOP,			/* POST /api/v1/performance/monitoring/stop */
	HD_PROMETHEUS_RULES,		/* GET  /api/v1/performance/prometheus-rules */
	HD_TRENDS,					/* GET  /api/v1/performance/trends */
	HD_SLOW_QUERIES,			/* GET  /api/v1/performance/slow-queries */
	HD_JOBS,					/* GET  /api/v1/performance/jobs */
	HD_VERIFICATIONS,			/* GET  /api/v1/performance/verifications */
	HD_AUDIT,					/* GET  /api/v1/performance/audit (admin roles) */
	HD_PROMETHEUS,				/* GET  /metrics */
	HD_HEALTHZ,					/* GET  /healthz */
	HD_ROOT,					/* GET  / (a redirect to /dashboard) */
	HD_DASHBOARD,				/* GET  /dashboard (the page, no token) */
	HD_DASHBOARD_ASSET,			/* GET  /dashboard/{asset} (its scripts and styles) */
	HD_NROUTES
} HdRoute;

#define HD_METHOD_GET	0x1
#define HD_METHOD_POST	0x2
#define HD_METHOD_PUT	0x4
#define HD_METHOD_HEAD	0x8		/* allowed wherever GET is */

/* which token bucket a request is charged to */
typedef enum HdRateClass
{
	HD_RATE_ADDRESS,			/* no token: the client address's bucket (--anon-*) */
	HD_RATE_READ,				/* a token's read bucket (--read-*) */
	HD_RATE_WRITE				/* a token's bucket for state-changes (--write-*) */
} HdRateClass;

/* what the call takes from the request, checked before the database sees it */
typedef enum HdArgs
{
	HD_ARGS_NONE,
	HD_ARGS_AFTER_PAGE,			/* oldest first: ?limit= (1..1000, 50) &cursor= -> $1 after (0), $2 limit */
	HD_ARGS_NEWEST_PAGE,		/* newest first: ?limit= &cursor= -> $1 before (NULL: the newest), $2 limit */
	HD_ARGS_NEWEST_STATE_PAGE,	/* the same and ?state= (one of the route's) -> $3 state */
	HD_ARGS_LIMIT,				/* the first rows: ?limit= (1..1000, 1000) -> $1 */
	HD_ARGS_ID,					/* the path's {id} -> $1 */
	HD_ARGS_IDS,				/* the body {"ids": [...]} (--bulk-max) -> $1 an int8[] */
	HD_ARGS_OBJECT,				/* the body, a JSON object -> $1 */
	HD_ARGS_DRY_RUN,			/* ?dry_run=true|false (false) -> $1 */
	HD_ARGS_INTERVAL,			/* no body: sql; {"interval_ms": n}: sql_alt with $1 n */
	HD_ARGS_FORMAT,				/* ?format=json (sql) or prometheus (sql_alt) */
	HD_ARGS_TIME_RANGE			/* ?from= &to= &points= &step= (timearg.c) -> $1 .. $4 */
} HdArgs;

/* what becomes of the call's value */
typedef enum HdAnswer
{
	HD_ANSWER_VALUE,			/* the body as it is */
	HD_ANSWER_PAGE,				/* next_after or next_before -> next_cursor and a Link to the next page */
	HD_ANSWER_ACCEPTED,			/* run_id -> 202 and a Location to the run's report */
	HD_ANSWER_EXPOSITION,		/* the shim's own metrics, then the value: 200 even
								 * when the database does not answer */
	HD_ANSWER_HEALTH,			/* no call: the health thread's probe (pool.c) */
	HD_ANSWER_REDIRECT,			/* no call: 302 to /dashboard */
	HD_ANSWER_ASSET				/* no call: an embedded file of the dashboard (assets.c) */
} HdAnswer;

typedef struct HdRouteDef
{
	HdRoute		route;
	const char *path;			/* exact; "{id}" stands for a canonical decimal >= 1,
								 * "{asset}" for a file name ([A-Za-z0-9._-], at most 64) */
	unsigned	methods;		/* the HD_METHOD_* bits this row answers */
	const char *sql;			/* the call: "$S" the extension's schema, "$1".. the args */
	const char *sql_alt;		/* the variant HD_ARGS_FORMAT and HD_ARGS_INTERVAL pick */
	bool		read_only;		/* BEGIN READ ONLY; false: the call changes state */
	HdRateClass rate;
	const char *cache_control;	/* of a success; every error is no-store */
	const char *content_type;	/* of a success */
	const char *content_type_alt;	/* of sql_alt's success */
	HdArgs		args;
	HdAnswer	answer;
} HdRouteDef;

#define HD_TYPE_JSON "application/json"
#define HD_TYPE_EXPOSITION "text/plain; version=0.0.4; charset=utf-8"
#define HD_TYPE_YAML "application/yaml; charset=utf-8"
#define HD_TYPE_HTML "text/html; charset=utf-8"
#define HD_CACHE_LIVE "no-cache"
#define HD_CACHE_CHANGE "no-store"
#define HD_CACHE_PRIVATE "private, no-cache"

/*
 * The row of a route for one method (exactly one HD_METHOD_* bit; HEAD is
 * answered wherever GET is); NULL when the route does not take it (405)
 * or there is no such route (404).
 */
extern const HdRouteDef *hd_route_def(HdRoute r, int method_bit);

/*
 * The route of a URL path (without the query string, not percent-decoded):
 * exact paths, one trailing '/' tolerated; "..", "//" or more than 256
 * characters never match.  *id (may be NULL) is written only for
 * HD_ALERT_RESOLVE: a canonical decimal >= 1.
 */
extern HdRoute hd_route_match(const char *path, int64_t *id);
/* the methods a route allows: HD_METHOD_* bits, HEAD wherever GET */
extern unsigned hd_route_methods(HdRoute r);
/* "GET" -> HD_METHOD_GET and so on (case sensitive); 0 for any other */
extern int	hd_method_bit(const char *method);
/* the Allow header for methods: "GET, HEAD", "POST", "GET, HEAD, PUT"; "" when size is too small */
extern void hd_allow_header(unsigned methods, char *out, size_t size);
/* a stable label for logs and metrics: the path template, "none" for HD_ROUTE_NONE */
extern const char *hd_route_name(HdRoute r);
/* the request changes state: the route's row for method_bit (one bit) is not read-only */
extern bool hd_route_mutates(HdRoute r, int method_bit);
/*
 * state is one of the states route r filters its list by (alerts: open,
 * resolved; jobs: queued, running, succeeded, failed, cancelled); the
 * list of them, for a message, in *names (may be NULL)
 */
extern bool hd_route_state_valid(HdRoute r, const char *state, const char **names);

#endif							/* PERFOPT_HTTPD_ROUTES_H */
