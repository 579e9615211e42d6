#!/usr/bin/env bash
# test/packaging/check.sh — the Debian packages, built and installed the
# way a user gets them:
#   1. dpkg-buildpackage -us -uc -b in a copy of the checkout (its outputs
#      go to the copy's parent, never next to the checkout), then
#      `debian/rules clean` must leave the copy as it was;
#   2. lintian on the built packages: any error fails;
#   3. a minimal Debian 12 root filesystem (debootstrap --variant=minbase
#      from apt's configured Debian mirror), kept pristine in
#      $PERFOPT_ROOTFS_CACHE/bookworm-pkg between runs; each run works on
#      an overlay of it, in a mount and PID namespace of its own (every
#      mount and process goes with the namespace; the trap unmounts too);
#   4. apt installs the built .debs there (so their dependencies resolve
#      from the mirror), a PostgreSQL 15 cluster starts with
#      shared_preload_libraries = 'pg_stat_statements,perfopt', and
#      CREATE EXTENSION perfopt CASCADE and SELECT perfopt_status() run;
#   5. the installed perfopt-httpd, as its own user with a configuration
#      made from /etc/perfopt/httpd.conf.example, answers 200 on /healthz
#      and on the status call with a token.
# Needs root (debootstrap, chroot, mounts); without it, says so and skips.
# Run by test/run.sh; alone: bash test/packaging/check.sh
#   PERFOPT_ROOTFS_CACHE   where the base root filesystem is kept
#                          (default /var/cache/perfopt-rootfs)
#   PERFOPT_DEBIAN_MIRROR  the Debian mirror (default: apt's, from
#                          /etc/apt/sources.list*)
#   PERFOPT_PKG_KEEP=1     keep the work directory (build logs, debs)
set -uo pipefail

if [ "${1:-}" = --inside ]; then
	inside=1
	shift
else
	inside=0
fi

source "$(dirname "$0")/../lib.sh"
cache=${PERFOPT_ROOTFS_CACHE:-/var/cache/perfopt-rootfs}
base=$cache/bookworm-pkg
fail() {
	echo "packaging: $*" >&2
	exit 1
}
step() { perfopt_log "packaging: $*"; }

