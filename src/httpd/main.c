/*
 * main.c — perfopt-httpd: configuration (a file of "key = value" lines
 * and the same keys as --flags, flags winning), the libmicrohttpd daemon
 * (a pool of --threads threads on epoll, which never wait for the
 * database: calls run on --pool workers, one per connection, handler.c),
 * HTTPS with --tls-cert and --tls-key (PEM files, read once at start;
 * libmicrohttpd's GnuTLS), the cap on connections from one client address
 * (--per-address-connections), and the signals: SIGHUP reloads the token
 * file, SIGTERM/SIGINT stop accepting, drain the requests in flight (at
 * most --drain seconds) and exit.
 *
 *   perfopt-httpd --conninfo 'dbname=postgres user=perfopt_api' --tokens FILE
 *   perfopt-httpd --hash-token < token        (prints the token file's hash)
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <microhttpd.h>

#include "handler.h"
#include "httpd.h"

HdConfig	hd_config = {
	.listen_host = "127.0.0.1",
	.listen_port = 3000,
	.conninfo = NULL,
	.tokens_path = NULL,
	.pool_size = 0,				/* default_sizes() */
	.threads = 0,				/* default_sizes() */
	.statement_timeout_ms = 5000,
	.bulk_max = 100,
	.connection_timeout_s = 10,
	.read_rate = 50,
	.read_burst = 100,
	.write_rate = 1,
	.write_burst = 5,
	.anon_rate = 5,
	.anon_burst = 20,
	.drain_s = 10,
	.health_timeout_ms = 1000,
	.per_address_connections = 32,
};

/* libmicrohttpd's limit on open connections; one address gets at most --per-address-connections */
#define HD_MAX_CONNECTIONS 256

static void
usage(FILE *out)
{
	fprintf(out,
			"perfopt-httpd: the REST API over perfopt's SQL functions, and a dashboard at /dashboard\n\n"
			"  perfopt-httpd --conninfo CONNINFO --tokens FILE [options]\n"
			"  perfopt-httpd --hash-token < token      print the hash to put in the token file\n\n"
			"options (also as \"key = value\" lines of --config FILE):\n"
			"  --listen HOST:PORT            default 127.0.0.1:3000\n"
			"  --conninfo CONNINFO           libpq connection of the authenticator role\n"
			"  --tokens FILE                 lines \"<sha256 hex of a token> <role>\"\n"
			"  --tls-cert FILE --tls-key FILE  serve HTTPS with this PEM certificate and key\n"
			"  --pool N                      database connections (default: CPUs + 1, 2 to 8)\n"
			"  --threads N                   HTTP threads (default: CPUs / 2, 1 to 4); calls run on one worker per connection\n"
			"  --statement-timeout MS        per request (default 5000)\n"

			"  --bulk-max N                  ids in one bulk resolve (default 100)\n"
			"  --connection-timeout S        slow or idle clients (default 10)\n"
			"  --read-rate R --read-burst B  per token (default 50/s, 100)\n"
			"  --write-rate R --write-burst B  per token, state-changing routes (default 1/s, 5)\n"
			"  --anon-rate R --anon-burst B  per address without a valid token (default 5/s, 20)\n"
			"  --drain S                     SIGTERM: wait for requests in flight (default 10)\n"
			"  --health-timeout MS           /healthz answers 503 when the database takes longer (default 1000)\n"
			"  --per-address-connections N   open connections from one client address (default 32, of 256)\n");
}

