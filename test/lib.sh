# test/lib.sh — shared by test/demo.sh, test/run.sh and the benchmarks:
# the Debian packages perfopt needs, the build, and small cluster helpers.
# Sourced, not run.

PERFOPT_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# The PostgreSQL major versions perfopt supports and the Debian release
# that carries each: the host runs the one of its own release, the others
# run in a root filesystem of theirs (test/rootfs.sh).
PERFOPT_PG_VERSIONS_ALL="15 17 18"
perfopt_pg_release() {
	case $1 in
	15) echo bookworm ;;
	17) echo trixie ;;
	18) echo sid ;;
	*) echo "PostgreSQL $1 is not supported (supported: $PERFOPT_PG_VERSIONS_ALL)" >&2 && return 1 ;;
	esac
}
# the version of the host's own Debian release (15 on Debian 12)
perfopt_host_pg_version() {
	local v codename
	codename=$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}")
	for v in $PERFOPT_PG_VERSIONS_ALL; do
		[ "$(perfopt_pg_release "$v")" = "$codename" ] && echo "$v" && return 0
	done
	echo 15
}

# The version this run builds and tests: PERFOPT_PG_VERSION, else PG_CONFIG's,
# else the host's; PG_CONFIG defaults to Debian's for that version.
if [ -z "${PERFOPT_PG_VERSION:-}" ]; then
	if [ -n "${PG_CONFIG:-}" ] && [ -x "$PG_CONFIG" ]; then
		PERFOPT_PG_VERSION=$("$PG_CONFIG" --version | sed -E 's/^PostgreSQL ([0-9]+).*/\1/')
	else
		PERFOPT_PG_VERSION=$(perfopt_host_pg_version)
	fi
fi
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/$PERFOPT_PG_VERSION/bin/pg_config}
# the server's programs and PGXS follow PG_CONFIG (a relocated copy of the
# installation works too: each has its own extension directory)
if [ -x "$PG_CONFIG" ]; then
	PGBIN=$("$PG_CONFIG" --bindir)
	PGXS_DIR=$("$PG_CONFIG" --pkglibdir)/pgxs
else
	PGBIN=$(dirname "$PG_CONFIG")
	PGXS_DIR=$(dirname "$PGBIN")/lib/pgxs
fi

# Debian packages for a version: server, headers, contrib (pg_stat_statements,
# pgbench; from 17 on postgresql-NN provides postgresql-contrib itself),
# HypoPG (only a test oracle for the advisor's costs), the TAP framework's
# prove and IPC::Run, promtool, valgrind, the shim's libraries (libpq-dev:
# the extension links libpq too, for replica workloads), and every
# command the scripts call (ps, bc, curl, openssl): a minimal Debian
# (debootstrap --variant=minbase) has none of them.  Trixie's and
# sid's server headers include ICU's without depending on libicu-dev.
perfopt_packages() {
	local v=$1
	echo "postgresql-$v postgresql-server-dev-$v postgresql-$v-hypopg
	  perl libipc-run-perl prometheus libcjson-dev libmicrohttpd-dev libpq-dev nettle-dev
	  zlib1g-dev make gcc curl openssl valgrind procps bc"
	if [ "$v" -le 16 ]; then echo postgresql-contrib; else echo libicu-dev; fi
}
# what the version-independent parts need (the fuzzers' clang and its
# runtime (libclang-rt-dev follows the release's clang), sqlsmith, wrk for
# the soak, systemd-analyze for the service check, what builds the Debian
# packages (dpkg-buildpackage requires build-essential besides the
# Build-Depends), the headless browser of the dashboard's test (156); they
# run on the host only), test/rootfs.sh on the host and test/minimal.sh (git)
PERFOPT_HOST_PACKAGES="clang libclang-rt-dev sqlsmith wrk debootstrap iproute2 systemd
  debhelper postgresql-server-dev-all dpkg-dev build-essential fakeroot lintian git
  chromium chromium-driver"
# what this run needs: its version's packages, and the host's unless
# test/run.sh runs only the version's suites (PERFOPT_VERSION_ONLY=1, as in
# a root filesystem)
PERFOPT_PACKAGES=$(perfopt_packages "$PERFOPT_PG_VERSION" | tr -s ' \t\n' ' ')
[ -n "${PERFOPT_VERSION_ONLY:-}" ] || PERFOPT_PACKAGES="$PERFOPT_PACKAGES $PERFOPT_HOST_PACKAGES"

perfopt_log() { printf '\033[1m== %s\033[0m\n' "$*" >&2; }

