#!/usr/bin/env bash
# test/run.sh — perfopt's whole test suite: pure-C unit tests under
# ASan/UBSan, libFuzzer targets (60 s each), random SQL (sqlsmith), a
# 60 s soak under load, pg_regress (SQL surface) and TAP (workers,
# restarts, crashes, standbys, a full disk, the shim), each against
# throwaway clusters under tmp_check/.
#
# Every cluster also preloads perfopt_sqlcheck (test/sqlcheck, built and
# installed here), which reports each unqualified name in perfopt's own
# SQL (statements marked /* perfopt */) as a WARNING "perfopt-sqlcheck:";
# the run fails when any server log holds one.  Without root, install it
# first: make -C test/sqlcheck install.
#
# As root (CI, a fresh Debian 12): installs missing packages, builds and
# installs perfopt, then runs the clusters as the postgres user.
# Exits non-zero on any failure; ends with "N passed, M failed".
#   bash test/run.sh               # everything
#   bash test/run.sh regress       # unit tests, fuzzers, sqlsmith, pg_regress
#   bash test/run.sh test/t/010_x.pl  # only these TAP files
# A smaller whole run (test/minimal.sh's): PERFOPT_REGRESS_TESTS="surface"
# and PERFOPT_TAP_TESTS="test/t/060_prometheus.pl" keep every stage but run
# only these pg_regress tests and TAP files; PERFOPT_FUZZ_SECONDS,
# PERFOPT_SQLSMITH_QUERIES and PERFOPT_SOAK_SECONDS (0: none) size the
# fuzzers, sqlsmith and the soak.  A failed stage is named
# ("test/run.sh: FAILED: soak (test/bench/soak.sh)").
#
# Every PostgreSQL version perfopt supports (15, 17, 18), or those of
# PG_VERSIONS ("17 18", "15,18"): the host's own (15 on Debian 12) runs
# here, the others at the same time in a root filesystem of their Debian
# release (test/rootfs.sh; root only), each with pg_regress and TAP only
# (PERFOPT_VERSION_ONLY=1: the unit tests, fuzzers, sqlsmith and the soak
# do not depend on the server's version and run with the host's).  Their
# output goes to tmp_check-NN.log and is shown when they end; a summary per
# version comes last.  With PG_CONFIG set and no PG_VERSIONS, only that
# installation is tested, here, as before.
set -uo pipefail
explicit_pg_config=${PG_CONFIG:-}
source "$(dirname "$0")/lib.sh"
perfopt_readable_checkout run.sh "$@" || exit 1
cd "$PERFOPT_TOP"

# --- several versions --------------------------------------------------------
# PostgreSQL VERSION in its root filesystem: a copy of the checkout
# without build outputs in /build/perfopt (the host may be building in the
# checkout meanwhile), results in the checkout's tmp_check-VERSION
run_in_rootfs() {
	local v=$1 sel=()
	shift
	# (the root filesystem starts COMMAND with a clean environment)
	[ -z "${PERFOPT_REGRESS_TESTS:-}" ] || sel+=("PERFOPT_REGRESS_TESTS=$PERFOPT_REGRESS_TESTS")
	[ -z "${PERFOPT_TAP_TESTS:-}" ] || sel+=("PERFOPT_TAP_TESTS=$PERFOPT_TAP_TESTS")
	# shellcheck disable=SC2016
	bash test/rootfs.sh "$v" env "${sel[@]}" bash -c '
		set -e
		v=$0
		rm -rf /build/perfopt && mkdir -p /build/perfopt
		tar -C /perfopt --exclude-vcs --exclude="./tmp_check*" --exclude="*.o" \
			--exclude="*.so" --exclude="*.bc" -cf - . | tar -C /build/perfopt -xf -
		cd /build/perfopt
		pg_config=/usr/lib/postgresql/$v/bin/pg_config
		make -s PG_CONFIG=$pg_config clean >/dev/null
		make -s -C test/sqlcheck PG_CONFIG=$pg_config clean >/dev/null
		exec env PG_CONFIG=$pg_config PERFOPT_PG_VERSION=$v PERFOPT_VERSION_ONLY=1 \
			PERFOPT_TMP=/perfopt/tmp_check-$v bash test/run.sh "$@"' "$v" "$@"
}

