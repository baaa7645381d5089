#![no_main]
//! TLS records in both directions (dialogue chunks), with a key log that
//! names secrets for whatever client random the input brings.

#[path = "dialogue.rs"]
mod dialogue;

use mailscope_harness::tls::{KeyLog, TlsSession};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let random = data
        .get(..32)
        .map(|r| r.iter().map(|b| format!("{b:02x}")).collect::<String>());
    let log = KeyLog::parse(&match random {
        Some(r) => format!(
            "CLIENT_RANDOM {r} {0}\nCLIENT_HANDSHAKE_TRAFFIC_SECRET {r} {1}\nSERVER_HANDSHAKE_TRAFFIC_SECRET {r} {1}\n\
             CLIENT_TRAFFIC_SECRET_0 {r} {1}\nSERVER_TRAFFIC_SECRET_0 {r} {1}\n",
            "11".repeat(48),
            "22".repeat(32)
        ),
        None => String::new(),
    });
    let mut session = TlsSession::default();
    for (direction, chunk) in dialogue::chunks(data) {
        let _ = session.feed(&log, direction, chunk);
    }
});
