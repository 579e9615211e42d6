/*
 * routes.c — perfopt-httpd's REST routes: which path is which route
 * (exact paths, one trailing '/', the alert id canonical), the methods
 * each takes, the Allow header, and a stable name for logs and metrics.
 */
#include "routes.h"

#include <stdio.h>
#include <string.h>

#include "params.h"
#include "strutil.h"

#define GET_HEAD (HD_METHOD_GET | HD_METHOD_HEAD)

typedef struct HdRouteDef
{
	const char *path;			/* the template for HD_ALERT_RESOLVE */
	unsigned	methods;
} HdRouteDef;

static const HdRouteDef hd_routes[] = {
	[HD_ROUTE_NONE] = {"none", 0},
	[HD_STATUS] = {"/api/v1/performance/status", GET_HEAD},
	[HD_OPTIMIZE] = {"/api/v1/performance/optimize", HD_METHOD_POST},
	[HD_HISTORY] = {"/api/v1/performance/history", GET_HEAD},
	[HD_RECOMMENDATIONS] = {"/api/v1/performance/recommendations", GET_HEAD},
	[HD_METRICS] = {"/api/v1/performance/metrics", GET_HEAD},
	[HD_ALERTS] = {"/api/v1/performance/alerts", GET_HEAD},
	[HD_ALERT_RESOLVE] = {"/api/v1/performance/alerts/{id}/resolve", HD_METHOD_POST},
	[HD_ALERTS_RESOLVE] = {"/api/v1/performance/alerts/resolve", HD_METHOD_POST},
	[HD_THRESHOLDS] = {"/api/v1/performance/thresholds", GET_HEAD | HD_METHOD_PUT},
	[HD_DATABASE] = {"/api/v1/performance/database", GET_HEAD},
	[HD_DATABASE_OPTIMIZE] = {"/api/v1/performance/database/optimize", HD_METHOD_POST},
	[HD_API] = {"/api/v1/performance/api", GET_HEAD},
	[HD_MONITORING_START] = {"/api/v1/performance/monitoring/start", HD_METHOD_POST},
	[HD_MONITORING_STOP] = {"/api/v1/performance/monitoring/stop", HD_METHOD_POST},
	[HD_PROMETHEUS] = {"/metrics", GET_HEAD},
	[HD_HEALTHZ] = {"/healthz", GET_HEAD},
};

#define HD_NROUTES ((int) (sizeof(hd_routes) / sizeof(hd_routes[0])))
#define HD_PATH_MAX 256
#define ALERT_PREFIX "/api/v1/performance/alerts/"
#define ALERT_SUFFIX "/resolve"

HdRoute
hd_route_match(const char *path, int64_t *id)
{
	size_t		n;
	size_t		plen = strlen(ALERT_PREFIX);
	size_t		slen = strlen(ALERT_SUFFIX);
	int64_t		v;

	if (path == NULL)
		return HD_ROUTE_NONE;
	n = bounded_len(path, HD_PATH_MAX);
	if (n == 0 || n > HD_PATH_MAX || path[0] != '/')
		return HD_ROUTE_NONE;
	if (strstr(path, "//") != NULL || strstr(path, "..") != NULL)
		return HD_ROUTE_NONE;
	if (n > 1 && path[n - 1] == '/')
		n--;

	for (int r = 1; r < HD_NROUTES; r++)
	{
		if (r == HD_ALERT_RESOLVE)
			continue;
		if (strlen(hd_routes[r].path) == n && memcmp(hd_routes[r].path, path, n) == 0)
			return (HdRoute) r;
	}
	if (n > plen + slen &&
		memcmp(path, ALERT_PREFIX, plen) == 0 &&
		memcmp(path + n - slen, ALERT_SUFFIX, slen) == 0 &&
		hd_parse_dec(path + plen, n - plen - slen, false, &v) && v >= 1)
	{
		if (id)
			*id = v;
		return HD_ALERT_RESOLVE;
	}
	return HD_ROUTE_NONE;
}

unsigned
hd_route_methods(HdRoute r)
{
	if ((int) r < 0 || (int) r >= HD_NROUTES)
		return 0;
	return hd_routes[r].methods;
}

int
hd_method_bit(const char *method)
{
	if (method == NULL)
		return 0;
	if (strcmp(method, "GET") == 0)
		return HD_METHOD_GET;
	if (strcmp(method, "POST") == 0)
		return HD_METHOD_POST;
	if (strcmp(method, "PUT") == 0)
		return HD_METHOD_PUT;
	if (strcmp(method, "HEAD") == 0)
		return HD_METHOD_HEAD;
	return 0;
}

void
hd_allow_header(unsigned methods, char *out, size_t size)
{
	static const struct
	{
		unsigned	bit;
		const char *name;
	}			order[] = {
		{HD_METHOD_GET, "GET"},
		{HD_METHOD_HEAD, "HEAD"},
		{HD_METHOD_POST, "POST"},
		{HD_METHOD_PUT, "PUT"},
	};
	char		buf[32] = "";
	size_t		n = 0;

	if (out == NULL || size == 0)
		return;
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++)
	{
		if (!(methods & order[i].bit))
			continue;
		n += (size_t) snprintf(buf + n, sizeof(buf) - n, "%s%s", n ? ", " : "", order[i].name);
	}
	/* all of it or nothing: a cut method name would be wrong */
	if (n < size)
		memcpy(out, buf, n + 1);
	else
		out[0] = '\0';
}

const char *
hd_route_name(HdRoute r)
{
	if ((int) r <= 0 || (int) r >= HD_NROUTES)
		return "none";
	return hd_routes[r].path;
}

bool
hd_route_mutates(HdRoute r, int method_bit)
{
	if (method_bit != HD_METHOD_POST && method_bit != HD_METHOD_PUT)
		return false;
	return (hd_route_methods(r) & (unsigned) method_bit) != 0;
}

