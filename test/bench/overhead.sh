#!/usr/bin/env bash
# test/bench/overhead.sh — what perfopt's per-statement hooks cost on top of
# pg_stat_statements, in instructions, which are repeatable where timings on
# shared 2-core machines swing by 10-20% from run to run.
#
# One throwaway cluster with pgbench tables at scale 1.  The server runs in
# single-user mode (postgres --single) under valgrind --tool=callgrind on a
# fixed file of 3000 and of 6000 pgbench-style primary-key SELECTs, with
# shared_preload_libraries = '', 'pg_stat_statements' and
# 'pg_stat_statements,perfopt'.  Instructions per statement are
# (Ir(6000) - Ir(3000)) / 3000, so start-up and shut-down cancel out.
# Goal: perfopt + pg_stat_statements / pg_stat_statements <= 1.01.
# For information only, it then prints the median pgbench select-only TPS of
# each configuration, alternating the configurations in the same run.
# In single-user mode the perfopt background worker does not start: this
# measures the hooks alone, which shared_preload_libraries installs.
# It measures the perfopt that is installed (make install first), with its
# defaults (value samples at perfopt.value_sample_rate = 0.01: about one
# statement in a hundred has its constants taken); PERFOPT_OVERHEAD_CONF
# adds a postgresql.conf line to every configuration, for example
# PERFOPT_OVERHEAD_CONF="perfopt.value_sample_rate = 0".
#   bash test/bench/overhead.sh [tps_seconds, default 10] [tps_rounds, default 5]
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
tps_seconds=${1:-10}
tps_rounds=${2:-5}

[ "$(id -u)" = 0 ] && perfopt_install_deps
if ! command -v valgrind >/dev/null; then
	if [ "$(id -u)" != 0 ]; then
		echo "valgrind is missing (run as root to install it, or apt-get install valgrind)" >&2
		exit 1
	fi
	perfopt_log "installing valgrind"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q valgrind >/dev/null
fi

configs=(none pgss pgss+perfopt)
declare -A libs=([none]="" [pgss]="pg_stat_statements" [pgss+perfopt]="pg_stat_statements,perfopt")

extra_conf=()
[ -n "${PERFOPT_OVERHEAD_CONF:-}" ] && extra_conf=("$PERFOPT_OVERHEAD_CONF")
perfopt_bench_cluster 57432 "pg_stat_statements.track = top" "perfopt.track = top" "${extra_conf[@]}"
perfopt_log "creating the pgbench tables (scale 1)"
perfopt_as_pg pgbench -h "$BENCH_DIR" -p "$BENCH_PORT" -U postgres -i -s 1 -q postgres >/dev/null 2>&1
perfopt_as_pg pg_ctl -D "$BENCH_DIR/data" -m fast -w stop >/dev/null

for n in 3000 6000; do
	awk -v n="$n" 'BEGIN { for (i = 1; i <= n; i++)
		printf "SELECT abalance FROM pgbench_accounts WHERE aid = %d;\n", (i * 7919) % 100000 + 1 }' \
		>"$BENCH_DIR/select-$n.sql"
done

# single CONFIG N [valgrind args...]: the statement file through a
# single-user backend, output discarded, stderr (and valgrind's) in a log
single() {
	local cfg=$1 n=$2 log="$BENCH_DIR/single.log"
	shift 2
	if ! perfopt_as_pg "$@" postgres --single -D "$BENCH_DIR/data" \
		-c shared_preload_libraries="${libs[$cfg]}" postgres \
		<"$BENCH_DIR/select-$n.sql" >/dev/null 2>"$log" || grep -Eq '(ERROR|FATAL|PANIC):' "$log"; then
		echo "single-user run failed ($cfg, $n statements):" >&2
		tail -n 20 "$log" >&2
		exit 1
	fi
}

# total instructions of a callgrind run
callgrind_ir() {
	local cfg=$1 n=$2 out
	out="$BENCH_DIR/callgrind.$cfg.$n"
	single "$cfg" "$n" valgrind --tool=callgrind --callgrind-out-file="$out" \
		--dump-instr=no --collect-atstart=yes --trace-children=no
	awk '/^summary:/ { print $2; found = 1; exit } /^totals:/ { t = $2 }
		END { if (!found && t != "") print t }' "$out"
}

