/*
 * pool.c — perfopt-httpd's bounded pool of libpq connections.
 *
 * There are as many call workers as connections (handler.c), so a worker
 * always finds one free; requests wait in the workers' queue, not here.
 * A worker takes a connection and gives it back; a connection found
 * broken is reset before its next use, so when PostgreSQL restarts the
 * requests meanwhile fail fast (503) and the pool reconnects by itself
 * once it is back.
 */
#include <stdlib.h>
#include <string.h>

#include "httpd.h"

static HdConn *pool = NULL;
static int	pool_size = 0;
static char *pool_conninfo = NULL;
static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;

int
hd_pool_init(int size, const char *conninfo)
{
	pool = calloc((size_t) size, sizeof(HdConn));
	pool_conninfo = strdup(conninfo);
	if (pool == NULL || pool_conninfo == NULL)
		return -1;
	pool_size = size;
	return 0;
}

/* connected and idle, or reconnected; false when PostgreSQL does not answer */
static bool
pool_ready(HdConn *c)
{
	if (c->conn != NULL && PQstatus(c->conn) == CONNECTION_OK &&
		PQtransactionStatus(c->conn) == PQTRANS_IDLE)
		return true;
	if (c->conn != NULL)
		PQfinish(c->conn);
	c->conn = PQconnectdb(pool_conninfo);
	if (PQstatus(c->conn) != CONNECTION_OK)
	{
		PQfinish(c->conn);
		c->conn = NULL;
		return false;
	}
	/* identify the shim's sessions (perfopt's emergency actions skip them) */
	PQclear(PQexec(c->conn, "SET application_name = 'perfopt-httpd'"));
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
hd_pool_put(HdConn *c, bool broken)
{
	if (broken && c->conn != NULL)
	{
		PQfinish(c->conn);
		c->conn = NULL;
	}
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
		if (pool[i].conn)
		{
			PQfinish(pool[i].conn);
			pool[i].conn = NULL;
		}
	pthread_mutex_unlock(&pool_lock);
	free(pool);
	free(pool_conninfo);
	pool = NULL;
	pool_conninfo = NULL;
}
