/*
 * calls.c — a request as its route's row (routes.c) says: the arguments
 * checked and made parameters, the call of perfopt's SQL function run in
 * one transaction as the token's role (SET LOCAL ROLE;
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

void
hd_exchange_add(HdExchange *x, PGresult *r)
{
	x->steps++;
	if (PQresultStatus(r) == PGRES_FATAL_ERROR && x->error == NULL)
	{
		x->error = r;
		x->error_step = x->steps;
		return;
	}
	if (x->steps == x->want && x->value == NULL && PQresultStatus(r) == PGRES_TUPLES_OK &&
		PQntuples(r) == 1 && PQnfields(r) == 1)
		x->value = PQgetisnull(r, 0, 0) ? strdup("null") : strdup(PQgetvalue(r, 0, 0));
	PQclear(r);
}

void
hd_exchange_clear(HdExchange *x)
{
	PQclear(x->error);
	free(x->value);
	memset(x, 0, sizeof(*x));
}

bool
hd_reset_ok(PGconn *conn, const HdExchange *x)
{
	return x->error == NULL && x->steps == HD_SQL_ROLLBACK_RESET_STEPS &&
		PQstatus(conn) == CONNECTION_OK && PQtransactionStatus(conn) == PQTRANS_IDLE;
}

char *
hd_call_sql(HdCall *call, HdConn *c, const char *role, HdResult *res)
{
	char	   *text = NULL;
	char	   *qrole;
	int			rc = hd_sql_call(call->sql, c->schema, call->nparams, call->params, quote_literal,
								 release_literal, c->conn, &text);

	if (rc == -1)
	{
		hd_error(res, 400, "bad request", "perfopt-httpd: a parameter is not valid text", NULL);
		return NULL;
	}
	if (rc != 0)
	{
		hd_error(res, 500, "internal error", "perfopt-httpd: out of memory", NULL);
		return NULL;
	}
	qrole = PQescapeIdentifier(c->conn, role, strlen(role));
	if (qrole != NULL)
	{
		char	   *sql = hd_sql_request(call->def->read_only, qrole, hd_config.statement_timeout_ms, text);

		PQfreemem(qrole);
		free(text);
		text = sql;
	}
	else
	{
		free(text);
		text = NULL;
	}
	if (text == NULL)
		hd_error(res, 500, "internal error", "perfopt-httpd: out of memory", NULL);
	return text;
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
	res_body(res, 200, out, res->content_type, res->cache_control);
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

bool
hd_call_prepare(const HdRequest *req, HdCall *call, HdResult *res)
{
	const HdRouteDef *def = hd_route_def(req->route, req->method);

	memset(call, 0, sizeof(*call));
	memset(res, 0, sizeof(*res));
	call->limit = 50;
	if (def == NULL)
	{
		hd_error(res, 404, "not found", "no such route", NULL);
		return false;
	}
	if (def->answer == HD_ANSWER_HEALTH)
	{
		/* answered by the health thread on its own connection, never by a call */
		hd_error(res, 500, "internal error", "perfopt-httpd: /healthz reached a call", NULL);
		return false;
	}
	call->def = def;
	call->sql = def->sql;
	call->content_type = def->content_type;

	switch (def->args)
	{
		case HD_ARGS_NONE:
			break;
		case HD_ARGS_HISTORY_PAGE:
		case HD_ARGS_ALERTS_PAGE:
			{
				int64_t		after = 0;

				if (req->q_limit && !hd_parse_limit(req->q_limit, &call->limit))
				{
					hd_error(res, 400, "bad request", "limit must be an integer from 1 to 1000", NULL);
					return false;
				}
				if (req->q_cursor && !hd_cursor_decode(req->q_cursor, &after))
				{
					hd_error(res, 400, "bad request", "cursor is not one this server gave", NULL);
					return false;
				}
				snprintf(call->a, sizeof(call->a), "%lld", (long long) after);
				snprintf(call->b, sizeof(call->b), "%d", call->limit);
				if (def->args == HD_ARGS_ALERTS_PAGE)
					call->params[call->nparams++] = req->q_state;
				call->params[call->nparams++] = call->a;
				call->params[call->nparams++] = call->b;
			}
			break;
		case HD_ARGS_ID:
			snprintf(call->a, sizeof(call->a), "%lld", (long long) req->id);
			call->params[call->nparams++] = call->a;
			break;
		case HD_ARGS_IDS:
			if (!ids_arg(req, res, &call->owned))
				return false;
			call->params[call->nparams++] = call->owned;
			break;
		case HD_ARGS_OBJECT:
			{
				char		err[256];

				if (hd_check_json_object(req->body, req->body_len, err, sizeof(err)) != 0)
				{
					hd_error(res, 400, "bad request", err, NULL);
					return false;
				}
				call->owned = strndup(req->body, req->body_len);
				if (call->owned == NULL)
				{
					hd_error(res, 500, "internal error", "out of memory", NULL);
					return false;
				}
				call->params[call->nparams++] = call->owned;
			}
			break;
		case HD_ARGS_DRY_RUN:
			if (req->q_dry_run == NULL)
				call->params[call->nparams++] = "false";
			else if (strcmp(req->q_dry_run, "true") == 0 || strcmp(req->q_dry_run, "false") == 0)
				call->params[call->nparams++] = req->q_dry_run;
			else
			{
				hd_error(res, 400, "bad request", "dry_run must be true or false", NULL);
				return false;
			}
			break;
		case HD_ARGS_INTERVAL:
			if (req->body_len > 0)
			{
				if (!interval_arg(req, res, call->a, sizeof(call->a)))
					return false;
				call->params[call->nparams++] = call->a;
				call->sql = def->sql_alt;
				call->content_type = def->content_type_alt;
			}
			break;
		case HD_ARGS_FORMAT:
			if (req->q_format && strcmp(req->q_format, "prometheus") == 0)
			{
				call->sql = def->sql_alt;
				call->content_type = def->content_type_alt;
			}
			else if (req->q_format && strcmp(req->q_format, "json") != 0)
			{
				hd_error(res, 400, "bad request", "format must be json or prometheus", NULL);
				return false;
			}
			break;
	}
	return true;
}