# a first pass of each configuration writes what the next start-ups read
# (relation cache init file, pg_stat_statements' saved entries, hint bits)
for cfg in "${configs[@]}"; do single "$cfg" 3000; done

declare -A ipc
echo "instructions per statement (callgrind, single-user mode, (Ir(6000) - Ir(3000)) / 3000):"
for cfg in "${configs[@]}"; do
	perfopt_log "callgrind: $cfg"
	ir3=$(callgrind_ir "$cfg" 3000)
	ir6=$(callgrind_ir "$cfg" 6000)
	ipc[$cfg]=$(awk -v a="$ir3" -v b="$ir6" 'BEGIN { printf "%.1f", (b - a) / 3000 }')
	printf '  %-14s %10.1f   (Ir 3000: %s, 6000: %s)\n' "$cfg" "${ipc[$cfg]}" "$ir3" "$ir6"
done
awk -v none="${ipc[none]}" -v pgss="${ipc[pgss]}" -v both="${ipc[pgss+perfopt]}" 'BEGIN {
	r = both / pgss
	printf "  ratio pgss / none:                  %.4f\n", pgss / none
	printf "  ratio (pgss+perfopt) / pgss:        %.4f  (%+.1f instructions per statement)\n", r, both - pgss
	printf "  goal (pgss+perfopt) / pgss <= 1.01: %s\n", (r <= 1.01 ? "PASS" : "FAIL")
}'

# The extended protocol (Parse, Bind, Execute for every statement, as
# drivers without server-side prepared statements send them): the value
# samples keep each statement's shape at Parse and sample its bind
# parameters at ExecutorStart.  The server runs under callgrind (pg_ctl -p
# a wrapper; each backend writes its own file when it exits), autovacuum
# off; one pgbench connection of N and one of 2N transactions; the
# backend's instructions per statement are (Ir(2N) - Ir(N)) / N.  Two
# scripts: a primary-key SELECT (pgbench's select-only) and 32 that
# differ by a constant (one query id, 32 texts: more than a backend keeps
# shapes of).
cat >"$BENCH_DIR/valgrind-postgres" <<WRAP
#!/bin/sh
exec valgrind --tool=callgrind --callgrind-out-file=$BENCH_DIR/cg-ext.%p --dump-instr=no \\
	--collect-atstart=yes --trace-children=no $PGBIN/postgres "\$@"
WRAP
chmod 755 "$BENCH_DIR/valgrind-postgres"
awk 'BEGIN { print "\\set aid random(1, 100000)"
	for (i = 1; i <= 32; i++) printf "SELECT abalance FROM pgbench_accounts WHERE aid = :aid + %d - %d;\n", i, i }' \
	>"$BENCH_DIR/many.pgbench"
printf '%s\n' '\set aid random(1, 100000)' 'SELECT abalance FROM pgbench_accounts WHERE aid = :aid;' \
	>"$BENCH_DIR/select.pgbench"
