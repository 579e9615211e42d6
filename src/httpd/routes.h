/*
 * routes.h — perfopt-httpd's REST routes (routes.c).  Pure C.
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
	HD_ALERTS,					/* GET  /api/v1/performance/alerts */
	HD_ALERT_RESOLVE,			/* POST /api/v1/performance/alerts/{id}/resolve */
	HD_ALERTS_RESOLVE,			/* POST /api/v1/performance/alerts/resolve (bulk) */
	HD_THRESHOLDS,				/* GET and PUT /api/v1/performance/thresholds */
	HD_DATABASE,				/* GET  /api/v1/performance/database */
	HD_DATABASE_OPTIMIZE,		/* POST /api/v1/performance/database/optimize */
	HD_API,						/* GET  /api/v1/performance/api */
	HD_MONITORING_START,		/* POST /api/v1/performance/monitoring/start */
	HD_MONITORING_STOP,			/* POST /api/v1/performance/monitoring/stop */
	HD_PROMETHEUS,				/* GET  /metrics */
	HD_HEALTHZ					/* GET  /healthz */
} HdRoute;

#define HD_METHOD_GET	0x1
#define HD_METHOD_POST	0x2
#define HD_METHOD_PUT	0x4
#define HD_METHOD_HEAD	0x8		/* allowed wherever GET is */

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
/* the request changes state: method_bit is POST or PUT and the route allows it */
extern bool hd_route_mutates(HdRoute r, int method_bit);

#endif							/* PERFOPT_HTTPD_ROUTES_H */
