/*
 * routes.c — perfopt-httpd's route table and what is read from it: which
 * path is which route (exact paths, one trailing '/' tolerated, "{id}" a
 * canonical decimal), the methods a route takes and its Allow header,
 * the row of a route and method (its call, read-only or not, rate class,
 * Cache-Control, arguments and answer), and a stable name for logs and
 * metrics.  The dashboard's rows (/, /dashboard, /dashboard/{asset})
 * call nothing: handler.c answers them from the embedded files.
 *
 * The calls name every function, operator and type with its schema:
 * "$S" is the extension's (quoted, looked up by pool.c), everything else
 * pg_catalog's; COALESCE is syntax, and ORDER BY takes the type's own
 * btree operator, not one found by name.  "$1".. are the arguments,
 * inlined as quoted literals (calls.c, sql.c).
 */
#include "routes.h"

#include <stdio.h>
#include <string.h>

#include "params.h"
#include "strutil.h"

#define GET_HEAD (HD_METHOD_GET | HD_METHOD_HEAD)

#define CACHE_PAGES "max-age=60"
#define CACHE_ADVICE "max-age=180"

/*
 * Keyset pages of a table or view of perfopt's with an id.  Oldest first:
 * ids above $1, at most $2, {"items", "next_after"} (the last id when the
 * page is full), as perfopt_history() and perfopt_alerts_page() page.
 * Newest first: ids below $1 (NULL: from the newest), {"items",
 * "next_before"}; rows added meanwhile never shift a later page.  where:
 * more of the WHERE clause ($3 on).
 */
#define SQL_OLDEST_PAGE(rel) \
	"SELECT pg_catalog.jsonb_build_object('items'," \
	" COALESCE(pg_catalog.jsonb_agg(pg_catalog.to_jsonb(p) ORDER BY p.id), '[]'::pg_catalog.jsonb)," \
	" 'next_after', CASE WHEN pg_catalog.count(*) OPERATOR(pg_catalog.=) $2::pg_catalog.int8" \
	" THEN pg_catalog.max(p.id) END)::pg_catalog.text" \
	" FROM (SELECT x.* FROM $S." rel " x WHERE x.id OPERATOR(pg_catalog.>) $1::pg_catalog.int8" \
	" ORDER BY x.id LIMIT $2::pg_catalog.int8) p"
#define SQL_NEWEST_PAGE(rel, where) \
	"SELECT pg_catalog.jsonb_build_object('items'," \
	" COALESCE(pg_catalog.jsonb_agg(pg_catalog.to_jsonb(p) ORDER BY p.id DESC), '[]'::pg_catalog.jsonb)," \
	" 'next_before', CASE WHEN pg_catalog.count(*) OPERATOR(pg_catalog.=) $2::pg_catalog.int8" \
	" THEN pg_catalog.min(p.id) END)::pg_catalog.text" \
	" FROM (SELECT x.* FROM $S." rel " x" \
	" WHERE ($1::pg_catalog.int8 IS NULL OR x.id OPERATOR(pg_catalog.<) $1::pg_catalog.int8)" where \
	" ORDER BY x.id DESC LIMIT $2::pg_catalog.int8) p"
#define SQL_STATE_IS_3 \
	" AND ($3::pg_catalog.text IS NULL OR x.state OPERATOR(pg_catalog.=) $3::pg_catalog.text)"

#define SQL_TRENDS \
	"SELECT COALESCE(pg_catalog.jsonb_agg(pg_catalog.to_jsonb(t) ORDER BY t.metric, t.subject)," \
	" '[]'::pg_catalog.jsonb)::pg_catalog.text FROM (SELECT x.* FROM $S.perfopt_trends x" \
	" ORDER BY x.metric, x.subject LIMIT $1::pg_catalog.int8) t"
#define SQL_SLOW_QUERIES \
	"SELECT COALESCE(pg_catalog.jsonb_agg(pg_catalog.to_jsonb(q)" \
	" ORDER BY q.total_time_ms DESC, q.queryid, q.userid), '[]'::pg_catalog.jsonb)::pg_catalog.text" \
	" FROM (SELECT x.* FROM $S.perfopt_slow_queries x" \
	" ORDER BY x.total_time_ms DESC, x.queryid, x.userid LIMIT $1::pg_catalog.int8) q"
/* from and to default to the server's now - 1 hour and now */
#define SQL_METRICS_HISTORY \
	"SELECT $S.perfopt_metrics_history(" \
	"COALESCE($1::pg_catalog.timestamptz," \
	" COALESCE($2::pg_catalog.timestamptz, pg_catalog.now()) OPERATOR(pg_catalog.-) '1 hour'::pg_catalog.interval)," \
	" COALESCE($2::pg_catalog.timestamptz, pg_catalog.now()), $3::pg_catalog.int4, $4::pg_catalog.int4)" \
	"::pg_catalog.text"

