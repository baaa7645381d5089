#!/usr/bin/env bash
# Builds the `mailscope` command and puts it on the PATH, so it runs by name
# as the README's examples call it.
#
#   scripts/install-harness.sh             ${CARGO_HOME:-~/.cargo}/bin, where
#                                          rustup put cargo itself (on the PATH)
#   scripts/install-harness.sh --system    /usr/local/bin (as root)
#   scripts/install-harness.sh --remove [--system]   removes it again
set -euo pipefail
cd "$(dirname "$0")/.."

. scripts/install-common.sh "$@"

if [ $system -eq 1 ]; then
    dest=/usr/local/bin
else
    dest="${CARGO_HOME:-$HOME/.cargo}/bin"
fi

install_built mailscope-harness target/release/mailscope 0755 "$dest" mailscope
case ":$PATH:" in
    *":$dest:"*) ;;
    *) echo "note: $dest is not on your PATH: add it (e.g. in ~/.profile) to run mailscope by name" >&2 ;;
esac
