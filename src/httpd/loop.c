/*
 * loop.c — perfopt-httpd's event threads and its health thread.
 *
 * Each event thread (--threads of them, one by default on up to three
 * CPUs) runs a libmicrohttpd daemon in external-epoll mode on the shared
 * listening socket together with its own share of the pooled database
 * connections (pool.c), all on one epoll: a request is parsed, checked
 * and its call sent to PostgreSQL on the thread that accepted it, the
 * thread serves other connections while the server works, and it answers
 * when the results arrive.  No request crosses a thread on its way, and a
 * slow call holds up nobody but the requests queued behind it for a
 * connection.
 *
 * /healthz has a thread of its own, with its own connection (pool.c): it
 * answers within --health-timeout however long the calls' queues are,
 * and the requests waiting at once share one probe.
 *
 * One client address holds at most --per-address-connections of the
 * HD_MAX_CONNECTIONS connections of all threads together: a connection
 * over either count is shut down as soon as it is accepted.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <microhttpd.h>

#include "handler.h"
#include "httpd.h"

typedef struct HdWatch
{
	int			kind;			/* HD_WATCH_DAEMON or HD_WATCH_WAKE */
} HdWatch;

typedef struct HdLoop
{
	struct MHD_Daemon *daemon;
	int			epfd;
	int			wake;			/* eventfd: quiesce or stop */
	HdWatch		daemon_watch;
	HdWatch		wake_watch;
	HdPool		pool;
	pthread_t	thread;
	bool		started;
	atomic_bool quiesce;
	atomic_bool stop;
} HdLoop;

static HdLoop *loops = NULL;
static int	nloops = 0;

/* ---- the per-address cap, over every thread's connections ---- */

typedef struct HdAddress
{
	uint8_t		addr[16];		/* IPv4 in the first four bytes */
	int			family;
	int			n;				/* open connections; 0: a free slot */
} HdAddress;

static pthread_mutex_t addresses_lock = PTHREAD_MUTEX_INITIALIZER;
static HdAddress *addresses = NULL;
static int	naddresses = 0;
static int	connections = 0;

/* a connection's entry in addresses, kept as its socket context */
typedef struct HdPeer
{
	int			slot;
} HdPeer;

static int
address_slot(const struct sockaddr *sa)
{
	uint8_t		key[16] = {0};
	int			free_slot = -1;

	if (sa != NULL && sa->sa_family == AF_INET)
		memcpy(key, &((const struct sockaddr_in *) sa)->sin_addr, 4);
	else if (sa != NULL && sa->sa_family == AF_INET6)
		memcpy(key, &((const struct sockaddr_in6 *) sa)->sin6_addr, 16);
	for (int i = 0; i < naddresses; i++)
	{
		if (addresses[i].n == 0)
		{
			if (free_slot < 0)
				free_slot = i;
			continue;
		}
		if (addresses[i].family == (sa ? sa->sa_family : 0) && memcmp(addresses[i].addr, key, 16) == 0)
			return i;
	}
	if (free_slot < 0)
		return -1;
	memcpy(addresses[free_slot].addr, key, 16);
	addresses[free_slot].family = sa ? sa->sa_family : 0;
	return free_slot;
}

static void
notify_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
				  enum MHD_ConnectionNotificationCode toe)
{
	HdPeer	   *peer = *socket_context;

	(void) cls;
	if (toe == MHD_CONNECTION_NOTIFY_STARTED)
	{
		const union MHD_ConnectionInfo *info =
			MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
		bool		refuse;
		int			slot;

		peer = malloc(sizeof(HdPeer));
		pthread_mutex_lock(&addresses_lock);
		slot = address_slot(info ? info->client_addr : NULL);
		connections++;
		if (slot >= 0)
			addresses[slot].n++;
		refuse = peer == NULL || slot < 0 || connections > HD_MAX_CONNECTIONS ||
			addresses[slot].n > hd_config.per_address_connections;
		pthread_mutex_unlock(&addresses_lock);
		if (peer != NULL)
			peer->slot = slot;
		*socket_context = peer;
		if (refuse)
		{
			const union MHD_ConnectionInfo *fd = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);

			/* libmicrohttpd reads the end of it at once and closes the connection */
			if (fd != NULL)
				shutdown(fd->connect_fd, SHUT_RDWR);
		}
		return;
	}
	/* MHD_CONNECTION_NOTIFY_CLOSED: every started connection gets one */
	pthread_mutex_lock(&addresses_lock);
	connections--;
	if (peer != NULL && peer->slot >= 0)
		addresses[peer->slot].n--;
	pthread_mutex_unlock(&addresses_lock);
	free(peer);
	*socket_context = NULL;
}

