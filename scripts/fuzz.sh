#!/usr/bin/env bash
# Runs each fuzz target (fuzz/fuzz_targets: SMTP and POP3 streams, TCP
# segments, SASL, MIME, capture files, TLS records) for SECONDS seconds
# (default 60) with cargo-fuzz on the nightly toolchain, each seeded from
# the fixtures: the generator's dialogues (fixtures/generate.py --seeds),
# the fixture captures, the messages `mailscope --extract` writes.
# A crash is kept in fuzz/artifacts/<target>/; make it a fixture.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(smtp_stream pop3_stream segments sasl mime capture tls)

rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked

corpus=fuzz/corpus
mkdir -p "$corpus"
for target in smtp_stream pop3_stream segments tls; do
    python3 fixtures/generate.py --seeds "$corpus/$target" >/dev/null
done
mkdir -p "$corpus/capture" "$corpus/mime" "$corpus/sasl"
find fixtures -name 'capture.pcap*' | while read -r capture; do
    cp "$capture" "$corpus/capture/$(basename "$(dirname "$capture")").${capture##*.}"
done
cargo build --release -p mailscope-harness
target/release/mailscope --extract "$corpus/mime.tmp" fixtures >/dev/null 2>&1 || true
find "$corpus/mime.tmp" -name '*.eml' -exec cp {} "$corpus/mime/" \;
rm -rf "$corpus/mime.tmp"
printf 'PLAIN\nAGFkbWluAGFsaWNlAHdvbmRlcmxhbmQ=\n' >"$corpus/sasl/plain"
printf 'LOGIN\n\nVXNlcm5hbWU6\nYWxpY2U=\nUGFzc3dvcmQ6\nc2VjcmV0\n' >"$corpus/sasl/login"
printf 'SCRAM-SHA-256\nbiwsbj11c2VyLHI9ck9wck5HZndFYmVSV2diTkVrcU8=\n' >"$corpus/sasl/scram"

for target in "${targets[@]}"; do
    echo "== $target: $seconds s"
    # mail-parser has debug assertions that fire on hostile trees (compiled
    # out of every build mailscope ships, and caught by the core in the
    # others); libFuzzer aborts on any panic, caught or not, so the MIME
    # target runs as shipped, without debug assertions.
    flags=()
    [ "$target" = mime ] && flags=(-O)
    (cd fuzz && cargo +nightly fuzz run "${flags[@]}" "$target" "corpus/$target" -- \
        -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=262144 -print_final_stats=1) 2>&1 |
        grep -E '^(stat::|==|INFO: (Done|Loaded)|.*(crash|panicked|ERROR))' || true
    if [ -n "$(ls -A "fuzz/artifacts/$target" 2>/dev/null)" ]; then
        echo "fuzz: $target found a crash, kept in fuzz/artifacts/$target/" >&2
        exit 1
    fi
done
echo "fuzz: ${#targets[@]} targets, ${seconds} s each, no crash"
