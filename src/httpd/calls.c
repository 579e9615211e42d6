/*
 * calls.c — each route of perfopt-httpd as a call of perfopt's SQL
 * function, run in one transaction as the token's role (SET LOCAL ROLE;
 * READ ONLY for reads; the per-request statement_timeout; search_path
 * pinned to pg_catalog, pg_temp), with the SQLSTATE of a failure mapped to
 * an HTTP status.  Pages of history and alerts get an opaque cursor and a
 * Link header; optimization runs answer 202 with a Location to follow.
 *
 * Nothing a session may have been left with reaches the next request:
 * every function, operator and type is named with its schema (perfopt's
 * as looked up by pool.c), and after the COMMIT the same round trip puts
 * the session back as the connection opened it (HD_SQL_RESET); a failed
 * request rolls back and resets in a second one, and a connection whose
 * reset fails is closed.  Server code may change session state during a
 * request (set_config(..., false) in a trigger); the reset is what keeps
 * it from the next caller.
 *
 * Error bodies carry the SQLSTATE and a description of it; the server's
 * message only when it is perfopt's own (hd_message_is_perfopt).  Other
 * messages may quote row values and stay in the server's log; the shim
 * logs none.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "httpd.h"

#define CACHE_LIVE "no-cache"
#define CACHE_RECOMMENDATIONS "max-age=180"
#define CACHE_PAGES "max-age=60"
#define CACHE_CHANGE "no-store"

/*
 * The calls.  "$S" is the extension's schema and "$1".. the parameters,
 * both quoted by run_sql; every function and type is named with its
 * schema (COALESCE is syntax, and ORDER BY takes the type's own btree
 * operator, not one found by name).
 */
#define SQL_STATUS "SELECT $S.perfopt_status()::pg_catalog.text"
#define SQL_DATABASE "SELECT $S.perfopt_database_metrics()::pg_catalog.text"
#define SQL_API "SELECT $S.perfopt_api_metrics()::pg_catalog.text"
#define SQL_METRICS "SELECT $S.perfopt_metrics()::pg_catalog.text"
#define SQL_PROMETHEUS "SELECT $S.perfopt_metrics_prometheus()"
#define SQL_RECOMMENDATIONS \
	"SELECT COALESCE(pg_catalog.jsonb_agg(pg_catalog.to_jsonb(r) ORDER BY r.id)," \
	" '[]'::pg_catalog.jsonb)::pg_catalog.text FROM $S.perfopt_recommendations r"
#define SQL_THRESHOLDS "SELECT $S.perfopt_thresholds()::pg_catalog.text"
#define SQL_SET_THRESHOLDS "SELECT $S.perfopt_set_thresholds($1::pg_catalog.jsonb)::pg_catalog.text"
#define SQL_ALERTS_PAGE \
	"SELECT $S.perfopt_alerts_page($1::pg_catalog.text, $2::pg_catalog.int8, $3::pg_catalog.int4)" \
	"::pg_catalog.text"
#define SQL_HISTORY "SELECT $S.perfopt_history($1::pg_catalog.int8, $2::pg_catalog.int4)::pg_catalog.text"
#define SQL_RESOLVE "SELECT $S.perfopt_resolve_alert($1::pg_catalog.int8)::pg_catalog.text"
#define SQL_RESOLVE_BULK "SELECT $S.perfopt_resolve_alerts($1::pg_catalog.int8[])::pg_catalog.text"
#define SQL_OPTIMIZE "SELECT $S.perfopt_optimize($1::pg_catalog.bool)::pg_catalog.text"
#define SQL_OPTIMIZE_DATABASE "SELECT $S.perfopt_optimize_database($1::pg_catalog.bool)::pg_catalog.text"
#define SQL_START_INTERVAL "SELECT $S.perfopt_start_monitoring($1::pg_catalog.int4)::pg_catalog.text"
#define SQL_START "SELECT $S.perfopt_start_monitoring()::pg_catalog.text"
#define SQL_STOP "SELECT $S.perfopt_stop_monitoring()::pg_catalog.text"

static void
res_body(HdResult *res, int status, char *body, const char *type, const char *cache)
{
	res->status = status;
	res->body = body;
	res->len = body ? strlen(body) : 0;
	res->content_type = type;
	res->cache_control = cache;
}

