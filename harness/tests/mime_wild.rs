//! MIME as attackers and the world's mail clients send it: a transfer
//! encoding on a type that allows none (encoding evasion), 8-bit text in no
//! declared charset, SHA-1 beside MD5 and SHA-256, attachments apart from
//! body parts. Checked in the decoded messages and in every harness output
//! (tree items, sessions, Parquet, the --extract manifest), against bytes
//! the generator's recipe gives and against Zeek's files.log.

mod common;

use std::path::Path;
use std::process::Command;

use common::{analyze, first_message_with_default_charset, fixture, messages, shared, values};
use mailscope::mime::{self, MimeMessage};
use mailscope::{Expert, Field};
use serde_json::Value as Json;

/// `malware.exe` as fixtures/messages.py builds it.
fn malware_exe() -> Vec<u8> {
    let mut exe = b"MZ\x90\x00".to_vec();
    exe.extend((0..2000u32).map(|i| ((i * 31 + 7) % 256) as u8));
    exe
}

fn attachment<'m>(message: &'m MimeMessage, name: &str) -> &'m mime::MimePart {
    message
        .attachments()
        .find(|p| p.filename.as_deref() == Some(name))
        .unwrap_or_else(|| panic!("no attachment {name}"))
}

fn flagged(message: &MimeMessage, expert: Expert) -> Vec<&str> {
    message
        .anomalies
        .iter()
        .filter(|a| a.expert == expert)
        .map(|a| a.message.as_str())
        .collect()
}

fn run(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_mailscope"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn malware_behind_a_forbidden_transfer_encoding_is_found() {
    let all = messages(&fixture("mime-encoding-evasion"));
    let [(_, as_sent), (_, encoded)] = &all[..] else {
        panic!("{} messages", all.len())
    };
    let exe = malware_exe();
    for (message, path) in [(as_sent, "3.1.2"), (encoded, "2.1.2")] {
        let found = attachment(message, "malware.exe");
        assert_eq!(found.path, path);
        assert_eq!(found.size, Some(2004));
        assert_eq!(
            found.sha256.as_deref(),
            Some(mime::sha256_hex(&exe).as_str())
        );
        assert_eq!(found.sha1.as_deref(), Some(mime::sha1_hex(&exe).as_str()));
        assert_eq!(found.body.as_deref(), Some(&exe[..]));
    }
    // Suricata's shape: innocent.txt beside it, the attached message read as sent.
    assert_eq!(
        attachment(as_sent, "innocent.txt").body.as_deref(),
        Some(&b"Nothing to see here.\r\n"[..])
    );
    assert_eq!(
        flagged(as_sent, Expert::MimeEvasion),
        ["part 3: message/rfc822 part declares base64, which RFC 2045 forbids for it: read as sent"]
    );
    assert!(flagged(as_sent, Expert::MimeEncoding).is_empty());
    // Really encoded: quoted-printable message, base64 multipart, both decoded.
    assert_eq!(
        attachment(encoded, "invoice.txt").body.as_deref(),
        Some(&b"Invoice 42: please pay."[..])
    );
    assert_eq!(
        flagged(encoded, Expert::MimeEvasion),
        [
            "part 2: message/rfc822 part declares quoted-printable, which RFC 2045 forbids for it: decoded",
            "part 3: multipart/mixed part declares base64, which RFC 2045 forbids for it: decoded"
        ]
    );
}

