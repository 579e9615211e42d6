#!/usr/bin/env bash
# test/service/check.sh — the shim's systemd service, checked without a
# running systemd: the unit built by the Makefile passes
# `systemd-analyze verify` with no word printed, its offline security
# exposure stays low, the sysusers.d line parses, and the shim accepts
# the example /etc/perfopt/httpd.conf.  Run by test/run.sh (unit stage).
set -uo pipefail
source "$(dirname "$0")/../lib.sh"
cd "$PERFOPT_TOP"
failed=0
fail() { echo "service: $*" >&2; failed=1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
make -s PG_CONFIG="$PG_CONFIG" perfopt-httpd.service >/dev/null || fail "make perfopt-httpd.service failed"
cp perfopt-httpd.service "$work/"
grep -q "^ExecStart=$PGBIN/perfopt-httpd --config /etc/perfopt/httpd.conf\$" "$work/perfopt-httpd.service" ||
	fail "ExecStart does not run $PGBIN/perfopt-httpd"

out=$(cd "$work" && systemd-analyze verify --man=no ./perfopt-httpd.service 2>&1) || fail "systemd-analyze verify failed"
[ -z "$out" ] || fail "systemd-analyze verify printed: $out"

# "Overall exposure level for perfopt-httpd.service: 1.4 OK"
exposure=$(cd "$work" && systemd-analyze security --offline=true ./perfopt-httpd.service 2>&1 |
	sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
if [ -z "$exposure" ]; then
	fail "systemd-analyze security gave no exposure level"
elif [ "$(echo "$exposure <= 2.0" | bc)" != 1 ]; then
	fail "exposure level $exposure is above 2.0"
fi

out=$(systemd-sysusers --dry-run "$PERFOPT_TOP/packaging/systemd/perfopt-httpd.sysusers" 2>&1) ||
	fail "systemd-sysusers --dry-run failed: $out"

"$PGBIN/perfopt-httpd" --config "$PERFOPT_TOP/packaging/httpd.conf.example" --help >/dev/null ||
	fail "perfopt-httpd refuses packaging/httpd.conf.example"

[ "$failed" = 0 ] && echo "service: unit verified, exposure $exposure, sysusers and httpd.conf.example accepted"
exit "$failed"
