/*
 * calls.c — each route of perfopt-httpd as the SQL call DESIGN.md names,
 * run in one transaction as the token's role (SET LOCAL ROLE; READ ONLY
 * for reads; the per-request statement_timeout), with the SQLSTATE of a
 * failure mapped to an HTTP status.  Pages of history and alerts get an
 * opaque cursor and a Link header; optimization runs answer 202 with a
 * Location to follow.
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

/* a failed PGresult (or connection) as the JSON error */
static void
res_pg_error(HdResult *res, PGconn *conn, PGresult *r, bool setup)
{
	const char *sqlstate = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	const char *message = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	int			status;

	if (PQstatus(conn) != CONNECTION_OK)
	{
		hd_error(res, 503, "unavailable", "the connection to the database was lost", sqlstate ? sqlstate : "08006");
		return;
	}
	status = hd_status_for_sqlstate(sqlstate);
	/* the token's role itself is wrong: the shim's configuration, not the caller's input */
	if (setup && status != 403 && status != 503)
		status = 500;
	if (status == 500)
		hd_error(res, 500, "internal error", "see the server log", NULL);
	else
		hd_error(res, status,
				 status == 403 ? "forbidden" : status == 404 ? "not found" :
				 status == 409 ? "conflict" : status == 503 ? "unavailable" : "bad request",
				 message, sqlstate);
}

/* sql with $1..$n replaced by the parameters as quoted literals; malloc'd */
static char *
inline_params(PGconn *conn, const char *sql, int nparams, const char *const *params)
{
	size_t		cap = strlen(sql) + 1;
	char	   *lits[3] = {NULL, NULL, NULL};
	char	   *out;
	size_t		len = 0;

	for (int i = 0; i < nparams && i < 3; i++)
	{
		lits[i] = params[i] ? PQescapeLiteral(conn, params[i], strlen(params[i])) : NULL;
		cap += lits[i] ? strlen(lits[i]) : 4;
	}
	out = malloc(cap * 2);
	if (out == NULL)
		goto done;
	for (const char *p = sql; *p; p++)
	{
		if (p[0] == '$' && p[1] >= '1' && p[1] <= '3' && p[1] - '1' < nparams)
		{
			const char *lit = lits[p[1] - '1'] ? lits[p[1] - '1'] : "NULL";

			memcpy(out + len, lit, strlen(lit));
			len += strlen(lit);
			p++;
		}
		else
			out[len++] = *p;
	}
	out[len] = '\0';
done:
	for (int i = 0; i < 3; i++)
		if (lits[i])
			PQfreemem(lits[i]);
	return out;
}

/*
 * Run sql (one row, one column, as text) in a transaction as role, in one
 * round trip: BEGIN [READ ONLY]; SET LOCAL ROLE; SET LOCAL
 * statement_timeout; the call; COMMIT, as one simple query (parameters
 * inlined as quoted literals).  role NULL: no role change (health check).
 * On success res->body is the value.
 */
