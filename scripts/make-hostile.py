#!/usr/bin/env python3
"""Builds hostile captures, of any size, with the fixtures' own generator
(real TCP and IP headers and checksums). Each has a normal login before
the hostile part and mail after it, to show both are still decoded.

    python3 scripts/make-hostile.py KIND SIZE OUT.pcap

KIND and what SIZE counts:
  endless-list      POP3: USER/PASS, then a LIST response of SIZE MB that
                    never ends; a second connection logs in after it
  pipelined-rcpt    SMTP: SIZE RCPT TO commands pipelined in one
                    transaction, each answered, then the message and QUIT
  many-connections  SIZE connections that send EHLO and stay open, idle;
                    then one that logs in with AUTH PLAIN
  garbage           SMTP: AUTH PLAIN, then SIZE MB of random bytes from the
                    client, then a message and QUIT
  huge-message      SMTP: one message of SIZE MB (text lines), past the
                    64 MiB cap when SIZE is above 67, then QUIT

Packets are written as they are made, so memory stays flat at any size.
"""

import base64
import os
import random
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "fixtures"))

import generate  # noqa: E402  (the fixtures' own generator)

SEGMENT = 1400
MB = 1_000_000


class StreamingCapture(generate.Capture):
    """A pcap written packet by packet instead of held."""

    def __init__(self, out):
        super().__init__("ethernet")
        self.out = out
        self.bytes = 0
        out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))

    def add(self, ip_packet, v6):
        super().add(ip_packet, v6)
        ts, frame = self.packets.pop()
        sec = int(ts)
        usec = int(round((ts - sec) * 1e6))
        record = struct.pack("<IIII", sec, usec, len(frame), len(frame)) + frame
        self.out.write(record)
        self.bytes += len(record)


def stream(t, side, chunks):
    """Sends an iterable of byte chunks as segments of at most SEGMENT bytes,
    without keeping them (the generator's `send` records its dialogue)."""
    other = "s" if side == "c" else "c"
    pending = b""
    sent = 0
    for chunk in chunks:
        pending += chunk
        while len(pending) >= SEGMENT:
            t.packet(side, "PA", pending[:SEGMENT])
            t.seq[side] += SEGMENT
            pending = pending[SEGMENT:]
            sent += 1
            if sent % 8 == 0:
                t.packet(other, "A")
    if pending:
        t.packet(side, "PA", pending)
        t.seq[side] += len(pending)
    t.packet(other, "A")


def pop3_login(t, user, password):
    t.s("+OK POP3 server ready\r\n")
    t.c(f"USER {user}\r\n")
    t.s("+OK\r\n")
    t.c(f"PASS {password}\r\n")
    t.s("+OK maildrop locked and ready\r\n")


def endless_list(cap, size):
    t = generate.Tcp(cap, ("192.0.2.10", 50001), ("192.0.2.110", 110))
    pop3_login(t, "before", "listing-ahead")
    t.c("LIST\r\n")

    def listing():
        yield b"+OK scan listing follows\r\n"
        n, total = 1, 0
        while total < size * MB:
            line = b"%d %d\r\n" % (n, 1000 + n % 9000)
            total += len(line)
            n += 1
            yield line

    stream(t, "s", listing())
    after = generate.Tcp(cap, ("192.0.2.11", 50002), ("192.0.2.110", 110))
    pop3_login(after, "after", "still-decoded")
    after.c("QUIT\r\n")
    after.s("+OK bye\r\n")
    after.close()


def pipelined_rcpt(cap, count):
    t = generate.Tcp(cap, ("192.0.2.10", 50001), generate.SERVER)
    generate.greet(t)
    t.c("AUTH PLAIN " + base64.b64encode(b"\0before\0rcpt-flood").decode() + "\r\n")
    t.s("235 2.7.0 Authentication successful\r\n")
    t.c("MAIL FROM:<flood@example.com>\r\n")
    t.s("250 2.1.0 Ok\r\n")
    stream(t, "c", (b"RCPT TO:<r%d@example.org>\r\n" % i for i in range(count)))
    stream(t, "s", (b"250 2.1.5 Ok\r\n" for _ in range(count)))
    t.c("DATA\r\n")
    t.s("354 End data with <CR><LF>.<CR><LF>\r\n")
    t.c(generate.message("after the flood", ["still decoded"]) + ".\r\n")
    t.s("250 2.0.0 Ok: queued\r\n")
    generate.quit(t)


def many_connections(cap, count):
    for i in range(count):
        client = (f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}", 40000 + i % 20000)
        t = generate.Tcp(cap, client, generate.SERVER)
        t.s("220 mail.example.org ESMTP\r\n")
        t.c(f"EHLO idle{i}.example.com\r\n")
        t.s("250-mail.example.org\r\n250 PIPELINING\r\n")
    t = generate.Tcp(cap, ("192.0.2.10", 50001), generate.SERVER)
    generate.greet(t)
    t.c("AUTH PLAIN " + base64.b64encode(b"\0after\0many-idle").decode() + "\r\n")
    t.s("235 2.7.0 Authentication successful\r\n")
    generate.quit(t)


def garbage(cap, size):
    t = generate.Tcp(cap, ("192.0.2.10", 50001), generate.SERVER)
    generate.greet(t)
    t.c("AUTH PLAIN " + base64.b64encode(b"\0before\0the-garbage").decode() + "\r\n")
    t.s("235 2.7.0 Authentication successful\r\n")
    rng = random.Random(25)

    def noise():
        for _ in range(size * MB // 65536):
            yield rng.randbytes(65536)

    stream(t, "c", noise())
    t.s("500 5.5.2 Error: bad syntax\r\n")
    t.c("\r\nRSET\r\n")
    t.s("250 2.0.0 Ok\r\n")
    generate.send_mail(t, generate.message("after the garbage", ["still decoded"]))
    generate.quit(t)


def huge_message(cap, size):
    t = generate.Tcp(cap, ("192.0.2.10", 50001), generate.SERVER)
    generate.greet(t)
    t.c("MAIL FROM:<big@example.com>\r\n")
    t.s("250 2.1.0 Ok\r\n")
    t.c("RCPT TO:<bob@example.org>\r\n")
    t.s("250 2.1.5 Ok\r\n")
    t.c("DATA\r\n")
    t.s("354 End data with <CR><LF>.<CR><LF>\r\n")
    line = b"All work and no play makes a very large message, line after line.\r\n"

    def body():
        yield generate.message("huge", []).encode()
        for _ in range(size * MB // len(line)):
            yield line
        yield b".\r\n"

    stream(t, "c", body())
    t.s("552 5.3.4 Message size exceeds fixed limit\r\n")
    generate.quit(t)


KINDS = {
    "endless-list": endless_list,
    "pipelined-rcpt": pipelined_rcpt,
    "many-connections": many_connections,
    "garbage": garbage,
    "huge-message": huge_message,
}


def main():
    if len(sys.argv) != 4 or sys.argv[1] not in KINDS:
        sys.exit(__doc__)
    kind, size, out_path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    with open(out_path, "wb") as out:
        cap = StreamingCapture(out)
        KINDS[kind](cap, size)
    generate.DIALOGUE.clear()
    print(f"{out_path}: {kind}, {cap.bytes / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