void
hd_call_release(HdCall *call)
{
	free(call->owned);
	call->owned = NULL;
}

/* the answer a call's row asks for, once its value (ok) or its error is in res */
static void
shape(const HdRequest *req, HdCall *call, HdResult *res, bool ok)
{
	const HdRouteDef *def = call->def;

	if (ok)
	{
		res->content_type = call->content_type;
		res->cache_control = def->cache_control;
	}
	switch (def->answer)
	{
		case HD_ANSWER_PAGE:
			if (ok)
				res_page(res, def->path, call->limit, def->args == HD_ARGS_ALERTS_PAGE ? req->q_state : NULL);
			break;
		case HD_ANSWER_ACCEPTED:
			if (ok)
				res_accepted(res);
			break;
		case HD_ANSWER_EXPOSITION:
			res_exposition(res, ok);
			res->content_type = call->content_type;
			res->cache_control = def->cache_control;
			break;
		case HD_ANSWER_VALUE:
		case HD_ANSWER_HEALTH:
			break;
	}
}

/*
 * The results of a request's round trip (hd_sql_request): the call's
 * value, or the first error mapped to a status.  A call that committed
 * succeeded, and a reset that failed after it only costs the connection;
 * a failed one needs its transaction rolled back and the session reset.
 * The row's answer is shaped either way (/metrics answers without the
 * database).
 */
HdAfter
hd_call_finish(const HdRequest *req, HdCall *call, HdConn *c, HdExchange *x, HdResult *res)
{
	HdAfter		after;
	bool		ok;

	memset(res, 0, sizeof(*res));
	if (x->value != NULL && (x->error == NULL || x->error_step > HD_STEP_COMMIT))
	{
		res_body(res, 200, x->value, "application/json", HD_CACHE_LIVE);
		x->value = NULL;
		ok = true;
		after = x->error != NULL || x->steps != HD_REQUEST_STEPS ||
			PQstatus(c->conn) != CONNECTION_OK || PQtransactionStatus(c->conn) != PQTRANS_IDLE ?
			HD_AFTER_CLOSE : HD_AFTER_IDLE;
	}
	else
	{
		const char *sqlstate = x->error ? PQresultErrorField(x->error, PG_DIAG_SQLSTATE) : NULL;

		res_pg_error(res, c->conn, x->error, x->error != NULL && x->error_step < HD_STEP_CALL);
		/* the schema is gone (the extension was dropped, or moved): look again next time */
		if (sqlstate && (strcmp(sqlstate, "3F000") == 0 || strcmp(sqlstate, "42883") == 0 ||
						 strcmp(sqlstate, "42P01") == 0) && c->schema != NULL)
		{
			PQfreemem(c->schema);
			c->schema = NULL;
		}
		ok = false;
		after = PQstatus(c->conn) == CONNECTION_OK ? HD_AFTER_RESET : HD_AFTER_CLOSE;
	}
	hd_exchange_clear(x);
	shape(req, call, res, ok);
	hd_call_release(call);
	return after;
}

void
hd_call_failed(const HdRequest *req, HdCall *call, HdResult *res)
{
	shape(req, call, res, false);
	hd_call_release(call);
}
