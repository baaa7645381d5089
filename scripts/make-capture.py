#!/usr/bin/env python3
"""Builds a large, realistic capture for benchmarks: every non-TLS fixture
scenario's dialogue (SMTP with AUTH, pipelining, BDAT and MIME messages with
attachments, POP3 with RETR and TOP), replayed round after round with
distinct client addresses and ports, until the file reaches the size asked.

    python3 scripts/make-capture.py SIZE_MB OUT.pcap
"""

import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "fixtures"))

import generate  # noqa: E402  (the fixtures' own generator)


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    target = int(float(sys.argv[1]) * 1024 * 1024)
    out_path = sys.argv[2]
    scenarios = [s for s in generate.SCENARIOS if not s[5] and s[0] != "truncated-file"]
    base_conn = generate.conn
    state = {"round": 0, "scenario": 0, "time": 1_700_000_000.0}

    def conn(cap, n=0, server=generate.SERVER, client=generate.CLIENT):
        # A client address of its own per round and scenario: distinct sessions.
        r = state["round"]
        ip = f"10.{(r >> 8) & 255}.{r & 255}.{state['scenario'] + 1}"
        return base_conn(cap, n, server=server, client=(ip, client[1]))

    generate.conn = conn
    written = 0
    with open(out_path, "wb") as out:
        out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
        while written < target:
            for index, (_name, _description, _fmt, _linktype, fn, _tls) in enumerate(scenarios):
                state["scenario"] = index
                cap = generate.Capture("ethernet")
                cap.time = state["time"]
                fn(cap)
                state["time"] = cap.time
                for ts, frame in cap.packets:
                    sec = int(ts)
                    usec = int(round((ts - sec) * 1e6))
                    record = struct.pack("<IIII", sec, usec, len(frame), len(frame)) + frame
                    out.write(record)
                    written += len(record)
            state["round"] += 1
    print(f"{out_path}: {written / 1e6:.1f} MB, {state['round']} rounds of {len(scenarios)} scenarios")


if __name__ == "__main__":
    main()
