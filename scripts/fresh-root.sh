#!/usr/bin/env bash
# Runs the README's two commands (scripts/setup.sh, then scripts/test.sh) in a
# fresh Debian root made with debootstrap, the way a new user meets them:
# nothing in the root but git, sudo and certificates, plus this machine's
# Rust toolchain bind-mounted read-only (so no toolchain is downloaded).
#
#   scripts/fresh-root.sh SUITE [root|user|both]
#
# SUITE is a Debian suite (bookworm: Wireshark 4.0, trixie: 4.4, sid: 4.6).
# `root` runs both commands as root; `user` runs them as a new user with sudo
# inside a pseudo-terminal (where a question from apt would wait for ever,
# so a time limit turns a hang into a failure); `both` (the default) does
# each in its own fresh copy of the root. Needs root, debootstrap, and the
# Debian archive apt is configured for.
#
# The debootstrap base is cached in $MAILSCOPE_ROOT_CACHE (default
# /var/cache/mailscope-roots); each run works in a throwaway copy of it, so
# the project's own packages are installed fresh every time.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)

suite=${1:?usage: $0 SUITE [root|user|both]}
who=${2:-both}
cache=${MAILSCOPE_ROOT_CACHE:-/var/cache/mailscope-roots}
limit=${MAILSCOPE_ROOT_TIMEOUT:-2400}

[ "$(id -u)" -eq 0 ] || { echo "$0: run as root (debootstrap, chroot, mounts)" >&2; exit 2; }
command -v debootstrap >/dev/null || {
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
}

# The mirror apt already uses (deb822 or one-line sources).
mirror=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/* 2>/dev/null |
    grep -oE 'https?://[^ ]+/debian/?( |$)' | head -1 | tr -d ' ' || true)
mirror=${mirror:-http://deb.debian.org/debian}

toolchain=$(rustc --print sysroot)
shared=$(cd "$repo/.." && pwd)/shared

base="$cache/$suite"
if [ ! -e "$base/.complete" ]; then
    echo "== debootstrap $suite from $mirror into $base"
    rm -rf "$base"
    mkdir -p "$cache"
    debootstrap --variant=minbase --include=git,sudo,ca-certificates "$suite" "$base" "$mirror" >"$cache/$suite.log" 2>&1 ||
        { tail -20 "$cache/$suite.log" >&2; exit 1; }
    touch "$base/.complete"
fi

work=""
mounts=()
cleanup() {
    for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do
        umount -l "${mounts[$i]}" 2>/dev/null || true
    done
    mounts=()
    [ -n "$work" ] && rm -rf "$work"
    work=""
}
trap cleanup EXIT

bind() { # bind SOURCE TARGET [ro]
    mkdir -p "$2"
    mount --bind "$1" "$2"
    mounts+=("$2")
    if [ "${3:-}" = ro ]; then
        mount -o remount,bind,ro "$2"
    fi
}

prepare() {
    work=$(mktemp -d /var/tmp/mailscope-root.XXXXXX)
    cp -a "$base" "$work/root"
    local root="$work/root"
    rm -f "$root/.complete"
    cp /etc/resolv.conf "$root/etc/resolv.conf"
    # A mirror that is a dated snapshot serves sid's Release files after
    # their Valid-Until: accept them, as the snapshot is what there is.
    echo 'Acquire::Check-Valid-Until "false";' >"$root/etc/apt/apt.conf.d/99mailscope-snapshot"
    # The certificate authorities this machine trusts locally (a site's own
    # CA, a TLS-inspecting proxy) are part of "certificates" a user has.
    if [ -d /usr/local/share/ca-certificates ]; then
        cp -r /usr/local/share/ca-certificates/. "$root/usr/local/share/ca-certificates/"
        chroot "$root" update-ca-certificates >/dev/null 2>&1
    fi
    mkdir -p "$root/proc" && mount -t proc proc "$root/proc" && mounts+=("$root/proc")
    bind /dev "$root/dev"
    bind /dev/pts "$root/dev/pts"
    bind "$toolchain" "$root/opt/rust" ro
    echo 'export PATH=/opt/rust/bin:$PATH' >"$root/etc/profile.d/rust.sh"
    if [ -d "$shared" ]; then
        bind "$shared" "$root/work/shared" ro
    fi
    git clone -q "$repo" "$root/work/main"
}

run_as_root() {
    echo "== $suite, as root: scripts/setup.sh && scripts/test.sh"
    prepare
    timeout "$limit" chroot "$work/root" /bin/bash -lc \
        'cd /work/main && scripts/setup.sh && scripts/test.sh' </dev/null
    cleanup
}

run_as_user() {
    echo "== $suite, as a user with sudo in a terminal: scripts/setup.sh && scripts/test.sh"
    prepare
    local root="$work/root"
    chroot "$root" useradd -m -s /bin/bash analyst
    echo 'analyst ALL=(ALL) NOPASSWD: ALL' >"$root/etc/sudoers.d/analyst"
    chmod 0440 "$root/etc/sudoers.d/analyst"
    chroot "$root" chown -R analyst: /work/main
    # script(1) gives the commands a pseudo-terminal, as a person's shell has.
    timeout "$limit" chroot "$root" script -qec \
        "su - analyst -c 'cd /work/main && scripts/setup.sh && scripts/test.sh'" /dev/null </dev/null
    cleanup
}

case "$who" in
    root) run_as_root ;;
    user) run_as_user ;;
    both) run_as_root; run_as_user ;;
    *) echo "usage: $0 SUITE [root|user|both]" >&2; exit 2 ;;
esac
echo "== $suite: $who passed"
