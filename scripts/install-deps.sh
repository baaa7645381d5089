#!/usr/bin/env bash
# Installs the system packages mailscope builds and tests with (Debian/Ubuntu):
# tshark and libwireshark-dev (the plugin), libclang (bindgen), pkg-config,
# python3 (the fixture generator). Uses sudo when not run as root.
set -euo pipefail

packages=(tshark libwireshark-dev libglib2.0-dev libclang-dev clang pkg-config python3 util-linux)

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
    # tshark asks whether non-root users may capture; the default (no) is fine.
    export DEBIAN_FRONTEND=noninteractive
    "${sudo_cmd[@]}" apt-get update -qq
    "${sudo_cmd[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null 2>&1; then
    echo "cargo not found: install Rust 1.82 or newer (https://rustup.rs), then run this again" >&2
    exit 1
fi
