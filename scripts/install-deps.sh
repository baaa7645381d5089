#!/usr/bin/env bash
# Installs the system packages mailscope builds and tests with (Debian/Ubuntu):
# tshark and libwireshark-dev (the plugin), libgcrypt20-dev (the TLS headers
# the plugin includes need <gcrypt.h>, and libwireshark-dev does not pull it
# in), libclang (bindgen), pkg-config, python3 (the fixture generator),
# util-linux (runuser, for the tshark tests run as root). Uses sudo when not
# run as root. Checks that the Rust toolchain is new enough.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(tshark libwireshark-dev libgcrypt20-dev libglib2.0-dev libclang-dev clang gcc libc6-dev pkg-config python3 util-linux)

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
    sudo_cmd=(sudo)
fi

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing: ${missing[*]}"
    # wireshark-common asks whether non-root users may capture. Answer it
    # (no, Debian's default) before apt runs: sudo resets the environment, so
    # DEBIAN_FRONTEND is passed through `env`, not exported, and the question
    # never waits on a terminal whose output is hidden.
    echo "wireshark-common wireshark-common/install-setuid boolean false" |
        "${sudo_cmd[@]}" debconf-set-selections
    "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    log=$(mktemp)
    "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null >"$log" 2>&1 ||
        { cat "$log" >&2; rm -f "$log"; exit 1; }
    rm -f "$log"
fi

# The oldest Rust that builds and lints the workspace with its lockfile is
# the workspace's rust-version (Cargo.toml).
wanted=$(sed -n 's/^rust-version = "\(.*\)"/\1/p' Cargo.toml | head -1)
if ! command -v cargo >/dev/null 2>&1; then
    echo "cargo not found: install Rust $wanted or newer (https://rustup.rs), then run this again" >&2
    exit 1
fi
have=$(rustc --version | awk '{print $2}')
if [ "$(printf '%s\n%s\n' "$wanted" "$have" | sort -V | head -1)" != "$wanted" ]; then
    echo "rustc $have is too old: mailscope needs Rust $wanted or newer (rustup update)" >&2
    exit 1
fi
