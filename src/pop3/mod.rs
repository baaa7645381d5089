//! POP3 (RFC 1939) with CAPA and STLS (RFC 2449, 2595) and AUTH (RFC 5034).
//!
//! As for SMTP: `command` and `response` type a line or a status line and
//! find where blocks end (pure), `session` pairs responses with pending
//! commands and moves the RFC 1939 state, `server` frames responses and
//! their blocks, `data` turns RETR and TOP content into
//! [`crate::message::MailMessage`]s and reads listings, `loss` keeps
//! blocks and framing across bytes the capture lost, and `tree` builds the
//! items.

pub mod command;
mod data;
mod loss;
pub mod response;
mod server;
mod session;
mod tree;

pub use session::Pop3;

/// Mechanism name under which USER/PASS logins are reported.
pub const USER_PASS: &str = "USER/PASS";
#[cfg(test)]
mod long_line_tests;
