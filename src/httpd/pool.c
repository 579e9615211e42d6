/*
 * pool.c — perfopt-httpd's libpq connections: the bounded pool the call
 * workers use, and the health check's own connection.
 *
 * There are as many call workers as pooled connections (handler.c), so a
 * worker always finds one free; requests wait in the workers' queue, not
 * here.  A connection found broken is reconnected before its next use,
 * so when PostgreSQL restarts the requests meanwhile fail fast (503) and
 * the pool recovers by itself once it is back.
 *
 * Every session is opened the same way: application_name perfopt-httpd,
 * client_encoding UTF8 (the shim checks request text as UTF-8),
 * search_path pg_catalog, pg_temp and statement_timeout (--statement-timeout
 * for the pool, --health-timeout for the health check), all as startup
 * options.  Startup
 * options outrank ALTER ROLE and ALTER DATABASE settings, so nobody who
 * may change those can put a schema of theirs on the shim's path, and
 * they are what RESET ALL returns to after each request (calls.c).
 * Server notices are dropped: they may quote row values, and the shim's
 * stderr is its request log.
 *
 * Each connection knows the extension's schema, looked up when it is
 * opened (or, while the extension is missing, before each use) with a
 * fully qualified query, and kept quoted for calls.c.
 *
 * The health check (/healthz, handler.c) has a connection of its own,
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
#include <time.h>

#include "httpd.h"

static HdConn *pool = NULL;
static int	pool_size = 0;
static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;

/* the startup parameters of every session; each kind has its statement_timeout */
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
hd_pool_init(int size, const char *conninfo, int statement_timeout_ms, int health_timeout_ms)
{
	char		pool_extra[64];
	char		health_extra[64];

	snprintf(pool_extra, sizeof(pool_extra), " -c statement_timeout=%d", statement_timeout_ms);
	snprintf(health_extra, sizeof(health_extra), " -c statement_timeout=%d", health_timeout_ms);
	pool = calloc((size_t) size, sizeof(HdConn));
	pool_conninfo = strdup(conninfo);
	pool_options = session_options(conninfo, pool_extra);
	health_options = session_options(conninfo, health_extra);
	if (pool == NULL || pool_conninfo == NULL || pool_options == NULL || health_options == NULL)
		return -1;
	pool_size = size;
	pool_values[0] = health_values[0] = pool_conninfo;
	pool_values[1] = health_values[1] = "perfopt-httpd";
	pool_values[2] = health_values[2] = "UTF8";
	pool_values[3] = pool_options;
	health_values[3] = health_options;
	pool_values[4] = health_values[4] = NULL;
	return 0;
}

/*
 * The extension's schema on conn, quoted, into *schema (NULL when it is
 * not installed); false when the query failed.
 */
static bool
lookup_schema(PGconn *conn, char **schema)
{
	PGresult   *r = PQexec(conn, HD_SQL_EXTENSION_SCHEMA);
	bool		ok = PQresultStatus(r) == PGRES_TUPLES_OK;

	*schema = NULL;
	if (ok && PQntuples(r) == 1)
	{
		const char *name = PQgetvalue(r, 0, 0);

		*schema = PQescapeIdentifier(conn, name, strlen(name));
		ok = *schema != NULL;
	}
	PQclear(r);
	return ok;
}

static void
pool_disconnect(HdConn *c)
{
	if (c->schema)
		PQfreemem(c->schema);
	c->schema = NULL;
	if (c->conn)
		PQfinish(c->conn);
	c->conn = NULL;
}

/* connected, idle and the schema looked up; false when PostgreSQL does not answer */
static bool
pool_ready(HdConn *c)
{
	if (c->conn == NULL || PQstatus(c->conn) != CONNECTION_OK ||
		PQtransactionStatus(c->conn) != PQTRANS_IDLE)
	{
		pool_disconnect(c);
		c->conn = PQconnectdbParams(conn_keys, pool_values, 1);
		if (PQstatus(c->conn) != CONNECTION_OK)
		{
			pool_disconnect(c);
			return false;
		}
		PQsetNoticeReceiver(c->conn, drop_notice, NULL);
	}
	/* once per connection, or again while the extension is missing */
	if (c->schema == NULL && !lookup_schema(c->conn, &c->schema))
	{
		pool_disconnect(c);
		return false;
	}
	return true;
}

HdConn *
hd_pool_get(void)
{
	HdConn	   *found = NULL;

	pthread_mutex_lock(&pool_lock);
	for (int i = 0; i < pool_size && found == NULL; i++)
		if (!pool[i].in_use)
			found = &pool[i];
	if (found)
		found->in_use = true;
	pthread_mutex_unlock(&pool_lock);
	if (found == NULL)
		return NULL;

	/* connecting happens outside the lock */
	if (!pool_ready(found))
	{
		hd_pool_put(found, false);
		return NULL;
	}
	return found;
}

void
hd_pool_forget_schema(HdConn *c)
{
	if (c->schema)
		PQfreemem(c->schema);
	c->schema = NULL;
}

void
hd_pool_put(HdConn *c, bool broken)
{
	PGnotify   *n;

	if (broken)
		pool_disconnect(c);
	/* notifications nobody reads would pile up in libpq */
	while (c->conn != NULL && (n = PQnotifies(c->conn)) != NULL)
		PQfreemem(n);
	pthread_mutex_lock(&pool_lock);
	c->in_use = false;
	pthread_mutex_unlock(&pool_lock);
}

void
hd_pool_counts(int *in_use, int *size)
{
	int			n = 0;

	pthread_mutex_lock(&pool_lock);
	for (int i = 0; i < pool_size; i++)
		n += pool[i].in_use;
	pthread_mutex_unlock(&pool_lock);
	*in_use = n;
	*size = pool_size;
}

void
hd_pool_close(void)
{
	pthread_mutex_lock(&pool_lock);
	for (int i = 0; i < pool_size; i++)
		pool_disconnect(&pool[i]);
	pthread_mutex_unlock(&pool_lock);
	if (health_conn)
		PQfinish(health_conn);
	health_conn = NULL;
	free(pool);
	free(pool_conninfo);
	free(pool_options);
	free(health_options);
	pool = NULL;
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