# the last "N passed, M failed" of a log: "N M", or "0 1" when there is none
run_counts() {
	local line
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$1" 2>/dev/null | tail -n 1)
	if [ -n "$line" ]; then echo "$line" | awk '{print $1, $3}'; else echo "0 1"; fi
}

if [ "${1:-}" != --as-pg ] && [ -z "${PERFOPT_VERSION_ONLY:-}" ] &&
	{ [ -n "${PG_VERSIONS:-}" ] || [ -z "$explicit_pg_config" ]; }; then
	host_version=$(perfopt_host_pg_version)
	versions=$(echo "${PG_VERSIONS:-$PERFOPT_PG_VERSIONS_ALL}" | tr ',' ' ' | xargs -n 1 | awk '!seen[$0]++' | xargs)
	for v in $versions; do perfopt_pg_release "$v" >/dev/null || exit 2; done
	if [ "$versions" != "$host_version" ]; then
		if [ "$(id -u)" != 0 ]; then
			echo "PostgreSQL $versions: all but $host_version run in root filesystems, which needs root" \
				"(or PG_VERSIONS=$host_version)" >&2
			exit 1
		fi
		t0=$SECONDS
		declare -A pids=() secs=()
		host_log=$PERFOPT_TOP/tmp_check-host.log
		for v in $versions; do
			[ "$v" = "$host_version" ] && continue
			perfopt_log "PostgreSQL $v: in the $(perfopt_pg_release "$v") root filesystem, output in tmp_check-$v.log"
			(
				s=$SECONDS
				run_in_rootfs "$v" "$@" >"$PERFOPT_TOP/tmp_check-$v.log" 2>&1
				rc=$?
				echo "($((SECONDS - s)) s)" >>"$PERFOPT_TOP/tmp_check-$v.log"
				exit $rc
			) &
			pids[$v]=$!
		done
		if [[ " $versions " == *" $host_version "* ]]; then
			perfopt_log "PostgreSQL $host_version: here"
			s=$SECONDS
			PG_VERSIONS=$host_version PG_CONFIG=${explicit_pg_config:-$PG_CONFIG} bash "$0" "$@" 2>&1 | tee "$host_log"
			secs[$host_version]=$((SECONDS - s))
		fi
		failed_any=0
		for v in $versions; do
			[ "$v" = "$host_version" ] && continue
			wait "${pids[$v]}" || failed_any=1
			secs[$v]=$(sed -n -E 's/^\(([0-9]+) s\)$/\1/p' "$PERFOPT_TOP/tmp_check-$v.log" | tail -n 1)
			perfopt_log "PostgreSQL $v ($(perfopt_pg_release "$v") root filesystem): tmp_check-$v.log"
			cat "$PERFOPT_TOP/tmp_check-$v.log"
		done
		perfopt_log "summary ($((SECONDS - t0)) s)"
		total_p=0 total_f=0
		for v in $versions; do
			if [ "$v" = "$host_version" ]; then log=$host_log where=host; else
				log=$PERFOPT_TOP/tmp_check-$v.log where="$(perfopt_pg_release "$v") root filesystem"
			fi
			read -r p f < <(run_counts "$log")
			echo "PostgreSQL $v ($where, ${secs[$v]:-?} s): $p passed, $f failed"
			total_p=$((total_p + p))
			total_f=$((total_f + f))
		done
		[ "$failed_any" = 0 ] || [ "$total_f" != 0 ] || total_f=1
		echo "$total_p passed, $total_f failed"
		[ "$total_f" = 0 ]
		exit $?
	fi
fi
# where clusters and results go (PERFOPT_TMP lets two runs coexist)
export PERFOPT_TMP=${PERFOPT_TMP:-$PERFOPT_TOP/tmp_check}
# the clusters of lib.sh (sqlsmith, soak) and of the TAP tests preload the
# checker too (pg_regress's come from test/regress.conf)
export PERFOPT_SQLCHECK=1

