#!/usr/bin/env bash
# test/exports.sh — perfopt.so exports only what PostgreSQL looks up by
# name (perfopt.exports): _PG_init, Pg_magic_func, pg_finfo_* and perfopt_*.
# Fails on any other exported symbol (a helper leaking into the server's
# namespace) and on a name PostgreSQL needs that is missing: the
# background workers' entry points and, for every C function of the
# extension scripts, the function and its pg_finfo_.  Run by test/run.sh
# (unit stage).
set -uo pipefail
source "$(dirname "$0")/lib.sh"
cd "$PERFOPT_TOP"
failed=0
fail() { echo "exports: $*" >&2; failed=1; }

make -s PG_CONFIG="$PG_CONFIG" perfopt.so >/dev/null || { echo "exports: make perfopt.so failed" >&2; exit 1; }
exported=$(nm -D --defined-only perfopt.so | awk '{print $NF}' | sort -u)
[ -n "$exported" ] || { echo "exports: nm found no exported symbol in perfopt.so" >&2; exit 1; }

others=$(grep -vE '^(_PG_init|Pg_magic_func|pg_finfo_.+|perfopt_.+)$' <<<"$exported")
[ -z "$others" ] || fail "perfopt.so exports symbols outside _PG_init, Pg_magic_func, pg_finfo_*, perfopt_*:" $others

needed="_PG_init Pg_magic_func perfopt_worker_main perfopt_advisor_main perfopt_job_runner_main"
for f in $(sed -n "s/.*'MODULE_PATHNAME', *'\([A-Za-z0-9_]*\)'.*/\1/p" perfopt--*.sql | sort -u); do
	needed="$needed $f pg_finfo_$f"
done
for s in $needed; do
	grep -qxF "$s" <<<"$exported" || fail "perfopt.so does not export $s"
done

[ "$failed" = 0 ] && echo "exports: $(wc -l <<<"$exported") symbols, all PostgreSQL's names or perfopt_*"
exit "$failed"
