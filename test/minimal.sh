#!/usr/bin/env bash
# test/minimal.sh — the README's two commands, as root, on a fresh minimal
# Debian 12: every command test/demo.sh and test/run.sh use must come from
# their own install list (test/lib.sh's PERFOPT_PACKAGES).  Root only; CI
# (.ci/run) runs it next to the main suite.
#
#   bash test/minimal.sh [REV]     # REV: a commit of this checkout (HEAD)
#
# 1. test/rootfs.sh's `minimal` root filesystem (debootstrap
#    --variant=minbase bookworm plus git, apt pointing at the host's
#    mirrors; kept in /var/cache/perfopt-rootfs/bookworm-minimal), each
#    run in a throwaway copy of it (PERFOPT_ROOTFS_COPY=1), so nothing a
#    run installs hides a missing package from the next, with the host's
#    network (PERFOPT_ROOTFS_NET=host: apt reaches the mirror);
# 2. in it: the committed REV, pushed to a bare repository the copy sees
#    at /perfopt, is cloned into /root/perfopt with /root mode 700 (the
#    postgres user cannot read it); nothing of PostgreSQL, no compiler and
#    no procps may be there yet;
# 3. `bash test/demo.sh` (WORKLOAD_SECONDS=5), then `bash test/demo.sh stop`;
# 4. `bash test/run.sh` with PG_VERSIONS=15, every stage but smaller:
#    fuzzers 5 s each, 200 sqlsmith queries, a 20 s soak, the pg_regress
#    test `surface` and the TAP file test/t/060_prometheus.pl;
# 5. it fails, naming the step, when a command exits non-zero, when a
#    stage of test/run.sh did not run or ran nothing (its summary must
#    count at least unit, pg_regress, TAP and sqlcheck: 4 passed), or when
#    bash reported any command not found (each bash the steps start
#    records one in /var/log/perfopt-minimal/not-found, even behind
#    2>/dev/null).
# The packaging stage's own root filesystem (bookworm-pkg) is the host's:
# its cache directory is bound in.  Output: the steps', then "minimal:
# passed ..." or, last, "minimal: FAILED: <step>: <why>"; the exit status
# follows.
set -euo pipefail

