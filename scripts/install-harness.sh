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

system=0
remove=0
for arg in "$@"; do
    case "$arg" in
        --system) system=1 ;;
        --remove) remove=1 ;;
        *) echo "usage: $0 [--system] [--remove]" >&2; exit 2 ;;
    esac
done

if [ $system -eq 1 ]; then
    dest=/usr/local/bin
else
    dest="${CARGO_HOME:-$HOME/.cargo}/bin"
fi

if [ $remove -eq 1 ]; then
    rm -f "$dest/mailscope"
    echo "removed $dest/mailscope"
    exit 0
fi

cargo build --release -p mailscope-harness
mkdir -p "$dest"
install -m 0755 target/release/mailscope "$dest/mailscope"
echo "installed $dest/mailscope"
case ":$PATH:" in
    *":$dest:"*) ;;
    *) echo "note: $dest is not on your PATH: add it (e.g. in ~/.profile) to run mailscope by name" >&2 ;;
esac
