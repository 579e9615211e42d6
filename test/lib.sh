# test/lib.sh — shared by test/demo.sh, test/run.sh and the benchmarks:
# the Debian packages perfopt needs, the build, and small cluster helpers.
# Sourced, not run.

PERFOPT_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
PGBIN=/usr/lib/postgresql/15/bin
PGXS_DIR=/usr/lib/postgresql/15/lib/pgxs

# Debian 12 packages: server, headers, contrib (pg_stat_statements, pgbench),
# HypoPG (only a test oracle for the advisor's costs),
# the TAP framework's IPC::Run, promtool, and the shim's libraries.
PERFOPT_PACKAGES="postgresql-15 postgresql-server-dev-15 postgresql-contrib postgresql-15-hypopg
  libipc-run-perl prometheus libcjson-dev libmicrohttpd-dev libpq-dev
  zlib1g-dev make gcc clang libclang-rt-14-dev curl openssl sqlsmith valgrind wrk"

perfopt_log() { printf '\033[1m== %s\033[0m\n' "$*" >&2; }

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
	if command -v pg_ctlcluster >/dev/null && pg_lsclusters -h 2>/dev/null | grep -q '^15 main .* online'; then
		pg_ctlcluster 15 main stop || true
	fi
}

# (one build at a time: two test runs may share a checkout)
perfopt_build_install() {
	perfopt_log "building and installing perfopt"
	(
		flock 9
		make -C "$PERFOPT_TOP" -s PG_CONFIG="$PG_CONFIG" >/dev/null &&
			make -C "$PERFOPT_TOP" -s PG_CONFIG="$PG_CONFIG" install >/dev/null
	) 9>/tmp/perfopt-build.lock
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
# the postgres user when root), preload perfopt, sockets in DIR, log in
# DIR/server.log, start it and create the extension in postgres
perfopt_start_cluster() {
	local dir=$1 port=$2 line
	shift 2
	mkdir -p "$dir"
	[ "$(id -u)" = 0 ] && chown postgres "$dir"
	perfopt_as_pg initdb -D "$dir/data" -A trust -U postgres >/dev/null
	{
		echo "port = $port"
		echo "unix_socket_directories = '$dir'"
		echo "shared_preload_libraries = 'pg_stat_statements,perfopt'"
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
	trap 'perfopt_as_pg pg_ctl -D "$BENCH_DIR/data" -m immediate -w stop >/dev/null 2>&1 || true; rm -rf "$BENCH_DIR"' EXIT
	perfopt_start_cluster "$BENCH_DIR" "$BENCH_PORT" "listen_addresses = ''" "$@"
}
psql_b() { perfopt_as_pg psql -X -q -v ON_ERROR_STOP=1 -h "$BENCH_DIR" -p "$BENCH_PORT" -U postgres -d postgres "$@"; }
sql() { psql_b -At -c "$1"; }
