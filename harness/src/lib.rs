//! The headless harness: reads captures, runs the mailscope core over every
//! mail connection, and renders what it found. It depends on the core only
//! and builds on machines without Wireshark.

pub mod analyze;
mod awaiting;
pub mod capture;
pub mod extract;
pub mod filter;
pub mod parallel;
pub mod parquet;
pub mod render;
pub mod sessions;
pub mod time;
pub mod tls;
pub mod writer;

pub use analyze::{analyze_file, analyze_into, summarize, Options, Report};
