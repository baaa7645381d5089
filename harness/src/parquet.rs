//! `--format parquet`: the session records as one Parquet file, for DuckDB,
//! Spark or pandas. Scalar facts are columns of their own; lists people
//! filter on (logins, recipients, subjects, attachments) are list columns;
//! the whole record is kept as JSON text in `record` for anything else.

use std::io::Write;
use std::sync::Arc;

use arrow_array::builder::{BooleanBuilder, ListBuilder, StringBuilder, UInt64Builder};
use arrow_array::{ArrayRef, RecordBatch, TimestampMicrosecondArray};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use serde_json::Value as Json;

/// A string column from each record.
fn strings(records: &[Json], get: impl Fn(&Json) -> Option<String>) -> ArrayRef {
    let mut builder = StringBuilder::new();
    for record in records {
        builder.append_option(get(record));
    }
    Arc::new(builder.finish())
}

fn numbers(records: &[Json], get: impl Fn(&Json) -> Option<u64>) -> ArrayRef {
    let mut builder = UInt64Builder::new();
    for record in records {
        builder.append_option(get(record));
    }
    Arc::new(builder.finish())
}

fn booleans(records: &[Json], get: impl Fn(&Json) -> Option<bool>) -> ArrayRef {
    let mut builder = BooleanBuilder::new();
    for record in records {
        builder.append_option(get(record));
    }
    Arc::new(builder.finish())
}

/// A list-of-strings column: for each record, the strings `get` finds.
fn string_lists(records: &[Json], get: impl Fn(&Json) -> Vec<Option<String>>) -> ArrayRef {
    let mut builder = ListBuilder::new(StringBuilder::new());
    for record in records {
        for value in get(record) {
            builder.values().append_option(value);
        }
        builder.append(true);
    }
    Arc::new(builder.finish())
}

fn times(records: &[Json], key: &str) -> ArrayRef {
    let values: Vec<Option<i64>> = records
        .iter()
        .map(|r| r[key].as_f64().map(|s| (s * 1e6).round() as i64))
        .collect();
    Arc::new(TimestampMicrosecondArray::from(values).with_timezone("UTC"))
}

fn text(value: &Json) -> Option<String> {
    value.as_str().map(str::to_string)
}

/// `key` of every element of the record's list `list`, and of the lists nested in them.
fn each(record: &Json, path: &[&str], key: &str) -> Vec<Option<String>> {
    fn walk(value: &Json, path: &[&str], key: &str, out: &mut Vec<Option<String>>) {
        match path.split_first() {
            Some((first, rest)) => {
                for item in value[*first].as_array().into_iter().flatten() {
                    walk(item, rest, key, out);
                }
            }
            None => out.push(text(&value[key])),
        }
    }
    let mut out = Vec::new();
    walk(record, path, key, &mut out);
    out
}

/// Writes `records` (from `sessions::records`) as one Parquet file.
pub fn write_sessions(records: &[Json], out: impl Write + Send) -> parquet::errors::Result<()> {
    let list = |name: &str| {
        Field::new(
            name,
            DataType::List(Arc::new(Field::new("item", DataType::Utf8, true))),
            true,
        )
    };
    let time = |name: &str| {
        Field::new(
            name,
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            true,
        )
    };
    let utf8 = |name: &str| Field::new(name, DataType::Utf8, true);
    let u64f = |name: &str| Field::new(name, DataType::UInt64, true);
    let schema = Arc::new(Schema::new(vec![
        utf8("file"),
        u64f("connection"),
        utf8("protocol"),
        utf8("detected_by"),
        utf8("client_ip"),
        u64f("client_port"),
        utf8("server_ip"),
        u64f("server_port"),
        time("start"),
        time("end"),
        utf8("greeting"),
        utf8("helo"),
        list("capabilities"),
        utf8("tls"),
        list("auth_mechanisms"),
        list("auth_usernames"),
        list("auth_secrets"),
        list("auth_outcomes"),
        list("mail_from"),
        list("rcpt_to"),
        u64f("message_count"),
        list("subjects"),
        list("message_sha256"),
        list("attachment_names"),
        list("attachment_sha256"),
        list("message_sha1"),
        list("attachment_md5"),
        list("attachment_sha1"),
        utf8("state"),
        Field::new("committed", DataType::Boolean, true),
        u64f("anomaly_count"),
        utf8("record"),
    ]));
    let columns: Vec<ArrayRef> = vec![
        strings(records, |r| text(&r["file"])),
        numbers(records, |r| r["connection"].as_u64()),
        strings(records, |r| text(&r["protocol"])),
        strings(records, |r| text(&r["detected_by"])),
        strings(records, |r| text(&r["client"]["ip"])),
        numbers(records, |r| r["client"]["port"].as_u64()),
        strings(records, |r| text(&r["server"]["ip"])),
        numbers(records, |r| r["server"]["port"].as_u64()),
        times(records, "start_epoch"),
        times(records, "end_epoch"),
        strings(records, |r| text(&r["greeting"])),
        strings(records, |r| text(&r["helo"])),
        string_lists(records, |r| {
            r["capabilities"]
                .as_array()
                .into_iter()
                .flatten()
                .map(text)
                .collect()
        }),
        strings(records, |r| text(&r["tls"]["kind"])),
        string_lists(records, |r| each(r, &["auth"], "mechanism")),
        string_lists(records, |r| each(r, &["auth"], "username")),
        string_lists(records, |r| each(r, &["auth"], "secret")),
        string_lists(records, |r| each(r, &["auth"], "outcome")),
        string_lists(records, |r| each(r, &["transactions"], "mail_from")),
        string_lists(records, |r| {
            each(r, &["transactions", "rcpt_to"], "address")
        }),
        numbers(records, |r| {
            r["messages"].as_array().map(|m| m.len() as u64)
        }),
        string_lists(records, |r| each(r, &["messages"], "subject")),
        string_lists(records, |r| each(r, &["messages"], "sha256")),
        string_lists(records, |r| {
            each(r, &["messages", "attachments"], "filename")
        }),
        string_lists(records, |r| each(r, &["messages", "attachments"], "sha256")),
        string_lists(records, |r| each(r, &["messages"], "sha1")),
        string_lists(records, |r| each(r, &["messages", "attachments"], "md5")),
        string_lists(records, |r| each(r, &["messages", "attachments"], "sha1")),
        strings(records, |r| text(&r["state"])),
        booleans(records, |r| r["committed"].as_bool()),
        numbers(records, |r| r["anomaly_count"].as_u64()),
        strings(records, |r| Some(r.to_string())),
    ];
    let batch = RecordBatch::try_new(schema.clone(), columns)?;
    let properties = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .build();
    let mut writer = ArrowWriter::try_new(out, schema, Some(properties))?;
    writer.write(&batch)?;
    writer.close()?;
    Ok(())
}