void
hd_error(HdResult *res, int status, const char *error, const char *detail, const char *sqlstate)
{
	char		e[256];
	char		d[1024];
	char	   *body;
	size_t		size = 2048;

	hd_json_escape(error, e, sizeof(e));
	hd_json_escape(detail ? detail : "", d, sizeof(d));
	body = malloc(size);
	if (body == NULL)
		return;
	if (sqlstate && sqlstate[0])
		snprintf(body, size, "{\"error\": \"%s\", \"detail\": \"%s\", \"sqlstate\": \"%.5s\"}", e, d, sqlstate);
	else
		snprintf(body, size, "{\"error\": \"%s\", \"detail\": \"%s\", \"sqlstate\": null}", e, d);
	free(res->body);
	res_body(res, status, body, "application/json", CACHE_CHANGE);
	snprintf(res->sqlstate, sizeof(res->sqlstate), "%.5s", sqlstate ? sqlstate : "");
}

void
hd_health_result(HdResult *res, int status, const char *detail)
{
	memset(res, 0, sizeof(*res));
	if (status == 200)
		res_body(res, 200, strdup("{\"status\": \"ok\"}"), "application/json", CACHE_LIVE);
	else
		hd_error(res, 503, "unavailable", detail, NULL);
	res->cache_control = CACHE_LIVE;
}

/*
 * A failed PGresult (or connection) as the JSON error.  setup: it failed
 * before the call (the role, the settings), which is the shim's
 * configuration rather than the caller's input.
 */
static void
res_pg_error(HdResult *res, PGconn *conn, PGresult *r, bool setup)
{
	const char *sqlstate = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	const char *message = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	const char *detail;
	char		buf[256];
	int			status;

	if (PQstatus(conn) != CONNECTION_OK)
	{
		hd_error(res, 503, "unavailable", "perfopt-httpd: the connection to the database was lost",
				 sqlstate ? sqlstate : "08006");
		return;
	}
	status = hd_status_for_sqlstate(sqlstate);
	if (setup && status != 403 && status != 503)
		status = 500;
	/* never the server's words unless they are perfopt's: they may quote row values */
	if (!setup && hd_message_is_perfopt(message))
		detail = message;
	else if (setup && status == 403)
		detail = "perfopt-httpd: the authenticator may not take the token's role";
	else if (setup && status == 500)
		detail = "perfopt-httpd: the database refused the token's role or the request's settings; see the server log";
	else if (status == 500)
	{
		snprintf(buf, sizeof(buf), "%s; see the server log", hd_sqlstate_description(sqlstate));
		detail = buf;
	}
	else
		detail = hd_sqlstate_description(sqlstate);
	hd_error(res, status, hd_status_label(status), detail, sqlstate);
}

/* PQescapeLiteral as hd_sql_call's quoting */
static char *
quote_literal(void *ctx, const char *s, size_t len)
{
	return PQescapeLiteral((PGconn *) ctx, s, len);
}

static void
release_literal(void *ctx, char *quoted)
{
	(void) ctx;
	PQfreemem(quoted);
}

/* what one simple query answered */
typedef struct HdExchange
{
	int			steps;			/* results read */
	char	   *value;			/* malloc'd: the value at step want (one row, one column) */
	PGresult   *error;			/* the first error */
	int			error_step;
} HdExchange;

/* send sql and read every result; the value is the one at step want (0: none) */
static void
exchange(PGconn *conn, const char *sql, int want, HdExchange *x)
{
	PGresult   *r;

	memset(x, 0, sizeof(*x));
	if (!PQsendQuery(conn, sql))
		return;
	while ((r = PQgetResult(conn)) != NULL)
	{
		x->steps++;
		if (PQresultStatus(r) == PGRES_FATAL_ERROR && x->error == NULL)
		{
			x->error = r;
			x->error_step = x->steps;
			continue;
		}
		if (x->steps == want && PQresultStatus(r) == PGRES_TUPLES_OK &&
			PQntuples(r) == 1 && PQnfields(r) == 1)
			x->value = PQgetisnull(r, 0, 0) ? strdup("null") : strdup(PQgetvalue(r, 0, 0));
		PQclear(r);
	}
}

/*
 * After a failure: leave the transaction and reset the session in one
 * round trip; false when that did not work out (the connection is closed).
 */
static bool
rollback_and_reset(PGconn *conn)
{
	HdExchange	x;
	bool		ok;

	if (PQstatus(conn) != CONNECTION_OK)
		return false;
	exchange(conn, HD_SQL_ROLLBACK_RESET, 0, &x);
	ok = x.error == NULL && x.steps == HD_SQL_ROLLBACK_RESET_STEPS &&
		PQtransactionStatus(conn) == PQTRANS_IDLE;
	PQclear(x.error);
	free(x.value);
	return ok;
}

