/*
 * pool.c — perfopt-httpd's bounded pool of libpq connections.
 *
 * A request takes a connection (waiting at most pool_wait_ms for one to
 * be free, first come first served: a connection given back goes
 * straight to the request that waited longest) and gives it back; a connection found broken is reset before
 * its next use, so when PostgreSQL restarts the requests meanwhile fail
 * fast (503) and the pool reconnects by itself once it is back.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "httpd.h"

/* a request waiting for a connection: served first come, first served */
typedef struct PoolWaiter
{
	pthread_cond_t wake;
	HdConn	   *given;			/* handed over by hd_pool_put */
	struct PoolWaiter *next;
} PoolWaiter;

static HdConn *pool = NULL;
static int	pool_size = 0;
static char *pool_conninfo = NULL;
static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static PoolWaiter *waiters_head = NULL;
static PoolWaiter *waiters_tail = NULL;

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

static void
waiter_remove(PoolWaiter *w)
{
	PoolWaiter **p = &waiters_head;

	waiters_tail = NULL;
	while (*p)
	{
		if (*p == w)
			*p = w->next;
		else
		{
			waiters_tail = *p;
			p = &(*p)->next;
		}
	}
}

HdConn *
hd_pool_get(void)
{
	struct timespec deadline;
	HdConn	   *found = NULL;

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += hd_config.pool_wait_ms / 1000;
	deadline.tv_nsec += (long) (hd_config.pool_wait_ms % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L)
	{
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}

	pthread_mutex_lock(&pool_lock);
	/* a free connection goes to a newcomer only when nobody waits before it */
	if (waiters_head == NULL)
		for (int i = 0; i < pool_size && found == NULL; i++)
			if (!pool[i].in_use)
				found = &pool[i];
	if (found)
		found->in_use = true;
	else
	{
		PoolWaiter	w;

		pthread_cond_init(&w.wake, NULL);
		w.given = NULL;
		w.next = NULL;
		if (waiters_tail)
			waiters_tail->next = &w;
		else
			waiters_head = &w;
		waiters_tail = &w;
		while (w.given == NULL)
			if (pthread_cond_timedwait(&w.wake, &pool_lock, &deadline) == ETIMEDOUT)
				break;
		/* handed over and timed out at once: take it anyway */
		found = w.given;
		if (found == NULL)
			waiter_remove(&w);
		pthread_cond_destroy(&w.wake);
	}
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
	if (waiters_head)
	{
		/* straight to the first in line: it stays in use */
		PoolWaiter *w = waiters_head;

		waiters_head = w->next;
		if (waiters_head == NULL)
			waiters_tail = NULL;
		w->given = c;
		pthread_cond_signal(&w->wake);
	}
	else
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