# perfopt_readable_checkout SCRIPT ARGS...: the clusters run as the
# postgres user, who must read the tree (the TAP tests, the workload, the
# regression files).  A checkout it cannot read (root's home directory,
# mode 700) is copied, without its git data and outputs, to
# /var/tmp/perfopt-checkout-<hash of its path>/ and SCRIPT runs from the
# copy (which keeps its outputs: tmp_check/, .demo/).  Returns when the
# checkout is readable as it is.
perfopt_readable_checkout() {
	local script=$1 copy
	shift
	[ "$(id -u)" = 0 ] || return 0
	[ -z "${PERFOPT_CHECKOUT_COPY:-}" ] || return 0
	# (as nobody: the postgres user may not exist yet on a fresh machine)
	runuser -u nobody -- test -r "$PERFOPT_TOP/test/lib.sh" -a -x "$PERFOPT_TOP/test" 2>/dev/null && return 0
	copy=/var/tmp/perfopt-checkout-$(printf '%s' "$PERFOPT_TOP" | md5sum | cut -c1-12)
	perfopt_log "the postgres user cannot read $PERFOPT_TOP: running from a copy in $copy"
	mkdir -p "$copy"
	chmod 755 "$copy"
	find "$copy" -mindepth 1 -maxdepth 1 ! -name tmp_check ! -name .demo -exec rm -rf {} +
	tar -C "$PERFOPT_TOP" --exclude=./.git --exclude=./tmp_check --exclude=./.demo -cf - . | tar -C "$copy" -xf - || return 1
	chmod -R a+rX "$copy"
	PERFOPT_CHECKOUT_COPY=$PERFOPT_TOP exec bash "$copy/test/$script" "$@"
}

# a command from PERFOPT_PACKAGES (perfopt_install_deps installs it as root)
perfopt_require() {
	command -v "$1" >/dev/null && return 0
	echo "$1 is missing (run as root to install it, or apt-get install $1)" >&2
	return 1
}

# install what is missing (root only; a no-op when everything is there)
perfopt_install_deps() {
	local missing=""
	for p in $PERFOPT_PACKAGES; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
	done
	[ -z "$missing" ] && return 0
	if [ "$(id -u)" != 0 ]; then
		echo "missing Debian packages:$missing (run as root to install them)" >&2
		return 1
	fi
	perfopt_log "installing$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q >/dev/null
	apt-get install -y -q $missing >/dev/null
	# Debian's package creates and starts a cluster on 5432; perfopt's
	# throwaway clusters do not need it
	if command -v pg_ctlcluster >/dev/null && pg_lsclusters -h 2>/dev/null | grep -q "^$PERFOPT_PG_VERSION main .* online"; then
		pg_ctlcluster "$PERFOPT_PG_VERSION" main stop || true
	fi
}

# (one build at a time: two test runs may share a checkout; once per run:
# the scripts a run calls find it done); the build must be warning-free on
# every version: a warning fails it
perfopt_build_install() {
	[ "${PERFOPT_BUILT:-}" = "$PG_CONFIG" ] && return 0
	perfopt_log "building and installing perfopt (PostgreSQL $PERFOPT_PG_VERSION)"
	local log rc
	log=$(mktemp)
	(
		flock 9
		make -C "$PERFOPT_TOP" -s PG_CONFIG="$PG_CONFIG" >"$log" 2>&1 &&
			make -C "$PERFOPT_TOP" -s PG_CONFIG="$PG_CONFIG" install >/dev/null 2>>"$log"
	) 9>/tmp/perfopt-build.lock
	rc=$?
	if [ "$rc" = 0 ] && grep -q 'warning:' "$log"; then
		echo "the build printed warnings (PostgreSQL $PERFOPT_PG_VERSION)" >&2
		rc=1
	fi
	[ "$rc" = 0 ] || cat "$log" >&2
	rm -f "$log"
	[ "$rc" = 0 ] && export PERFOPT_BUILT=$PG_CONFIG
	return "$rc"
}

# perfopt_sqlcheck (test/sqlcheck), the test-only checker of perfopt's own
# SQL: built warning-free and installed into PG_CONFIG's installation by
# test/run.sh only (never by the demo or a benchmark)
perfopt_build_install_sqlcheck() {
	perfopt_log "building and installing perfopt_sqlcheck (test/sqlcheck)"
	local log rc
	log=$(mktemp)
	(
		flock 9
		make -C "$PERFOPT_TOP/test/sqlcheck" -s PG_CONFIG="$PG_CONFIG" >"$log" 2>&1 &&
			make -C "$PERFOPT_TOP/test/sqlcheck" -s PG_CONFIG="$PG_CONFIG" install >/dev/null 2>>"$log"
	) 9>/tmp/perfopt-build.lock
	rc=$?
	if [ "$rc" = 0 ] && grep -q 'warning:' "$log"; then
		echo "test/sqlcheck printed warnings" >&2
		rc=1
	fi
	[ "$rc" = 0 ] || cat "$log" >&2
	rm -f "$log"
	return "$rc"
}

# a TCP port nobody listens on
perfopt_free_port() {
	local port
	for port in $(seq "${1:-55432}" 65000); do
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && [ ! -e "/tmp/.s.PGSQL.$port" ]; then
			echo "$port"
			return 0
		fi
	done
	return 1
}

# run a command as the unprivileged user PostgreSQL needs (postgres when root)
perfopt_as_pg() {
	if [ "$(id -u)" = 0 ]; then
		runuser -u postgres -- env PATH="$PGBIN:$PATH" "$@"
	else
		env PATH="$PGBIN:$PATH" "$@"
	fi
}

