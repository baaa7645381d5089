//! SMTP (RFC 5321) with PIPELINING, CHUNKING, STARTTLS and AUTH.
//!
//! Bytes flow one way through this folder: `command` and `reply` type one
//! line or one reply (pure), `session` applies them to the connection's
//! state (pipelining queue, transactions, AUTH, TLS), `data` assembles
//! message content into a [`crate::message::MailMessage`], `loss` keeps
//! framing and messages across bytes the capture lost, and `tree` shows all
//! of it as items.

pub mod command;
mod content;
mod data;
mod loss;
pub mod reply;
mod session;
mod tree;

pub use session::Smtp;
#[cfg(test)]
mod resync_tests;
