#!/usr/bin/env bash
# test/bench/sampler-cost.sh — the perfopt worker's own CPU time per sample,
# at a 100 ms and a 1 s interval, as % of one core, measured side by side in
# one run on a throwaway cluster.  CPU time comes from /proc/<pid>/stat
# (utime+stime, clock ticks) and, more finely, /proc/<pid>/schedstat (ns).
#   bash test/bench/sampler-cost.sh [seconds per interval, default 60]
# Goal: under 0.2% of one core at 1 s.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
seconds=${1:-60}

[ "$(id -u)" = 0 ] && { perfopt_install_deps; perfopt_build_install; }
perfopt_bench_cluster 56432 "perfopt.monitoring_interval = 1000"
sleep 2
pid=$(sql "SELECT perfopt_status()->>'worker_pid'")
tck=$(getconf CLK_TCK)

ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
ns() { awk '{print $1}' "/proc/$pid/schedstat" 2>/dev/null || echo 0; }
samples() { sql "SELECT perfopt_status()->>'samples_taken'"; }

measure() {
	local interval=$1 t0 n0 s0 w0 t1 n1 s1 w1
	sql "SELECT perfopt_start_monitoring($interval)" >/dev/null
	sleep 2
	t0=$(ticks); s0=$(ns); n0=$(samples); w0=$(date +%s.%N)
	sleep "$seconds"
	t1=$(ticks); s1=$(ns); n1=$(samples); w1=$(date +%s.%N)
	awk -v i="$interval" -v dt=$((t1 - t0)) -v tck="$tck" -v ds=$((s1 - s0)) \
		-v n=$((n1 - n0)) -v w0="$w0" -v w1="$w1" 'BEGIN {
		wall = w1 - w0
		printf "interval %5d ms: %5d samples in %5.1f s; worker CPU %.4f%% of a core by /proc/pid/stat, %.4f%% by schedstat; %.3f ms per sample\n",
			i, n, wall, 100 * dt / tck / wall, 100 * ds / 1e9 / wall, (n > 0 ? ds / 1e6 / n : 0)
	}'
}

echo "perfopt worker $pid, $(nproc) CPUs, ${seconds}s per interval"
measure 100
measure 1000
