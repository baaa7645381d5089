//! mailscope's core: mail protocol dissection with no host attached.
//!
//! Bytes of one TCP connection go in (per direction, in capture order, with
//! the frame they arrived in); PDUs come out, each a tree of [`item::Item`]s
//! naming fields from the one table in `fields.table`, plus anomalies and
//! the credentials and messages it carried. The Wireshark plugin and the
//! headless harness both drive this crate through [`conn::Connection`].

mod codec;
pub mod conn;
pub mod detect;
pub mod limits;
pub mod message;
pub mod mime;
pub mod output;
pub mod pop3;
pub mod reassembly;
pub mod sasl;
pub mod smtp;
mod text;

pub use output::{fields, item};

pub use conn::{Connection, SegmentOutput};
pub use detect::Protocol;
pub use fields::{Expert, ExpertGroup, Field, FieldKind, Severity};
pub use item::{Anomaly, Credential, Direction, Item, Pdu, Value};
pub use limits::{Limits, LimitsError};
pub use message::{MailMessage, MessageSource};
