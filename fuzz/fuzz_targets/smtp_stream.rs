#![no_main]
//! An SMTP dialogue in stream order, both directions.

#[path = "dialogue.rs"]
mod dialogue;

libfuzzer_sys::fuzz_target!(|data: &[u8]| dialogue::run(mailscope::Protocol::Smtp, data));
