#!/usr/bin/env bash
# test/rootfs.sh — a Debian root filesystem for a PostgreSQL version the
# host's release does not carry (17: trixie, 18: sid), or a minimal Debian
# 12 (test/minimal.sh's), and a command run in it.  Root only.
#
#   bash test/rootfs.sh VERSION                 # create it (or reuse it)
#   bash test/rootfs.sh VERSION COMMAND [ARG...]  # and run COMMAND in it
#   bash test/rootfs.sh minimal [COMMAND...]    # bookworm with only git
#
# The root filesystem lives in $PERFOPT_ROOTFS_DIR/<release> (default
# /var/cache/perfopt-rootfs) and is kept between runs: it is built again
# (debootstrap --variant=minbase, then apt-get install of test/lib.sh's
# perfopt_packages VERSION) only when it is missing or when its release,
# mirror or package list changed.  The mirror is apt's own
# (/etc/apt/sources.list*), or PERFOPT_MIRROR.  `minimal` is
# $PERFOPT_ROOTFS_DIR/bookworm-minimal: debootstrap --variant=minbase
# bookworm plus git (and ca-certificates for an https mirror) and nothing
# else, apt pointing at the host's mirrors (bookworm, bookworm-updates and
# the host's security mirror, if it has one).
#
# COMMAND runs as root in the checkout, bind-mounted read-write at
# /perfopt, with /proc, /sys, /dev (a tmpfs with the usual devices),
# /dev/pts and a tmpfs /dev/shm mounted, in mount, PID and network
# namespaces of its own: its mounts go away with it even when it is
# killed (and a trap unmounts them when it ends), no process of it
# survives it, and its servers have a loopback of their own, so their
# ports cannot collide with the host's or another root filesystem's.
# Exits with COMMAND's status.  One run per root filesystem at a time
# (with PERFOPT_ROOTFS_COPY=1, one copy at a time).  For COMMAND only:
#   PERFOPT_ROOTFS_NET=host  COMMAND keeps the host's network (no loopback
#                            of its own: it reaches the Debian mirror)
#   PERFOPT_ROOTFS_COPY=1    COMMAND runs in a throwaway copy of the root
#                            filesystem (<root>.run.<pid>, removed after
#                            it): the kept one stays as built
#   PERFOPT_ROOTFS_TOP=DIR   bind DIR at /perfopt instead of the checkout
#   PERFOPT_ROOTFS_BIND="SRC:DEST ..."  more directories bound read-write
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
PERFOPT_ROOTFS_DIR=${PERFOPT_ROOTFS_DIR:-/var/cache/perfopt-rootfs}
# the path of the checkout inside
inside_top=/perfopt

# --- inside the namespaces (see the end of this file) -----------------------
# rootfs.sh --inside ROOT TOP NET COMMAND...: mount, chroot, run, unmount
if [ "${1:-}" = --inside ]; then
	root=$2 top=$3 net=$4
	shift 4
	mounted=()
	cleanup() {
		local i
		# deepest first; anything COMMAND mounted below ROOT goes too
		for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
			umount -R "${mounted[$i]}" 2>/dev/null || umount -l "${mounted[$i]}" 2>/dev/null || true
		done
	}
	trap cleanup EXIT
	trap 'exit 130' INT TERM
	mnt() { # mnt TARGET mount-args...
		local target=$1
		shift
		mount "$@" "$target"
		mounted+=("$target")
	}
	[ "$net" = new ] && ip link set lo up
	# the root a mount point, as on a machine (unshare --propagation and
	# pivot_root inside need one)
	mnt "$root" --bind "$root"
	mnt "$root/proc" -t proc proc
	mnt "$root/sys" -t sysfs -o ro sysfs
	mnt "$root/dev" -t tmpfs -o mode=0755,nosuid tmpfs
	for d in null zero full random urandom tty; do
		: >"$root/dev/$d"
		mnt "$root/dev/$d" --bind "/dev/$d"
	done
	mkdir -p "$root/dev/pts" "$root/dev/shm"
	mnt "$root/dev/pts" -t devpts -o newinstance,ptmxmode=0666,mode=0620,gid=5 devpts
	ln -s pts/ptmx "$root/dev/ptmx"
	mnt "$root/dev/shm" -t tmpfs -o mode=1777,nosuid,nodev tmpfs
	ln -s /proc/self/fd "$root/dev/fd"
	ln -s /proc/self/fd/0 "$root/dev/stdin"
	ln -s /proc/self/fd/1 "$root/dev/stdout"
	ln -s /proc/self/fd/2 "$root/dev/stderr"
	if [ "$top" != - ]; then
		mkdir -p "$root$inside_top"
		mnt "$root$inside_top" --bind "$top"
	fi
	for b in ${PERFOPT_ROOTFS_BIND:-}; do
		mkdir -p "$root${b#*:}"
		mnt "$root${b#*:}" --bind "${b%%:*}"
	done
	cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
	rc=0
	chroot "$root" /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM="${TERM:-dumb}" \
		PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		bash -c 'cd "$0" 2>/dev/null || cd /; exec "$@"' "$inside_top" "$@" || rc=$?
	exit "$rc"
