/*
 * calls.c — a request as its route's row (routes.c) says: the arguments
 * checked and made parameters, the call of perfopt's SQL function run in
 * one transaction as the token's role (SET LOCAL ROLE; READ ONLY for
 * reads; statement_timeout and search_path pg_catalog, pg_temp are the
 * session's own, pool.c), with the SQLSTATE of a failure mapped to
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
 * message only when perfopt's own code raised it (hd_error_is_perfopt: its
 * source file is one of perfopt's).  Other
 * messages may quote row values and stay in the server's log; the shim
 * logs none.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "httpd.h"

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
	res_body(res, status, body, "application/json", HD_CACHE_CHANGE);
	snprintf(res->sqlstate, sizeof(res->sqlstate), "%.5s", sqlstate ? sqlstate : "");
}

void
hd_health_result(HdResult *res, int status, const char *detail)
{
	memset(res, 0, sizeof(*res));
	if (status == 200)
		res_body(res, 200, strdup("{\"status\": \"ok\"}"), "application/json", HD_CACHE_LIVE);
	else
		hd_error(res, 503, "unavailable", detail, NULL);
	res->cache_control = HD_CACHE_LIVE;
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
	const char *source_file = r ? PQresultErrorField(r, PG_DIAG_SOURCE_FILE) : NULL;
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
	if (!setup && message != NULL && hd_error_is_perfopt(source_file, PERFOPT_MESSAGE_FILES))
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
	text = qrole ? hd_sql_request(read_only, qrole, call) : NULL;
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
		res_body(res, 200, x.value, "application/json", HD_CACHE_LIVE);
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

/*
 * {"items": [...], "next_after" or "next_before": n} -> {"items": [...],
 * "next_cursor": "..."}, Link; the cursor says n either way (the route
 * knows which way it pages)
 */
static void
res_page(HdResult *res, const char *path, int limit, const char *state)
{
	cJSON	   *doc = cJSON_ParseWithLength(res->body, res->len);
	cJSON	   *next = NULL;
	char	   *out;

	if (doc)
	{
		next = cJSON_GetObjectItemCaseSensitive(doc, "next_after");
		if (next == NULL)
			next = cJSON_GetObjectItemCaseSensitive(doc, "next_before");
	}

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
	res_body(res, 200, out, res->content_type, res->cache_control);
}

/* an optimization run: 202 and where to read its report */
static void
res_accepted(HdResult *res)
{
	cJSON	   *doc = cJSON_ParseWithLength(res->body, res->len);
	cJSON	   *run = doc ? cJSON_GetObjectItemCaseSensitive(doc, "run_id") : NULL;

	/* the history pages newest first: the page before run_id + 1 starts with it */
	if (run && cJSON_IsNumber(run) && run->valuedouble >= 1 && run->valuedouble < 9e18)
	{
		char		cursor[64];

		hd_cursor_encode((int64_t) run->valuedouble + 1, cursor, sizeof(cursor));
		snprintf(res->location, sizeof(res->location),
				 "/api/v1/performance/history?cursor=%s&limit=1", cursor);
		res->status = 202;
	}
	cJSON_Delete(doc);
}

/* the monitoring/start body, {"interval_ms": n} as n in out; false with res set */
static bool
interval_arg(const HdRequest *req, HdResult *res, char *out, size_t size)
{
	char		err[256];
	cJSON	   *doc;
	cJSON	   *iv;

	/* UTF-8, no NUL, no \u0000 (a key "interval_ms\u0000x" would read as "interval_ms") */
	if (hd_check_json_object(req->body, req->body_len, err, sizeof(err)) != 0)
	{
		hd_error(res, 400, "bad request", err, NULL);
		return false;
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
		return false;
	}
	snprintf(out, size, "%d", (int) iv->valuedouble);
	cJSON_Delete(doc);
	return true;
}