/* the call's SQL on c, or false with res set (the parameter is refused, or no memory) */
static bool
build_call(HdResult *res, HdConn *c, const char *tmpl, int nparams, const char *const *params,
		   char **call)
{
	int			rc = hd_sql_call(tmpl, c->schema, nparams, params, quote_literal, release_literal,
								 c->conn, call);

	if (rc == -1)
		hd_error(res, 400, "bad request", "perfopt-httpd: a parameter is not valid text", NULL);
	else if (rc != 0)
		hd_error(res, 500, "internal error", "perfopt-httpd: out of memory", NULL);
	return rc == 0;
}

/*
 * Run the call tmpl ("$S" the extension's schema, "$1".. the parameters,
 * inlined as quoted literals) as role, in one round trip (hd_sql_request).
 * On success res->body is its value (one row, one column, as text).
 */
static bool
run_sql(HdResult *res, const char *role, bool read_only, const char *tmpl,
		int nparams, const char *const *params)
{
	HdConn	   *c = hd_pool_get();
	HdExchange	x;
	char	   *call = NULL;
	char	   *qrole;
	char	   *text;
	bool		ok = false;
	bool		broken;

	if (c == NULL)
	{
		hd_error(res, 503, "unavailable", "perfopt-httpd: the database does not answer", NULL);
		return false;
	}
	if (c->schema == NULL)
	{
		hd_pool_put(c, false);
		hd_error(res, 503, "unavailable",
				 "perfopt-httpd: the perfopt extension is not installed in this database", NULL);
		return false;
	}
	if (!build_call(res, c, tmpl, nparams, params, &call))
	{
		hd_pool_put(c, false);
		return false;
	}
	qrole = PQescapeIdentifier(c->conn, role, strlen(role));
	text = qrole ? hd_sql_request(read_only, qrole, hd_config.statement_timeout_ms, call) : NULL;
	free(call);
	if (qrole)
		PQfreemem(qrole);
	if (text == NULL)
	{
		hd_pool_put(c, false);
		hd_error(res, 500, "internal error", "perfopt-httpd: out of memory", NULL);
		return false;
	}

	exchange(c->conn, text, HD_STEP_CALL, &x);
	free(text);
	if (x.value != NULL && (x.error == NULL || x.error_step > HD_STEP_COMMIT))
	{
		/* committed; a reset that failed only costs the connection */
		res_body(res, 200, x.value, "application/json", CACHE_LIVE);
		ok = true;
		broken = x.error != NULL || x.steps != HD_REQUEST_STEPS ||
			PQstatus(c->conn) != CONNECTION_OK || PQtransactionStatus(c->conn) != PQTRANS_IDLE;
	}
	else
	{
		const char *sqlstate = x.error ? PQresultErrorField(x.error, PG_DIAG_SQLSTATE) : NULL;

		free(x.value);
		res_pg_error(res, c->conn, x.error, x.error != NULL && x.error_step < HD_STEP_CALL);
		/* the schema is gone (the extension was dropped, or moved): look again next time */
		if (sqlstate && (strcmp(sqlstate, "3F000") == 0 || strcmp(sqlstate, "42883") == 0 ||
						 strcmp(sqlstate, "42P01") == 0))
			hd_pool_forget_schema(c);
		broken = !rollback_and_reset(c->conn);
	}
	PQclear(x.error);
	hd_pool_put(c, broken);
	return ok;
}

/* {"items": [...], "next_after": n} -> {"items": [...], "next_cursor": "..."}, Link */
static void
res_page(HdResult *res, const char *path, int limit, const char *state)
{
	cJSON	   *doc = cJSON_ParseWithLength(res->body, res->len);
	cJSON	   *next = doc ? cJSON_GetObjectItemCaseSensitive(doc, "next_after") : NULL;
	char	   *out;

	if (doc == NULL)
	{
		hd_error(res, 500, "internal error", "an unexpected answer from the database", NULL);
		return;
	}
	cJSON_DetachItemViaPointer(doc, next);
	if (next && cJSON_IsNumber(next))
	{
		char		cursor[64];

		hd_cursor_encode((int64_t) next->valuedouble, cursor, sizeof(cursor));
		cJSON_AddStringToObject(doc, "next_cursor", cursor);
		snprintf(res->link, sizeof(res->link), "<%s?cursor=%s&limit=%d%s%s>; rel=\"next\"",
				 path, cursor, limit, state ? "&state=" : "", state ? state : "");
	}
	else
		cJSON_AddNullToObject(doc, "next_cursor");
	cJSON_Delete(next);
	out = cJSON_PrintUnformatted(doc);
	cJSON_Delete(doc);
	free(res->body);
	res_body(res, 200, out, "application/json", CACHE_PAGES);
}