/* ---- the event threads ---- */

static void
wake(HdLoop *l)
{
	uint64_t	one = 1;

	if (write(l->wake, &one, sizeof(one)) < 0 && errno != EAGAIN)
		perror("perfopt-httpd: eventfd");
}

static void *
loop_main(void *arg)
{
	HdLoop	   *l = arg;
	struct epoll_event events[64];
	bool		quiesced = false;

	for (;;)
	{
		MHD_UNSIGNED_LONG_LONG to;
		int			timeout = -1;
		int			n;

		if (MHD_get_timeout(l->daemon, &to) == MHD_YES)
			timeout = to > 60000 ? 60000 : (int) to;
		n = epoll_wait(l->epfd, events, 64, timeout);
		if (n < 0 && errno != EINTR)
		{
			perror("perfopt-httpd: epoll_wait");
			break;
		}
		for (int i = 0; i < n; i++)
		{
			int			kind = *(int *) events[i].data.ptr;

			if (kind == HD_WATCH_CONN)
				hd_pool_event(events[i].data.ptr, events[i].events);
			else if (kind == HD_WATCH_WAKE)
			{
				uint64_t	v;

				if (read(l->wake, &v, sizeof(v)) < 0 && errno != EAGAIN)
					perror("perfopt-httpd: eventfd");
			}
		}
		if (atomic_load(&l->stop))
			break;
		if (atomic_load(&l->quiesce) && !quiesced)
		{
			/* the listening socket stays open: main.c closes it once every thread stopped */
			MHD_quiesce_daemon(l->daemon);
			quiesced = true;
		}
		MHD_run(l->daemon);
	}
	return NULL;
}

static int
loop_start(HdLoop *l, int listen_fd, int npool, unsigned int mhd_flags,
		   const struct MHD_OptionItem *extra, char *err, size_t errsize)
{
	struct epoll_event ev;
	const union MHD_DaemonInfo *info;

	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	l->wake = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	l->daemon_watch.kind = HD_WATCH_DAEMON;
	l->wake_watch.kind = HD_WATCH_WAKE;
	if (l->epfd < 0 || l->wake < 0)
	{
		snprintf(err, errsize, "cannot create an epoll: %s", strerror(errno));
		return -1;
	}
	/* external polling: this thread runs the daemon (MHD_run) on its own epoll */
	l->daemon = MHD_start_daemon(MHD_USE_EPOLL | MHD_USE_ERROR_LOG | MHD_USE_ITC |
								 MHD_ALLOW_SUSPEND_RESUME | mhd_flags,
								 0, NULL, NULL, &hd_access_handler, l,
								 MHD_OPTION_LISTEN_SOCKET, (MHD_socket) listen_fd,
								 MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int) hd_config.connection_timeout_s,
								 MHD_OPTION_CONNECTION_LIMIT, (unsigned int) HD_MAX_CONNECTIONS,
								 MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t) (32 * 1024),
								 MHD_OPTION_NOTIFY_COMPLETED, &hd_request_completed, NULL,
								 MHD_OPTION_NOTIFY_CONNECTION, &notify_connection, NULL,
								 MHD_OPTION_ARRAY, extra,
								 MHD_OPTION_END);
	if (l->daemon == NULL)
	{
		snprintf(err, errsize, "cannot start the HTTP daemon");
		return -1;
	}
	info = MHD_get_daemon_info(l->daemon, MHD_DAEMON_INFO_EPOLL_FD);
	ev.events = EPOLLIN;
	ev.data.ptr = &l->daemon_watch;
	if (info == NULL || epoll_ctl(l->epfd, EPOLL_CTL_ADD, info->epoll_fd, &ev) != 0)
	{
		snprintf(err, errsize, "cannot watch the HTTP daemon's epoll");
		return -1;
	}
	ev.data.ptr = &l->wake_watch;
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->wake, &ev) != 0 || hd_pool_open(&l->pool, l->epfd, npool) != 0)
	{
		snprintf(err, errsize, "out of memory");
		return -1;
	}
	if (pthread_create(&l->thread, NULL, loop_main, l) != 0)
	{
		snprintf(err, errsize, "cannot start an event thread");
		return -1;
	}
	l->started = true;
	return 0;
}