static const HdRouteDef hd_routes[] = {
	{HD_STATUS, "/api/v1/performance/status", GET_HEAD,
		"SELECT $S.perfopt_status()::pg_catalog.text", NULL,
		true, HD_RATE_READ, HD_CACHE_LIVE, HD_TYPE_JSON, NULL, HD_ARGS_NONE, HD_ANSWER_VALUE},
	{HD_OPTIMIZE, "/api/v1/performance/optimize", HD_METHOD_POST,
		"SELECT $S.perfopt_optimize($1::pg_catalog.bool)::pg_catalog.text", NULL,
		false, HD_RATE_WRITE, HD_CACHE_CHANGE, HD_TYPE_JSON, NULL, HD_ARGS_DRY_RUN, HD_ANSWER_ACCEPTED},
	{HD_HISTORY, "/api/v1/performance/history", GET_HEAD,
		SQL_NEWEST_PAGE("perfopt_history", ""), NULL,
		true, HD_RATE_READ, CACHE_PAGES, HD_TYPE_JSON, NULL, HD_ARGS_NEWEST_PAGE, HD_ANSWER_PAGE},
	{HD_RECOMMENDATIONS, "/api/v1/performance/recommendations", GET_HEAD,
		SQL_OLDEST_PAGE("perfopt_recommendations"), NULL,
		true, HD_RATE_READ, CACHE_ADVICE, HD_TYPE_JSON, NULL, HD_ARGS_AFTER_PAGE, HD_ANSWER_PAGE},
	{HD_METRICS, "/api/v1/performance/metrics", GET_HEAD,
		"SELECT $S.perfopt_metrics()::pg_catalog.text", "SELECT $S.perfopt_metrics_prometheus()",
		true, HD_RATE_READ, HD_CACHE_LIVE, HD_TYPE_JSON, HD_TYPE_EXPOSITION, HD_ARGS_FORMAT, HD_ANSWER_VALUE},
	{HD_METRICS_HISTORY, "/api/v1/performance/metrics/history", GET_HEAD,
		SQL_METRICS_HISTORY, NULL,
		true, HD_RATE_READ, HD_CACHE_LIVE, HD_TYPE_JSON, NULL, HD_ARGS_TIME_RANGE, HD_ANSWER_VALUE},
	{HD_ALERTS, "/api/v1/performance/alerts", GET_HEAD,
		SQL_NEWEST_PAGE("perfopt_alerts", SQL_STATE_IS_3), NULL,
		true, HD_RATE_READ, HD_CACHE_LIVE, HD_TYPE_JSON, NULL, HD_ARGS_NEWEST_STATE_PAGE, HD_ANSWER_PAGE},
	{HD_ALERT_RESOLVE, "/api/v1/performance/alerts/{id}/resolve", HD_METHOD_POST,
		"SELECT $S.perfopt_resolve_alert($1::pg_catalog.int8)::pg_catalog.text", NULL,
		false, HD_RATE_WRITE, HD_CACHE_CHANGE, HD_TYPE_JSON, NULL, HD_ARGS_ID, HD_ANSWER_VALUE},
	{HD_ALERTS_RESOLVE, "/api/v1/performance/alerts/resolve", HD_METHOD_POST,
		"SELECT $S.perfopt_resolve_alerts($1::pg_catalog.int8[])::pg_catalog.text", NULL,
		false, HD_RATE_WRITE, HD_CACHE_CHANGE, HD_TYPE_JSON, NULL, HD_ARGS_IDS, HD_ANSWER_VALUE},
	{HD_THRESHOLDS, "/api/v1/performance/thresholds", GET_HEAD,
		"SELECT $S.perfopt_thresholds()::pg_catalog.text", NULL,
		true, HD_RATE_READ, HD_CACHE_LIVE, HD_TYPE_JSON, NULL, HD_ARGS_NONE, HD_ANSWER_VALUE},
	{HD_THRESHOLDS, "/api/v1/performance/thresholds", HD_METHOD_PUT,
		"SELECT $S.perfopt_set_thresholds($1::pg_catalog.jsonb)::pg_catalog.text", NULL,
		false, HD_RATE_WRITE, HD_CACHE_CHANGE, HD_TYPE_JSON, NULL, HD_ARGS_OBJECT, HD_ANSWER_VALUE},
	{HD_DATABASE, "/api/v1/performance/database", GET_HEAD,
		"SELECT $S.perfopt_database_metrics()::pg_catalog.text", NULL,
		true, HD_RATE_READ, HD_CACHE_LIVE, HD_TYPE_JSON, NULL, HD_ARGS_NONE, HD_ANSWER_VALUE},
	{HD_DATABASE_OPTIMIZE, "/api/v1/performance/database/optimize", HD_METHOD_POST,
		"SELECT $S.perfopt_optimize_database($1::pg_catalog.bool)::pg_catalog.text", NULL,
		false, HD_RATE_WRITE, HD_CACHE_CHANGE, HD_TYPE_JSON, NULL, HD_ARGS_DRY_RUN, HD_ANSWER_ACCEPTED},
	{HD_API, "/api/v1/performance/api", GET_HEAD,
		"SELECT $S.perfopt_api_metrics()::pg_catalog.text", NULL,
		true, HD_RATE_READ, HD_CACHE_LIVE, HD_TYPE_JSON, NULL, HD_ARGS_NONE, HD_ANSWER_VALUE},
	{HD_MONITORING_START, "/api/v1/performance/monitoring/start", HD_METHOD_POST,
		"SELECT $S.perfopt_start_monitoring()::pg_catalog.text",
		"SELECT $S.perfopt_start_monitoring($1::pg_catalog.int4)::pg_catalog.text",
		false, HD_RATE_WRITE, HD_CACHE_CHANGE, HD_TYPE_JSON, HD_TYPE_JSON, HD_ARGS_INTERVAL, HD_ANSWER_VALUE},
	{HD_MONITORING_STOP, "/api/v1/performance/monitoring/stop", HD_METHOD_POST,
		"SELECT $S.perfopt_stop_monitoring()::pg_catalog.text", NULL,
		false, HD_RATE_WRITE, HD_CACHE_CHANGE, HD_TYPE_JSON, NULL, HD_ARGS_NONE, HD_ANSWER_VALUE},
	{HD_PROMETHEUS_RULES, "/api/v1/performance/prometheus-rules", GET_HEAD,
		"SELECT $S.perfopt_prometheus_rules()", NULL,
		true, HD_RATE_READ, HD_CACHE_LIVE, HD_TYPE_YAML, NULL, HD_ARGS_NONE, HD_ANSWER_VALUE},
	{HD_TRENDS, "/api/v1/performance/trends", GET_HEAD,
		SQL_TRENDS, NULL,
		true, HD_RATE_READ, HD_CACHE_LIVE, HD_TYPE_JSON, NULL, HD_ARGS_LIMIT, HD_ANSWER_VALUE},
	{HD_SLOW_QUERIES, "/api/v1/performance/slow-queries", GET_HEAD,
		SQL_SLOW_QUERIES, NULL,
		true, HD_RATE_READ, CACHE_ADVICE, HD_TYPE_JSON, NULL, HD_ARGS_LIMIT, HD_ANSWER_VALUE},
	{HD_JOBS, "/api/v1/performance/jobs", GET_HEAD,
		SQL_NEWEST_PAGE("perfopt_jobs", SQL_STATE_IS_3), NULL,
		true, HD_RATE_READ, HD_CACHE_LIVE, HD_TYPE_JSON, NULL, HD_ARGS_NEWEST_STATE_PAGE, HD_ANSWER_PAGE},
	{HD_VERIFICATIONS, "/api/v1/performance/verifications", GET_HEAD,
		SQL_NEWEST_PAGE("perfopt_verifications", ""), NULL,
		true, HD_RATE_READ, HD_CACHE_LIVE, HD_TYPE_JSON, NULL, HD_ARGS_NEWEST_PAGE, HD_ANSWER_PAGE},
	{HD_AUDIT, "/api/v1/performance/audit", GET_HEAD,
		"SELECT $S.perfopt_audit_page($1::pg_catalog.int8, $2::pg_catalog.int4)::pg_catalog.text", NULL,
		true, HD_RATE_READ, HD_CACHE_PRIVATE, HD_TYPE_JSON, NULL, HD_ARGS_NEWEST_PAGE, HD_ANSWER_PAGE},
	{HD_PROMETHEUS, "/metrics", GET_HEAD,
		"SELECT $S.perfopt_metrics_prometheus()", NULL,
		true, HD_RATE_READ, HD_CACHE_LIVE, HD_TYPE_EXPOSITION, NULL, HD_ARGS_NONE, HD_ANSWER_EXPOSITION},
	{HD_HEALTHZ, "/healthz", GET_HEAD,
		NULL, NULL,
		true, HD_RATE_ADDRESS, HD_CACHE_LIVE, HD_TYPE_JSON, NULL, HD_ARGS_NONE, HD_ANSWER_HEALTH},
	/* the dashboard: no token (it holds no data; its scripts send the token) */
	{HD_ROOT, "/", GET_HEAD,
		NULL, NULL,
		true, HD_RATE_ADDRESS, HD_CACHE_LIVE, HD_TYPE_HTML, NULL, HD_ARGS_NONE, HD_ANSWER_REDIRECT},
	{HD_DASHBOARD, "/dashboard", GET_HEAD,
		NULL, NULL,
		true, HD_RATE_ADDRESS, HD_CACHE_LIVE, HD_TYPE_HTML, NULL, HD_ARGS_NONE, HD_ANSWER_ASSET},
	{HD_DASHBOARD_ASSET, "/dashboard/{asset}", GET_HEAD,
		NULL, NULL,
		true, HD_RATE_ADDRESS, HD_CACHE_LIVE, NULL, NULL, HD_ARGS_NONE, HD_ANSWER_ASSET},
};

