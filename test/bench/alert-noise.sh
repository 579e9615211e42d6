#!/usr/bin/env bash
# test/bench/alert-noise.sh — how noisy the alerts are, two clusters side by
# side for the same duration, both sampling every second with the default
# thresholds and hysteresis:
#   (a) healthy: the real machine under a light pgbench load, values below
#       warning;                                      goal: no alert at all
#   (b) oscillating: memory read from a meminfo file of the script's own,
#       cycling 77% -> 83% -> 97% -> 83% every 10 s, so it crosses the
#       warning (80) and the critical (95) threshold again and again;
#                     goal: at most one state change per alert per 5 minutes
# It prints alerts opened and state changes (open, escalate, deescalate,
# resolve) per hour for each.
#   bash test/bench/alert-noise.sh [seconds, default 600]
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
duration=${1:-600}

[ "$(id -u)" = 0 ] && { perfopt_install_deps; perfopt_build_install; }
perfopt_require pgbench

work=$(mktemp -d /tmp/perfopt-alert-noise.XXXXXX)
chmod 755 "$work"
pgbench_pid=""
cycle_pid=""
cleanup() {
	[ -n "$pgbench_pid" ] && kill "$pgbench_pid" 2>/dev/null || true
	[ -n "$cycle_pid" ] && kill "$cycle_pid" 2>/dev/null || true
	for c in healthy oscillating; do
		perfopt_as_pg pg_ctl -D "$work/$c/data" -m immediate -w stop >/dev/null 2>&1 || true
	done
	rm -rf "$work"
}
trap cleanup EXIT

# the oscillating cluster's procfs: the real stat and loadavg, its own meminfo
procfs=$work/procfs
mkdir -p "$procfs"
ln -s /proc/stat "$procfs/stat"
cp /proc/loadavg "$procfs/loadavg"
memory_used() {
	local total=16000000 available
	available=$((total * (100 - $1) / 100))
	printf 'MemTotal:       %d kB\nMemFree:        %d kB\nMemAvailable:   %d kB\n' \
		"$total" "$available" "$available" >"$procfs/meminfo.tmp"
	mv "$procfs/meminfo.tmp" "$procfs/meminfo"
}
memory_used 77
chmod -R a+rX "$procfs"

port_a=$(perfopt_free_port 57610)
port_b=$(perfopt_free_port $((port_a + 1)))
perfopt_start_cluster "$work/healthy" "$port_a" "listen_addresses = ''" \
	"perfopt.monitoring_interval = 1000" "perfopt.advisor_interval = 0"
perfopt_start_cluster "$work/oscillating" "$port_b" "listen_addresses = ''" \
	"perfopt.monitoring_interval = 1000" "perfopt.advisor_interval = 0" \
	"perfopt.procfs_path = '$procfs'"
q() { perfopt_as_pg psql -X -q -At -h "$work/$1" -p "$2" -U postgres -d postgres -c "$3"; }

perfopt_as_pg pgbench -q -i -s 2 -h "$work/healthy" -p "$port_a" -U postgres postgres >/dev/null 2>&1
perfopt_as_pg pgbench -n -S -c 2 -R 50 -T "$duration" -h "$work/healthy" -p "$port_a" -U postgres postgres \
	>/dev/null 2>&1 &
pgbench_pid=$!
(
	while :; do
		for pct in 77 83 97 83; do
			memory_used "$pct"
			sleep 10
		done
	done
) &
cycle_pid=$!

echo "alert noise: ${duration}s at 1 s sampling, default thresholds and hysteresis; $(nproc) CPUs shared with whatever else runs"
sleep "$duration"

count() {
	q "$1" "$2" "SELECT (SELECT count(*) FROM perfopt_alerts) || ' ' ||
	              (SELECT count(*) FROM perfopt_alert_transitions) || ' ' ||
	              (SELECT coalesce(string_agg(metric || '/' || subject || ' ' || severity || ' ' || state, ', '), 'none')
	                 FROM perfopt_alerts)"
}
report() {
	local name=$1 line=$2 alerts changes detail per_alert
	read -r alerts changes detail <<<"$line"
	per_alert=$(echo "scale=2; if ($alerts > 0) $changes / $alerts / ($duration / 300) else 0" | bc)
	printf '%s: %d alert(s) opened (%.1f per hour), %d state change(s) (%.1f per hour), %s per alert per 5 min; %s\n' \
		"$name" "$alerts" "$(echo "$alerts * 3600 / $duration" | bc -l)" \
		"$changes" "$(echo "$changes * 3600 / $duration" | bc -l)" "$per_alert" "$detail"
}
healthy=$(count healthy "$port_a")
oscillating=$(count oscillating "$port_b")
report "(a) healthy" "$healthy"
report "(b) oscillating" "$oscillating"

read -r a_alerts _ _ <<<"$healthy"
read -r b_alerts b_changes _ <<<"$oscillating"
ok=1
[ "$a_alerts" = 0 ] || { echo "goal (a) missed: the healthy cluster opened alerts"; ok=0; }
if [ "$b_alerts" -gt 0 ] && [ "$(echo "$b_changes / $b_alerts > $duration / 300" | bc -l)" = 1 ]; then
	echo "goal (b) missed: more than one state change per alert per 5 minutes"
	ok=0
fi
[ "$ok" = 1 ] && echo "goals met: (a) no alert, (b) at most one state change per alert per 5 minutes"
