//! What the core hands its hosts: the field and expert vocabulary (from
//! `fields.table`) and the PDUs, item trees, anomalies, credentials and
//! messages built from it. The harness renders these as they are; the
//! plugin turns them into `proto_tree` items, expert infos and taps.

pub mod fields;
pub mod item;