#define HD_NROWS ((int) (sizeof(hd_routes) / sizeof(hd_routes[0])))
#define HD_PATH_MAX 256
#define HD_ID "{id}"
#define HD_ASSET "{asset}"
#define HD_ASSET_MAX 64

/* path[0..n) is a file name: [A-Za-z0-9._-], 1 to HD_ASSET_MAX, not starting with '.' */
static bool
asset_name(const char *path, size_t n)
{
	if (n == 0 || n > HD_ASSET_MAX || path[0] == '.')
		return false;
	for (size_t i = 0; i < n; i++)
	{
		char		c = path[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			  c == '.' || c == '_' || c == '-'))
			return false;
	}
	return true;
}

/* path[0..n) matches the row's pattern; *id when it has "{id}" */
static bool
path_matches(const char *pattern, const char *path, size_t n, int64_t *id)
{
	const char *hole = strstr(pattern, HD_ID);
	size_t		plen;
	size_t		slen;
	int64_t		v;

	if (hole == NULL && (hole = strstr(pattern, HD_ASSET)) != NULL)
	{
		plen = (size_t) (hole - pattern);
		return n > plen && memcmp(path, pattern, plen) == 0 && asset_name(path + plen, n - plen);
	}
	if (hole == NULL)
		return strlen(pattern) == n && memcmp(pattern, path, n) == 0;
	plen = (size_t) (hole - pattern);
	slen = strlen(hole + strlen(HD_ID));
	if (n <= plen + slen || memcmp(path, pattern, plen) != 0 ||
		memcmp(path + n - slen, hole + strlen(HD_ID), slen) != 0 ||
		!hd_parse_dec(path + plen, n - plen - slen, false, &v) || v < 1)
		return false;
	*id = v;
	return true;
}