# perfopt_start_cluster DIR PORT [conf lines...]: initdb DIR/data (owned by
# the postgres user when root), preload perfopt (and perfopt_sqlcheck when
# test/run.sh sets PERFOPT_SQLCHECK), sockets in DIR, log in
# DIR/server.log, start it and create the extension in postgres
perfopt_start_cluster() {
	local dir=$1 port=$2 line preload=pg_stat_statements,perfopt
	shift 2
	if [ -n "${PERFOPT_SQLCHECK:-}" ]; then preload=$preload,perfopt_sqlcheck; fi
	mkdir -p "$dir"
	[ "$(id -u)" = 0 ] && chown postgres "$dir"
	perfopt_as_pg initdb -D "$dir/data" -A trust -U postgres >/dev/null
	{
		echo "port = $port"
		echo "unix_socket_directories = '$dir'"
		echo "shared_preload_libraries = '$preload'"
		for line in "$@"; do echo "$line"; done
	} | perfopt_as_pg tee -a "$dir/data/postgresql.conf" >/dev/null
	perfopt_as_pg pg_ctl -D "$dir/data" -l "$dir/server.log" -w start >/dev/null
	perfopt_as_pg psql -X -q -h "$dir" -p "$port" -U postgres -d postgres \
		-c "SET client_min_messages = warning; CREATE EXTENSION perfopt CASCADE"
}

# perfopt_bench_cluster PORT [conf lines...]: a throwaway cluster for a
# benchmark in a temporary directory, stopped and removed when the script
# exits; psql_b and sql below talk to it
perfopt_bench_cluster() {
	BENCH_DIR=$(mktemp -d /tmp/perfopt-bench.XXXXXX)
	BENCH_PORT=$(perfopt_free_port "$1")
	shift
	trap perfopt_bench_stop EXIT
	perfopt_start_cluster "$BENCH_DIR" "$BENCH_PORT" "listen_addresses = ''" "$@"
}
psql_b() { perfopt_as_pg psql -X -q -v ON_ERROR_STOP=1 -h "$BENCH_DIR" -p "$BENCH_PORT" -U postgres -d postgres "$@"; }
sql() { psql_b -At -c "$1"; }

# the benchmark's clean-up: the shim if one runs (SIGTERM, then SIGKILL
# after 5 s), the cluster, the directory; under test/run.sh's checker the
# server log is kept in $PERFOPT_TMP first, where run.sh looks at it
shim_pid=""
perfopt_bench_stop() {
	if [ -n "$shim_pid" ] && kill -TERM "$shim_pid" 2>/dev/null; then
		for _ in $(seq 1 50); do
			kill -0 "$shim_pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$shim_pid" 2>/dev/null || true
	fi
	perfopt_as_pg pg_ctl -D "$BENCH_DIR/data" -m immediate -w stop >/dev/null 2>&1 || true
	if [ -n "${PERFOPT_SQLCHECK:-}" ] && [ -n "${PERFOPT_TMP:-}" ] && [ -f "$BENCH_DIR/server.log" ]; then
		mkdir -p "$PERFOPT_TMP/bench-logs" &&
			cp "$BENCH_DIR/server.log" "$PERFOPT_TMP/bench-logs/$(basename "$0" .sh)-$BENCH_PORT.log"
	fi
	rm -rf "$BENCH_DIR"
}

# perfopt_bench_shim [shim options...]: the installed perfopt-httpd against
# the bench cluster over its Unix socket (as the shim is deployed next to
# its server: no host in --conninfo), as the postgres user when root, with
# a fresh token mapped to a pg_monitor role; sets token,
# http_port, shim_log (one JSON line per request, in BENCH_DIR) and
# shim_pid, and waits for /healthz to answer 200
perfopt_bench_shim() {
	local httpd=$PGBIN/perfopt-httpd
	psql_b -c "CREATE ROLE perfopt_api LOGIN NOINHERIT;
	  CREATE ROLE api_reader NOLOGIN IN ROLE pg_monitor;
	  GRANT api_reader TO perfopt_api;"
	token=$(head -c 24 /dev/urandom | base64 | tr '+/' '-_')
	echo "$(printf %s "$token" | "$httpd" --hash-token) api_reader" >"$BENCH_DIR/tokens"
	[ "$(id -u)" = 0 ] && chown postgres "$BENCH_DIR/tokens"
	http_port=$(perfopt_free_port $((BENCH_PORT + 1)))
	shim_log=$BENCH_DIR/httpd.log
	# sh -c: $0 is the log, "$@" the command; it prints the shim's pid
	# shellcheck disable=SC2016
	shim_pid=$(perfopt_as_pg sh -c '"$@" >/dev/null 2>>"$0" & echo $!' "$shim_log" \
		"$httpd" --listen "127.0.0.1:$http_port" --tokens "$BENCH_DIR/tokens" \
		--conninfo "host=$BENCH_DIR port=$BENCH_PORT dbname=postgres user=perfopt_api" "$@")
	for _ in $(seq 1 100); do
		[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$http_port/healthz")" = 200 ] && return 0
		sleep 0.1
	done
	echo "perfopt-httpd did not answer 200 on /healthz:" >&2
	tail -n 20 "$shim_log" >&2
	return 1
}