#[test]
fn the_evasion_shows_in_items_sessions_parquet_and_the_extract_manifest() {
    let path = fixture("mime-encoding-evasion");
    let exe = malware_exe();
    let (sha256, sha1) = (mime::sha256_hex(&exe), mime::sha1_hex(&exe));
    // Items (tree, json and tshark all show these).
    let report = analyze(&path);
    assert_eq!(
        values(&report, Field::AttachmentFilename),
        ["innocent.txt", "malware.exe", "malware.exe", "invoice.txt"]
    );
    assert_eq!(values(&report, Field::AttachmentSha256)[1], sha256);
    assert_eq!(values(&report, Field::AttachmentSha1)[2], sha1);
    // Sessions.
    let record: Json =
        serde_json::from_str(run(&["--format", "sessions", path.to_str().unwrap()]).trim())
            .unwrap();
    let malware: Vec<&Json> = record["messages"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|m| m["attachments"].as_array().unwrap())
        .filter(|a| a["filename"] == "malware.exe")
        .collect();
    assert_eq!(malware.len(), 2);
    for entry in malware {
        assert_eq!(
            (&entry["size"], &entry["sha256"]),
            (&Json::from(2004), &Json::from(sha256.clone()))
        );
        assert_eq!(entry["sha1"], sha1.as_str());
    }
    // Parquet.
    let out =
        std::env::temp_dir().join(format!("mailscope-evasion-{}.parquet", std::process::id()));
    run(&[
        "--format",
        "parquet",
        "--output",
        out.to_str().unwrap(),
        path.to_str().unwrap(),
    ]);
    let columns = parquet_lists(&out, &["attachment_names", "attachment_sha1"]);
    let _ = std::fs::remove_file(&out);
    assert_eq!(
        columns[0],
        ["innocent.txt", "malware.exe", "malware.exe", "invoice.txt"]
    );
    assert_eq!(columns[1][1], sha1);
    // --extract: the file itself and its manifest entry.
    let dir = std::env::temp_dir().join(format!("mailscope-evasion-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    run(&["--extract", dir.to_str().unwrap(), path.to_str().unwrap()]);
    assert_eq!(std::fs::read(dir.join("malware.exe")).unwrap(), exe);
    let manifest: Json =
        serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap();
    let entry = manifest["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["file"] == "malware.exe")
        .unwrap();
    assert_eq!(
        (&entry["part"], &entry["sha1"]),
        (&Json::from("3.1.2"), &Json::from(sha1))
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// The string lists of row 0 in the named columns of a Parquet file.
fn parquet_lists(file: &Path, names: &[&str]) -> Vec<Vec<String>> {
    use arrow_array::{Array, ListArray, StringArray};
    let file = std::fs::File::open(file).unwrap();
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .build()
        .unwrap();
    let batch = reader.map(Result::unwrap).next().unwrap();
    names
        .iter()
        .map(|name| {
            let column = batch.column_by_name(name).unwrap();
            let lists = column.as_any().downcast_ref::<ListArray>().unwrap();
            let row = lists.value(0);
            let strings = row.as_any().downcast_ref::<StringArray>().unwrap();
            (0..strings.len())
                .map(|i| strings.value(i).to_string())
                .collect()
        })
        .collect()
}

/// Arkime's smtp-subject-windows case: windows-1252 in no declared charset.
#[test]
fn undeclared_windows_1252_is_guessed_and_named() {
    let path = fixture("mime-charset-guess");
    let all = messages(&path);
    let (_, m) = &all[0];
    assert_eq!(m.subject.as_ref().unwrap().value, "What’s Next");
    assert_eq!(m.charset_guess.as_deref(), Some("windows-1252"));
    let text = &m.parts[0];
    assert_eq!(
        text.text,
        ["Our café’s new menu – crème brûlée and “piñata” cakes – starts Monday."]
    );
    assert_eq!(
        (text.charset.as_deref(), text.charset_guess.as_deref()),
        (None, Some("windows-1252"))
    );
    assert_eq!(
        flagged(m, Expert::MimeCharsetGuess),
        [
            "Subject header: raw 8-bit text in no declared charset, read as windows-1252 (guessed; set a default charset to choose another)",
            "part 0: no charset declared and the text is not UTF-8: read as windows-1252 (guessed; set a default charset to choose another)"
        ]
    );
    assert!(flagged(m, Expert::MimeCharset).is_empty());
    let report = analyze(&path);
    assert_eq!(values(&report, Field::MsgCharsetGuess), ["windows-1252"]);
    assert_eq!(values(&report, Field::MimeCharsetGuess), ["windows-1252"]);

    // A default charset still wins: ISO-8859-15 reads 0x92 as the C1 control U+0092.
    let decoded = first_message_with_default_charset(&path, "iso-8859-15");
    assert_eq!(decoded.subject.as_ref().unwrap().value, "What\u{92}s Next");
    assert_eq!(
        (
            decoded.charset_guess.as_deref(),
            decoded.parts[0].charset_guess.as_deref()
        ),
        (None, None)
    );
    assert!(decoded.anomalies.is_empty(), "{:?}", decoded.anomalies);
}

/// Zeek's files.log gives SHA-1 of each entity and of each whole message
/// (its message/rfc822 file): the same digests as mail.mime.sha1 and mail.msg.sha1.
#[test]
fn sha1_matches_zeek_files_log() {
    let Some(dir) = shared() else { return };
    let cases = [
        ("zeek/Traces/smtp.pcap", "zeek/Traces/smtp.pcap.expected/scripts.base.protocols.smtp.rfc822-msg-file-analysis-multi-session/files.cut"),
        ("zeek/Traces/smtp-attachment-msg.pcap", "zeek/Traces/smtp-attachment-msg.pcap.expected/scripts.base.protocols.smtp.rfc822-msg-file-analysis/files.cut"),
        ("zeek/Traces/smtp/smtp-bdat-pipeline-8bitmime.pcap", "zeek/Traces/smtp/smtp-bdat-pipeline-8bitmime.pcap.expected/scripts.base.protocols.smtp.rfc822-msg-file-analysis-multi-mail/files.cut"),
        ("zeek/Traces/smtp/rfc3030-bdat-multipart-chunked.pcap", "zeek/Traces/smtp/rfc3030-bdat-multipart-chunked.pcap.expected/scripts.base.protocols.smtp.bdat-multipart-chunked/files.log.cut"),
    ];
    let mut checked = 0;
    for (capture, expected) in cases {
        let all = messages(&dir.join(capture));
        let text = std::fs::read_to_string(dir.join(expected)).unwrap();
        let mut lines = text.lines().filter(|l| !l.starts_with('#'));
        let header: Vec<&str> = lines.next().unwrap().split('\t').collect();
        let column = |row: &[&str], name: &str| {
            header
                .iter()
                .position(|h| *h == name)
                .map(|i| row[i].to_string())
        };
        for line in lines {
            let row: Vec<&str> = line.split('\t').collect();
            let sha1 = column(&row, "sha1").unwrap();
            if sha1 == "-" {
                continue;
            }
            if column(&row, "mime_type").as_deref() == Some("message/rfc822") {
                assert!(
                    all.iter().any(|(_, m)| m.sha1 == sha1
                        && Some(m.size.to_string()) == column(&row, "seen_bytes")),
                    "{capture}: no message with sha1 {sha1}"
                );
            } else {
                let name = column(&row, "filename").filter(|n| n != "-");
                assert!(
                    all.iter()
                        .flat_map(|(_, m)| &m.parts)
                        .any(|p| p.sha1.as_deref() == Some(&sha1)
                            && (name.is_none() || p.filename == name)),
                    "{capture}: no part with sha1 {sha1} ({name:?})"
                );
            }
            checked += 1;
        }
    }
    // Five messages and two parts (one of them zeek-logo.png).
    assert_eq!(checked, 7);
}

#[test]
fn attachments_carry_their_own_fields_apart_from_body_parts() {
    let path = fixture("mime-two-attachments");
    let report = analyze(&path);
    let notes = b"Agenda:\r\n1. budget\r\n2. hiring\r\n";
    let data: Vec<u8> = (0..1500u32).map(|i| ((i * 13 + 5) % 256) as u8).collect();
    let names = values(&report, Field::AttachmentFilename);
    let digests = values(&report, Field::AttachmentSha256);
    let pairs: Vec<(&str, &str)> = names
        .iter()
        .map(String::as_str)
        .zip(digests.iter().map(String::as_str))
        .collect();
    assert_eq!(
        pairs,
        [
            ("notes.txt", mime::sha256_hex(notes).as_str()),
            ("data.bin", mime::sha256_hex(&data).as_str())
        ]
    );
    assert_eq!(values(&report, Field::AttachmentSize), ["31", "1500"]);
    assert_eq!(values(&report, Field::AttachmentPath), ["2", "3"]);
    // The part fields go on as they were: three hashes, two names.
    assert_eq!(values(&report, Field::MimeSha256).len(), 3);
    assert_eq!(values(&report, Field::MimeFilename).len(), 2);
}