HdRoute
hd_route_match(const char *path, int64_t *id)
{
	size_t		n;

	if (path == NULL)
		return HD_ROUTE_NONE;
	n = bounded_len(path, HD_PATH_MAX);
	if (n == 0 || n > HD_PATH_MAX || path[0] != '/')
		return HD_ROUTE_NONE;
	if (strstr(path, "//") != NULL || strstr(path, "..") != NULL)
		return HD_ROUTE_NONE;
	if (n > 1 && path[n - 1] == '/')
		n--;

	for (int i = 0; i < HD_NROWS; i++)
	{
		int64_t		v = 0;

		if (path_matches(hd_routes[i].path, path, n, &v))
		{
			if (id && strstr(hd_routes[i].path, HD_ID) != NULL)
				*id = v;
			return hd_routes[i].route;
		}
	}
	return HD_ROUTE_NONE;
}

const HdRouteDef *
hd_route_def(HdRoute r, int method_bit)
{
	/* exactly one method */
	if (method_bit <= 0 || (method_bit & (method_bit - 1)) != 0)
		return NULL;
	for (int i = 0; i < HD_NROWS; i++)
		if (hd_routes[i].route == r && (hd_routes[i].methods & (unsigned) method_bit))
			return &hd_routes[i];
	return NULL;
}

unsigned
hd_route_methods(HdRoute r)
{
	unsigned	methods = 0;

	for (int i = 0; i < HD_NROWS; i++)
		if (hd_routes[i].route == r)
			methods |= hd_routes[i].methods;
	return methods;
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
	for (int i = 0; i < HD_NROWS; i++)
		if (hd_routes[i].route == r && r != HD_ROUTE_NONE)
			return hd_routes[i].path;
	return "none";
}

bool
hd_route_mutates(HdRoute r, int method_bit)
{
	const HdRouteDef *def = hd_route_def(r, method_bit);

	return def != NULL && !def->read_only;
}

bool
hd_route_state_valid(HdRoute r, const char *state, const char **names)
{
	static const char *const alerts[] = {"open", "resolved", NULL};
	static const char *const jobs[] = {"queued", "running", "succeeded", "failed", "cancelled", NULL};
	const char *const *set = r == HD_ALERTS ? alerts : r == HD_JOBS ? jobs : NULL;

	if (names)
		*names = r == HD_ALERTS ? "open or resolved" :
			r == HD_JOBS ? "queued, running, succeeded, failed or cancelled" : "";
	if (set == NULL || state == NULL)
		return false;
	for (int i = 0; set[i]; i++)
		if (strcmp(state, set[i]) == 0)
			return true;
	return false;
}
