#!/usr/bin/env bash
# One command from a fresh Debian machine to a working mailscope: installs
# the system packages, builds everything, installs the Wireshark plugin and
# the `mailscope` command (on the PATH, as the README's examples call it),
# and runs the main job on a bundled capture, first with the harness, then
# with tshark filtering on the decoded credentials.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
cargo build --release --workspace

if [ "$(id -u)" -eq 0 ]; then
    bash scripts/install-plugin.sh --system
    bash scripts/install-harness.sh --system
    bin=/usr/local/bin
else
    bash scripts/install-plugin.sh
    bash scripts/install-harness.sh
    bin="${CARGO_HOME:-$HOME/.cargo}/bin"
fi
# The examples call `mailscope` by name; this shell may predate the PATH entry.
case ":$PATH:" in *":$bin:"*) ;; *) PATH="$bin:$PATH" ;; esac

capture=fixtures/auth-plain-two-step-failure/capture.pcap
echo
echo "== mailscope --format summary $capture"
mailscope --format summary "$capture"
echo
echo "== tshark -r $capture -Y 'mail.auth.password' -T fields -e frame.number -e mail.auth.mechanism -e mail.auth.username -e mail.auth.password"
tshark -r "$capture" -Y 'mail.auth.password' \
    -T fields -e frame.number -e mail.auth.mechanism -e mail.auth.username -e mail.auth.password 2>/dev/null
echo
echo "== tshark -r $capture -q -z credentials"
tshark -r "$capture" -q -z credentials 2>/dev/null
