#!/usr/bin/env bash
# test/bench/httpd-server-cost.sh — what one perfopt-httpd request costs the
# server, in instructions, next to the call alone: the round trip's
# BEGIN READ ONLY, SET LOCAL ROLE and COMMIT around the call, and each
# statement of the session reset that follows (src/httpd/sql.h).
#
# One throwaway cluster with perfopt; the server runs in single-user mode
# (postgres --single, with pg_stat_statements and perfopt preloaded, as
# test/bench/overhead.sh does) under valgrind --tool=callgrind on a file of
# 200 and of 400 copies of each variant, one request per line, so that
# start-up and shut-down cancel out: (Ir(400) - Ir(200)) / 200.  The
# role is api_reader (pg_monitor), as in test/bench/httpd.sh.  Single-user
# mode has no client protocol: this is the server's work alone.
# It measures the perfopt that is installed (make install first).
#   bash test/bench/httpd-server-cost.sh [call, default perfopt_metrics_prometheus()]
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
call="SELECT public.${1:-perfopt_metrics_prometheus()}"
[ "$(id -u)" = 0 ] && perfopt_install_deps
perfopt_require valgrind || exit 1

perfopt_bench_cluster 57632 "pg_stat_statements.track = top" "perfopt.track = top"
perfopt_as_pg psql -h "$BENCH_DIR" -p "$BENCH_PORT" -U postgres -XAtq -v ON_ERROR_STOP=1 postgres >/dev/null <<'SQL'
CREATE ROLE api_reader NOLOGIN IN ROLE pg_monitor;
SQL
perfopt_as_pg pg_ctl -D "$BENCH_DIR/data" -m fast -w stop >/dev/null

# single FILE [valgrind args...]: the file through a single-user backend
single() {
	local f=$1 log="$BENCH_DIR/single.log"
	shift
	if ! perfopt_as_pg "$@" postgres --single -D "$BENCH_DIR/data" \
		-c shared_preload_libraries=pg_stat_statements,perfopt postgres \
		<"$f" >/dev/null 2>"$log" || grep -Eq '(ERROR|FATAL|PANIC):' "$log"; then
		echo "single-user run failed ($f):" >&2
		tail -n 20 "$log" >&2
		exit 1
	fi
}

# instructions of a callgrind run over FILE
callgrind_ir() {
	local out="$BENCH_DIR/callgrind.out"
	single "$1" valgrind --tool=callgrind --callgrind-out-file="$out" \
		--dump-instr=no --collect-atstart=yes --trace-children=no
	awk '/^summary:/ { print $2; found = 1; exit } /^totals:/ { t = $2 }
		END { if (!found && t != "") print t }' "$out"
}

# variant NAME SQL: instructions per line of SQL
variant() {
	local name=$1 sql=$2 n ir200 ir400
	for n in 200 400; do
		awk -v n="$n" -v s="$sql" 'BEGIN { for (i = 1; i <= n; i++) print s }' >"$BENCH_DIR/v-$n.sql"
	done
	[ "$(id -u)" = 0 ] && chown postgres "$BENCH_DIR"/v-*.sql
	single "$BENCH_DIR/v-200.sql" # warm: caches and saved files
	ir200=$(callgrind_ir "$BENCH_DIR/v-200.sql")
	ir400=$(callgrind_ir "$BENCH_DIR/v-400.sql")
	awk -v a="$ir200" -v b="$ir400" -v name="$name" 'BEGIN { printf "  %-62s %10.0f\n", name, (b - a) / 200 }'
}

# the reset's statements, as src/httpd/sql.h spells them (HD_SQL_RESET)
mapfile -t reset_statements < <(awk '/^#define HD_SQL_RESET \\$/ { on = 1; next }
	on { s = $0; sub(/^[^"]*"/, "", s); sub(/;? *"[^"]*$/, "", s); print s; if ($0 !~ /\\$/) exit }' \
	"$PERFOPT_TOP/src/httpd/sql.h")
if [ "${#reset_statements[@]}" -lt 2 ]; then
	echo "cannot read HD_SQL_RESET from src/httpd/sql.h" >&2
	exit 1
fi
reset=$(printf '%s; ' "${reset_statements[@]}")
echo "server instructions per request (callgrind, single-user mode, (Ir(400) - Ir(200)) / 200):"
variant "SELECT 1 (for scale)" "SELECT 1"
variant "$call (the call alone)" "$call;"
variant "BEGIN READ ONLY; SET LOCAL ROLE; the call; COMMIT" \
	"BEGIN READ ONLY; SET LOCAL ROLE api_reader; $call; COMMIT;"
variant "the whole request, reset included" \
	"BEGIN READ ONLY; SET LOCAL ROLE api_reader; $call; COMMIT; ${reset%; }"
echo "each statement of the reset, after SELECT 1 (subtract SELECT 1's):"
for st in "${reset_statements[@]}"; do
	variant "SELECT 1; $st" "SELECT 1; $st"
done
