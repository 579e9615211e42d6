/*
 * httpd.h — perfopt-httpd's parts: configuration (main.c), the libpq
 * connection pool (pool.c), the request handler (handler.c), the calls
 * that map routes onto perfopt's SQL functions (calls.c), and the shim's
 * own metrics and rate limits (stats.c).
 *
 * The shim decides nothing: every route calls perfopt's SQL function, as
 * the token's database role, and PostgreSQL's privileges are the
 * authorization.
 */
#ifndef PERFOPT_HTTPD_H
#define PERFOPT_HTTPD_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "body.h"
#include "bucket.h"
#include "caching.h"
#include "errors.h"
#include "params.h"
#include "routes.h"
#include "sql.h"
#include "text.h"
#include "timearg.h"
#include "tokens.h"

/* request bodies above this are refused (413) */
#define HD_MAX_BODY (64 * 1024)
/* a TLS certificate or key file larger than this is refused */
#define HD_PEM_MAX (64 * 1024)

/* responses above this are gzipped when the client accepts it */
#define HD_GZIP_MIN 1024

typedef struct HdConfig
{
	char	   *listen_host;	/* 127.0.0.1 */
	int			listen_port;	/* 3000 */
	char	   *conninfo;		/* the authenticator role's connection */
	char	   *tokens_path;
	char	   *tls_cert_path;	/* HTTPS when both are given */
	char	   *tls_key_path;
	int			pool_size;		/* database connections */
	int			threads;		/* HTTP threads (calls run on pool_size workers) */
	int			statement_timeout_ms;	/* per request */
	int			bulk_max;		/* ids in one bulk resolve */
	int			connection_timeout_s;	/* idle or slow clients */
	double		read_rate;		/* per token, requests per second */
	double		read_burst;
	double		write_rate;		/* per token, state-changing routes */
	double		write_burst;
	double		anon_rate;		/* per client address, without a token */
	double		anon_burst;
	int			drain_s;		/* SIGTERM: longest wait for requests in flight */
	int			health_timeout_ms;	/* /healthz answers within this */
	int			per_address_connections;	/* HTTP connections from one client address */
} HdConfig;

extern HdConfig hd_config;

/* ---- pool.c ---- */

typedef struct HdConn
{
	PGconn	   *conn;
	bool		in_use;
	char	   *schema;			/* the extension's, quoted (PQfreemem); NULL: not installed */
} HdConn;

extern int	hd_pool_init(int size, const char *conninfo, int statement_timeout_ms, int health_timeout_ms);
/*
 * A connection that answers, idle, with the extension's schema looked up
 * (schema NULL: not installed); NULL when PostgreSQL is down (or none is
 * free).
 */
extern HdConn *hd_pool_get(void);
/* look the schema up again before the next use (the extension was dropped?) */
extern void hd_pool_forget_schema(HdConn *c);
/* broken: the connection is closed and reopened before its next use */
extern void hd_pool_put(HdConn *c, bool broken);
extern void hd_pool_counts(int *in_use, int *size);
extern void hd_pool_close(void);
/*
 * The health check on its own connection, within timeout_ms: 200, or 503
 * with why in detail.  One caller at a time (the health thread).
 */
extern int	hd_health_probe(int timeout_ms, char *detail, size_t size);

/* ---- calls.c ---- */

/* what a call produced: a body (malloc'd) and its type, or an error */
typedef struct HdResult
{
	int			status;			/* HTTP status */
	char	   *body;			/* malloc'd; JSON unless content_type says otherwise */
	size_t		len;
	const char *content_type;
	const char *cache_control;
	char		location[256];	/* for 202 */
	char		link[512];		/* Link: <...>; rel="next" */
	char		sqlstate[6];
	bool		vary_accept;	/* Vary: Accept too (the body depends on it) */
} HdResult;

typedef struct HdRequest
{
	HdRoute		route;
	int			method;			/* HD_METHOD_* */
	int64_t		id;				/* alerts/{id}/resolve */
	const char *role;			/* from the token; NULL for /healthz */
	const char *body;
	size_t		body_len;
	/* query-string arguments (NULL when absent) */
	const char *q_limit;
	const char *q_cursor;
	const char *q_state;
	const char *q_dry_run;
	const char *q_format;
	const char *q_from;
	const char *q_to;
	const char *q_step;
	const char *q_points;
	const char *accept;			/* the Accept header (NULL when absent) */
} HdRequest;

extern void hd_call(const HdRequest *req, HdResult *res);
/* /healthz's answer from a probe's status and detail (hd_health_probe) */
extern void hd_health_result(HdResult *res, int status, const char *detail);
/* a JSON error body into res */
extern void hd_error(HdResult *res, int status, const char *error, const char *detail,
					 const char *sqlstate);

/* ---- stats.c ---- */

extern void hd_stats_init(void);
extern void hd_stats_request(HdRoute route, int status, double seconds);
/* the shim's own exposition, appended to a malloc'd buffer */
extern void hd_stats_prometheus(char **buf, size_t *len);
/* rate limits: false and *retry_after when the key is out of tokens */
extern bool hd_limit(const char *key, bool write, bool anonymous, int *retry_after);

/* ---- handler.c ---- */

struct MHD_Connection;
extern int	hd_tokens_load(const char *path, char *err, size_t errsize);
extern void hd_requests_in_flight(int *n);

#endif							/* PERFOPT_HTTPD_H */