# ---------------------------------------------------------------------------
# inside the namespaces (unshare --mount --pid --fork): WORK is the work
# directory; the overlay, /proc and /dev are mounted here and vanish with
# the namespace
# ---------------------------------------------------------------------------
if [ "$inside" = 1 ]; then
	work=$1
	root=$work/root
	mounted=()
	cleanup_inside() {
		local i
		# stop the cluster and the shim before the mounts go (the PID
		# namespace kills whatever is left when this shell exits)
		[ -x "$root/usr/bin/pg_ctlcluster" ] && chroot "$root" pg_ctlcluster 15 main stop -m immediate >/dev/null 2>&1
		for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
			umount -R "${mounted[$i]}" 2>/dev/null || umount -l "${mounted[$i]}"
		done
	}
	trap cleanup_inside EXIT
	mnt() { # mnt TARGET mount-args...
		local target=$1
		shift
		mount "$@" "$target" || fail "mount $* $target failed"
		mounted+=("$target")
	}
	in_root() { env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive chroot "$root" "$@"; }

	mkdir -p "$work/upper" "$work/ovl" "$root"
	mnt "$root" -t overlay overlay -o "lowerdir=$base,upperdir=$work/upper,workdir=$work/ovl"
	mnt "$root/proc" -t proc proc
	mnt "$root/dev" --rbind /dev
	mkdir -p "$cache/bookworm-pkg-archives/partial"
	mnt "$root/var/cache/apt/archives" --bind "$cache/bookworm-pkg-archives"
	cp /etc/resolv.conf "$root/etc/resolv.conf"
	# a throwaway system: dpkg need not sync every file it unpacks
	echo force-unsafe-io >"$root/etc/dpkg/dpkg.cfg.d/perfopt-unsafe-io"
	# no service starts from a maintainer script in here
	printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
	chmod 755 "$root/usr/sbin/policy-rc.d"
	mkdir -p "$root/tmp/debs"
	cp "$work"/out/*.deb "$root/tmp/debs/"
	rm -f "$root"/tmp/debs/*-dbgsym_*.deb

	step "apt installs the packages in the root filesystem"
	in_root apt-get update -q >"$work/apt.log" 2>&1 || { tail -n 20 "$work/apt.log" >&2; fail "apt-get update failed in the root filesystem"; }
	# shellcheck disable=SC2046
	in_root apt-get install -y -q --no-install-recommends $(cd "$root" && ls tmp/debs/*.deb | sed 's|^|/|') curl \
		>>"$work/apt.log" 2>&1 || { tail -n 30 "$work/apt.log" >&2; fail "apt-get install of the packages failed ($work/apt.log)"; }
	for f in /usr/bin/perfopt-httpd /lib/systemd/system/perfopt-httpd.service /usr/lib/sysusers.d/perfopt-httpd.conf \
		/etc/perfopt/httpd.conf.example /usr/share/perfopt/grafana/perfopt.json \
		/usr/lib/postgresql/15/lib/perfopt.so /usr/share/postgresql/15/extension/perfopt.control; do
		[ -e "$root$f" ] || fail "$f is not installed"
	done
	grep -q '^ExecStart=/usr/bin/perfopt-httpd ' "$root/lib/systemd/system/perfopt-httpd.service" ||
		fail "the installed unit does not run /usr/bin/perfopt-httpd"
	in_root getent passwd perfopt-httpd >/dev/null || fail "the package did not create the perfopt-httpd user"

	step "PostgreSQL 15 with perfopt preloaded, CREATE EXTENSION perfopt"
	[ -d "$root/etc/postgresql/15/main" ] || in_root pg_createcluster 15 main >/dev/null || fail "pg_createcluster failed"
	# the root filesystem shares the machine's network: free ports
	pgport=$(perfopt_free_port 56432) || fail "no free port"
	cat >"$root/etc/postgresql/15/main/conf.d/perfopt.conf" <<-EOF
		port = $pgport
		listen_addresses = '127.0.0.1'
		shared_preload_libraries = 'pg_stat_statements,perfopt'
	EOF
	in_root pg_ctlcluster 15 main start || {
		tail -n 20 "$root/var/log/postgresql/postgresql-15-main.log" >&2
		fail "the cluster did not start"
	}
	psql_root() { in_root runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -p "$pgport" -d postgres "$@"; }
	psql_root -c "SET client_min_messages = warning; CREATE EXTENSION perfopt CASCADE" || fail "CREATE EXTENSION perfopt CASCADE failed"
	status=$(psql_root -At -c "SELECT perfopt_status()") || fail "SELECT perfopt_status() failed"
	[ -n "$status" ] || fail "perfopt_status() returned nothing"
	echo "perfopt_status(): $(printf %s "$status" | head -c 300)"

	step "the installed perfopt-httpd, as its user, from httpd.conf.example"
	password=$(head -c 18 /dev/urandom | base64 | tr '+/' '-_')
	psql_root -c "CREATE ROLE perfopt_api LOGIN NOINHERIT PASSWORD '$password';
	  CREATE ROLE api_reader NOLOGIN IN ROLE pg_monitor;
	  GRANT api_reader TO perfopt_api;" || fail "creating the shim's roles failed"
	httpport=$(perfopt_free_port $((pgport + 1))) || fail "no free port"
	token=$(head -c 24 /dev/urandom | base64 | tr '+/' '-_')
	hash=$(printf %s "$token" | in_root /usr/bin/perfopt-httpd --hash-token) || fail "perfopt-httpd --hash-token failed"
	echo "$hash api_reader" >"$root/etc/perfopt/tokens"
	sed -e "s|^conninfo = .*|conninfo = host=127.0.0.1 port=$pgport dbname=postgres user=perfopt_api password=$password|" \
		-e "s|^listen = .*|listen = 127.0.0.1:$httpport|" \
		"$root/etc/perfopt/httpd.conf.example" >"$root/etc/perfopt/httpd.conf"
	grep -q "^listen = 127.0.0.1:$httpport\$" "$root/etc/perfopt/httpd.conf" || fail "httpd.conf.example has no listen line to set"
	grep -q '^tokens = /etc/perfopt/tokens$' "$root/etc/perfopt/httpd.conf" || fail "httpd.conf.example names another token file"
	in_root chown root:perfopt-httpd /etc/perfopt/httpd.conf /etc/perfopt/tokens
	chmod 640 "$root/etc/perfopt/httpd.conf" "$root/etc/perfopt/tokens"
	in_root runuser -u perfopt-httpd -- /usr/bin/perfopt-httpd --config /etc/perfopt/httpd.conf \
		>"$work/httpd.log" 2>&1 &
	code=
	for _ in $(seq 1 100); do
		code=$(in_root curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$httpport/healthz")
		[ "$code" = 200 ] && break
		sleep 0.1
	done
	[ "$code" = 200 ] || { tail -n 20 "$work/httpd.log" >&2; fail "perfopt-httpd answered ${code:-nothing} on /healthz, not 200"; }
	echo "/healthz: 200"
	code=$(in_root curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $token" \
		"http://127.0.0.1:$httpport/api/v1/performance/status")
	[ "$code" = 200 ] || { tail -n 20 "$work/httpd.log" >&2; fail "GET /api/v1/performance/status with a token answered ${code:-nothing}, not 200"; }
	echo "/api/v1/performance/status with a token: 200"
	exit 0
fi

# ---------------------------------------------------------------------------
# outside: build, lint, the base root filesystem, then the namespaces
# ---------------------------------------------------------------------------
if [ "$(id -u)" != 0 ]; then
	echo "packaging: skipped: debootstrap, chroot and mounts need root" >&2
	exit 0
fi
for c in dpkg-buildpackage dh pg_buildext lintian debootstrap unshare; do
	perfopt_require "$c" || fail "$c is missing (test/lib.sh's PERFOPT_PACKAGES has it)"
done
start=$SECONDS
work=$(mktemp -d /var/tmp/perfopt-pkg.XXXXXX)
chmod 755 "$work"
cleanup() {
	# the namespace's mounts are gone with it; unmount what might be left
	# (never remove a directory something is mounted under)
	local m
	for m in $(awk -v w="$work/" 'index($2, w) == 1 { print $2 }' /proc/mounts | sort -r); do
		umount -l "$m" 2>/dev/null
	done
	if awk -v w="$work/" 'index($2, w) == 1 { found = 1 } END { exit !found }' /proc/mounts; then
		echo "packaging: $work still has mounts: left in place" >&2
	elif [ "${PERFOPT_PKG_KEEP:-}" = 1 ]; then
		echo "packaging: work directory kept: $work" >&2
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# 1. the build, from a copy of the checkout: what git tracks (and files not
#    yet added but not ignored), or everything but .git and test output
#    when this is not a git checkout (run.sh's readable copy)
step "dpkg-buildpackage -us -uc -b"
src=$work/build/perfopt
mkdir -p "$src" "$work/out"
if git -C "$PERFOPT_TOP" rev-parse --git-dir >/dev/null 2>&1; then
	(cd "$PERFOPT_TOP" && git ls-files -z -co --exclude-standard | tar --null --ignore-failed-read -T - -cf - 2>/dev/null) |
		tar -C "$src" -xf - || fail "copying the checkout failed"
else
	tar -C "$PERFOPT_TOP" --exclude=./tmp_check --exclude=./.demo -cf - . | tar -C "$src" -xf - ||
		fail "copying the checkout failed"
	# without git to tell sources from outputs: what an earlier build left
	# (test/run.sh's) goes first
	(cd "$src" && debian/rules clean) >"$work/clean.log" 2>&1 || { tail -n 20 "$work/clean.log" >&2; fail "debian/rules clean failed"; }
fi
(cd "$src" && find . | sort) >"$work/files-before"
t0=$SECONDS
(cd "$src" && dpkg-buildpackage -us -uc -b) >"$work/build.log" 2>&1 ||
	{ grep -v '^\(/usr/bin/clang\|gcc\) ' "$work/build.log" | tail -n 30 >&2; fail "dpkg-buildpackage failed ($work/build.log; PERFOPT_PKG_KEEP=1 keeps it)"; }
grep -E '(^|[^-])warning:' "$work/build.log" | grep -v 'ignoring --strip-program' >&2 &&
	fail "the build printed warnings"
build_secs=$((SECONDS - t0))
mv "$work"/build/*.deb "$work"/build/*.changes "$work"/build/*.buildinfo "$work/out/"
ls "$work/out"/postgresql-15-perfopt_*.deb "$work/out"/perfopt-httpd_*.deb >/dev/null ||
	fail "the build made no postgresql-15-perfopt or perfopt-httpd package"
# the clean target leaves the tree as the copy was
(cd "$src" && debian/rules clean) >"$work/clean.log" 2>&1 || { tail -n 20 "$work/clean.log" >&2; fail "debian/rules clean failed"; }
(cd "$src" && find . | sort) >"$work/files-after"
if ! diff -u "$work/files-before" "$work/files-after" >"$work/clean.diff"; then
	cat "$work/clean.diff" >&2
	fail "debian/rules clean leaves build outputs behind (or removes sources)"
fi
echo "built: $(cd "$work/out" && ls ./*.deb | sed 's|^\./||' | tr '\n' ' ')(${build_secs} s)"

# 2. lintian: errors fail, the rest is printed
step "lintian"
# (as root it warns that it runs as root: that line is left out)
lintian --pedantic --display-info "$work"/out/*.changes 2>&1 | grep -v '^running with root privileges' >"$work/lintian.log"
sed 's/^/lintian: /' "$work/lintian.log"
grep -q '^E: ' "$work/lintian.log" && fail "lintian reports errors"

# 3. the base root filesystem, made once (a marker says it is complete)
mirror=${PERFOPT_DEBIAN_MIRROR:-$(grep -rhoE 'https?://[^[:space:]]+/debian/?([[:space:]]|$)' /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null | tr -d '[:space:]' | head -n 1)}
mirror=${mirror%/}
[ -n "$mirror" ] || fail "no Debian mirror in /etc/apt/sources.list*: set PERFOPT_DEBIAN_MIRROR"
security=$(grep -rhoE 'https?://[^[:space:]]+/debian-security/?([[:space:]]|$)' /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null | tr -d '[:space:]' | head -n 1)
security=${security%/}
mkdir -p "$cache"
exec 9>"$cache/bookworm-pkg.lock"
flock 9
if [ ! -e "$base/.perfopt-complete" ]; then
	step "debootstrap --variant=minbase bookworm from $mirror (once; kept in $base)"
	t0=$SECONDS
	rm -rf "$base"
	debootstrap --variant=minbase bookworm "$base" "$mirror" >"$cache/bookworm-pkg-debootstrap.log" 2>&1 ||
		{ tail -n 20 "$cache/bookworm-pkg-debootstrap.log" >&2; fail "debootstrap failed ($cache/bookworm-pkg-debootstrap.log)"; }
	{
		echo "deb $mirror bookworm main"
		echo "deb $mirror bookworm-updates main"
		[ -n "$security" ] && echo "deb $security bookworm-security main"
	} >"$base/etc/apt/sources.list"
	# apt's downloads go to a cache of their own (bound in at each run)
	rm -f "$base"/var/cache/apt/archives/*.deb
	touch "$base/.perfopt-complete"
	echo "root filesystem made in $((SECONDS - t0)) s"
fi

# 4. and 5.: in a mount and PID namespace of their own, on an overlay of it
unshare --mount --propagation private --pid --fork --kill-child -- bash "$0" --inside "$work"
rc=$?
[ "$rc" = 0 ] || fail "the packages did not install or run in the root filesystem"
echo "packaging: built, linted, installed and run in a clean Debian 12 in $((SECONDS - start)) s"
