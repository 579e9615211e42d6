/*
 * pool.c — perfopt-httpd's libpq connections: each event thread's pooled
 * connections (loop.c), driven without blocking on the thread's epoll,
 * and the health check's own connection.
 *
 * A pooled connection serves one request at a time: it is opened
 * (PQconnectStartParams and PQconnectPoll), the extension's schema is
 * looked up, and then each request is one simple query, sent and read as
 * the socket allows while the thread serves HTTP in between.  Requests
 * wait in the thread's FIFO for a connection, oldest first.  A
 * connection that breaks, or whose reset after a failed call does not
 * complete, is closed and opened again for its next request; while
 * PostgreSQL is down each request fails fast with 503, and the pool
 * recovers by itself once it is back.
 *
 * Every session is opened the same way: application_name perfopt-httpd,
 * client_encoding UTF8 (the shim checks request text as UTF-8) and
 * search_path pg_catalog, pg_temp, all three as startup options.  Startup
 * options outrank ALTER ROLE and ALTER DATABASE settings, so nobody who
 * may change those can put a schema of theirs on the shim's path, and
 * they are what RESET ALL returns to after each request (sql.h).
 * Server notices are dropped: they may quote row values, and the shim's
 * stderr is its request log.
 *
 * Each connection knows the extension's schema, looked up when it is
 * opened (or, while the extension is missing, before each use) with a
 * fully qualified query, and kept quoted for calls.c.
 *
 * The health check (/healthz, loop.c) has a connection of its own,
 * used by one thread only, opened and queried without blocking past its
 * budget: it never waits for a pooled connection or behind a call.  (libpq
 * resolves a host name before the first poll, outside the budget: a
 * --conninfo with an address or a socket directory keeps it strict.)
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>

#include "httpd.h"

/* the startup parameters of every session; the health check's add a statement_timeout */
#define HD_CONN_PARAMS 5
static const char *const conn_keys[HD_CONN_PARAMS] = {
	"dbname", "application_name", "client_encoding", "options", NULL
};
static const char *pool_values[HD_CONN_PARAMS];
static const char *health_values[HD_CONN_PARAMS];
static char *pool_conninfo = NULL;
static char *pool_options = NULL;
static char *health_options = NULL;
static PGconn *health_conn = NULL;

/* for the shim's metrics: connections of every thread, and those serving a request */
static atomic_int pool_total = 0;
static atomic_int pool_busy = 0;

static void
drop_notice(void *arg, const PGresult *r)
{
	(void) arg;
	(void) r;
}

/*
 * The options the conninfo (or PGOPTIONS) gives, then the shim's: later
 * "-c" settings win, so the shim's search_path holds whatever came first.
 * malloc'd; NULL when out of memory.
 */
static char *
session_options(const char *conninfo, const char *extra)
{
	PQconninfoOption *opts = NULL;
	const char *given = NULL;
	char	   *out;
	size_t		size;

	/* a plain database name is not a connection string */
	if (strchr(conninfo, '=') != NULL || strncmp(conninfo, "postgres", 8) == 0)
		opts = PQconninfoParse(conninfo, NULL);
	for (PQconninfoOption *o = opts; o && o->keyword; o++)
		if (strcmp(o->keyword, "options") == 0 && o->val && o->val[0])
			given = o->val;
	/* what libpq would have used had the shim not given options of its own */
	if (given == NULL)
		given = getenv("PGOPTIONS");
	size = (given ? strlen(given) : 0) + strlen(extra) + 64;
	out = malloc(size);
	if (out)
		snprintf(out, size, "%s%s-c search_path=pg_catalog,pg_temp%s",
				 given ? given : "", given && given[0] ? " " : "", extra);
	PQconninfoFree(opts);
	return out;
}