/* an optimization run: 202 and where to read its report */
static void
res_accepted(HdResult *res)
{
	cJSON	   *doc = cJSON_ParseWithLength(res->body, res->len);
	cJSON	   *run = doc ? cJSON_GetObjectItemCaseSensitive(doc, "run_id") : NULL;

	if (run && cJSON_IsNumber(run) && run->valuedouble >= 1)
	{
		char		cursor[64];

		hd_cursor_encode((int64_t) run->valuedouble - 1, cursor, sizeof(cursor));
		snprintf(res->location, sizeof(res->location),
				 "/api/v1/performance/history?cursor=%s&limit=1", cursor);
		res->status = 202;
	}
	res->cache_control = CACHE_CHANGE;
	cJSON_Delete(doc);
}

static bool
parse_bool(const char *s, const char **out)
{
	if (s == NULL)
		*out = "false";
	else if (strcmp(s, "true") == 0 || strcmp(s, "false") == 0)
		*out = s;
	else
		return false;
	return true;
}

void
hd_call(const HdRequest *req, HdResult *res)
{
	const char *params[3] = {NULL, NULL, NULL};
	char		a[32];
	char		b[32];
	bool		get = req->method == HD_METHOD_GET || req->method == HD_METHOD_HEAD;

	memset(res, 0, sizeof(*res));
	switch (req->route)
	{
		case HD_HEALTHZ:
			/* answered by the health thread on its own connection (handler.c), never here */
			hd_error(res, 500, "internal error", "perfopt-httpd: /healthz reached a call worker", NULL);
			return;
		case HD_STATUS:
			run_sql(res, req->role, true, SQL_STATUS, 0, NULL);
			return;
		case HD_DATABASE:
			run_sql(res, req->role, true, SQL_DATABASE, 0, NULL);
			return;
		case HD_API:
			run_sql(res, req->role, true, SQL_API, 0, NULL);
			return;
		case HD_METRICS:
			if (req->q_format && strcmp(req->q_format, "prometheus") == 0)
			{
				if (run_sql(res, req->role, true, SQL_PROMETHEUS, 0, NULL))
					res->content_type = "text/plain; version=0.0.4; charset=utf-8";
			}
			else if (req->q_format && strcmp(req->q_format, "json") != 0)
				hd_error(res, 400, "bad request", "format must be json or prometheus", NULL);
			else
				run_sql(res, req->role, true, SQL_METRICS, 0, NULL);
			return;
		case HD_RECOMMENDATIONS:
			if (run_sql(res, req->role, true,
SQL_RECOMMENDATIONS, 0, NULL))
				res->cache_control = CACHE_RECOMMENDATIONS;
			return;
		case HD_THRESHOLDS:
			if (get)
				run_sql(res, req->role, true, SQL_THRESHOLDS, 0, NULL);
			else
			{
				char		err[256];
				char	   *body;

				if (hd_check_json_object(req->body, req->body_len, err, sizeof(err)) != 0)
				{
					hd_error(res, 400, "bad request", err, NULL);
					return;
				}
				body = strndup(req->body, req->body_len);
				params[0] = body;
				if (run_sql(res, req->role, false, SQL_SET_THRESHOLDS, 1, params))
					res->cache_control = CACHE_CHANGE;
				free(body);
			}
			return;
		case HD_HISTORY:
		case HD_ALERTS:
			{
				int64_t		after = 0;
				int			limit = 50;
				bool		alerts = req->route == HD_ALERTS;

				if (req->q_limit && !hd_parse_limit(req->q_limit, &limit))
				{
					hd_error(res, 400, "bad request", "limit must be an integer from 1 to 1000", NULL);
					return;
				}
				if (req->q_cursor && !hd_cursor_decode(req->q_cursor, &after))
				{
					hd_error(res, 400, "bad request", "cursor is not one this server gave", NULL);
					return;
				}
				snprintf(a, sizeof(a), "%lld", (long long) after);
				snprintf(b, sizeof(b), "%d", limit);
				if (alerts)
				{
					params[0] = req->q_state;
					params[1] = a;
					params[2] = b;
				}
				else
				{
					params[0] = a;
					params[1] = b;
				}
				if (run_sql(res, req->role, true,
							alerts ? SQL_ALERTS_PAGE : SQL_HISTORY,
							alerts ? 3 : 2, params))
					res_page(res, hd_route_name(req->route), limit, alerts ? req->q_state : NULL);
			}
			return;
		case HD_ALERT_RESOLVE:
			snprintf(a, sizeof(a), "%lld", (long long) req->id);
			params[0] = a;
			if (run_sql(res, req->role, false, SQL_RESOLVE, 1, params))
				res->cache_control = CACHE_CHANGE;
			return;
		case HD_ALERTS_RESOLVE:
			{
				int64_t    *ids = NULL;
				int			n = 0;
				char		err[256];
				size_t		size;
				char	   *array;
				size_t		used;

				if (hd_parse_ids(req->body, req->body_len, hd_config.bulk_max, &ids, &n, err, sizeof(err)) != 0)
				{
					hd_error(res, 400, "bad request", err, NULL);
					return;
				}
				size = (size_t) n * 21 + 3;
				array = malloc(size);
				if (array == NULL)
				{
					free(ids);
					hd_error(res, 500, "internal error", "out of memory", NULL);
					return;
				}
				used = (size_t) snprintf(array, size, "{");
				for (int i = 0; i < n; i++)
					used += (size_t) snprintf(array + used, size - used, "%s%lld", i ? "," : "", (long long) ids[i]);
				snprintf(array + used, size - used, "}");
				params[0] = array;
				if (run_sql(res, req->role, false, SQL_RESOLVE_BULK, 1, params))
					res->cache_control = CACHE_CHANGE;
				free(array);
				free(ids);
			}
			return;
		case HD_OPTIMIZE:
		case HD_DATABASE_OPTIMIZE:
			if (!parse_bool(req->q_dry_run, &params[0]))
			{
				hd_error(res, 400, "bad request", "dry_run must be true or false", NULL);
				return;
			}
			if (run_sql(res, req->role, false,
						req->route == HD_OPTIMIZE ? SQL_OPTIMIZE : SQL_OPTIMIZE_DATABASE, 1, params))
				res_accepted(res);
			return;
		case HD_MONITORING_START:
			if (req->body_len > 0)
			{
				char		err[256];
				cJSON	   *doc;
				cJSON	   *iv;

				/* UTF-8, no NUL, no \u0000 (a key "interval_ms\u0000x" would read as "interval_ms") */
				if (hd_check_json_object(req->body, req->body_len, err, sizeof(err)) != 0)
				{
					hd_error(res, 400, "bad request", err, NULL);
					return;
				}
				doc = cJSON_ParseWithLength(req->body, req->body_len);
				iv = doc ? cJSON_GetObjectItemCaseSensitive(doc, "interval_ms") : NULL;

				/* in range before the cast: casting 1e300 to int is undefined */
				if (!cJSON_IsObject(doc) || cJSON_GetArraySize(doc) != 1 || !cJSON_IsNumber(iv) ||
					!(iv->valuedouble >= INT_MIN && iv->valuedouble <= INT_MAX) ||
					iv->valuedouble != (double) (int) iv->valuedouble)
				{
					cJSON_Delete(doc);
					hd_error(res, 400, "bad request", "the body must be {\"interval_ms\": <integer>} or empty", NULL);
					return;
				}
				snprintf(a, sizeof(a), "%d", (int) iv->valuedouble);
				cJSON_Delete(doc);
				params[0] = a;
				run_sql(res, req->role, false, SQL_START_INTERVAL, 1, params);
			}
			else
				run_sql(res, req->role, false, SQL_START, 0, NULL);
			res->cache_control = CACHE_CHANGE;
			return;
		case HD_MONITORING_STOP:
			run_sql(res, req->role, false, SQL_STOP, 0, NULL);
			res->cache_control = CACHE_CHANGE;
			return;
		case HD_PROMETHEUS:
			{
				char	   *own = NULL;
				size_t		own_len = 0;
				bool		up = run_sql(res, req->role, true, SQL_PROMETHEUS, 0, NULL);
				char	   *all;

				hd_stats_prometheus(&own, &own_len);
				all = malloc(own_len + (up ? res->len : 0) + 256);
				if (all == NULL)
				{
					free(own);
					hd_error(res, 500, "internal error", "out of memory", NULL);
					return;
				}
				/* the shim's own metrics always; the extension's when the database answers */
				snprintf(all, own_len + 256,
						 "%s# HELP perfopt_http_backend_up 1 when the database answered this scrape.\n"
						 "# TYPE perfopt_http_backend_up gauge\nperfopt_http_backend_up %d\n",
						 own ? own : "", up ? 1 : 0);
				if (up && res->body)
					strcat(all, res->body);
				free(own);
				free(res->body);
				res->body = NULL;
				res_body(res, 200, all, "text/plain; version=0.0.4; charset=utf-8", CACHE_LIVE);
			}
			return;
		case HD_ROUTE_NONE:
			break;
	}
	hd_error(res, 404, "not found", "no such route", NULL);
}