/* the bulk resolve body as an int8[] literal's text, malloc'd into *out; false with res set */
static bool
ids_arg(const HdRequest *req, HdResult *res, char **out)
{
	int64_t    *ids = NULL;
	int			n = 0;
	char		err[256];
	size_t		size;
	size_t		used;
	char	   *array;

	if (hd_parse_ids(req->body, req->body_len, hd_config.bulk_max, &ids, &n, err, sizeof(err)) != 0)
	{
		hd_error(res, 400, "bad request", err, NULL);
		return false;
	}
	size = (size_t) n * 21 + 3;
	array = malloc(size);
	if (array == NULL)
	{
		free(ids);
		hd_error(res, 500, "internal error", "out of memory", NULL);
		return false;
	}
	used = (size_t) snprintf(array, size, "{");
	for (int i = 0; i < n; i++)
		used += (size_t) snprintf(array + used, size - used, "%s%lld", i ? "," : "", (long long) ids[i]);
	snprintf(array + used, size - used, "}");
	free(ids);
	*out = array;
	return true;
}

/* /metrics: the shim's own metrics always, the extension's when the database answered */
static void
res_exposition(HdResult *res, bool up)
{
	char	   *own = NULL;
	size_t		own_len = 0;
	char	   *all;
	size_t		size;
	size_t		len;

	hd_stats_prometheus(&own, &own_len);
	size = own_len + (up ? res->len : 0) + 256;
	all = malloc(size);
	if (all == NULL)
	{
		free(own);
		hd_error(res, 500, "internal error", "out of memory", NULL);
		return;
	}
	len = (size_t) snprintf(all, size,
							"%s# HELP perfopt_http_backend_up 1 when the database answered this scrape.\n"
							"# TYPE perfopt_http_backend_up gauge\nperfopt_http_backend_up %d\n",
							own ? own : "", up ? 1 : 0);
	if (up && res->body)
	{
		memcpy(all + len, res->body, res->len + 1);
		len += res->len;
	}
	free(own);
	free(res->body);
	res->body = all;
	res->len = len;
	res->status = 200;
}

/*
 * One request, as its route's row says: the arguments checked and made
 * the call's parameters, the call as the token's role, and the answer
 * shaped (a page, 202, the exposition).
 */
