/*
 * handler.c — perfopt-httpd's request handling on libmicrohttpd: the body
 * (at most 64 KiB), route and method, rate limits, the bearer token, the
 * call (calls.c), then the response: ETag and 304, gzip, Cache-Control,
 * Vary, Location, Link; and one structured log line per request (never a
 * token).
 *
 * The HTTP threads never wait for the database: a request that needs it
 * is suspended and queued, first come first served, for the call workers
 * (one per pooled connection); the worker that ran it resumes the
 * connection, and the HTTP thread sends the answer.  /healthz has a queue
 * and a thread of its own, with its own connection (pool.c): it answers
 * within --health-timeout however long the calls' queue is, and the
 * requests waiting at once share one probe.
 *
 * Query arguments must be valid UTF-8 without NUL bytes (libmicrohttpd
 * decodes %00 and %E2 as they are); they are checked here, before any
 * queue, and refused with 400.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <microhttpd.h>

#include "assets.h"
#include "handler.h"
#include "httpd.h"

typedef struct HdState
{
	char	   *body;
	size_t		len;
	bool		too_large;
	struct timespec start;
	char		client[64];		/* the client's address, for limits and the log */
	/* a call handed to the workers */
	struct MHD_Connection *conn;
	HdRequest	req;
	HdResult	res;
	char		role[64];
	atomic_bool done;
	struct HdState *next;
} HdState;

/* the calls waiting for a worker, oldest first */
static pthread_mutex_t queue_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t queue_cond = PTHREAD_COND_INITIALIZER;
static HdState *queue_head = NULL;
static HdState *queue_tail = NULL;
static bool workers_stop = false;
static pthread_t *workers = NULL;
static int	nworkers = 0;

/* the /healthz requests waiting for the next probe (under queue_lock) */
static pthread_cond_t health_cond = PTHREAD_COND_INITIALIZER;
static HdState *health_head = NULL;
static pthread_t health_thread;
static bool health_started = false;

static void *
worker_main(void *arg)
{
	(void) arg;
	for (;;)
	{
		HdState    *st;

		pthread_mutex_lock(&queue_lock);
		while (queue_head == NULL && !workers_stop)
			pthread_cond_wait(&queue_cond, &queue_lock);
		if (queue_head == NULL)
		{
			pthread_mutex_unlock(&queue_lock);
			return NULL;
		}
		st = queue_head;
		queue_head = st->next;
		if (queue_head == NULL)
			queue_tail = NULL;
		pthread_mutex_unlock(&queue_lock);

		hd_call(&st->req, &st->res);
		/* the last touch: after the resume the connection may complete and free st */
		atomic_store(&st->done, true);
		MHD_resume_connection(st->conn);
	}
}

/*
 * The health thread: takes every /healthz request waiting, runs one probe
 * for all of them, answers them, and waits for more.
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

		pthread_mutex_lock(&queue_lock);
		while (health_head == NULL && !workers_stop)
			pthread_cond_wait(&health_cond, &queue_lock);
		batch = health_head;
		health_head = NULL;
		pthread_mutex_unlock(&queue_lock);
		if (batch == NULL)
			return NULL;

		status = hd_health_probe(hd_config.health_timeout_ms, detail, sizeof(detail));
		while (batch != NULL)
		{
			HdState    *st = batch;

			/* read before the resume: the connection may then complete and free st */
			batch = st->next;
			hd_health_result(&st->res, status, detail);
			atomic_store(&st->done, true);
			MHD_resume_connection(st->conn);
		}
	}
}

int
hd_workers_start(int n)
{
	workers = calloc((size_t) n, sizeof(pthread_t));
	if (workers == NULL)
		return -1;
	for (nworkers = 0; nworkers < n; nworkers++)
		if (pthread_create(&workers[nworkers], NULL, worker_main, NULL) != 0)
			return -1;
	if (pthread_create(&health_thread, NULL, health_main, NULL) != 0)
		return -1;
	health_started = true;
	return 0;
}