# --- inside the throwaway copy (test/rootfs.sh runs this) --------------------
if [ "${1:-}" = --inside ]; then
	current="setup"
	log_dir=/var/log/perfopt-minimal
	step() {
		current=$1
		printf '\033[1m== minimal: %s\033[0m\n' "$1"
	}
	# (the host prints the line last)
	fail() {
		echo "minimal: FAILED: $current: $*" >/perfopt/failed
		exit 1
	}
	# run_step NAME COMMAND...: in /root/perfopt, output shown and kept
	run_step() {
		local name=$1 rc=0 stages missing why=
		shift
		step "$name"
		# (pipefail: the command's status, tee's is 0)
		(cd /root/perfopt && "$@") 2>&1 | tee "$log_dir/step.log" || rc=$?
		# test/run.sh names each failed stage; bash, each missing command
		stages=$(sed -n 's/^test\/run.sh: FAILED: //p' "$log_dir/step.log" | paste -sd ';' | sed 's/;/; /g')
		missing=$({ sort -u "$log_dir/not-found" 2>/dev/null || true; } | paste -sd ' ')
		[ "$rc" = 0 ] || why="exited with $rc${stages:+ ($stages)}"
		[ -z "$missing" ] || why="${why:+$why; }commands not found (missing from test/lib.sh's PERFOPT_PACKAGES?): $missing"
		[ -z "$why" ] || fail "$why"
	}

	step "a pristine minimal Debian 12"
	for c in git apt-get; do command -v "$c" >/dev/null || fail "$c is missing"; done
	for c in psql pg_config gcc make ps curl bc; do
		if command -v "$c" >/dev/null; then fail "not minimal: $c is already installed ($(command -v "$c"))"; fi
	done
	# every bash below (the scripts, as root or as postgres) records a
	# command it cannot find, even one whose error goes to /dev/null
	mkdir -p "$log_dir"
	chmod 777 "$log_dir"
	# shellcheck disable=SC2317
	command_not_found_handle() {
		echo "$1" >>/var/log/perfopt-minimal/not-found
		echo "bash: $1: command not found" >&2
		return 127
	}
	export -f command_not_found_handle

	step "git clone into /root/perfopt (/root mode 700)"
	chmod 700 /root
	git clone -q /perfopt/perfopt.git /root/perfopt || fail "git clone /perfopt/perfopt.git failed"
	echo "commit $(git -C /root/perfopt log -1 --format='%h %s' | cut -c1-100)"

	run_step "bash test/demo.sh" env WORKLOAD_SECONDS=5 bash test/demo.sh
	grep -q '^The demo cluster keeps running' "$log_dir/step.log" || fail "the demo did not get to its end"
	run_step "bash test/demo.sh stop" bash test/demo.sh stop
	grep -q '^demo cluster stopped and removed' "$log_dir/step.log" || fail "the demo did not say it stopped"

	run_step "bash test/run.sh" env PG_VERSIONS=15 PERFOPT_FUZZ_SECONDS=5 PERFOPT_SQLSMITH_QUERIES=200 \
		PERFOPT_SOAK_SECONDS=20 PERFOPT_REGRESS_TESTS=surface PERFOPT_TAP_TESTS=test/t/060_prometheus.pl \
		bash test/run.sh
	# every stage ran (its heading), and the summary counts them
	for stage in "unit tests" "fuzzers" "test/exports.sh" "test/service/check.sh" "test/packaging/check.sh" \
		"random SQL" "soak" "pg_regress" "TAP"; do
		grep -qF "== $stage" "$log_dir/step.log" || grep -qF "($stage)" "$log_dir/step.log" ||
			fail "the $stage stage did not run"
	done
	summary=$({ grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log_dir/step.log" || true; } | tail -n 1)
	[ -n "$summary" ] || fail "no \"N passed, M failed\" summary"
	read -r p _ f _ <<<"$summary"
	if [ "$f" != 0 ] || [ "$p" -lt 4 ]; then
		fail "summary \"$summary\": expected 0 failed and at least 4 passed"
	fi
	echo "minimal: passed ($summary)"
	exit 0
fi

# --- on the host -------------------------------------------------------------
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
if [ "$(id -u)" != 0 ]; then
	echo "minimal: needs root (debootstrap, chroot, mounts)" >&2
	exit 1
fi
command -v git >/dev/null || {
	echo "minimal: needs git" >&2
	exit 1
}
rev=$(git -C "$top" rev-parse --verify "${1:-HEAD}^{commit}") || {
	echo "minimal: ${1:-HEAD} is not a commit of $top (a git checkout)" >&2
	exit 1
}
rootfs_dir=${PERFOPT_ROOTFS_DIR:-/var/cache/perfopt-rootfs}
start=$SECONDS
work=$(mktemp -d /var/tmp/perfopt-minimal.XXXXXX)
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT TERM
chmod 755 "$work"
# what the copy clones: REV alone, in a bare repository
git init -q --bare "$work/perfopt.git"
git -C "$top" push -q "$work/perfopt.git" "$rev:refs/heads/main" || {
	echo "minimal: pushing $rev to $work/perfopt.git failed" >&2
	exit 1
}
git -C "$work/perfopt.git" symbolic-ref HEAD refs/heads/main
cp "$here/minimal.sh" "$work/minimal.sh"
mkdir -p "$rootfs_dir"
echo "minimal: $(git -C "$top" log -1 --format='%h %s' "$rev" | cut -c1-100)"

rc=0
PERFOPT_ROOTFS_NET=host PERFOPT_ROOTFS_COPY=1 PERFOPT_ROOTFS_TOP=$work \
	PERFOPT_ROOTFS_BIND="$rootfs_dir:/var/cache/perfopt-rootfs" \
	bash "$here/rootfs.sh" minimal bash /perfopt/minimal.sh --inside || rc=$?
if [ "$rc" = 0 ]; then
	echo "minimal: the README's commands passed on a minimal Debian 12 in $((SECONDS - start)) s"
elif [ -s "$work/failed" ]; then
	cat "$work/failed" >&2
else
	echo "minimal: FAILED: the minimal root filesystem (test/rootfs.sh minimal) exited with $rc" >&2
fi
exit "$rc"
