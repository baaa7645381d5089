//! Throughput and memory of the core and the harness. Run with `cargo bench -p mailscope-harness`.
//!
//! Targets (2-core CI machine, release build):
//! - core, message content: at least 200 MB/s;
//! - core, pipelined commands and replies: at least 500,000 PDUs/s;
//! - harness end to end over the fixtures: at least 100,000 packets/s;
//! - memory the core holds for a 200 MB message (peak RSS less the bench's own
//!   200 MB input): at most 2.5 × the 64 MiB message cap.
//!
//! A run prints each measure beside its target and exits non-zero if one is missed.

use std::hint::black_box;
use std::path::Path;
use std::time::Instant;

use mailscope::{Connection, Direction, Protocol};
use mailscope_harness::{analyze_file, Options};

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

/// Feeds `client` and `server` chunks alternately as 1460-byte segments.
fn feed(
    conn: &mut Connection,
    direction: Direction,
    data: &[u8],
    seq: &mut u32,
    frame: &mut u64,
) -> usize {
    let mut pdus = 0;
    for chunk in data.chunks(1460) {
        *frame += 1;
        pdus += conn
            .segment(direction, *seq, None, chunk, *frame)
            .pdus
            .len();
        *seq = seq.wrapping_add(chunk.len() as u32);
    }
    pdus
}

fn message_content(megabytes: usize) -> (f64, f64) {
    let line =
        b"Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor.\r\n";
    let mut content = Vec::with_capacity(megabytes << 20);
    while content.len() < megabytes << 20 {
        content.extend_from_slice(line);
    }
    content.extend_from_slice(b".\r\n");
    let mut conn = Connection::new(Protocol::Smtp);
    let (mut cseq, mut sseq, mut frame) = (1u32, 1u32, 0u64);
    feed(
        &mut conn,
        Direction::ToClient,
        b"220 mx ESMTP\r\n",
        &mut sseq,
        &mut frame,
    );
    feed(
        &mut conn,
        Direction::ToServer,
        b"EHLO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n",
        &mut cseq,
        &mut frame,
    );
    feed(
        &mut conn,
        Direction::ToClient,
        b"250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n",
        &mut sseq,
        &mut frame,
    );
    let start = Instant::now();
    let pdus = feed(
        &mut conn,
        Direction::ToServer,
        &content,
        &mut cseq,
        &mut frame,
    );
    let seconds = start.elapsed().as_secs_f64();
    black_box(pdus);
    (content.len() as f64 / seconds / 1e6, peak_rss_mib())
}

fn pipelined_commands(rounds: usize) -> f64 {
    let mut client = Vec::new();
    let mut server = Vec::new();
    for i in 0..rounds {
        client.extend_from_slice(
            format!("RCPT TO:<user{i}@example.org> NOTIFY=NEVER\r\n").as_bytes(),
        );
        server.extend_from_slice(b"250 2.1.5 Ok\r\n");
    }
    let mut conn = Connection::new(Protocol::Smtp);
    let (mut cseq, mut sseq, mut frame) = (1u32, 1u32, 0u64);
    let start = Instant::now();
    let mut pdus = 0;
    for (c, s) in client
        .chunks(64 * 1024)
        .zip(server.chunks(64 * 1024 * 14 / 45))
    {
        pdus += feed(&mut conn, Direction::ToServer, c, &mut cseq, &mut frame);
        pdus += feed(&mut conn, Direction::ToClient, s, &mut sseq, &mut frame);
    }
    pdus as f64 / start.elapsed().as_secs_f64()
}

fn harness_over_fixtures(repeat: usize) -> f64 {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .join("fixtures");
    let mut captures = Vec::new();
    for entry in std::fs::read_dir(root).unwrap() {
        let dir = entry.unwrap().path();
        for name in ["capture.pcap", "capture.pcapng"] {
            if dir.join(name).exists() {
                captures.push(dir.join(name));
            }
        }
    }
    let start = Instant::now();
    let mut packets = 0u64;
    for _ in 0..repeat {
        for capture in &captures {
            packets += black_box(analyze_file(capture, Options::default(), |_| {})).frames_read;
        }
    }
    packets as f64 / start.elapsed().as_secs_f64()
}

fn main() {
    let mut missed = 0;
    let mut check = |what: &str, value: f64, target: f64, unit: &str, higher_is_better: bool| {
        let ok = if higher_is_better {
            value >= target
        } else {
            value <= target
        };
        println!(
            "{what:<42} {value:>12.1} {unit:<10} target {} {target} {}",
            if higher_is_better { ">=" } else { "<=" },
            if ok { "ok" } else { "MISSED" }
        );
        if !ok {
            missed += 1;
        }
    };
    let (mb_per_s, _) = message_content(50);
    check("core: message content", mb_per_s, 200.0, "MB/s", true);
    check(
        "core: pipelined RCPT + replies",
        pipelined_commands(200_000),
        500_000.0,
        "PDUs/s",
        true,
    );
    check(
        "harness: fixtures end to end",
        harness_over_fixtures(50),
        100_000.0,
        "packets/s",
        true,
    );
    let (_, peak) = message_content(200);
    let input_mib = 200.0 * 1024.0 * 1024.0 / (1 << 20) as f64;
    check(
        "core memory for a 200 MB message",
        peak - input_mib,
        2.5 * 64.0,
        "MiB",
        false,
    );
    std::process::exit(if missed == 0 { 0 } else { 1 });
}
