#![no_main]
//! SASL exchanges: a mechanism name, then client and server steps as text.

use mailscope::sasl::{Exchange, Side};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut lines = text.split('\n');
    let mechanisms = [
        "PLAIN",
        "LOGIN",
        "CRAM-MD5",
        "DIGEST-MD5",
        "SCRAM-SHA-1",
        "SCRAM-SHA-256",
        "XOAUTH2",
        "OAUTHBEARER",
        "NTLM",
        "EXTERNAL",
        "ANONYMOUS",
        "GSSAPI",
    ];
    let first = lines.next().unwrap_or_default();
    let mechanism = mechanisms
        .get(first.len() % (mechanisms.len() + 1))
        .copied()
        .unwrap_or(first);
    let mut exchange = Exchange::new(mechanism);
    for (frame, line) in lines.enumerate() {
        let side = if frame % 2 == 0 {
            Side::Client
        } else {
            Side::Server
        };
        let _ = exchange.step(side, line, 0, frame as u64);
    }
    let _ = exchange.outcome(data.len() % 2 == 0, 0, 0);
});
