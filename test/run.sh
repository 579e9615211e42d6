#!/usr/bin/env bash
# test/run.sh — perfopt's whole test suite: pure-C unit tests under
# ASan/UBSan, pg_regress (SQL surface) and TAP (workers, restarts, crashes,
# standbys), each against throwaway clusters under tmp_check/.
#
# As root (CI, a fresh Debian 12): installs missing packages, builds and
# installs perfopt, then runs the clusters as the postgres user.
# Exits non-zero on any failure; ends with "N passed, M failed".
#   bash test/run.sh               # everything
#   bash test/run.sh t/010_x.pl    # only these TAP files (no regress)
set -uo pipefail
source "$(dirname "$0")/lib.sh"
cd "$PERFOPT_TOP"

if [ "${1:-}" != "--as-pg" ]; then
	perfopt_install_deps || exit 1
	if [ "$(id -u)" = 0 ]; then
		perfopt_build_install || exit 1
	fi
	rm -rf tmp_check && mkdir -p tmp_check
	unit_failed=0
	if [ $# = 0 ]; then
		perfopt_log "unit tests (ASan/UBSan)"
		make -s -C test/unit check || unit_failed=1
		make -s -C test/unit clean >/dev/null
	fi
	[ "$(id -u)" = 0 ] && chown -R postgres tmp_check
	perfopt_as_pg bash "$0" --as-pg "$unit_failed" "$@"
	exit $?
fi
shift
unit_failed=$1
shift

passed=0
failed=0
if [ "$unit_failed" = 1 ]; then failed=$((failed + 1)); else [ $# = 0 ] && passed=$((passed + 1)); fi

if [ $# = 0 ]; then
	perfopt_log "pg_regress"
	"$PGXS_DIR/src/test/regress/pg_regress" \
		--bindir="$PGBIN" --inputdir="$PERFOPT_TOP" \
		--outputdir="$PERFOPT_TOP/tmp_check/regress" \
		--temp-instance="$PERFOPT_TOP/tmp_check/regress/instance" \
		--temp-config="$PERFOPT_TOP/test/regress.conf" \
		--dbname=contrib_regression --schedule="$PERFOPT_TOP/test/schedule" | tee tmp_check/regress.out
	p=$(grep -cE '^(ok|test) .* ok( |$)|\.\.\. ok' tmp_check/regress.out)
	f=$(grep -cE 'FAILED|failed \(ignored\)' tmp_check/regress.out)
	passed=$((passed + p))
	failed=$((failed + f))
	[ -f tmp_check/regress/regression.diffs ] && cat tmp_check/regress/regression.diffs | head -100
fi

perfopt_log "TAP"
tap_files=("$@")
[ ${#tap_files[@]} = 0 ] && tap_files=(test/t/*.pl)
TESTDIR="$PERFOPT_TOP/tmp_check/tap" \
	PG_REGRESS="$PGXS_DIR/src/test/regress/pg_regress" \
	PERL5LIB="$PGXS_DIR/src/test/perl:$PERFOPT_TOP/test/perl" \
	PERFOPT_TOP="$PERFOPT_TOP" \
	prove --timer "${tap_files[@]}" 2>&1 | tee tmp_check/tap.out
total=$(grep -cE '^\[[0-9:]+\] test/t/' tmp_check/tap.out)
f=$(grep -E '^Failed [0-9]+/[0-9]+ test programs' tmp_check/tap.out | sed -E 's/^Failed ([0-9]+).*/\1/')
f=${f:-0}
grep -q '^Result: PASS' tmp_check/tap.out || [ "$f" != 0 ] || f=$total
passed=$((passed + total - f))
failed=$((failed + f))

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