# perfopt_sqlcheck's reports in every server log of this run (pg_regress's
# instance, the TAP nodes, the sqlsmith and soak clusters): each is a name
# in perfopt's own SQL that search_path could redirect.  A log where the
# perfopt worker ran without the checker counts as a failure as well.
sqlcheck_scan() {
	local f hits unchecked=0 nlogs=0
	local -a logs=()
	while IFS= read -r -d '' f; do logs+=("$f"); done < <(find "$PERFOPT_TMP" -name '*.log' -type f -print0)
	for f in "${logs[@]}"; do
		grep -q 'perfopt worker started' "$f" || continue
		nlogs=$((nlogs + 1))
		if ! grep -q 'perfopt_sqlcheck: checking' "$f"; then
			echo "sqlcheck: perfopt ran without perfopt_sqlcheck loaded: $f"
			unchecked=$((unchecked + 1))
		fi
	done
	hits=$(grep -h 'perfopt-sqlcheck:' "${logs[@]}" /dev/null | sed 's/^.*perfopt-sqlcheck:/perfopt-sqlcheck:/' |
		sort | uniq -c | sort -rn)
	if [ -n "$hits" ]; then
		echo "$hits" >"$PERFOPT_TMP/sqlcheck-reports.txt"
		echo "sqlcheck: $(wc -l <"$PERFOPT_TMP/sqlcheck-reports.txt") distinct report(s) of unqualified names in perfopt's SQL" \
			"(count, report; all in $PERFOPT_TMP/sqlcheck-reports.txt):"
		head -n 100 "$PERFOPT_TMP/sqlcheck-reports.txt"
	fi
	echo "sqlcheck: $nlogs server log(s) where perfopt ran, $unchecked without the checker," \
		"$(grep -h 'perfopt-sqlcheck:' "${logs[@]}" /dev/null | wc -l) report(s)"
	[ -z "$hits" ] && [ "$unchecked" = 0 ]
}

# a stage that failed: said at once, counted in the summary
stage_failed() {
	echo "test/run.sh: FAILED: $*" >&2
	unit_failed=1
}