void
hd_workers_stop(void)
{
	pthread_mutex_lock(&queue_lock);
	workers_stop = true;
	pthread_cond_broadcast(&queue_cond);
	pthread_cond_broadcast(&health_cond);
	pthread_mutex_unlock(&queue_lock);
	for (int i = 0; i < nworkers; i++)
		pthread_join(workers[i], NULL);
	if (health_started)
		pthread_join(health_thread, NULL);
	health_started = false;
	free(workers);
	workers = NULL;
	nworkers = 0;
}

static void
enqueue(HdState *st)
{
	pthread_mutex_lock(&queue_lock);
	st->next = NULL;
	if (queue_tail)
		queue_tail->next = st;
	else
		queue_head = st;
	queue_tail = st;
	pthread_cond_signal(&queue_cond);
	pthread_mutex_unlock(&queue_lock);
}

/* a /healthz request for the health thread (the order does not matter: one probe answers all) */
static void
enqueue_health(HdState *st)
{
	pthread_mutex_lock(&queue_lock);
	st->next = health_head;
	health_head = st;
	pthread_cond_signal(&health_cond);
	pthread_mutex_unlock(&queue_lock);
}

static pthread_rwlock_t tokens_lock = PTHREAD_RWLOCK_INITIALIZER;
static HdTokens tokens = {0, NULL};
static atomic_int in_flight = 0;

int
hd_tokens_load(const char *path, char *err, size_t errsize)
{
	FILE	   *f = fopen(path, "r");
	char	   *text = NULL;
	size_t		len = 0;
	size_t		cap = 0;
	HdTokens	fresh = {0, NULL};
	HdTokens	old;

	if (f == NULL)
	{
		snprintf(err, errsize, "cannot open the token file %s", path);
		return -1;
	}
	for (;;)
	{
		if (cap - len < 4096)
		{
			char	   *n = realloc(text, cap + 65536);

			if (n == NULL)
				break;
			text = n;
			cap += 65536;
		}
		{
			size_t		got = fread(text + len, 1, cap - len, f);

			if (got == 0)
				break;
			len += got;
		}
		if (len > 16 * 1024 * 1024)
			break;
	}
	fclose(f);
	if (hd_tokens_parse(text ? text : "", len, &fresh, err, errsize) != 0)
	{
		free(text);
		return -1;
	}
	free(text);
	pthread_rwlock_wrlock(&tokens_lock);
	old = tokens;
	tokens = fresh;
	pthread_rwlock_unlock(&tokens_lock);
	hd_tokens_free(&old);
	return 0;
}

void
hd_requests_in_flight(int *n)
{
	*n = atomic_load(&in_flight);
}

static double
elapsed_s(const struct timespec *start)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - start->tv_sec) + (now.tv_nsec - start->tv_nsec) / 1e9;
}

static void
client_address(struct MHD_Connection *conn, char *out, size_t size)
{
	const union MHD_ConnectionInfo *info =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);

	snprintf(out, size, "unknown");
	if (info == NULL || info->client_addr == NULL)
		return;
	if (info->client_addr->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *) info->client_addr)->sin_addr, out, (socklen_t) size);
	else if (info->client_addr->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *) info->client_addr)->sin6_addr, out, (socklen_t) size);
}