fi

# --- on the host -------------------------------------------------------------
if [ $# -lt 1 ]; then
	sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2
	exit 2
fi
if [ "$(id -u)" != 0 ]; then
	echo "test/rootfs.sh needs root (debootstrap, chroot, mounts)" >&2
	exit 1
fi
version=$1
shift
source "$here/lib.sh"
if [ "$version" = minimal ]; then
	release=bookworm
	packages=
else
	release=$(perfopt_pg_release "$version")
	packages=$(perfopt_packages "$version" | tr -s ' \t\n' '\n' | sed '/^$/d' | sort | tr '\n' ' ')
fi
for cmd in debootstrap unshare chroot ip; do
	if ! command -v "$cmd" >/dev/null; then
		echo "test/rootfs.sh needs $cmd (apt-get install debootstrap iproute2)" >&2
		exit 1
	fi
done

# apt's own Debian mirror: the first http(s) URI of a "debian" archive
perfopt_mirror() {
	local m
	m=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
		sed -n -E 's%^deb[[:space:]]+(\[[^]]*\][[:space:]]+)?(https?://[^[:space:]]+/debian)/?[[:space:]].*%\2%p' | head -n 1)
	[ -n "$m" ] || m=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null |
		sed -n -E 's%^URIs:.*(https?://[^[:space:]]+/debian)/?([[:space:]]|$).*%\1%p' | head -n 1)
	echo "${m:-http://deb.debian.org/debian}"
}
mirror=${PERFOPT_MIRROR:-$(perfopt_mirror)}
root=$PERFOPT_ROOTFS_DIR/$release
# what the root filesystem was built from: a change builds it again
stamp="release=$release mirror=$mirror packages=$packages setup=1"
# apt's lines for the minimal Debian 12: the host's mirror, and its
# security mirror (the first URI ending in /debian-security) if it has one
if [ "$version" = minimal ]; then
	root=$PERFOPT_ROOTFS_DIR/bookworm-minimal
	packages=git
	case $mirror in https:*) packages="$packages ca-certificates" ;; esac
	security=$({ cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null || true; } |
		sed -n -E '/^(deb[[:space:]]|URIs:)/s%.*[[:space:]](https?://[^[:space:]]+/debian-security)/?([[:space:]].*)?$%\1%p' | head -n 1)
	sources="deb $mirror bookworm main
deb $mirror bookworm-updates main${security:+
deb $security bookworm-security main}"
	stamp="minimal mirror=$mirror security=$security packages=$packages setup=1"
fi

# is anything mounted at or below DIR? (never remove such a tree: the
# checkout may be bind-mounted in it)
mounted_below() {
	awk -v d="$1" '$5 == d || index($5, d "/") == 1 { found = 1 } END { exit !found }' /proc/self/mountinfo
}

# run_in ROOT TOP NET COMMAND...: the namespaces, then --inside
run_in() {
	local root=$1 top=$2 net=$3
	shift 3
	local ns=(--mount --pid --ipc --fork --propagation private)
	[ "$net" = new ] && ns+=(--net)
	unshare "${ns[@]}" bash "$here/rootfs.sh" --inside "$root" "$top" "$net" "$@"
}

