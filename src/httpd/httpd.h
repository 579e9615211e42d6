/*
 * httpd.h — perfopt-httpd's parts: configuration (main.c), the event
 * threads (loop.c), the libpq connections (pool.c), the request handler
 * (handler.c), the calls that map routes onto perfopt's SQL functions
 * (calls.c), and the shim's own metrics and rate limits (stats.c).
 *
 * The shim decides nothing: every route calls perfopt's SQL function, as
 * the token's database role, and PostgreSQL's privileges are the
 * authorization.
 */
#ifndef PERFOPT_HTTPD_H
#define PERFOPT_HTTPD_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <libpq-fe.h>

#include "body.h"
#include "bucket.h"
#include "caching.h"
#include "errors.h"
#include "params.h"
#include "routes.h"
#include "sql.h"
#include "text.h"
#include "tokens.h"

/* open HTTP connections, of every thread; one address gets at most --per-address-connections */
#define HD_MAX_CONNECTIONS 256

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
	int			threads;		/* event threads, each with its share of the pool */
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
} HdRequest;

/* a request's call, its arguments checked (hd_call_prepare) */
typedef struct HdCall
{
	const HdRouteDef *def;
	const char *sql;			/* def->sql or def->sql_alt */
	const char *content_type;
	int			nparams;
	const char *params[3];		/* into a, b, owned or the request */
	char		a[32];
	char		b[32];
	char	   *owned;			/* malloc'd */
	int			limit;			/* a page's */
} HdCall;

/* what one simple query answered, read result by result */
typedef struct HdExchange
{
	int			steps;			/* results read */
	int			want;			/* the step whose value is kept (0: none) */
	char	   *value;			/* malloc'd: the value at step want (one row, one column) */
	PGresult   *error;			/* the first error */
	int			error_step;
} HdExchange;

/* what a connection needs once a call's results are in */
typedef enum HdAfter
{
	HD_AFTER_IDLE,				/* nothing: the round trip reset the session */
	HD_AFTER_RESET,				/* the call failed: ROLLBACK and the reset */
	HD_AFTER_CLOSE				/* it broke, or its state is unknown */
} HdAfter;

struct HdConn;

/* the request's route and arguments checked into call; false with the error in res */
extern bool hd_call_prepare(const HdRequest *req, HdCall *call, HdResult *res);
/* the round trip's SQL on c as role (malloc'd); NULL with the error in res */
extern char *hd_call_sql(HdCall *call, struct HdConn *c, const char *role, HdResult *res);
/* the call's results into res (and the answer shaped); what c needs next */
extern HdAfter hd_call_finish(const HdRequest *req, HdCall *call, struct HdConn *c,
							  HdExchange *x, HdResult *res);
/* the call could not be made (res holds why): the row's answer all the same */
extern void hd_call_failed(const HdRequest *req, HdCall *call, HdResult *res);
extern void hd_call_release(HdCall *call);
/* one result of a round trip into x (which takes or frees it) */
extern void hd_exchange_add(HdExchange *x, PGresult *r);
extern void hd_exchange_clear(HdExchange *x);
/* the rollback-and-reset round trip went through */
extern bool hd_reset_ok(PGconn *conn, const HdExchange *x);
/* /healthz's answer from a probe's status and detail (hd_health_probe) */
extern void hd_health_result(HdResult *res, int status, const char *detail);
/* a JSON error body into res */
extern void hd_error(HdResult *res, int status, const char *error, const char *detail,
					 const char *sqlstate);

/* ---- handler.c ---- */

struct MHD_Connection;
struct HdLoop;

/* one request, from its first callback to its completion */
typedef struct HdState
{
	char	   *body;
	size_t		len;
	bool		too_large;
	struct timespec start;
	char		client[64];		/* the client's address, for limits and the log */
	struct MHD_Connection *conn;
	struct HdLoop *loop;		/* the event thread it arrived on */
	HdRequest	req;
	HdCall		call;
	HdResult	res;
	char		role[64];
	atomic_bool done;			/* res is the answer: respond when resumed */
	bool		suspended;
	struct HdState *next;
} HdState;

