#!/usr/bin/env bash
# The whole test suite: formatting, lints, the core's and harness's tests,
# and the plugin loaded into the real tshark. Needs the packages of
# scripts/install-deps.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! pkg-config --exists wireshark || ! command -v tshark >/dev/null; then
    echo "tshark and libwireshark-dev are missing: run scripts/install-deps.sh first" >&2
    exit 1
fi

python3 scripts/check-rust-version.py
cargo fmt --all --check
cargo clippy --workspace --all-targets -- -D warnings
# `cargo test` does not rebuild a cdylib: build the plugin the tests load first.
cargo build -p mailscope-plugin
cargo test --workspace --no-fail-fast