static void
log_request(const char *method, HdRoute route, int status, size_t bytes, double seconds,
			const char *role, const char *client, const char *sqlstate)
{
	char		r[128];
	char		m[32];
	time_t		t = time(NULL);
	struct tm	tm;
	char		ts[32];

	gmtime_r(&t, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
	hd_json_escape(role ? role : "", r, sizeof(r));
	hd_json_escape(method, m, sizeof(m));
	/* the SQLSTATE of a failure, never the server's message (it may quote row values) */
	fprintf(stderr, "{\"time\": \"%s\", \"method\": \"%s\", \"route\": \"%s\", \"status\": %d,"
			" \"bytes\": %zu, \"ms\": %.3f, \"role\": %s%s%s, \"client\": \"%s\"%s%.5s%s}\n",
			ts, m, hd_route_name(route), status, bytes, seconds * 1000,
			role ? "\"" : "", role ? r : "null", role ? "\"" : "", client,
			sqlstate && sqlstate[0] ? ", \"sqlstate\": \"" : "", sqlstate ? sqlstate : "",
			sqlstate && sqlstate[0] ? "\"" : "");
}

/* queue res as the response, with the headers every answer carries */
static enum MHD_Result
respond(struct MHD_Connection *conn, HdState *st, const char *method, HdRoute route,
		const char *role, HdResult *res, const char *allow, int retry_after, bool challenge)
{
	struct MHD_Response *response;
	enum MHD_Result ret;
	bool		get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
	const char *body = res->body ? res->body : "";
	size_t		len = res->body ? res->len : 0;
	void	   *gz = NULL;
	size_t		gz_len = 0;
	char		etag[48] = "";
	int			status = res->status ? res->status : 500;
	enum MHD_ResponseMemoryMode mode = MHD_RESPMEM_PERSISTENT;

	/* a strong ETag over the body; the gzip variant is another representation */
	if (get && status == 200)
	{
		const char *inm = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_NONE_MATCH);
		bool		gzip = hd_accepts_gzip(MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
																		   MHD_HTTP_HEADER_ACCEPT_ENCODING)) &&
			len > HD_GZIP_MIN;

		hd_etag(body, len, etag);
		if (gzip)
			snprintf(etag + strlen(etag) - 1, sizeof(etag) - strlen(etag) + 1, "-gz\"");
		if (inm && hd_etag_matches(inm, etag))
		{
			status = 304;
			body = "";
			len = 0;
		}
		else if (gzip && hd_gzip(body, len, &gz, &gz_len) == 0)
		{
			body = gz;
			len = gz_len;
		}
	}
	/* the body is handed over, not copied: libmicrohttpd frees it */
	if (body == gz && gz != NULL)
		mode = MHD_RESPMEM_MUST_FREE;
	else if (body == res->body && res->body != NULL)
	{
		mode = MHD_RESPMEM_MUST_FREE;
		res->body = NULL;
	}
	response = MHD_create_response_from_buffer(len, (void *) body, mode);
	if (response == NULL)
	{
		if (mode == MHD_RESPMEM_MUST_FREE)
			free((void *) body);
		if (body != gz)
			free(gz);
		return MHD_NO;
	}
	if (body != gz)
		free(gz);
	if (status != 304)
		MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE,
								res->content_type ? res->content_type : "application/json");
	if (gz_len > 0 && status != 304)
		MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_ENCODING, "gzip");
	MHD_add_response_header(response, MHD_HTTP_HEADER_VARY,
							res->vary_accept ? "Accept-Encoding, Accept" : "Accept-Encoding");
	/* on every answer: no sniffing, no framing, no referrer; the page's own policy on the dashboard */
	MHD_add_response_header(response, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(response, "Referrer-Policy", "no-referrer");
	MHD_add_response_header(response, "Content-Security-Policy",
							route == HD_ROOT || route == HD_DASHBOARD || route == HD_DASHBOARD_ASSET ?
							HD_CSP_PAGE : HD_CSP_API);
	MHD_add_response_header(response, MHD_HTTP_HEADER_CACHE_CONTROL,
							res->cache_control ? res->cache_control : "no-store");
	if (etag[0])
		MHD_add_response_header(response, MHD_HTTP_HEADER_ETAG, etag);
	if (res->location[0])
		MHD_add_response_header(response, MHD_HTTP_HEADER_LOCATION, res->location);
	if (res->link[0])
		MHD_add_response_header(response, "Link", res->link);
	if (allow)
		MHD_add_response_header(response, MHD_HTTP_HEADER_ALLOW, allow);
	if (challenge)
		MHD_add_response_header(response, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"perfopt\"");
	if (retry_after > 0)
	{
		char		ra[16];

		snprintf(ra, sizeof(ra), "%d", retry_after);
		MHD_add_response_header(response, MHD_HTTP_HEADER_RETRY_AFTER, ra);
	}
	ret = MHD_queue_response(conn, (unsigned int) status, response);
	MHD_destroy_response(response);

	log_request(method, route, status, len, elapsed_s(&st->start), role, st->client, res->sqlstate);
	hd_stats_request(route, status, elapsed_s(&st->start));
	free(res->body);
	res->body = NULL;
	return ret;
}

/*
 * The query argument key into *value (NULL when absent); false when it is
 * not valid UTF-8 or holds a NUL (libmicrohttpd has decoded it already,
 * and the C string would end early: "?state=open%00x" read as "open").
 */