create() {
	local new=$root.new t0=$SECONDS
	for d in "$root" "$new"; do
		if mounted_below "$d"; then
			echo "something is still mounted below $d: not removing it" >&2
			return 1
		fi
	done
	local name
	name=$(basename "$root")
	if [ "$version" = minimal ]; then
		perfopt_log "creating the minimal Debian 12 root filesystem (bookworm, $packages) in $root ($mirror)"
	else
		perfopt_log "creating the $release root filesystem for PostgreSQL $version in $root ($mirror)"
	fi
	rm -rf "$new"
	mkdir -p "$PERFOPT_ROOTFS_DIR"
	# (in a mount namespace of its own: the /proc it mounts goes with it)
	unshare --mount --propagation private debootstrap --variant=minbase "$release" "$new" "$mirror" \
		>"$PERFOPT_ROOTFS_DIR/$name-debootstrap.log" 2>&1 || {
		tail -n 30 "$PERFOPT_ROOTFS_DIR/$name-debootstrap.log" >&2
		echo "debootstrap of $release failed ($PERFOPT_ROOTFS_DIR/$name-debootstrap.log)" >&2
		return 1
	}
	# no service starts in a chroot, no recommends; the mirror may be a
	# frozen copy whose Release files are past Valid-Until.  The versions'
	# root filesystems have no default cluster either; the minimal one
	# stays what Debian installs (test/demo.sh stops a running one)
	printf '#!/bin/sh\nexit 101\n' >"$new/usr/sbin/policy-rc.d"
	chmod 755 "$new/usr/sbin/policy-rc.d"
	if [ "$version" != minimal ]; then
		mkdir -p "$new/etc/postgresql-common/createcluster.d"
		echo "create_main_cluster = false" >"$new/etc/postgresql-common/createcluster.d/perfopt.conf"
	fi
	cat >"$new/etc/apt/apt.conf.d/90perfopt" <<-EOF
		APT::Install-Recommends "false";
		Acquire::Check-Valid-Until "false";
		Acquire::Languages "none";
	EOF
	if [ "$version" = minimal ]; then
		echo "$sources" >"$new/etc/apt/sources.list"
	else
		echo "deb $mirror $release main" >"$new/etc/apt/sources.list"
	fi
	# (the minimal one's lists go too, as on a fresh machine: its scripts
	# must run apt-get update themselves)
	local lists=
	[ "$version" = minimal ] && lists=' && rm -rf /var/lib/apt/lists/*'
	run_in "$new" - host env DEBIAN_FRONTEND=noninteractive bash -c \
		"apt-get update -q && apt-get install -y -q \$0 && apt-get clean$lists" "$packages" \
		>"$PERFOPT_ROOTFS_DIR/$name-apt.log" 2>&1 || {
		tail -n 30 "$PERFOPT_ROOTFS_DIR/$name-apt.log" >&2
		echo "apt-get install $packages failed in $new ($PERFOPT_ROOTFS_DIR/$name-apt.log)" >&2
		return 1
	}
	echo "$stamp" >"$new/.perfopt-rootfs"
	if [ -e "$root" ]; then
		mounted_below "$root" && return 1
		rm -rf "$root"
	fi
	mv "$new" "$root"
	perfopt_log "$name root filesystem ready in $((SECONDS - t0)) s"
}

mkdir -p "$PERFOPT_ROOTFS_DIR"
exec 9>"$root.lock"
flock 9
if [ "$(cat "$root/.perfopt-rootfs" 2>/dev/null)" != "$stamp" ]; then
	create
fi
[ $# = 0 ] && exit 0

net=new
[ "${PERFOPT_ROOTFS_NET:-}" = host ] && net=host
top=${PERFOPT_ROOTFS_TOP:-$PERFOPT_TOP}
if [ "${PERFOPT_ROOTFS_COPY:-}" != 1 ]; then
	run_in "$root" "$top" "$net" "$@"
	exit $?
fi
# a throwaway copy, <root>.run.<pid of this script>: the lock is held only
# while copying, so several runs may work at once; the copies of runs that
# are gone (interrupted) go first
for old in "$root".run.*; do
	pid=${old##*.}
	case $pid in '' | *[!0-9]*) continue ;; esac
	[ "$pid" != $$ ] && kill -0 "$pid" 2>/dev/null && continue
	if mounted_below "$old"; then
		echo "something is still mounted below $old: not removing it" >&2
		continue
	fi
	rm -rf "$old"
done
copy=$root.run.$$
mkdir "$copy"
remove_copy() {
	if mounted_below "$copy"; then
		echo "something is still mounted below $copy: left in place" >&2
	else
		rm -rf "$copy"
	fi
}
trap remove_copy EXIT
trap 'exit 130' INT TERM
cp -a "$root/." "$copy/" || {
	echo "copying $root to $copy failed" >&2
	exit 1
}
chmod 755 "$copy"
flock -u 9
exec 9>&-
rc=0
run_in "$copy" "$top" "$net" "$@" || rc=$?
exit "$rc"