if [ "${1:-}" != "--as-pg" ]; then
	perfopt_install_deps || exit 1
	if [ "$(id -u)" = 0 ]; then
		perfopt_build_install || exit 1
		perfopt_build_install_sqlcheck || exit 1
	fi
	# the shim again with ASan/UBSan, for test/t/151_httpd_sanitized.pl
	flock /tmp/perfopt-build.lock make -C "$PERFOPT_TOP" -s PG_CONFIG="$PG_CONFIG" perfopt-httpd-asan >/dev/null || exit 1
	# a small filesystem left mounted by an interrupted run: unmount it
	# before the rm below could reach into it
	if mountpoint -q "$PERFOPT_TMP/smalldisk" 2>/dev/null; then
		umount "$PERFOPT_TMP/smalldisk" 2>/dev/null || umount -l "$PERFOPT_TMP/smalldisk" || exit 1
	fi
	rm -rf "$PERFOPT_TMP" && mkdir -p "$PERFOPT_TMP"
	# test/t/031_disk_full.pl fills a filesystem of its own: a 160 MB tmpfs
	# (mounting needs root; without it that test skips itself)
	if [ "$(id -u)" = 0 ] && [ "${1:-}" != regress ]; then
		mkdir -p "$PERFOPT_TMP/smalldisk"
		if mount -t tmpfs -o size=160m,mode=0755 tmpfs "$PERFOPT_TMP/smalldisk"; then
			export PERFOPT_SMALL_DISK="$PERFOPT_TMP/smalldisk"
			trap 'umount "$PERFOPT_SMALL_DISK" 2>/dev/null || umount -l "$PERFOPT_SMALL_DISK"' EXIT
			trap 'exit 130' INT TERM
		else
			echo "could not mount a tmpfs on $PERFOPT_TMP/smalldisk: 031_disk_full.pl will skip" >&2
		fi
	fi
	unit_failed=0
	# (in a root filesystem, only what depends on the server's version)
	if [ -z "${PERFOPT_VERSION_ONLY:-}" ] && { [ $# = 0 ] || [ "$1" = regress ]; }; then
		perfopt_log "unit tests (ASan/UBSan)"
		make -s -C test/unit check || stage_failed "unit tests (make -C test/unit check)"
		make -s -C test/unit clean >/dev/null
		perfopt_log "fuzzers (libFuzzer, ${PERFOPT_FUZZ_SECONDS:-60} s each)"
		bash test/fuzz/run.sh "${PERFOPT_FUZZ_SECONDS:-60}" || stage_failed "fuzzers (test/fuzz/run.sh)"
		perfopt_log "every SPI call passes SQL marked /* perfopt */ (test/sqlcheck/spi_marker.pl)"
		perl test/sqlcheck/spi_marker.pl src || stage_failed "SPI markers (test/sqlcheck/spi_marker.pl)"
		# and the script still finds unmarked SQL: as many reports as its fixture expects
		fixture=test/sqlcheck/fixtures/spi_unmarked.c
		if [ "$(perl test/sqlcheck/spi_marker.pl "$fixture" | grep -c '^FAIL')" != "$(grep -c '/\* FAIL' "$fixture")" ]; then
			stage_failed "spi_marker.pl no longer reports every unmarked call of $fixture"
		fi
		perfopt_log "perfopt.so exports only PostgreSQL's names and perfopt_* (test/exports.sh)"
		bash test/exports.sh || stage_failed "exports (test/exports.sh)"
		perfopt_log "the shim's systemd service (test/service/check.sh)"
		bash test/service/check.sh || stage_failed "service (test/service/check.sh)"
		perfopt_log "the Debian packages, built and installed in a clean Debian 12 (test/packaging/check.sh)"
		bash test/packaging/check.sh || stage_failed "packaging (test/packaging/check.sh)"
		perfopt_log "random SQL (sqlsmith, ${PERFOPT_SQLSMITH_QUERIES:-2000} queries)"
		bash test/fuzz/sqlsmith.sh "${PERFOPT_SQLSMITH_QUERIES:-2000}" || stage_failed "random SQL (test/fuzz/sqlsmith.sh)"
	fi
	# a short soak under load (pgbench, the shim under wrk, an optimization);
	# PERFOPT_SOAK_SECONDS=0 leaves it out
	if [ -z "${PERFOPT_VERSION_ONLY:-}" ] && [ $# = 0 ] && [ "${PERFOPT_SOAK_SECONDS:-60}" != 0 ]; then
		perfopt_log "soak (test/bench/soak.sh, ${PERFOPT_SOAK_SECONDS:-60} s)"
		bash test/bench/soak.sh "${PERFOPT_SOAK_SECONDS:-60}" || stage_failed "soak (test/bench/soak.sh)"
	fi
	[ "$(id -u)" = 0 ] && chown -R postgres "$PERFOPT_TMP"
	perfopt_as_pg bash "$0" --as-pg "$unit_failed" "$@"
	exit $?
fi
shift
unit_failed=$1
shift

passed=0
failed=0
only_regress=0
if [ "${1:-}" = regress ]; then only_regress=1; shift; fi
if [ "$unit_failed" = 1 ]; then failed=$((failed + 1)); else [ $# = 0 ] && [ -z "${PERFOPT_VERSION_ONLY:-}" ] && passed=$((passed + 1)); fi

# pg_regress and TAP through the Makefile's PGXS targets, so that their
# lists and options are defined once (test/schedule, test/t/*.pl, the
# Makefile); both write under PERFOPT_TMP, which make reads from the
# environment
if [ $# = 0 ]; then
	# (test/schedule's tests, or PERFOPT_REGRESS_TESTS)
	regress_tests=()
	[ -z "${PERFOPT_REGRESS_TESTS:-}" ] || regress_tests=(REGRESS="$PERFOPT_REGRESS_TESTS")
	perfopt_log "pg_regress (make installcheck TAP_TESTS= ${regress_tests[*]})"
	make -s -C "$PERFOPT_TOP" PG_CONFIG="$PG_CONFIG" installcheck TAP_TESTS= "${regress_tests[@]}" 2>&1 | tee "$PERFOPT_TMP"/regress.out
	rc=${PIPESTATUS[0]}
	# through 15 "test x ... ok" and "x ... FAILED"; from 16 TAP-like
	# "ok 1 - x" and "not ok 1 - x"
	p=$(grep -cE '^(ok|test) .* ok( |$)|\.\.\. ok|^ok [0-9]+ ' "$PERFOPT_TMP"/regress.out)
	f=$(grep -cE 'FAILED|failed \(ignored\)|^not ok [0-9]+ ' "$PERFOPT_TMP"/regress.out)
	# make or pg_regress failed (a missing perfopt_sqlcheck, a server that
	# did not start), or ran nothing: a failure however its output reads
	if [ "$f" = 0 ] && { [ "$rc" != 0 ] || [ "$p" = 0 ]; }; then
		echo "pg_regress (make installcheck) exited with $rc after $p passed test(s)" >&2
		f=1
	fi
	if [ "$f" != 0 ]; then
		echo "test/run.sh: FAILED: pg_regress ($f test(s))" >&2
	fi
	passed=$((passed + p))
	failed=$((failed + f))
	[ -f "$PERFOPT_TMP"/regress/regression.diffs ] && cat "$PERFOPT_TMP"/regress/regression.diffs | head -100
fi

if [ "$only_regress" = 1 ]; then
	if sqlcheck_scan; then passed=$((passed + 1)); else
		failed=$((failed + 1))
		echo "test/run.sh: FAILED: sqlcheck (unqualified names in perfopt's SQL)" >&2
	fi
	echo "$passed passed, $failed failed"
	[ "$failed" = 0 ]
	exit $?
fi

# the files named, PERFOPT_TAP_TESTS, or the Makefile's default: test/t/*.pl
prove_tests=()
if [ $# -gt 0 ]; then
	prove_tests=(PROVE_TESTS="$*")
elif [ -n "${PERFOPT_TAP_TESTS:-}" ]; then
	prove_tests=(PROVE_TESTS="$PERFOPT_TAP_TESTS")
fi
perfopt_log "TAP (make prove_installcheck ${prove_tests[*]})"
make -s -C "$PERFOPT_TOP" PG_CONFIG="$PG_CONFIG" prove_installcheck PROVE_FLAGS=--timer \
	"${prove_tests[@]}" 2>&1 | tee "$PERFOPT_TMP"/tap.out
# prove's summary report names each failed file once, "(Wstat: ...)"
total=$(grep -cE '^\[[0-9:]+\] test/t/' "$PERFOPT_TMP"/tap.out)
f=$(grep -cE '^test/t/[^ ]+ +\(Wstat' "$PERFOPT_TMP"/tap.out)
# (NOTESTS: every file skipped itself, e.g. 031_disk_full.pl when not root)
grep -qE '^Result: (PASS|NOTESTS)' "$PERFOPT_TMP"/tap.out || [ "$f" != 0 ] || f=$((total > 0 ? total : 1))
# a TAP run that ran no file (unreadable tests, a wrong name) fails
if [ "$total" = 0 ]; then
	echo "TAP: no test file ran (${*:-${PERFOPT_TAP_TESTS:-test/t/*.pl}})" >&2
	f=$((f > 0 ? f : 1))
fi
[ "$f" = 0 ] || echo "test/run.sh: FAILED: TAP ($f file(s))" >&2
passed=$((passed + total - f))
failed=$((failed + f))

if sqlcheck_scan; then passed=$((passed + 1)); else
	failed=$((failed + 1))
	echo "test/run.sh: FAILED: sqlcheck (unqualified names in perfopt's SQL)" >&2
fi
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
