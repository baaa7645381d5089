#!/usr/bin/env bash
# One side-by-side run on one capture: MB/s and peak RSS of a bare frame
# loop, the harness (json, summary, sessions, extract), tshark with only
# Wireshark's own dissectors, and tshark with the mailscope plugin, with each
# one's time as a ratio of tshark's own. Ratios measured in the same run are
# what to compare: these machines are noisy.
#
#   scripts/bench.sh [SIZE_MB | CAPTURE]     # default: a 100 MB capture made by scripts/make-capture.py
#
# Then, unless HOSTILE=0: the harness's peak RSS on a 10 MB capture beside
# the one above (flat in capture size), its memory per open idle connection
# (10,000 and 50,000 connections that sent EHLO and stay open), and the
# hostile streams of scripts/make-hostile.py at full size (a 100 MB listing
# that never ends, 1,000,000 pipelined RCPTs, 50 MB of binary garbage)
# through the harness and tshark with and without the plugin.
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
if [ "${HOSTILE:-1}" != 0 ]; then
    python3 scripts/make-capture.py 10 "$work/small.pcap" >/dev/null
    python3 scripts/make-hostile.py many-connections 10000 "$work/idle-10k.pcap" >/dev/null
    python3 scripts/make-hostile.py many-connections 50000 "$work/idle-50k.pcap" >/dev/null
    python3 scripts/make-hostile.py endless-list 100 "$work/endless-list.pcap" >/dev/null
    python3 scripts/make-hostile.py pipelined-rcpt 1000000 "$work/pipelined-rcpt.pcap" >/dev/null
    python3 scripts/make-hostile.py garbage 50 "$work/garbage.pcap" >/dev/null
    chmod -R a+rwX "$work"
fi

python3 - "$capture" <<'PY'
import os, resource, subprocess, sys, time

capture = sys.argv[1]
size = os.path.getsize(capture)
work = os.environ["work"]
as_user = os.environ["as_user"].split()

def tshark_on(plugins, field, path):
    env = ["env", f"HOME={work}/home", f"WIRESHARK_PLUGIN_DIR={plugins}"]
    return as_user + env + ["tshark", "-r", path, "-T", "fields", "-e", field]

def tshark(plugins, field):
    return tshark_on(plugins, field, capture)

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
by_name = {r[0]: r for r in results}
base = by_name["tshark, Wireshark's dissectors only"][1]
print(f"capture: {size / 1e6:.1f} MB")
print(f"{'run':<40} {'MB/s':>8} {'peak RSS':>12} {'time / tshark':>14}")
for name, seconds, rss, code in results:
    status = "" if code == 0 else f"  (exit {code})"
    print(f"{name:<40} {size / seconds / 1e6:>8.1f} {rss:>9.0f} MiB {seconds / base:>13.2f}x{status}")

def ratio(a, b, index=1):
    return by_name[a][index] / by_name[b][index]

print()
print("targets (issue: flat memory, streaming output):")
checks = [
    ("summary at least 40x tshark's own dissectors",
     ratio("tshark, Wireshark's dissectors only", "mailscope --format summary"), 40, "x", False),
    ("summary at least 50% of the bare frame loop's MB/s",
     100 * ratio("frame loop (Rust, no analysis)", "mailscope --format summary"), 50, "%", False),
    ("json at least 150 MB/s", size / by_name["mailscope --format json"][1] / 1e6, 150, " MB/s", False),
    ("tshark with the plugin at most 1.10x the time",
     ratio("tshark with the mailscope plugin", "tshark, Wireshark's dissectors only"), 1.10, "x", True),
    ("tshark with the plugin at most 1.5x the peak RSS",
     ratio("tshark with the mailscope plugin", "tshark, Wireshark's dissectors only", 2), 1.5, "x", True),
]
for text, value, target, unit, at_most in checks:
    met = value <= target if at_most else value >= target
    print(f"  {text:<55} {value:>8.2f}{unit:<6} {'met' if met else 'MISSED'}")

if os.environ.get("HOSTILE", "1") != "0":
    print()
    small = os.path.join(work, "small.pcap")
    print("harness peak RSS by capture size (flat: at most 64 MiB):")
    for fmt in ["json", "summary", "sessions"]:
        a = measure(["target/release/mailscope", "--format", fmt, small])[1]
        b = by_name[f"mailscope --format {fmt}"][2]
        print(f"  --format {fmt:<10} {os.path.getsize(small) / 1e6:>6.1f} MB: {a:>5.0f} MiB"
              f"   {size / 1e6:>6.1f} MB: {b:>5.0f} MiB")
    print()
    print("harness memory per open idle connection (at most 2 KiB):")
    for fmt in ["json", "summary"]:
        cmd = lambda f: ["target/release/mailscope", "--idle-timeout", "100000", "--format", fmt, f]
        low = measure(cmd(os.path.join(work, "idle-10k.pcap")))[1]
        high = measure(cmd(os.path.join(work, "idle-50k.pcap")))[1]
        print(f"  --format {fmt:<10} 10,000: {low:>5.0f} MiB   50,000: {high:>5.0f} MiB"
              f"   {(high - low) * 1024 / 40000:.2f} KiB per connection")
    print()
    print("hostile streams (time, peak RSS):")
    for name in ["endless-list", "pipelined-rcpt", "garbage"]:
        f = os.path.join(work, f"{name}.pcap")
        mb = os.path.getsize(f) / 1e6
        line = f"  {name:<15} {mb:>6.1f} MB"
        for label, cmd in [
            ("harness json", ["target/release/mailscope", "--format", "json", f]),
            ("harness summary", ["target/release/mailscope", "--format", "summary", f]),
            ("tshark", tshark_on(f"{work}/no-plugins", "smtp.auth.username", f)),
            ("tshark+plugin", tshark_on(f"{work}/plugins", "mail.auth.username", f)),
        ]:
            seconds, rss, code = measure(cmd)
            status = "" if code == 0 else f" exit {code}"
            line += f" | {label} {seconds:.1f} s {rss:.0f} MiB{status}"
        print(line)
PY