static bool
run_sql(HdResult *res, const char *role, bool read_only, const char *sql,
		int nparams, const char *const *params)
{
	HdConn	   *c = hd_pool_get();
	PGresult   *r;
	PGresult   *error = NULL;
	char	   *value = NULL;
	char	   *call;
	char	   *text;
	char	   *qrole = NULL;
	size_t		size;
	int			step = 0;
	int			error_step = 0;
	bool		ok = false;

	if (c == NULL)
	{
		hd_error(res, 503, "unavailable", "the database does not answer", NULL);
		return false;
	}
	call = inline_params(c->conn, sql, nparams, params);
	if (role)
		qrole = PQescapeIdentifier(c->conn, role, strlen(role));
	size = (call ? strlen(call) : 0) + (qrole ? strlen(qrole) : 0) + 256;
	text = malloc(size);
	if (call == NULL || text == NULL || (role && qrole == NULL))
	{
		free(call);
		free(text);
		PQfreemem(qrole);
		hd_pool_put(c, false);
		hd_error(res, 500, "internal error", "out of memory", NULL);
		return false;
	}
	snprintf(text, size, "BEGIN%s; %s%s%sSET LOCAL statement_timeout = %d; %s; COMMIT",
			 read_only ? " READ ONLY" : "", role ? "SET LOCAL ROLE " : "", role ? qrole : "",
			 role ? "; " : "", hd_config.statement_timeout_ms, call);
	free(call);
	PQfreemem(qrole);

	/* the results in order: BEGIN, [SET ROLE,] SET, the call, COMMIT */
	if (PQsendQuery(c->conn, text))
	{
		while ((r = PQgetResult(c->conn)) != NULL)
		{
			step++;
			if (PQresultStatus(r) == PGRES_TUPLES_OK && value == NULL && error == NULL)
			{
				if (PQntuples(r) == 1 && PQnfields(r) == 1)
					value = PQgetisnull(r, 0, 0) ? strdup("null") : strdup(PQgetvalue(r, 0, 0));
				PQclear(r);
			}
			else if (PQresultStatus(r) == PGRES_FATAL_ERROR && error == NULL)
			{
				error = r;
				error_step = step;
			}
			else
				PQclear(r);
		}
	}
	free(text);
	if (error == NULL && value != NULL && PQtransactionStatus(c->conn) == PQTRANS_IDLE)
	{
		res_body(res, 200, value, "application/json", CACHE_LIVE);
		ok = true;
	}
	else
	{
		free(value);
		/* an error before the call (the role, the timeout) is the shim's configuration */
		res_pg_error(res, c->conn, error, error != NULL && error_step < (role ? 4 : 3));
	}
	PQclear(error);
	if (!ok && PQstatus(c->conn) == CONNECTION_OK &&
		PQtransactionStatus(c->conn) != PQTRANS_IDLE)
		PQclear(PQexec(c->conn, "ROLLBACK"));
	hd_pool_put(c, PQstatus(c->conn) != CONNECTION_OK ||
				PQtransactionStatus(c->conn) != PQTRANS_IDLE);
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
			if (run_sql(res, NULL, true, "SELECT 1", 0, NULL))
			{
				free(res->body);
				res->body = NULL;
				res_body(res, 200, strdup("{\"status\": \"ok\"}"), "application/json", CACHE_LIVE);
			}
			else
				hd_error(res, 503, "unavailable", "the database does not answer", NULL);
			return;
		case HD_STATUS:
			run_sql(res, req->role, true, "SELECT perfopt_status()::text", 0, NULL);
			return;
		case HD_DATABASE:
			run_sql(res, req->role, true, "SELECT perfopt_database_metrics()::text", 0, NULL);
			return;
		case HD_API:
			run_sql(res, req->role, true, "SELECT perfopt_api_metrics()::text", 0, NULL);
			return;
		case HD_METRICS:
			if (req->q_format && strcmp(req->q_format, "prometheus") == 0)
			{
				if (run_sql(res, req->role, true, "SELECT perfopt_metrics_prometheus()", 0, NULL))
					res->content_type = "text/plain; version=0.0.4; charset=utf-8";
			}
			else if (req->q_format && strcmp(req->q_format, "json") != 0)
				hd_error(res, 400, "bad request", "format must be json or prometheus", NULL);
			else
				run_sql(res, req->role, true, "SELECT perfopt_metrics()::text", 0, NULL);
			return;
		case HD_RECOMMENDATIONS:
			if (run_sql(res, req->role, true,
						"SELECT coalesce(jsonb_agg(to_jsonb(r) ORDER BY r.id), '[]')::text"
						" FROM perfopt_recommendations r", 0, NULL))
				res->cache_control = CACHE_RECOMMENDATIONS;
			return;
		case HD_THRESHOLDS:
			if (get)
				run_sql(res, req->role, true, "SELECT perfopt_thresholds()::text", 0, NULL);
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
				if (run_sql(res, req->role, false, "SELECT perfopt_set_thresholds($1::jsonb)::text", 1, params))
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
							alerts ? "SELECT perfopt_alerts_page($1, $2::bigint, $3::int)::text"
							: "SELECT perfopt_history($1::bigint, $2::int)::text",
							alerts ? 3 : 2, params))
					res_page(res, hd_route_name(req->route), limit, alerts ? req->q_state : NULL);
			}
			return;
		case HD_ALERT_RESOLVE:
			snprintf(a, sizeof(a), "%lld", (long long) req->id);
			params[0] = a;
			if (run_sql(res, req->role, false, "SELECT perfopt_resolve_alert($1::bigint)::text", 1, params))
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
				if (run_sql(res, req->role, false, "SELECT perfopt_resolve_alerts($1::bigint[])::text", 1, params))
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
						req->route == HD_OPTIMIZE ? "SELECT perfopt_optimize($1::boolean)::text"
						: "SELECT perfopt_optimize_database($1::boolean)::text", 1, params))
				res_accepted(res);
			return;
		case HD_MONITORING_START:
			if (req->body_len > 0)
			{
				cJSON	   *doc = cJSON_ParseWithLength(req->body, req->body_len);
				cJSON	   *iv = doc ? cJSON_GetObjectItemCaseSensitive(doc, "interval_ms") : NULL;

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
				run_sql(res, req->role, false, "SELECT perfopt_start_monitoring($1::int)::text", 1, params);
			}
			else
				run_sql(res, req->role, false, "SELECT perfopt_start_monitoring()::text", 0, NULL);
			res->cache_control = CACHE_CHANGE;
			return;
		case HD_MONITORING_STOP:
			run_sql(res, req->role, false, "SELECT perfopt_stop_monitoring()::text", 0, NULL);
			res->cache_control = CACHE_CHANGE;
			return;
		case HD_PROMETHEUS:
			{
				char	   *own = NULL;
				size_t		own_len = 0;
				bool		up = run_sql(res, req->role, true, "SELECT perfopt_metrics_prometheus()", 0, NULL);
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