[ "$(id -u)" = 0 ] && chown postgres "$BENCH_DIR/many.pgbench" "$BENCH_DIR/select.pgbench"
ext_n=4096
# ext_ir CONFIG SCRIPT: instructions per statement of one backend
ext_ir() {
	local cfg=$1 script=$2 per files ir=() n
	per=$([ "$script" = select ] && echo 1 || echo 32)
	perfopt_as_pg pg_ctl -D "$BENCH_DIR/data" -l "$BENCH_DIR/server.log" -w -t 300 \
		-p "$BENCH_DIR/valgrind-postgres" \
		-o "-c shared_preload_libraries='${libs[$cfg]}' -c autovacuum=off" start >/dev/null
	for n in $ext_n $((ext_n * 2)); do
		ls "$BENCH_DIR"/cg-ext.* 2>/dev/null >"$BENCH_DIR/cg-ext.list" || true
		perfopt_as_pg pgbench -h "$BENCH_DIR" -p "$BENCH_PORT" -U postgres -n -M extended -c 1 \
			-t $((n / per)) -f "$BENCH_DIR/$script.pgbench" postgres >/dev/null 2>&1
		# a backend's file appears, complete, when it has exited: of the new
		# ones, the backend that ran the statements is the one with the most
		# instructions (pgbench's first connection only looks around)
		sleep 2
		for _ in $(seq 1 300); do
			files=$(ls "$BENCH_DIR"/cg-ext.* | grep -vxF -f "$BENCH_DIR/cg-ext.list" |
				xargs -r grep -l 'PostgresMain' || true)
			[ -n "$files" ] && ! grep -L '^totals:\|^summary:' $files | grep -q . && break
			sleep 0.2
		done
		if [ -z "$files" ]; then
			echo "no callgrind file of a backend appeared (pgbench -c 1, $script)" >&2
			exit 1
		fi
		# shellcheck disable=SC2086
		ir+=("$(awk '/^summary:/ || /^totals:/ { if ($2 > max) max = $2 } END { print max }' $files)")
	done
	perfopt_as_pg pg_ctl -D "$BENCH_DIR/data" -m fast -w -t 300 stop >/dev/null
	rm -f "$BENCH_DIR"/cg-ext.*
	awk -v a="${ir[0]}" -v b="${ir[1]}" -v n="$ext_n" 'BEGIN { printf "%.1f", (b - a) / n }'
}
declare -A ext
echo "extended protocol, instructions per statement of the backend (callgrind, pgbench -M extended -c 1, (Ir(2N) - Ir(N)) / N, N = $ext_n):"
for script in select many; do
	for cfg in pgss pgss+perfopt; do
		perfopt_log "callgrind, extended protocol: $cfg, $script"
		ext[$cfg.$script]=$(ext_ir "$cfg" "$script")
		printf '  %-14s %-34s %10.1f\n' "$cfg" "$([ $script = select ] && echo "one statement" || echo "32 statements, one query id")" "${ext[$cfg.$script]}"
	done
	awk -v pgss="${ext[pgss.$script]}" -v both="${ext[pgss+perfopt.$script]}" -v s="$script" 'BEGIN {
		r = both / pgss
		printf "  ratio (pgss+perfopt) / pgss, %-11s %.4f  (%+.1f instructions per statement)\n", s ":", r, both - pgss
		printf "  goal <= 1.01:                            %s\n", (r <= 1.01 ? "PASS" : "FAIL")
	}'
done

# TPS, for information: every round starts the cluster once per configuration
declare -A tps
for round in $(seq 1 "$tps_rounds"); do
	for cfg in "${configs[@]}"; do
		perfopt_log "pgbench -S round $round/$tps_rounds: $cfg"
		perfopt_as_pg pg_ctl -D "$BENCH_DIR/data" -l "$BENCH_DIR/server.log" -w \
			-o "-c shared_preload_libraries='${libs[$cfg]}'" start >/dev/null
		t=$(perfopt_as_pg pgbench -h "$BENCH_DIR" -p "$BENCH_PORT" -U postgres -n -S \
			-T "$tps_seconds" -c 2 -j 2 postgres 2>/dev/null |
			sed -n 's/^tps = \([0-9.]*\) .*/\1/p' | tail -n 1)
		perfopt_as_pg pg_ctl -D "$BENCH_DIR/data" -m fast -w stop >/dev/null
		tps[$cfg]="${tps[$cfg]:-} $(printf '%.0f' "${t:-0}")"
	done
done
median() { tr ' ' '\n' | grep . | sort -g | awk '{ v[NR] = $1 } END {
	printf "%.1f", (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }
declare -A med
echo "pgbench -S -c 2 -j 2, ${tps_seconds}s x $tps_rounds rounds, $(nproc) CPUs (for information; timings are noisy):"
for cfg in "${configs[@]}"; do
	med[$cfg]=$(echo "${tps[$cfg]}" | median)
	printf '  %-14s median TPS %10.1f   (runs:%s)\n' "$cfg" "${med[$cfg]}" "${tps[$cfg]}"
done
awk -v pgss="${med[pgss]}" -v both="${med[pgss+perfopt]}" \
	'BEGIN { printf "  TPS ratio (pgss+perfopt) / pgss:    %.4f\n", both / pgss }'