/* one key and its value; false with a message on stderr */
static bool
set_option(const char *key, const char *value)
{
	char	   *end;
	double		d;

	if (value == NULL)
	{
		fprintf(stderr, "perfopt-httpd: %s needs a value\n", key);
		return false;
	}
	if (strcmp(key, "conninfo") == 0)
		hd_config.conninfo = strdup(value);
	else if (strcmp(key, "tokens") == 0)
		hd_config.tokens_path = strdup(value);
	else if (strcmp(key, "tls-cert") == 0)
		hd_config.tls_cert_path = strdup(value);
	else if (strcmp(key, "tls-key") == 0)
		hd_config.tls_key_path = strdup(value);
	else if (strcmp(key, "listen") == 0)
	{
		const char *colon = strrchr(value, ':');
		long		port;

		if (colon == NULL || colon == value)
		{
			fprintf(stderr, "perfopt-httpd: listen must be HOST:PORT\n");
			return false;
		}
		port = strtol(colon + 1, &end, 10);
		if (*end != '\0' || port < 1 || port > 65535)
		{
			fprintf(stderr, "perfopt-httpd: bad port in listen: %s\n", value);
			return false;
		}
		hd_config.listen_host = strndup(value, (size_t) (colon - value));
		hd_config.listen_port = (int) port;
	}
	else
	{
		static const char *const numeric[] = {"pool", "threads", "statement-timeout", "bulk-max",
			"connection-timeout", "read-rate", "read-burst", "write-rate", "write-burst",
			"anon-rate", "anon-burst", "drain", "health-timeout", "per-address-connections"};
		bool		known = false;

		for (size_t i = 0; i < sizeof(numeric) / sizeof(numeric[0]); i++)
			known = known || strcmp(key, numeric[i]) == 0;
		/* not the value: it may be a mistyped conninfo, password and all */
		if (!known)
		{
			fprintf(stderr, "perfopt-httpd: unknown option: %s\n", key);
			return false;
		}
		d = strtod(value, &end);
		if (*end != '\0' || end == value || d <= 0 || d > 1e7)
		{
			fprintf(stderr, "perfopt-httpd: %s must be a positive number, not \"%s\"\n", key, value);
			return false;
		}
		if (strcmp(key, "pool") == 0 && d <= 256)
			hd_config.pool_size = (int) d;
		else if (strcmp(key, "threads") == 0 && d <= 256)
			hd_config.threads = (int) d;
		else if (strcmp(key, "statement-timeout") == 0)
			hd_config.statement_timeout_ms = (int) d;
		else if (strcmp(key, "bulk-max") == 0 && d <= 1000)
			hd_config.bulk_max = (int) d;
		else if (strcmp(key, "connection-timeout") == 0)
			hd_config.connection_timeout_s = (int) d;
		else if (strcmp(key, "read-rate") == 0)
			hd_config.read_rate = d;
		else if (strcmp(key, "read-burst") == 0)
			hd_config.read_burst = d;
		else if (strcmp(key, "write-rate") == 0)
			hd_config.write_rate = d;
		else if (strcmp(key, "write-burst") == 0)
			hd_config.write_burst = d;
		else if (strcmp(key, "anon-rate") == 0)
			hd_config.anon_rate = d;
		else if (strcmp(key, "anon-burst") == 0)
			hd_config.anon_burst = d;
		else if (strcmp(key, "drain") == 0)
			hd_config.drain_s = (int) d;
		else if (strcmp(key, "health-timeout") == 0 && d <= 60000)
			hd_config.health_timeout_ms = (int) d;
		else if (strcmp(key, "per-address-connections") == 0 && d <= HD_MAX_CONNECTIONS)
			hd_config.per_address_connections = (int) d;
		else
		{
			fprintf(stderr, "perfopt-httpd: value out of range: %s = %s\n", key, value);
			return false;
		}
	}
	return true;
}

static bool
read_config(const char *path)
{
	FILE	   *f = fopen(path, "r");
	char		line[4096];
	int			n = 0;

	if (f == NULL)
	{
		fprintf(stderr, "perfopt-httpd: cannot open %s: %s\n", path, strerror(errno));
		return false;
	}
	while (fgets(line, sizeof(line), f))
	{
		char	   *key = line;
		char	   *eq;
		char	   *value;
		char	   *end;

		n++;
		while (*key == ' ' || *key == '\t')
			key++;
		if (*key == '#' || *key == '\n' || *key == '\0')
			continue;
		eq = strchr(key, '=');
		if (eq == NULL)
		{
			fprintf(stderr, "perfopt-httpd: %s line %d: expected key = value\n", path, n);
			fclose(f);
			return false;
		}
		value = eq + 1;
		for (end = eq; end > key && (end[-1] == ' ' || end[-1] == '\t'); end--)
			;
		*end = '\0';
		while (*value == ' ' || *value == '\t')
			value++;
		for (end = value + strlen(value); end > value && strchr(" \t\r\n", end[-1]); end--)
			;
		*end = '\0';
		if (!set_option(key, value))
		{
			fclose(f);
			return false;
		}
	}
	fclose(f);
	return true;
}

/* a whole PEM file as a NUL-terminated string; NULL with a message on stderr */
static char *
read_pem(const char *path)
{
	FILE	   *f = fopen(path, "r");
	char	   *buf;
	size_t		len;

	if (f == NULL)
	{
		fprintf(stderr, "perfopt-httpd: cannot open %s: %s\n", path, strerror(errno));
		return NULL;
	}
	buf = malloc(HD_PEM_MAX + 2);
	len = buf ? fread(buf, 1, HD_PEM_MAX + 1, f) : 0;
	fclose(f);
	if (buf != NULL)
		buf[len] = '\0';
	if (buf == NULL || len == 0 || len > HD_PEM_MAX || strstr(buf, "-----BEGIN ") == NULL)
	{
		fprintf(stderr, "perfopt-httpd: %s is not a PEM file of at most %d bytes\n", path, HD_PEM_MAX);
		free(buf);
		return NULL;
	}
	return buf;
}

