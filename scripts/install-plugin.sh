#!/usr/bin/env bash
# Builds the mailscope plugin and installs it for the Wireshark found.
#
#   scripts/install-plugin.sh             your personal plugin folder
#   scripts/install-plugin.sh --system    the global plugin folder (as root;
#                                         root's tshark ignores personal plugins)
#   scripts/install-plugin.sh --remove [--system]   removes it again
set -euo pipefail
cd "$(dirname "$0")/.."

. scripts/install-common.sh "$@"

version=$(pkg-config --modversion wireshark)
series=${version%.*}
if [ $system -eq 1 ]; then
    libdir=$(pkg-config --variable=plugindir wireshark 2>/dev/null || true)
    [ -n "$libdir" ] || libdir="$(pkg-config --variable=libdir wireshark)/wireshark/plugins/$series"
    dest="$libdir/epan"
else
    dest="$HOME/.local/lib/wireshark/plugins/$series/epan"
fi

install_built mailscope-plugin target/release/libmailscope.so 0644 "$dest" mailscope.so "Wireshark $version"
if [ $system -eq 0 ] && [ "$(id -u)" -eq 0 ]; then
    echo "note: tshark run as root ignores personal plugins; use --system for root" >&2
fi
