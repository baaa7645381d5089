//! Throughput and memory of the core and the harness. Run with `cargo bench -p mailscope-harness`.
//!
//! Targets (2-core CI machine, release build):
//! - core, message content framed (no MIME): at least 200 MB/s; framed and
//!   decoded (MIME, a plain-text message): at least 80 MB/s;
//! - core, MIME decoding of a message full of base64 attachments: at least 100 MB/s;
//! - harness end to end over a capture full of attachments, with MIME
//!   decoding against without it, side by side: at most 2 × the time;
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

/// MB/s and peak RSS for a text message of `megabytes` through a connection,
/// decoding it (MIME) or only framing it.
fn message_content(megabytes: usize, decode: bool) -> (f64, f64) {
    let line =
        b"Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor.\r\n";
    let mut content = Vec::with_capacity(megabytes << 20);
    while content.len() < megabytes << 20 {
        content.extend_from_slice(line);
    }
    content.extend_from_slice(b".\r\n");
    let mut conn = Connection::new(Protocol::Smtp);
    conn.set_decode_messages(decode);
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

/// A message of `count` base64 attachments of `size` bytes each, and a text part.
fn attachments_message(count: usize, size: usize) -> Vec<u8> {
    use base64::Engine;
    let mut message = b"From: a@example.com\r\nTo: b@example.org\r\nSubject: =?UTF-8?Q?bench_r=C3=A9sum=C3=A9?=\r\n\
MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\n\
Content-Type: text/plain; charset=utf-8\r\n\r\nSee the attachments.\r\n"
        .to_vec();
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    for n in 0..count {
        let bytes: Vec<u8> = (0..size)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect();
        let encoded = base64::engine::general_purpose::STANDARD.encode(&bytes);
        message.extend_from_slice(
            format!(
                "--b\r\nContent-Type: application/octet-stream\r\n\
Content-Disposition: attachment; filename=\"file{n}.bin\"\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            )
            .as_bytes(),
        );
        for line in encoded.as_bytes().chunks(76) {
            message.extend_from_slice(line);
            message.extend_from_slice(b"\r\n");
        }
    }
    message.extend_from_slice(b"--b--\r\n");
    message
}

/// MB/s of `mime::analyze` over a message of attachments.
fn mime_decoding(message: &[u8]) -> f64 {
    let carried = mailscope::MailMessage {
        source: mailscope::MessageSource::SmtpData { transaction: 1 },
        content: message.to_vec(),
        first_frame: 1,
        last_frame: 1,
        stream_start: 0,
        stream_end: message.len() as u64,
        complete: true,
        truncated: false,
        gaps: Vec::new(),
    };
    let start = Instant::now();
    let decoded = mailscope::mime::analyze(&carried, &mailscope::mime::Options::default());
    let seconds = start.elapsed().as_secs_f64();
    assert!(decoded.attachments().count() > 0);
    black_box(decoded);
    message.len() as f64 / seconds / 1e6
}

/// A pcap of `sessions` SMTP sessions, each sending `message` in 1460-byte segments.
fn capture_of_messages(message: &[u8], sessions: u16) -> std::path::PathBuf {
    use etherparse::PacketBuilder;
    let mut pcap = Vec::new();
    for word in [0xa1b2_c3d4u32, 0x0004_0002, 0, 0, 65535, 1] {
        if pcap.len() == 4 {
            pcap.extend_from_slice(&2u16.to_le_bytes());
            pcap.extend_from_slice(&4u16.to_le_bytes());
            continue;
        }
        pcap.extend_from_slice(&word.to_le_bytes());
    }
    let record =
        |pcap: &mut Vec<u8>, to_server: bool, port: u16, seq: u32, ack: u32, payload: &[u8]| {
            let (src, dst, sport, dport) = if to_server {
                ([10, 0, 0, 1], [10, 0, 0, 2], port, 25)
            } else {
                ([10, 0, 0, 2], [10, 0, 0, 1], 25, port)
            };
            let builder = PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
                .ipv4(src, dst, 64)
                .tcp(sport, dport, seq, 65535)
                .ack(ack)
                .psh();
            let mut frame = Vec::with_capacity(payload.len() + 64);
            builder.write(&mut frame, payload).unwrap();
            for word in [0u32, 0, frame.len() as u32, frame.len() as u32] {
                pcap.extend_from_slice(&word.to_le_bytes());
            }
            pcap.extend_from_slice(&frame);
        };
    let mut data = message.to_vec();
    data.extend_from_slice(b".\r\n");
    for session in 0..sessions {
        let port = 40000 + session;
        let (mut c, mut s) = (1u32, 1u32);
        let mut send = |pcap: &mut Vec<u8>, to_server: bool, bytes: &[u8]| {
            for chunk in bytes.chunks(1460) {
                let (seq, ack) = if to_server { (&mut c, s) } else { (&mut s, c) };
                record(pcap, to_server, port, *seq, ack, chunk);
                *seq = seq.wrapping_add(chunk.len() as u32);
            }
        };
        send(&mut pcap, false, b"220 mx ESMTP\r\n");
        send(
            &mut pcap,
            true,
            b"EHLO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n",
        );
        send(
            &mut pcap,
            false,
            b"250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n",
        );
        send(&mut pcap, true, &data);
        send(&mut pcap, false, b"250 queued\r\n");
    }
    let path = std::env::temp_dir().join(format!("mailscope-bench-{}.pcap", std::process::id()));
    std::fs::write(&path, pcap).unwrap();
    path
}

/// Seconds for the harness to analyse `capture`, decoding messages or not,
/// on `mime_threads` threads beside the analysis (0: in line).
fn harness_seconds(capture: &Path, decode: bool, mime_threads: usize) -> f64 {
    let options = Options {
        skip_mime: !decode,
        mime_threads,
        ..Options::default()
    };
    let start = Instant::now();
    black_box(analyze_file(capture, options, |_| {}));
    start.elapsed().as_secs_f64()
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
    // First: peak RSS is the process's high-water mark, which later measures would raise.
    let (_, peak) = message_content(200, true);
    let input_mib = 200.0 * 1024.0 * 1024.0 / (1 << 20) as f64;
    check(
        "core memory for a 200 MB message",
        peak - input_mib,
        2.5 * 64.0,
        "MiB",
        false,
    );
    let (mb_per_s, _) = message_content(50, false);
    check(
        "core: message content, framing",
        mb_per_s,
        200.0,
        "MB/s",
        true,
    );
    let (mb_per_s, _) = message_content(50, true);
    check(
        "core: message content, framing + MIME",
        mb_per_s,
        80.0,
        "MB/s",
        true,
    );
    let attachments = attachments_message(16, 1 << 20);
    check(
        "core: MIME decoding, 16 attachments",
        mime_decoding(&attachments),
        100.0,
        "MB/s",
        true,
    );
    // Side by side, alternating, best of three each: these machines are noisy.
    let capture = capture_of_messages(&attachments_message(4, 1 << 20), 24);
    let size = std::fs::metadata(&capture).map(|m| m.len()).unwrap_or(0) as f64;
    // As the command line runs it on one capture: messages decoded on as
    // many threads as there are cores, beside the analysis.
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut with = f64::MAX;
    let mut in_line = f64::MAX;
    let mut without = f64::MAX;
    for _ in 0..3 {
        without = without.min(harness_seconds(&capture, false, 0));
        with = with.min(harness_seconds(&capture, true, cores));
        in_line = in_line.min(harness_seconds(&capture, true, 0));
    }
    let _ = std::fs::remove_file(&capture);
    println!(
        "{:<42} {:>12.1} {:<10} (decoded in line {:.1} MB/s, without MIME {:.1} MB/s)",
        "harness: capture of attachments, with MIME",
        size / with / 1e6,
        "MB/s",
        size / in_line / 1e6,
        size / without / 1e6
    );
    check(
        "harness: time with MIME / without",
        with / without,
        2.0,
        "ratio",
        false,
    );
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
    std::process::exit(if missed == 0 { 0 } else { 1 });
}
