#!/usr/bin/env python3
"""Checks that the workspace's rust-version is true: no locked dependency
declares a newer one (cargo would otherwise build them only on a newer Rust
than the README promises)."""
import json
import subprocess
import sys


def version(text):
    return tuple(int(part) for part in text.split("."))


meta = json.loads(
    subprocess.run(
        ["cargo", "metadata", "--format-version", "1", "--locked"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
)
members = set(meta["workspace_members"])
ours = {p["rust_version"] for p in meta["packages"] if p["id"] in members}
if len(ours) != 1 or None in ours:
    sys.exit(f"workspace members disagree on rust-version: {sorted(map(str, ours))}")
stated = ours.pop()
newer = [
    f'{p["name"]} {p["version"]} needs Rust {p["rust_version"]}'
    for p in meta["packages"]
    if p["id"] not in members and p.get("rust_version") and version(p["rust_version"]) > version(stated)
]
if newer:
    sys.exit(f"rust-version {stated} is not true:\n  " + "\n  ".join(newer))
print(f"rust-version {stated}: every locked dependency builds with it")