static bool
query_arg(struct MHD_Connection *conn, const char *key, const char **value)
{
	const char *v = NULL;
	size_t		len = 0;

	*value = NULL;
	if (MHD_lookup_connection_value_n(conn, MHD_GET_ARGUMENT_KIND, key, strlen(key), &v, &len) != MHD_YES ||
		v == NULL)
		return true;
	if (!hd_utf8_valid(v, len))
		return false;
	*value = v;
	return true;
}

static enum MHD_Result
respond_error(struct MHD_Connection *conn, HdState *st, const char *method, HdRoute route,
			  int status, const char *error, const char *detail, const char *allow,
			  int retry_after, bool challenge)
{
	HdResult	res;

	memset(&res, 0, sizeof(res));
	hd_error(&res, status, error, detail, NULL);
	return respond(conn, st, method, route, NULL, &res, allow, retry_after, challenge);
}

/*
 * The dashboard's routes, answered here without a call: / redirects to
 * /dashboard; the page and its files come from the embedded table
 * (assets.c), revalidated (no-cache, ETag and 304 in respond()).
 */
static enum MHD_Result
respond_static(struct MHD_Connection *conn, HdState *st, const char *method, HdRoute route,
			   const char *url, const HdRouteDef *def)
{
	HdResult	res;
	const HdAsset *asset;

	memset(&res, 0, sizeof(res));
	if (def->answer == HD_ANSWER_REDIRECT)
	{
		static const char text[] = "see /dashboard\n";

		res.status = 302;
		snprintf(res.location, sizeof(res.location), "/dashboard");
		res.content_type = "text/plain; charset=utf-8";
		res.cache_control = HD_CACHE_LIVE;
		res.body = strdup(text);
		res.len = res.body ? strlen(text) : 0;
		return respond(conn, st, method, route, NULL, &res, NULL, 0, false);
	}
	asset = hd_asset_find(url);
	if (asset == NULL)
		return respond_error(conn, st, method, route, 404, "not found", "no such file of the dashboard",
							 NULL, 0, false);
	res.body = malloc(asset->len + 1);
	if (res.body == NULL)
		return respond_error(conn, st, method, route, 503, "service unavailable", "out of memory",
							 NULL, 0, false);
	memcpy(res.body, asset->data, asset->len);
	res.len = asset->len;
	res.status = 200;
	res.content_type = asset->content_type;
	res.cache_control = def->cache_control;
	return respond(conn, st, method, route, NULL, &res, NULL, 0, false);
}

