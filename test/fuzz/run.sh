#!/usr/bin/env bash
# test/fuzz/run.sh — builds perfopt's libFuzzer targets (clang,
# -fsanitize=fuzzer,address,undefined) and runs each for a bounded time
# on its committed seed corpus (test/fuzz/corpus/<target>/); new inputs
# go to a scratch directory, never into the repository.  Exits non-zero
# when a target crashes, leaks or trips a sanitizer.
#   bash test/fuzz/run.sh [seconds per target, default 60] [target ...]
# targets: thresholds, httpd, promtext (all when none is named)
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-60}
shift || true
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# target: its sources and libraries
declare -A sources=(
	[thresholds]="test/fuzz/fuzz_thresholds.c src/common/thresholds_doc.c src/common/promrules.c"
	[httpd]="test/fuzz/fuzz_httpd.c src/httpd/routes.c src/httpd/tokens.c src/httpd/caching.c
	  src/httpd/params.c src/httpd/text.c src/httpd/body.c src/httpd/bucket.c src/httpd/errors.c
	  src/httpd/sql.c src/httpd/timearg.c"
	[promtext]="test/fuzz/fuzz_promtext.c src/common/promtext.c"
)
declare -A libs=(
	[thresholds]="-lcjson -lm"
	[httpd]="-lcjson -lz -lnettle"
	[promtext]=""
)

status=0
targets=("$@")
[ ${#targets[@]} = 0 ] && targets=("${!sources[@]}")
for target in "${targets[@]}"; do
	[ -n "${sources[$target]:-}" ] || { echo "unknown fuzz target: $target" >&2; exit 2; }
	# shellcheck disable=SC2086
	clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
		-Isrc/common -Isrc/httpd ${sources[$target]} ${libs[$target]} -o "$out/fuzz_$target"
	mkdir -p "$out/corpus_$target"
	echo "== fuzz_$target: ${seconds}s"
	if ! "$out/fuzz_$target" -max_total_time="$seconds" -print_final_stats=1 \
		-artifact_prefix="$out/" "$out/corpus_$target" "test/fuzz/corpus/$target" \
		>"$out/$target.log" 2>&1; then
		tail -40 "$out/$target.log"
		status=1
	else
		grep -E "^stat::number_of_executed_units|Done [0-9]+ runs" "$out/$target.log" | tail -2
	fi
done
exit $status