static int
clamp_int(long v, int lo, int hi)
{
	return v < lo ? lo : v > hi ? hi : (int) v;
}

/*
 * Sizes not given on the command line follow the CPUs, because the
 * database usually runs on this host (the default listen address is
 * loopback) and the calls are short and CPU-bound there.  One connection
 * more than the CPUs keeps them busy; more only moves the queue from the
 * shim's FIFO into the kernel's run queue, where the tail grows.  The
 * HTTP threads never wait, so half the CPUs is plenty.  Measured with
 * test/bench/httpd.sh on 2 CPUs: p99 6 ms with 3 connections, 70-115 ms
 * with 4; 4,400 requests/s with one HTTP thread, 4,000 with two.
 */
static void
default_sizes(void)
{
	long		cpus = sysconf(_SC_NPROCESSORS_ONLN);

	if (cpus < 1)
		cpus = 2;
	if (hd_config.pool_size == 0)
		hd_config.pool_size = clamp_int(cpus + 1, 2, 8);
	if (hd_config.threads == 0)
		hd_config.threads = clamp_int(cpus / 2, 1, 4);
}

static int
hash_token(void)
{
	char		token[4097];
	size_t		len = fread(token, 1, sizeof(token) - 1, stdin);
	uint8_t		hash[32];
	char		hex[65];

	while (len > 0 && (token[len - 1] == '\n' || token[len - 1] == '\r'))
		len--;
	if (len == 0)
	{
		fprintf(stderr, "perfopt-httpd: give the token on standard input\n");
		return 1;
	}
	hd_sha256(token, len, hash);
	hd_hex(hash, sizeof(hash), hex);
	printf("%s\n", hex);
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"config", required_argument, NULL, 'c'},
		{"listen", required_argument, NULL, 1},
		{"conninfo", required_argument, NULL, 1},
		{"tokens", required_argument, NULL, 1},
		{"tls-cert", required_argument, NULL, 1},
		{"tls-key", required_argument, NULL, 1},
		{"pool", required_argument, NULL, 1},
		{"threads", required_argument, NULL, 1},
		{"statement-timeout", required_argument, NULL, 1},
		{"bulk-max", required_argument, NULL, 1},
		{"connection-timeout", required_argument, NULL, 1},
		{"read-rate", required_argument, NULL, 1},
		{"read-burst", required_argument, NULL, 1},
		{"write-rate", required_argument, NULL, 1},
		{"write-burst", required_argument, NULL, 1},
		{"anon-rate", required_argument, NULL, 1},
		{"anon-burst", required_argument, NULL, 1},
		{"drain", required_argument, NULL, 1},
		{"health-timeout", required_argument, NULL, 1},
		{"per-address-connections", required_argument, NULL, 1},
		{"hash-token", no_argument, NULL, 'H'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}
	};
	int			opt;
	int			index;
	char		err[256];
	sigset_t	signals;
	struct MHD_Daemon *daemon;
	struct sockaddr_in addr;
	MHD_socket	listener = MHD_INVALID_SOCKET;
	struct MHD_OptionItem tls[3] = {{MHD_OPTION_END, 0, NULL}};
	struct MHD_OptionItem threads[2] = {{MHD_OPTION_END, 0, NULL}};
	char	   *cert = NULL;	/* PEM text the daemon uses until it stops */
	char	   *key = NULL;
	unsigned int tls_flag = 0;

	/* a config file first, so that flags win */
	for (int i = 1; i + 1 < argc; i++)
		if (strcmp(argv[i], "--config") == 0 && !read_config(argv[i + 1]))
			return 2;
	while ((opt = getopt_long(argc, argv, "c:hH", longopts, &index)) != -1)
	{
		if (opt == 'h')
		{
			usage(stdout);
			return 0;
		}
		if (opt == 'H')
			return hash_token();
		if (opt == 'c')
			continue;
		if (opt != 1 || !set_option(longopts[index].name, optarg))
		{
			usage(stderr);
			return 2;
		}
	}
	if (hd_config.conninfo == NULL || hd_config.tokens_path == NULL)
	{
		fprintf(stderr, "perfopt-httpd: --conninfo and --tokens are required\n");
		usage(stderr);
		return 2;
	}
	if (hd_tokens_load(hd_config.tokens_path, err, sizeof(err)) != 0)
	{
		fprintf(stderr, "perfopt-httpd: %s\n", err);
		return 2;
	}
	if ((hd_config.tls_cert_path == NULL) != (hd_config.tls_key_path == NULL))
	{
		fprintf(stderr, "perfopt-httpd: --tls-cert and --tls-key go together\n");
		return 2;
	}
	if (hd_config.tls_cert_path != NULL)
	{
		if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES)
		{
			fprintf(stderr, "perfopt-httpd: this libmicrohttpd has no TLS support\n");
			return 2;
		}
		if ((cert = read_pem(hd_config.tls_cert_path)) == NULL ||
			(key = read_pem(hd_config.tls_key_path)) == NULL)
		{
			free(cert);
			return 2;
		}
		tls[0] = (struct MHD_OptionItem) {MHD_OPTION_HTTPS_MEM_CERT, 0, cert};
		tls[1] = (struct MHD_OptionItem) {MHD_OPTION_HTTPS_MEM_KEY, 0, key};
		tls[2] = (struct MHD_OptionItem) {MHD_OPTION_END, 0, NULL};
		tls_flag = MHD_USE_TLS;
	}
	memset(&addr, 0, sizeof(addr));
	addr.sin_family = AF_INET;
	addr.sin_port = htons((uint16_t) hd_config.listen_port);
	if (inet_pton(AF_INET, strcmp(hd_config.listen_host, "localhost") == 0 ? "127.0.0.1" : hd_config.listen_host,
				  &addr.sin_addr) != 1)
	{
		fprintf(stderr, "perfopt-httpd: listen needs an IPv4 address, not %s\n", hd_config.listen_host);
		return 2;
	}
	default_sizes();
	if (hd_pool_init(hd_config.pool_size, hd_config.conninfo, hd_config.statement_timeout_ms,
					 hd_config.health_timeout_ms) != 0)
	{
		fprintf(stderr, "perfopt-httpd: out of memory\n");
		return 1;
	}
	hd_stats_init();

	/* signals go to this thread only, through sigwait */
	sigemptyset(&signals);
	sigaddset(&signals, SIGTERM);
	sigaddset(&signals, SIGINT);
	sigaddset(&signals, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &signals, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (hd_workers_start(hd_config.pool_size) != 0)
	{
		fprintf(stderr, "perfopt-httpd: cannot start the call workers\n");
		return 1;
	}
	/* a pool of one is no pool: libmicrohttpd would warn and ignore it */
	if (hd_config.threads > 1)
		threads[0] = (struct MHD_OptionItem) {MHD_OPTION_THREAD_POOL_SIZE, hd_config.threads, NULL};
	daemon = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG |
							  MHD_USE_ITC | MHD_ALLOW_SUSPEND_RESUME | tls_flag,
							  (uint16_t) hd_config.listen_port, NULL, NULL,
							  &hd_access_handler, NULL,
							  MHD_OPTION_SOCK_ADDR, (struct sockaddr *) &addr,
							  MHD_OPTION_ARRAY, threads,
							  MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int) hd_config.connection_timeout_s,
							  MHD_OPTION_CONNECTION_LIMIT, (unsigned int) HD_MAX_CONNECTIONS,
							  MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned int) hd_config.per_address_connections,
							  MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t) (32 * 1024),
							  MHD_OPTION_NOTIFY_COMPLETED, &hd_request_completed, NULL,
							  MHD_OPTION_ARRAY, tls,
							  MHD_OPTION_END);
	if (daemon == NULL)
	{
		fprintf(stderr, "perfopt-httpd: cannot listen on %s:%d%s\n", hd_config.listen_host, hd_config.listen_port,
				tls_flag ? " (or the TLS certificate and key do not match)" : "");
		free(cert);
		free(key);
		return 1;
	}
	fprintf(stderr, "{\"event\": \"listening\", \"address\": \"%s:%d\", \"tls\": %s, \"pool\": %d, \"threads\": %d}\n",
			hd_config.listen_host, hd_config.listen_port, tls_flag ? "true" : "false",
			hd_config.pool_size, hd_config.threads);

	for (;;)
	{
		int			sig;

		if (sigwait(&signals, &sig) != 0)
			continue;
		if (sig == SIGHUP)
		{
			if (hd_tokens_load(hd_config.tokens_path, err, sizeof(err)) != 0)
				fprintf(stderr, "{\"event\": \"reload failed\", \"detail\": \"%s\"}\n", err);
			else
				fprintf(stderr, "{\"event\": \"tokens reloaded\"}\n");
			continue;
		}
		break;
	}

	/* stop accepting, let the requests in flight finish, then stop */
	{
		int			n;

		listener = MHD_quiesce_daemon(daemon);
		for (int waited = 0; waited < hd_config.drain_s * 10; waited++)
		{
			hd_requests_in_flight(&n);
			if (n == 0)
				break;
			usleep(100 * 1000);
		}
		hd_requests_in_flight(&n);
		fprintf(stderr, "{\"event\": \"stopping\", \"in_flight\": %d}\n", n);
	}
	MHD_stop_daemon(daemon);
	hd_workers_stop();
	free(cert);
	free(key);
	/* closed only now: the daemon's threads may have used it until the stop */
	if (listener != MHD_INVALID_SOCKET)
		close(listener);
	hd_pool_close();
	return 0;
}