void
hd_call(const HdRequest *req, HdResult *res)
{
	const HdRouteDef *def = hd_route_def(req->route, req->method);
	const char *params[4] = {NULL, NULL, NULL, NULL};
	HdRangeArgs range;
	int			nparams = 0;
	const char *sql;
	const char *type;
	char		a[32];
	char		b[32];
	char	   *owned = NULL;
	int			limit = 50;
	bool		ok;

	memset(res, 0, sizeof(*res));
	if (def == NULL)
	{
		hd_error(res, 404, "not found", "no such route", NULL);
		return;
	}
	if (def->answer == HD_ANSWER_HEALTH)
	{
		/* answered by the health thread on its own connection (handler.c), never here */
		hd_error(res, 500, "internal error", "perfopt-httpd: /healthz reached a call worker", NULL);
		return;
	}
	if (def->answer == HD_ANSWER_REDIRECT || def->answer == HD_ANSWER_ASSET)
	{
		/* the dashboard's files: answered by handler.c, never here */
		hd_error(res, 500, "internal error", "perfopt-httpd: a dashboard file reached a call worker", NULL);
		return;
	}
	sql = def->sql;
	type = def->content_type;

	switch (def->args)
	{
		case HD_ARGS_NONE:
			break;
		case HD_ARGS_AFTER_PAGE:
		case HD_ARGS_NEWEST_PAGE:
		case HD_ARGS_NEWEST_STATE_PAGE:
			{
				int64_t		key = 0;
				const char *names;

				if (req->q_limit && !hd_parse_limit(req->q_limit, &limit))
				{
					hd_error(res, 400, "bad request", "limit must be an integer from 1 to 1000", NULL);
					return;
				}
				if (req->q_cursor && !hd_cursor_decode(req->q_cursor, &key))
				{
					hd_error(res, 400, "bad request", "cursor is not one this server gave", NULL);
					return;
				}
				if (def->args == HD_ARGS_NEWEST_STATE_PAGE && req->q_state &&
					!hd_route_state_valid(def->route, req->q_state, &names))
				{
					char		msg[128];

					snprintf(msg, sizeof(msg), "state must be %s", names);
					hd_error(res, 400, "bad request", msg, NULL);
					return;
				}
				snprintf(a, sizeof(a), "%lld", (long long) key);
				snprintf(b, sizeof(b), "%d", limit);
				/* newest first without a cursor: from the newest (NULL) */
				params[nparams++] = def->args == HD_ARGS_AFTER_PAGE || req->q_cursor ? a : NULL;
				params[nparams++] = b;
				if (def->args == HD_ARGS_NEWEST_STATE_PAGE)
					params[nparams++] = req->q_state;
			}
			break;
		case HD_ARGS_LIMIT:
			limit = 1000;
			if (req->q_limit && !hd_parse_limit(req->q_limit, &limit))
			{
				hd_error(res, 400, "bad request", "limit must be an integer from 1 to 1000", NULL);
				return;
			}
			snprintf(a, sizeof(a), "%d", limit);
			params[nparams++] = a;
			break;
		case HD_ARGS_ID:
			snprintf(a, sizeof(a), "%lld", (long long) req->id);
			params[nparams++] = a;
			break;
		case HD_ARGS_IDS:
			if (!ids_arg(req, res, &owned))
				return;
			params[nparams++] = owned;
			break;
		case HD_ARGS_OBJECT:
			{
				char		err[256];

				if (hd_check_json_object(req->body, req->body_len, err, sizeof(err)) != 0)
				{
					hd_error(res, 400, "bad request", err, NULL);
					return;
				}
				owned = strndup(req->body, req->body_len);
				params[nparams++] = owned;
			}
			break;
		case HD_ARGS_DRY_RUN:
			if (req->q_dry_run == NULL)
				params[nparams++] = "false";
			else if (strcmp(req->q_dry_run, "true") == 0 || strcmp(req->q_dry_run, "false") == 0)
				params[nparams++] = req->q_dry_run;
			else
			{
				hd_error(res, 400, "bad request", "dry_run must be true or false", NULL);
				return;
			}
			break;
		case HD_ARGS_INTERVAL:
			if (req->body_len > 0)
			{
				if (!interval_arg(req, res, a, sizeof(a)))
					return;
				params[nparams++] = a;
				sql = def->sql_alt;
				type = def->content_type_alt;
			}
			break;
		case HD_ARGS_FORMAT:
			/* ?format= decides; without it, an Accept that asks for text/plain */
			if ((req->q_format && strcmp(req->q_format, "prometheus") == 0) ||
				(req->q_format == NULL && hd_prefers_exposition(req->accept)))
			{
				sql = def->sql_alt;
				type = def->content_type_alt;
			}
			else if (req->q_format && strcmp(req->q_format, "json") != 0)
			{
				hd_error(res, 400, "bad request", "format must be json or prometheus", NULL);
				return;
			}
			break;
		case HD_ARGS_TIME_RANGE:
			{
				char		err[256];

				if (hd_range_args(req->q_from, req->q_to, req->q_step, req->q_points,
								  &range, err, sizeof(err)) != 0)
				{
					hd_error(res, 400, "bad request", err, NULL);
					return;
				}
				params[nparams++] = range.from[0] ? range.from : NULL;
				params[nparams++] = range.to[0] ? range.to : NULL;
				params[nparams++] = range.points;
				params[nparams++] = range.step[0] ? range.step : NULL;
			}
			break;
	}

	ok = run_sql(res, req->role, def->read_only, sql, nparams, params);
	free(owned);
	if (ok)
	{
		res->content_type = type;
		res->cache_control = def->cache_control;
	}
	/* the representation depends on Accept too */
	res->vary_accept = def->args == HD_ARGS_FORMAT;
	switch (def->answer)
	{
		case HD_ANSWER_PAGE:
			if (ok)
				res_page(res, def->path, limit,
						 def->args == HD_ARGS_NEWEST_STATE_PAGE ? req->q_state : NULL);
			break;
		case HD_ANSWER_ACCEPTED:
			if (ok)
				res_accepted(res);
			break;
		case HD_ANSWER_EXPOSITION:
			res_exposition(res, ok);
			res->content_type = type;
			res->cache_control = def->cache_control;
			break;
		case HD_ANSWER_VALUE:
		case HD_ANSWER_HEALTH:
		case HD_ANSWER_REDIRECT:
		case HD_ANSWER_ASSET:
			break;
	}
}
