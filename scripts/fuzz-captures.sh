#!/usr/bin/env bash
# Capture mutation in the style of Wireshark's fuzz-test.sh: every fixture
# and shared capture, mutated with `editcap -E` (random byte errors) under
# SEEDS seeds, through the harness and through tshark with the freshly built
# plugin. Stops at the first panic, crash, dissector bug or mailscope
# internal error and keeps the mutated capture that caused it.
#
#   scripts/fuzz-captures.sh [SEEDS] [ERROR-PROBABILITY]    # default 20 and 0.02
#
# Needs what scripts/test.sh needs. As root, tshark runs as `nobody` (root
# ignores personal plugins and WIRESHARK_PLUGIN_DIR).
set -euo pipefail
cd "$(dirname "$0")/.."

seeds=${1:-20}
probability=${2:-0.02}
cargo build --release -p mailscope-harness -p mailscope-plugin
series=$(pkg-config --modversion wireshark | cut -d. -f1,2)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/plugins/$series/epan" "$work/home" "$work/mutated" fuzz-failures
cp target/release/libmailscope.so "$work/plugins/$series/epan/mailscope.so"
chmod -R a+rwX "$work"
run=(env "HOME=$work/home" "WIRESHARK_PLUGIN_DIR=$work/plugins")
if [ "$(id -u)" -eq 0 ]; then
    run=(runuser -u nobody -- "${run[@]}")
fi

captures=$(find fixtures ../shared/pcaps -type f \( -name '*.pcap' -o -name '*.pcapng' -o -name '*.cap' \) 2>/dev/null | sort)
runs=0
for capture in $captures; do
    for seed in $(seq 1 "$seeds"); do
        mutated="$work/mutated/$(echo "$capture" | tr '/' '_')-$seed.pcapng"
        editcap -E "$probability" --seed "$seed" "$capture" "$mutated" 2>/dev/null || continue
        chmod a+r "$mutated"
        if ! target/release/mailscope --format sessions "$mutated" >/dev/null 2>"$work/harness.err"; then
            if grep -q "panicked" "$work/harness.err"; then
                cp "$mutated" fuzz-failures/
                echo "harness panicked on $capture seed $seed (kept in fuzz-failures/)" >&2
                cat "$work/harness.err" >&2
                exit 1
            fi
        fi
        status=0
        "${run[@]}" tshark -r "$mutated" -V >"$work/tshark.out" 2>"$work/tshark.err" || status=$?
        if [ "$status" -gt 2 ] || grep -q -e "Dissector bug" -e "mailscope stopped parsing" "$work/tshark.out"; then
            cp "$mutated" fuzz-failures/
            echo "tshark failed (exit $status) on $capture seed $seed (kept in fuzz-failures/)" >&2
            grep -e "Dissector bug" -e "mailscope stopped" "$work/tshark.out" | head -3 >&2 || true
            tail -3 "$work/tshark.err" >&2
            exit 1
        fi
        rm -f "$mutated"
        runs=$((runs + 1))
    done
done
rmdir fuzz-failures 2>/dev/null || true
echo "fuzz-captures: $runs mutated captures, no crash"
