/*
 * stats.c — perfopt-httpd's own metrics (requests by route and status, a
 * duration histogram, the pool in use) and its rate limits (a token
 * bucket per token, stricter for state-changing routes, and per client
 * address for requests without a token).
 *
 * Both live behind one mutex; the limiter table is bounded: when it is
 * full the bucket unused longest is taken over (a bucket that full is
 * back to its burst anyway after a while).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "httpd.h"
#include "latency_hist.h"
#include "promtext.h"

#define HD_STATUS_CODES 16
#define HD_LIMIT_KEYS 4096
#define HD_LIMIT_KEY_LEN 80

typedef struct StatRow
{
	HdRoute		route;
	int			status;
	uint64_t	count;
} StatRow;

typedef struct LimitRow
{
	char		key[HD_LIMIT_KEY_LEN];
	HdBucket	bucket;
	double		used;
} LimitRow;

static pthread_mutex_t stats_lock = PTHREAD_MUTEX_INITIALIZER;
static StatRow rows[HD_NROUTES * HD_STATUS_CODES];
static int	nrows = 0;
static LatencyHist durations;
static LimitRow *limits = NULL;
static int	nlimits = 0;

void
hd_stats_init(void)
{
	limits = calloc(HD_LIMIT_KEYS, sizeof(LimitRow));
	lh_reset(&durations);
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

void
hd_stats_request(HdRoute route, int status, double seconds)
{
	StatRow    *row = NULL;

	pthread_mutex_lock(&stats_lock);
	for (int i = 0; i < nrows && row == NULL; i++)
		if (rows[i].route == route && rows[i].status == status)
			row = &rows[i];
	if (row == NULL && nrows < (int) (sizeof(rows) / sizeof(rows[0])))
	{
		row = &rows[nrows++];
		row->route = route;
		row->status = status;
		row->count = 0;
	}
	if (row)
		row->count++;
	lh_record(&durations, seconds > 0 ? (uint64_t) (seconds * 1e9) : 0);
	pthread_mutex_unlock(&stats_lock);
}

/* append to a growing malloc'd buffer; on out-of-memory the text stops there */
static void
append(char **buf, size_t *len, size_t *cap, const char *fmt,...)
			__attribute__((format(printf, 4, 5)));

static void
append(char **buf, size_t *len, size_t *cap, const char *fmt,...)
{
	va_list		ap;
	int			need;

	/* formatted once where it fits, which is nearly always */
	if (*cap - *len < 256)
	{
		size_t		ncap = *cap < 4096 ? 4096 : *cap * 2;
		char	   *nbuf = realloc(*buf, ncap);

		if (nbuf == NULL)
			return;
		*buf = nbuf;
		*cap = ncap;
	}
	va_start(ap, fmt);
	need = vsnprintf(*buf + *len, *cap - *len, fmt, ap);
	va_end(ap);
	if (need < 0)
		return;
	if (*len + (size_t) need + 1 > *cap)
	{
		size_t		ncap = (*len + (size_t) need + 1) * 2;
		char	   *nbuf = realloc(*buf, ncap);

		if (nbuf == NULL)
		{
			(*buf)[*len] = '\0';
			return;
		}
		*buf = nbuf;
		*cap = ncap;
		va_start(ap, fmt);
		vsnprintf(*buf + *len, *cap - *len, fmt, ap);
		va_end(ap);
	}
	*len += (size_t) need;
}

void
hd_stats_prometheus(char **out, size_t *out_len)
{
	char	   *buf = NULL;
	size_t		len = 0;
	size_t		cap = 0;
	uint64_t	cumulative[LH_PROM_NBOUNDS];
	LatencyHist h;
	int			in_use;
	int			size;

	pthread_mutex_lock(&stats_lock);
	append(&buf, &len, &cap,
		   "# HELP perfopt_http_requests_total Requests perfopt-httpd answered, by route and status.\n"
		   "# TYPE perfopt_http_requests_total counter\n");
	for (int i = 0; i < nrows; i++)
	{
		char		route[512];

		prom_escape_label_value(hd_route_name(rows[i].route), route, sizeof(route));
		append(&buf, &len, &cap, "perfopt_http_requests_total{route=\"%s\",code=\"%d\"} %llu\n",
			   route, rows[i].status, (unsigned long long) rows[i].count);
	}
	h = durations;
	pthread_mutex_unlock(&stats_lock);

	append(&buf, &len, &cap,
		   "# HELP perfopt_http_request_duration_seconds Time perfopt-httpd took to answer a request.\n"
		   "# TYPE perfopt_http_request_duration_seconds histogram\n");
	lh_prom_cumulative(&h, cumulative);
	for (int b = 0; b < LH_PROM_NBOUNDS; b++)
	{
		char		le[32];

		lh_format_seconds(lh_prom_bounds_ns[b], le, sizeof(le));
		append(&buf, &len, &cap, "perfopt_http_request_duration_seconds_bucket{le=\"%s\"} %llu\n",
			   le, (unsigned long long) cumulative[b]);
	}
	append(&buf, &len, &cap,
		   "perfopt_http_request_duration_seconds_bucket{le=\"+Inf\"} %llu\n"
		   "perfopt_http_request_duration_seconds_sum %.9f\n"
		   "perfopt_http_request_duration_seconds_count %llu\n",
		   (unsigned long long) h.count, h.sum_ns / 1e9, (unsigned long long) h.count);

	hd_pool_counts(&in_use, &size);
	append(&buf, &len, &cap,
		   "# HELP perfopt_http_pool_connections Database connections of perfopt-httpd's pool.\n"
		   "# TYPE perfopt_http_pool_connections gauge\n"
		   "perfopt_http_pool_connections{state=\"in_use\"} %d\n"
		   "perfopt_http_pool_connections{state=\"idle\"} %d\n",
		   in_use, size - in_use);
	*out = buf;
	*out_len = len;
}

bool
hd_limit(const char *key, bool write, bool anonymous, int *retry_after)
{
	char		k[HD_LIMIT_KEY_LEN];
	LimitRow   *row = NULL;
	double		now = now_s();
	double		rate = anonymous ? hd_config.anon_rate : write ? hd_config.write_rate : hd_config.read_rate;
	double		burst = anonymous ? hd_config.anon_burst : write ? hd_config.write_burst : hd_config.read_burst;
	bool		ok;

	/* reads and writes of one token have buckets of their own */
	snprintf(k, sizeof(k), "%c:%.70s", anonymous ? 'a' : write ? 'w' : 'r', key);
	pthread_mutex_lock(&stats_lock);
	for (int i = 0; i < nlimits && row == NULL; i++)
		if (strcmp(limits[i].key, k) == 0)
			row = &limits[i];
	if (row == NULL)
	{
		if (nlimits < HD_LIMIT_KEYS)
			row = &limits[nlimits++];
		else
		{
			row = &limits[0];
			for (int i = 1; i < nlimits; i++)
				if (limits[i].used < row->used)
					row = &limits[i];
		}
		memset(row, 0, sizeof(*row));
		snprintf(row->key, sizeof(row->key), "%s", k);
	}
	row->used = now;
	ok = hd_bucket_take(&row->bucket, now, rate, burst, retry_after);
	pthread_mutex_unlock(&stats_lock);
	return ok;
}