enum MHD_Result
hd_access_handler(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload_data,
				  size_t *upload_data_size, void **con_cls)
{
	HdState    *st = *con_cls;
	HdRequest  *req;
	HdResult	res;
	int64_t		id = 0;
	HdRoute		route;
	const HdRouteDef *def;
	int			method_bit;
	const char *token;
	size_t		token_len;
	const char *role = NULL;
	char		role_copy[64];
	int			retry_after = 0;
	char		allow[64];
	uint8_t		hash[32];
	char		key[72];

	(void) cls;
	(void) version;
	if (st == NULL)
	{
		st = calloc(1, sizeof(HdState));
		if (st == NULL)
			return MHD_NO;
		clock_gettime(CLOCK_MONOTONIC, &st->start);
		client_address(conn, st->client, sizeof(st->client));
		atomic_fetch_add(&in_flight, 1);
		*con_cls = st;
		return MHD_YES;
	}
	if (*upload_data_size > 0)
	{
		if (!st->too_large && st->len + *upload_data_size <= HD_MAX_BODY)
		{
			char	   *n = realloc(st->body, st->len + *upload_data_size + 1);

			if (n == NULL)
				st->too_large = true;
			else
			{
				st->body = n;
				memcpy(st->body + st->len, upload_data, *upload_data_size);
				st->len += *upload_data_size;
				st->body[st->len] = '\0';
			}
		}
		else
			st->too_large = true;
		*upload_data_size = 0;
		return MHD_YES;
	}

	/* back from a worker: answer */
	if (atomic_load(&st->done))
		return respond(conn, st, method, st->req.route, st->req.role, &st->res, NULL, 0, false);

	route = hd_route_match(url, &id);
	method_bit = hd_method_bit(method);
	if (route == HD_ROUTE_NONE)
		return respond_error(conn, st, method, route, 404, "not found", "no such route", NULL, 0, false);
	if ((def = hd_route_def(route, method_bit)) == NULL)
	{
		hd_allow_header(hd_route_methods(route), allow, sizeof(allow));
		return respond_error(conn, st, method, route, 405, "method not allowed",
							 "this route does not take that method", allow, 0, false);
	}
	if (st->too_large)
		return respond_error(conn, st, method, route, 413, "payload too large",
							 "request bodies are limited to 64 KiB", NULL, 0, false);

	if (def->rate != HD_RATE_ADDRESS)
	{
		const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);

		if (auth && hd_bearer(auth, &token, &token_len))
		{
			/* hashed once: the lookup and the bucket's key */
			hd_sha256(token, token_len, hash);
			pthread_rwlock_rdlock(&tokens_lock);
			role = hd_tokens_lookup_hash(&tokens, hash);
			if (role)
			{
				snprintf(role_copy, sizeof(role_copy), "%s", role);
				role = role_copy;
			}
			pthread_rwlock_unlock(&tokens_lock);
		}
		if (role == NULL)
		{
			if (!hd_limit(st->client, false, true, &retry_after))
				return respond_error(conn, st, method, route, 429, "too many requests",
									 "too many requests without a valid token from this address", NULL,
									 retry_after, false);
			return respond_error(conn, st, method, route, 401, "unauthorized",
								 "a valid bearer token is required", NULL, 0, true);
		}
		/* the bucket is keyed by the token's hash, never the token */
		hd_hex(hash, 16, key);
		if (!hd_limit(key, def->rate == HD_RATE_WRITE, false, &retry_after))
		{
			memset(&res, 0, sizeof(res));
			hd_error(&res, 429, "too many requests", "this token's rate limit is exhausted", NULL);
			return respond(conn, st, method, route, role, &res, NULL, retry_after, false);
		}
	}
	else if (!hd_limit(st->client, false, true, &retry_after))
		return respond_error(conn, st, method, route, 429, "too many requests",
							 "too many requests from this address", NULL, retry_after, false);

	if (def->answer == HD_ANSWER_REDIRECT || def->answer == HD_ANSWER_ASSET)
		return respond_static(conn, st, method, route, url, def);

	/* the call goes to the workers; the argument strings live as long as the request */
	req = &st->req;
	memset(req, 0, sizeof(*req));
	req->route = route;
	req->method = method_bit;
	req->id = id;
	if (role)
	{
		snprintf(st->role, sizeof(st->role), "%s", role);
		req->role = st->role;
	}
	req->body = st->body ? st->body : "";
	req->body_len = st->len;
	if (!query_arg(conn, "limit", &req->q_limit) || !query_arg(conn, "cursor", &req->q_cursor) ||
		!query_arg(conn, "state", &req->q_state) || !query_arg(conn, "dry_run", &req->q_dry_run) ||
		!query_arg(conn, "format", &req->q_format) || !query_arg(conn, "from", &req->q_from) ||
		!query_arg(conn, "to", &req->q_to) || !query_arg(conn, "step", &req->q_step) ||
		!query_arg(conn, "points", &req->q_points))
		return respond_error(conn, st, method, route, 400, "bad request",
							 "perfopt-httpd: a query argument is not valid UTF-8 text", NULL, 0, false);
	/* libmicrohttpd keeps the header until the request completes */
	req->accept = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT);
	st->conn = conn;
	MHD_suspend_connection(conn);
	if (def->answer == HD_ANSWER_HEALTH)
		enqueue_health(st);
	else
		enqueue(st);
	return MHD_YES;
}

void
hd_request_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
					 enum MHD_RequestTerminationCode toe)
{
	HdState    *st = *con_cls;

	(void) cls;
	(void) conn;
	(void) toe;
	if (st == NULL)
		return;
	free(st->body);
	free(st->res.body);
	free(st);
	*con_cls = NULL;
	atomic_fetch_sub(&in_flight, 1);
}
