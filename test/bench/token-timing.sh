#!/usr/bin/env bash
# test/bench/token-timing.sh — does a wrong token take as long as a right
# one?  Two measurements, side by side in one run:
#   1. perfopt-httpd's token lookup in C (token_timing.c): a right token,
#      a wrong one whose hash differs from a stored hash only in the last
#      byte, one that differs in the first byte, one of another length;
#      median ns per lookup and the ratio to the right token;
#   2. over HTTP, against a real perfopt-httpd on loopback: a right token
#      whose bucket is empty (429) against a wrong token (401), neither of
#      which reaches the database; requests alternate on one keep-alive
#      connection; median and p90 microseconds per request and the ratio.
# Ratios near 1.000 say the compare does not leak; the script asserts
# nothing (timings on shared machines are noisy).
#   bash test/bench/token-timing.sh [requests per case, default 3000]
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
n=${1:-3000}
httpd=$PERFOPT_TOP/perfopt-httpd
[ -x "$httpd" ] || make -C "$PERFOPT_TOP" -s PG_CONFIG="$PG_CONFIG" perfopt-httpd >/dev/null
dir=$(mktemp -d /tmp/perfopt-token.XXXXXX)
shim_pid=""
trap '[ -n "$shim_pid" ] && kill "$shim_pid" 2>/dev/null; rm -rf "$dir"' EXIT

cc -O2 -I"$PERFOPT_TOP/src/httpd" "$PERFOPT_TOP/test/bench/token_timing.c" \
	"$PERFOPT_TOP/src/httpd/tokens.c" -lnettle -o "$dir/token_timing"
"$dir/token_timing"
echo

right="right-$(head -c 18 /dev/urandom | base64 | tr '+/' '-_')"
wrong="wrong-$(head -c 18 /dev/urandom | base64 | tr '+/' '-_')"
for i in $(seq 1 9); do
	echo "$(printf 'other-%s' "$i" | "$httpd" --hash-token) role$i"
done >"$dir/tokens"
echo "$(printf %s "$right" | "$httpd" --hash-token) reader" >>"$dir/tokens"
port=$(perfopt_free_port 59500)
# no database: neither answer needs one; the right token's bucket holds one request
"$httpd" --listen "127.0.0.1:$port" --conninfo "host=$dir/none connect_timeout=1" --tokens "$dir/tokens" \
	--read-rate 0.0001 --read-burst 1 --anon-rate 1000000 --anon-burst 1000000 2>/dev/null &
shim_pid=$!
for _ in $(seq 1 50); do
	curl -s -o /dev/null "http://127.0.0.1:$port/healthz" && break
	sleep 0.1
done

RIGHT=$right WRONG=$wrong PORT=$port N=$n perl -MHTTP::Tiny -MTime::HiRes=time -e '
	my $http = HTTP::Tiny->new(keep_alive => 1);
	my $url = "http://127.0.0.1:$ENV{PORT}/api/v1/performance/status";
	my %t = (right => [], wrong => []);
	my %code;
	$http->get($url, { headers => { Authorization => "Bearer $ENV{RIGHT}" } });    # empties the bucket
	for my $i (1 .. 2 * $ENV{N}) {
		my $case = ($i % 2) ? "right" : "wrong";
		my $tok = $case eq "right" ? $ENV{RIGHT} : $ENV{WRONG};
		my $s = time;
		my $r = $http->get($url, { headers => { Authorization => "Bearer $tok" } });
		push @{ $t{$case} }, (time - $s) * 1e6;
		$code{$case}{ $r->{status} }++;
	}
	my %med;
	printf "%-40s %10s %8s %8s  %s\n", "HTTP, one keep-alive connection", "median us", "p90 us", "ratio", "statuses";
	for my $case ("right", "wrong") {
		my @s = sort { $a <=> $b } @{ $t{$case} };
		$med{$case} = $s[ int(@s / 2) ];
		printf "%-40s %10.1f %8.1f %8.3f  %s\n",
		  $case eq "right" ? "right token (429: bucket empty)" : "wrong token (401)",
		  $med{$case}, $s[ int(@s * 0.9) ], $med{$case} / ($med{right} // $med{$case}),
		  join(",", map { "$_ x$code{$case}{$_}" } sort keys %{ $code{$case} });
	}
'
