#!/usr/bin/env bash
# One side-by-side run on one capture: MB/s and peak RSS of a bare frame
# loop, the harness (json, summary, sessions, extract), tshark with only
# Wireshark's own dissectors, and tshark with the mailscope plugin, with each
# one's time as a ratio of tshark's own. Ratios measured in the same run are
# what to compare: these machines are noisy.
#
#   scripts/bench.sh [SIZE_MB | CAPTURE]     # default: a 100 MB capture made by scripts/make-capture.py
#
# Needs what scripts/test.sh needs. As root, tshark runs as `nobody` (root
# ignores personal plugins and WIRESHARK_PLUGIN_DIR).
set -euo pipefail
cd "$(dirname "$0")/.."

arg=${1:-100}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [ -f "$arg" ]; then
    capture="$work/$(basename "$arg")"
    cp "$arg" "$capture"
else
    capture="$work/bench.pcap"
    python3 scripts/make-capture.py "$arg" "$capture"
fi
cargo build --release -q -p mailscope-harness -p mailscope-plugin --example frame_loop
series=$(pkg-config --modversion wireshark | cut -d. -f1,2)
mkdir -p "$work/plugins/$series/epan" "$work/no-plugins" "$work/home" "$work/extract"
cp target/release/libmailscope.so "$work/plugins/$series/epan/mailscope.so"
chmod -R a+rwX "$work"
as_user=""
if [ "$(id -u)" -eq 0 ]; then
    as_user="runuser -u nobody --"
fi
export capture work as_user

python3 - "$capture" <<'PY'
import os, resource, subprocess, sys, time

capture = sys.argv[1]
size = os.path.getsize(capture)
work = os.environ["work"]
as_user = os.environ["as_user"].split()

def tshark(plugins, field):
    env = ["env", f"HOME={work}/home", f"WIRESHARK_PLUGIN_DIR={plugins}"]
    return as_user + env + ["tshark", "-r", capture, "-T", "fields", "-e", field]

def measure(cmd):
    # Each run in a child of its own, so its peak RSS is its own.
    code = (
        "import resource,subprocess,sys,time\n"
        "t=time.perf_counter()\n"
        "r=subprocess.run(sys.argv[1:],stdout=subprocess.DEVNULL,stderr=subprocess.DEVNULL)\n"
        "d=time.perf_counter()-t\n"
        "print(d, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, r.returncode)\n"
    )
    out = subprocess.run([sys.executable, "-c", code] + cmd, capture_output=True, text=True).stdout.split()
    return float(out[0]), int(out[1]) / 1024, int(out[2])

runs = [
    ("frame loop (Rust, no analysis)", ["target/release/examples/frame_loop", capture]),
    ("mailscope --format json", ["target/release/mailscope", "--format", "json", capture]),
    ("mailscope --format summary", ["target/release/mailscope", "--format", "summary", capture]),
    ("mailscope --format sessions", ["target/release/mailscope", "--format", "sessions", capture]),
    ("mailscope --extract", ["target/release/mailscope", "--extract", f"{work}/extract", capture]),
    ("tshark, Wireshark's dissectors only", tshark(f"{work}/no-plugins", "smtp.auth.username")),
    ("tshark with the mailscope plugin", tshark(f"{work}/plugins", "mail.auth.username")),
]
results = [(name, *measure(cmd)) for name, cmd in runs]
base = next(r for r in results if r[0].startswith("tshark, Wireshark"))[1]
print(f"capture: {size / 1e6:.1f} MB")
print(f"{'run':<40} {'MB/s':>8} {'peak RSS':>12} {'time / tshark':>14}")
for name, seconds, rss, code in results:
    status = "" if code == 0 else f"  (exit {code})"
    print(f"{name:<40} {size / seconds / 1e6:>8.1f} {rss:>9.0f} MiB {seconds / base:>13.2f}x{status}")
PY