int
hd_pool_init(int health_timeout_ms, const char *conninfo)
{
	char		extra[64];

	snprintf(extra, sizeof(extra), " -c statement_timeout=%d", health_timeout_ms);
	pool_conninfo = strdup(conninfo);
	pool_options = session_options(conninfo, "");
	health_options = session_options(conninfo, extra);
	if (pool_conninfo == NULL || pool_options == NULL || health_options == NULL)
		return -1;
	pool_values[0] = health_values[0] = pool_conninfo;
	pool_values[1] = health_values[1] = "perfopt-httpd";
	pool_values[2] = health_values[2] = "UTF8";
	pool_values[3] = pool_options;
	health_values[3] = health_options;
	pool_values[4] = health_values[4] = NULL;
	return 0;
}

int
hd_pool_open(HdPool *p, int epfd, int n)
{
	memset(p, 0, sizeof(*p));
	p->epfd = epfd;
	p->conns = calloc((size_t) n, sizeof(HdConn));
	if (p->conns == NULL)
		return -1;
	p->n = n;
	for (int i = 0; i < n; i++)
	{
		p->conns[i].kind = HD_WATCH_CONN;
		p->conns[i].pool = p;
		p->conns[i].fd = -1;
		p->conns[i].state = HD_CONN_DOWN;
	}
	atomic_fetch_add(&pool_total, n);
	return 0;
}

/* the epoll interest of c: its socket, for reading and, when asked, writing */
static void
watch(HdConn *c, bool write)
{
	int			fd = c->conn ? PQsocket(c->conn) : -1;
	uint32_t	events = EPOLLIN | (write ? EPOLLOUT : 0);
	struct epoll_event ev = {.events = events, .data.ptr = c};

	if (fd != c->fd && c->fd >= 0)
	{
		epoll_ctl(c->pool->epfd, EPOLL_CTL_DEL, c->fd, NULL);
		c->fd = -1;
	}
	if (fd < 0)
		return;
	if (c->fd < 0)
	{
		if (epoll_ctl(c->pool->epfd, EPOLL_CTL_ADD, fd, &ev) == 0)
		{
			c->fd = fd;
			c->events = events;
		}
	}
	else if (c->events != events)
	{
		/* a socket libpq closed and reopened under the same number left epoll with the old one */
		if (epoll_ctl(c->pool->epfd, EPOLL_CTL_MOD, fd, &ev) == 0 ||
			(errno == ENOENT && epoll_ctl(c->pool->epfd, EPOLL_CTL_ADD, fd, &ev) == 0))
			c->events = events;
	}
}

static void
set_busy(HdConn *c, HdConnState state)
{
	bool		was = c->state != HD_CONN_DOWN && c->state != HD_CONN_IDLE;
	bool		is = state != HD_CONN_DOWN && state != HD_CONN_IDLE;

	c->state = state;
	if (was != is)
		atomic_fetch_add(&pool_busy, is ? 1 : -1);
}