extern int	hd_tokens_load(const char *path, char *err, size_t errsize);
extern void hd_requests_in_flight(int *n);
/* res is st's answer: resume its connection (any thread) */
extern void hd_answer(HdState *st);

/* ---- pool.c ---- */

/*
 * A pooled connection, driven without blocking by the event thread that
 * owns it: opened (CONNECTING), the extension's schema looked up
 * (LOOKUP), then one request's round trip at a time (CALL), and after a
 * failed call the rollback and reset (RESET).
 */
typedef enum HdConnState
{
	HD_CONN_DOWN,
	HD_CONN_CONNECTING,
	HD_CONN_LOOKUP,
	HD_CONN_IDLE,
	HD_CONN_CALL,
	HD_CONN_RESET
} HdConnState;

typedef struct HdConn
{
	int			kind;			/* HD_WATCH_CONN: what an epoll event points at */
	PGconn	   *conn;
	HdConnState state;
	char	   *schema;			/* the extension's, quoted (PQfreemem); NULL: not looked up */
	HdState    *req;			/* the request it serves */
	HdExchange	x;
	struct HdPool *pool;
	int			fd;				/* registered with the pool's epoll; -1: none */
	uint32_t	events;
	PostgresPollingStatusType polling;	/* while CONNECTING */
} HdConn;

/* one event thread's connections and the requests waiting for one, oldest first */
typedef struct HdPool
{
	int			epfd;
	HdConn	   *conns;
	int			n;
	HdState    *head;
	HdState    *tail;
} HdPool;

#define HD_WATCH_CONN 1
#define HD_WATCH_DAEMON 2
#define HD_WATCH_WAKE 3

extern int	hd_pool_init(int health_timeout_ms, const char *conninfo);
extern int	hd_pool_open(HdPool *p, int epfd, int n);
/* queue st's prepared call for a connection of p */
extern void hd_pool_submit(HdPool *p, HdState *st);
/* an epoll event on one of p's connections */
extern void hd_pool_event(HdConn *c, uint32_t events);
/* the requests waiting or running are let go (the daemon is stopping) */
extern void hd_pool_abandon(HdPool *p);
extern void hd_pool_close(HdPool *p);
extern void hd_pool_counts(int *in_use, int *size);
extern void hd_pool_shutdown(void);
/*
 * The health check on its own connection, within timeout_ms: 200, or 503
 * with why in detail.  One caller at a time (the health thread).
 */
extern int	hd_health_probe(int timeout_ms, char *detail, size_t size);

/* ---- loop.c ---- */

struct MHD_OptionItem;

/* the event threads on the listening socket: 0, or -1 with why in err */
extern int	hd_loops_start(int nloops, int listen_fd, int pool_size, unsigned int mhd_flags,
						   const struct MHD_OptionItem *extra, char *err, size_t errsize);
/* st's prepared call for the pool of the event thread l (the one running) */
extern void hd_submit(struct HdLoop *l, HdState *st);
/* a connection of l was resumed, maybe from another thread: l runs its daemon */
extern void hd_loop_resumed(struct HdLoop *l);
/* stop accepting (SIGTERM) */
extern void hd_loops_quiesce(void);
extern void hd_loops_stop(void);
/* a /healthz request for the health thread */
extern void hd_health_enqueue(HdState *st);
extern int	hd_health_start(void);
extern void hd_health_stop(void);

/* ---- stats.c ---- */

extern void hd_stats_init(void);
extern void hd_stats_request(HdRoute route, int status, double seconds);
/* the shim's own exposition, appended to a malloc'd buffer */
extern void hd_stats_prometheus(char **buf, size_t *len);
/* rate limits: false and *retry_after when the key is out of tokens */
extern bool hd_limit(const char *key, bool write, bool anonymous, int *retry_after);

#endif							/* PERFOPT_HTTPD_H */