int
hd_loops_start(int n, int listen_fd, int pool_size, unsigned int mhd_flags,
			   const struct MHD_OptionItem *extra, char *err, size_t errsize)
{
	/* every connection may be refused only after it was counted: room for them all */
	naddresses = HD_MAX_CONNECTIONS * n + 1;
	addresses = calloc((size_t) naddresses, sizeof(HdAddress));
	loops = calloc((size_t) n, sizeof(HdLoop));
	if (loops == NULL || addresses == NULL)
	{
		snprintf(err, errsize, "out of memory");
		return -1;
	}
	for (int i = 0; i < n; i++)
	{
		loops[i].epfd = loops[i].wake = -1;
		atomic_init(&loops[i].quiesce, false);
		atomic_init(&loops[i].stop, false);
	}
	nloops = n;
	for (int i = 0; i < n; i++)
	{
		/* the pool shared out, every thread at least one connection */
		int			share = pool_size / n + (i < pool_size % n ? 1 : 0);

		if (loop_start(&loops[i], listen_fd, share < 1 ? 1 : share, mhd_flags, extra, err, errsize) != 0)
			return -1;
	}
	return 0;
}

void
hd_loops_quiesce(void)
{
	for (int i = 0; i < nloops; i++)
	{
		atomic_store(&loops[i].quiesce, true);
		wake(&loops[i]);
	}
}

void
hd_loops_stop(void)
{
	for (int i = 0; i < nloops; i++)
	{
		HdLoop	   *l = &loops[i];

		if (l->started)
		{
			atomic_store(&l->stop, true);
			wake(l);
			pthread_join(l->thread, NULL);
		}
		/* requests still running are let go; stopping the daemon completes them */
		hd_pool_abandon(&l->pool);
		if (l->daemon)
			MHD_stop_daemon(l->daemon);
		hd_pool_close(&l->pool);
		if (l->epfd >= 0)
			close(l->epfd);
		if (l->wake >= 0)
			close(l->wake);
	}
	free(loops);
	loops = NULL;
	nloops = 0;
	free(addresses);
	addresses = NULL;
}

void
hd_loop_resumed(struct HdLoop *l)
{
	/*
	 * libmicrohttpd's own wake-up for a resume from another thread does not
	 * reliably reach this epoll in external mode: wake the thread ourselves.
	 */
	if (l != NULL && l->started && !pthread_equal(pthread_self(), l->thread))
		wake(l);
}

void
hd_submit(struct HdLoop *l, HdState *st)
{
	hd_pool_submit(&l->pool, st);
}

/* ---- the health thread ---- */

/* the /healthz requests waiting for the next probe */
static pthread_mutex_t health_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t health_cond = PTHREAD_COND_INITIALIZER;
static HdState *health_head = NULL;
static pthread_t health_thread;
static bool health_started = false;
static bool health_stop = false;

/*
 * Takes every /healthz request waiting, runs one probe for all of them,
 * answers them, and waits for more.
 */
static void *
health_main(void *arg)
{
	(void) arg;
	for (;;)
	{
		HdState    *batch;
		char		detail[256];
		int			status;

		pthread_mutex_lock(&health_lock);
		while (health_head == NULL && !health_stop)
			pthread_cond_wait(&health_cond, &health_lock);
		batch = health_head;
		health_head = NULL;
		pthread_mutex_unlock(&health_lock);
		if (batch == NULL)
			return NULL;

		status = hd_health_probe(hd_config.health_timeout_ms, detail, sizeof(detail));
		while (batch != NULL)
		{
			HdState    *st = batch;

			/* read before the answer: the connection may then complete and free st */
			batch = st->next;
			hd_health_result(&st->res, status, detail);
			hd_answer(st);
		}
	}
}

/* a /healthz request for the health thread (the order does not matter: one probe answers all) */
void
hd_health_enqueue(HdState *st)
{
	pthread_mutex_lock(&health_lock);
	st->next = health_head;
	health_head = st;
	pthread_cond_signal(&health_cond);
	pthread_mutex_unlock(&health_lock);
}

int
hd_health_start(void)
{
	if (pthread_create(&health_thread, NULL, health_main, NULL) != 0)
		return -1;
	health_started = true;
	return 0;
}

void
hd_health_stop(void)
{
	pthread_mutex_lock(&health_lock);
	health_stop = true;
	pthread_cond_broadcast(&health_cond);
	pthread_mutex_unlock(&health_lock);
	if (health_started)
		pthread_join(health_thread, NULL);
	health_started = false;
}