static void
disconnect(HdConn *c)
{
	if (c->fd >= 0)
		epoll_ctl(c->pool->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	c->fd = -1;
	if (c->schema)
		PQfreemem(c->schema);
	c->schema = NULL;
	if (c->conn)
		PQfinish(c->conn);
	c->conn = NULL;
	hd_exchange_clear(&c->x);
	set_busy(c, HD_CONN_DOWN);
}

/* the request c serves is answered with res as it stands */
static void
answer(HdConn *c)
{
	HdState    *st = c->req;

	c->req = NULL;
	if (st != NULL)
		hd_answer(st);
}

/* the request c serves fails before its call: status and detail, then the row's answer */
static void
fail(HdConn *c, int status, const char *detail)
{
	HdState    *st = c->req;

	if (st == NULL)
		return;
	hd_error(&st->res, status, status == 503 ? "unavailable" : "internal error", detail, NULL);
	hd_call_failed(&st->req, &st->call, &st->res);
	answer(c);
}

/* send sql; the results arrive as events; false when the connection broke */
static bool
send_query(HdConn *c, const char *sql, int want)
{
	int			flushed;

	hd_exchange_clear(&c->x);
	c->x.want = want;
	if (!PQsendQuery(c->conn, sql))
		return false;
	flushed = PQflush(c->conn);
	if (flushed < 0)
		return false;
	watch(c, flushed == 1);
	return true;
}

static void start(HdConn *c);

static void
send_call(HdConn *c)
{
	HdState    *st = c->req;
	char	   *sql = hd_call_sql(&st->call, c, st->req.role, &st->res);

	if (sql == NULL)
	{
		/* a parameter that cannot be quoted, or no memory: the connection is fine */
		hd_call_failed(&st->req, &st->call, &st->res);
		answer(c);
		set_busy(c, HD_CONN_IDLE);
		return;
	}
	set_busy(c, HD_CONN_CALL);
	if (!send_query(c, sql, HD_STEP_CALL))
	{
		free(sql);
		disconnect(c);
		fail(c, 503, "perfopt-httpd: the connection to the database was lost");
		return;
	}
	free(sql);
}

/* the extension's schema, before the first call or while it is missing */
static void
send_lookup(HdConn *c)
{
	set_busy(c, HD_CONN_LOOKUP);
	if (!send_query(c, HD_SQL_EXTENSION_SCHEMA, 1))
	{
		disconnect(c);
		fail(c, 503, "perfopt-httpd: the database does not answer");
	}
}

static void broken(HdConn *c);

/*
 * One step of opening c (poll: the socket said it is ready): on to the
 * schema lookup once it is open, closed (and its request answered 503)
 * when it failed.  A step that leaves no socket to wait for (a failed
 * attempt, before libpq says so or tries the next address) is taken at once.
 */
static void
connect_step(HdConn *c, bool poll)
{
	for (int tries = 0; tries < 64; tries++)
	{
		if (poll)
			c->polling = PQconnectPoll(c->conn);
		poll = true;
		if (c->polling == PGRES_POLLING_FAILED || PQstatus(c->conn) == CONNECTION_BAD)
		{
			broken(c);
			return;
		}
		if (c->polling == PGRES_POLLING_OK)
		{
			if (PQsetnonblocking(c->conn, 1) != 0)
			{
				broken(c);
				return;
			}
			PQsetNoticeReceiver(c->conn, drop_notice, NULL);
			watch(c, false);
			send_lookup(c);
			return;
		}
		if (PQsocket(c->conn) >= 0)
		{
			/* libpq may have moved to another socket (another address) */
			if (c->fd >= 0)
				epoll_ctl(c->pool->epfd, EPOLL_CTL_DEL, c->fd, NULL);
			c->fd = -1;
			watch(c, c->polling == PGRES_POLLING_WRITING);
			return;
		}
	}
	broken(c);
}

/* the request c was given: open, look up or call, whatever c needs first */
static void
start(HdConn *c)
{
	if (c->state == HD_CONN_DOWN)
	{
		c->conn = PQconnectStartParams(conn_keys, pool_values, 1);
		if (c->conn == NULL || PQstatus(c->conn) == CONNECTION_BAD)
		{
			disconnect(c);
			fail(c, 503, "perfopt-httpd: the database does not answer");
			return;
		}
		set_busy(c, HD_CONN_CONNECTING);
		c->polling = PGRES_POLLING_WRITING;
		connect_step(c, false);
		return;
	}
	if (c->schema == NULL)
		send_lookup(c);
	else
		send_call(c);
}

/* give waiting requests to free connections: idle ones first, then closed ones */
static void
pump(HdPool *p)
{
	while (p->head != NULL)
	{
		HdConn	   *c = NULL;

		for (int i = 0; i < p->n && c == NULL; i++)
			if (p->conns[i].state == HD_CONN_IDLE)
				c = &p->conns[i];
		for (int i = 0; i < p->n && c == NULL; i++)
			if (p->conns[i].state == HD_CONN_DOWN)
				c = &p->conns[i];
		if (c == NULL)
			return;
		c->req = p->head;
		p->head = p->head->next;
		if (p->head == NULL)
			p->tail = NULL;
		c->req->next = NULL;
		start(c);
	}
}

void
hd_pool_submit(HdPool *p, HdState *st)
{
	st->next = NULL;
	if (p->tail)
		p->tail->next = st;
	else
		p->head = st;
	p->tail = st;
	pump(p);
}

/* a connection is done with its round trip: idle again, notifications dropped */
static void
idle(HdConn *c)
{
	PGnotify   *n;

	/* notifications nobody reads would pile up in libpq */
	while ((n = PQnotifies(c->conn)) != NULL)
		PQfreemem(n);
	set_busy(c, HD_CONN_IDLE);
	watch(c, false);
}

/* every result of c's round trip is in */
static void
round_trip_done(HdConn *c)
{
	switch (c->state)
	{
		case HD_CONN_LOOKUP:
			if (c->x.error != NULL || c->x.steps != 1)
			{
				disconnect(c);
				fail(c, 503, "perfopt-httpd: the database does not answer");
				return;
			}
			if (c->x.value != NULL)
				c->schema = PQescapeIdentifier(c->conn, c->x.value, strlen(c->x.value));
			hd_exchange_clear(&c->x);
			idle(c);
			if (c->schema == NULL)
			{
				fail(c, 503, "perfopt-httpd: the perfopt extension is not installed in this database");
				return;
			}
			send_call(c);
			return;
		case HD_CONN_CALL:
			{
				HdState    *st = c->req;
				HdAfter		after = hd_call_finish(&st->req, &st->call, c, &c->x, &st->res);

				answer(c);
				if (after == HD_AFTER_CLOSE)
					disconnect(c);
				else if (after == HD_AFTER_IDLE)
					idle(c);
				else
				{
					/* after a failure: leave the transaction and reset the session */
					set_busy(c, HD_CONN_RESET);
					if (!send_query(c, HD_SQL_ROLLBACK_RESET, 0))
						disconnect(c);
				}
			}
			return;
		case HD_CONN_RESET:
			if (hd_reset_ok(c->conn, &c->x))
			{
				hd_exchange_clear(&c->x);
				idle(c);
			}
			else
				disconnect(c);
			return;
		default:
			return;
	}
}

/* c's connection failed in the middle of something */
static void
broken(HdConn *c)
{
	if (c->state == HD_CONN_CALL && c->req != NULL)
	{
		HdState    *st = c->req;

		/* the error is the lost connection (calls.c says 503) */
		hd_call_finish(&st->req, &st->call, c, &c->x, &st->res);
		answer(c);
	}
	disconnect(c);
	fail(c, 503, "perfopt-httpd: the database does not answer");
}

void
hd_pool_event(HdConn *c, uint32_t events)
{
	HdPool	   *p = c->pool;

	if (c->state == HD_CONN_CONNECTING)
	{
		connect_step(c, true);
		pump(p);
		return;
	}
	if (c->conn == NULL)
		return;
	if (events & EPOLLOUT)
	{
		int			flushed = PQflush(c->conn);

		if (flushed < 0)
		{
			broken(c);
			pump(p);
			return;
		}
		watch(c, flushed == 1);
	}
	if (events & (EPOLLIN | EPOLLERR | EPOLLHUP))
	{
		if (!PQconsumeInput(c->conn) || PQstatus(c->conn) != CONNECTION_OK)
		{
			broken(c);
			pump(p);
			return;
		}
		if (c->state == HD_CONN_IDLE)
		{
			PGnotify   *n;

			while ((n = PQnotifies(c->conn)) != NULL)
				PQfreemem(n);
		}
		else
		{
			while (!PQisBusy(c->conn))
			{
				PGresult   *r = PQgetResult(c->conn);

				if (r == NULL)
				{
					round_trip_done(c);
					break;
				}
				hd_exchange_add(&c->x, r);
			}
		}
	}
	pump(p);
}

void
hd_pool_abandon(HdPool *p)
{
	for (int i = 0; i < p->n; i++)
		p->conns[i].req = NULL;
	p->head = p->tail = NULL;
}

void
hd_pool_close(HdPool *p)
{
	for (int i = 0; i < p->n; i++)
		disconnect(&p->conns[i]);
	atomic_fetch_sub(&pool_total, p->n);
	free(p->conns);
	p->conns = NULL;
	p->n = 0;
}

void
hd_pool_counts(int *in_use, int *size)
{
	*in_use = atomic_load(&pool_busy);
	*size = atomic_load(&pool_total);
}

void
hd_pool_shutdown(void)
{
	if (health_conn)
		PQfinish(health_conn);
	health_conn = NULL;
	free(pool_conninfo);
	free(pool_options);
	free(health_options);
	pool_conninfo = pool_options = health_options = NULL;
}

/* ---- the health check's connection ---- */

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

/* conn's socket is ready to write (or read) before deadline */
static bool
wait_socket(PGconn *conn, bool write, double deadline)
{
	struct pollfd pfd;

	pfd.fd = PQsocket(conn);
	pfd.events = write ? POLLOUT : POLLIN;
	if (pfd.fd < 0)
		return false;
	for (;;)
	{
		double		left = deadline - now_ms();
		int			rc;

		if (left <= 0)
			return false;
		rc = poll(&pfd, 1, left < 1 ? 1 : (int) left);
		if (rc > 0)
			return true;
		if (rc == 0 || errno != EINTR)
			return false;
	}
}

/* a new health connection by deadline, or NULL */
static PGconn *
health_connect(double deadline)
{
	PGconn	   *conn = PQconnectStartParams(conn_keys, health_values, 1);
	PostgresPollingStatusType st = PGRES_POLLING_WRITING;

	if (conn == NULL)
		return NULL;
	while (PQstatus(conn) != CONNECTION_BAD && st != PGRES_POLLING_OK && st != PGRES_POLLING_FAILED)
	{
		if (!wait_socket(conn, st == PGRES_POLLING_WRITING, deadline))
			break;
		st = PQconnectPoll(conn);
	}
	if (st != PGRES_POLLING_OK || PQstatus(conn) != CONNECTION_OK)
	{
		PQfinish(conn);
		return NULL;
	}
	PQsetNoticeReceiver(conn, drop_notice, NULL);
	return conn;
}

/* the schema lookup by deadline: 1 installed, 0 not installed, -1 no answer */
static int
health_query(PGconn *conn, double deadline)
{
	PGresult   *r;
	int			found = -1;
	bool		failed = false;

	if (!PQsendQuery(conn, HD_SQL_EXTENSION_SCHEMA))
		return -1;
	for (;;)
	{
		while (PQisBusy(conn))
			if (!wait_socket(conn, false, deadline) || !PQconsumeInput(conn))
				return -1;
		r = PQgetResult(conn);
		if (r == NULL)
			break;
		if (PQresultStatus(r) == PGRES_TUPLES_OK)
			found = PQntuples(r) == 1;
		else
			failed = true;
		PQclear(r);
	}
	return failed ? -1 : found;
}

int
hd_health_probe(int timeout_ms, char *detail, size_t size)
{
	double		deadline = now_ms() + timeout_ms;
	int			found = -1;

	if (health_conn != NULL && PQstatus(health_conn) != CONNECTION_OK)
	{
		PQfinish(health_conn);
		health_conn = NULL;
	}
	if (health_conn == NULL)
		health_conn = health_connect(deadline);
	if (health_conn != NULL)
		found = health_query(health_conn, deadline);
	if (found < 0)
	{
		/* a connection left in the middle of a query cannot be used again */
		if (health_conn != NULL)
			PQfinish(health_conn);
		health_conn = NULL;
		snprintf(detail, size, "perfopt-httpd: the database did not answer within %d ms", timeout_ms);
		return 503;
	}
	if (found == 0)
	{
		snprintf(detail, size, "perfopt-httpd: the perfopt extension is not installed in this database");
		return 503;
	}
	snprintf(detail, size, "ok");
	return 200;
}
