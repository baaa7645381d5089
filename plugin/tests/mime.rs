//! MIME as attackers and the world's mail clients send it, in tshark with
//! the plugin: encoding evasion seen through, guessed charsets named,
//! SHA-1 beside MD5 and SHA-256, and attachment fields that pair row by row.
//! The values are the ones the harness tests assert (harness/tests/mime_wild.rs);
//! the parity test over every fixture checks the rest field by field.

mod common;

use common::tshark;
use mailscope::mime::{sha1_hex, sha256_hex};

fn fixture(name: &str) -> std::path::PathBuf {
    common::root()
        .join("fixtures")
        .join(name)
        .join("capture.pcap")
}

/// `malware.exe` as fixtures/messages.py builds it.
fn malware_exe() -> Vec<u8> {
    let mut exe = b"MZ\x90\x00".to_vec();
    exe.extend((0..2000u32).map(|i| ((i * 31 + 7) % 256) as u8));
    exe
}

/// tshark's `-T fields` output: one row per frame, one column per field,
/// each column the field's values in tree order.
fn field_rows(capture: &std::path::Path, args: &[&str]) -> Vec<Vec<Vec<String>>> {
    let out = tshark().on(capture, args);
    assert_eq!(out.status, 0, "{}", out.stderr);
    out.stdout
        .lines()
        .map(|line| {
            line.split('\t')
                .map(|column| {
                    column
                        .split(',')
                        .filter(|v| !v.is_empty())
                        .map(str::to_string)
                        .collect()
                })
                .collect()
        })
        .collect()
}

#[test]
fn malware_behind_a_forbidden_transfer_encoding_is_found_in_tshark() {
    let exe = malware_exe();
    let rows = field_rows(
        &fixture("mime-encoding-evasion"),
        &[
            "-Y",
            "mail.expert.mime_evasion",
            "-T",
            "fields",
            "-e",
            "mail.attachment.filename",
            "-e",
            "mail.attachment.size",
            "-e",
            "mail.attachment.sha256",
            "-e",
            "mail.attachment.sha1",
        ],
    );
    // Both messages raise the expert info, and both hold malware.exe.
    assert_eq!(rows.len(), 2, "{rows:?}");
    for (row, names) in rows.iter().zip([
        ["innocent.txt", "malware.exe"],
        ["malware.exe", "invoice.txt"],
    ]) {
        assert_eq!(row[0], names);
        let at = names.iter().position(|n| *n == "malware.exe").unwrap();
        assert_eq!(row[1][at], "2004");
        assert_eq!(row[2][at], sha256_hex(&exe));
        assert_eq!(row[3][at], sha1_hex(&exe));
    }
}

/// Each message's subject, the charsets guessed for its headers and its
/// text part, and the text, as `-T fields` prints them; with `pref` set as
/// the `mail.default_charset` preference.
fn charset_fields(fixture_name: &str, pref: Option<&str>) -> String {
    let pref = pref.map(|p| format!("mail.default_charset:{p}"));
    let mut args: Vec<&str> = pref.iter().flat_map(|p| ["-o", p.as_str()]).collect();
    args.extend([
        "-Y",
        "mail.msg",
        "-T",
        "fields",
        "-e",
        "mail.msg.subject",
        "-e",
        "mail.msg.charset_guess",
        "-e",
        "mail.mime.charset_guess",
        "-e",
        "mail.mime.text",
    ]);
    let out = tshark().on(&fixture(fixture_name), &args);
    assert_eq!(out.status, 0, "{}", out.stderr);
    out.stdout
}

#[test]
fn undeclared_windows_1252_is_guessed_and_named_in_tshark() {
    assert_eq!(
        charset_fields("mime-charset-guess", None),
        "What’s Next\twindows-1252\twindows-1252\t\
Our café’s new menu – crème brûlée and “piñata” cakes – starts Monday.\n"
    );
    let flagged = tshark().on(
        &fixture("mime-charset-guess"),
        &["-Y", "mail.expert.mime_charset_guess"],
    );
    assert_eq!(flagged.stdout.lines().count(), 1, "{}", flagged.stdout);
    // The preference wins, nothing guessed: ISO-8859-15 reads 0x92 as the
    // C1 control U+0092, which tshark prints escaped (from 4.4 on with its
    // backslash escaped once more).
    assert_eq!(
        charset_fields("mime-charset-guess", Some("iso-8859-15")).replace("\\\\", "\\"),
        "What\\x92s Next\t\t\tOur café\\x92s new menu \\x96 crème brûlée and \\x93piñata\\x94 cakes \\x96 starts Monday.\n"
    );
}

#[test]
fn undeclared_gbk_is_guessed_unless_the_default_charset_preference_names_one() {
    assert_eq!(
        charset_fields("mime-undeclared-charset", None),
        "季度报表\tGBK\tGBK\t附件是第三季度报表，请查收。\n"
    );
    assert_eq!(
        charset_fields("mime-undeclared-charset", Some("gb18030")),
        "季度报表\t\t\t附件是第三季度报表，请查收。\n"
    );
}

/// README's example, exactly: one row per message, names and hashes paired
/// one to one (the body part's hash is not among them).
#[test]
fn attachment_fields_pair_names_with_their_own_hashes() {
    let capture = fixture("mime-two-attachments");
    let out = tshark().on(
        &capture,
        &[
            "-Y",
            "mail.attachment",
            "-T",
            "fields",
            "-e",
            "mail.attachment.filename",
            "-e",
            "mail.attachment.sha256",
        ],
    );
    let notes = b"Agenda:\r\n1. budget\r\n2. hiring\r\n";
    let data: Vec<u8> = (0..1500u32).map(|i| ((i * 13 + 5) % 256) as u8).collect();
    let line = out.stdout.trim_end();
    let (names, hashes) = line.split_once('\t').unwrap();
    let pairs: Vec<(&str, &str)> = names.split(',').zip(hashes.split(',')).collect();
    assert_eq!(
        pairs,
        [
            ("notes.txt", sha256_hex(notes).as_str()),
            ("data.bin", sha256_hex(&data).as_str())
        ]
    );
    assert_eq!(out.stdout.lines().count(), 1, "{}", out.stdout);
    // The part fields are as they were: the body's hash comes first.
    let rows = field_rows(
        &capture,
        &[
            "-Y",
            "mail.msg",
            "-T",
            "fields",
            "-e",
            "mail.mime.filename",
            "-e",
            "mail.mime.sha256",
        ],
    );
    assert_eq!(rows[0][0], ["notes.txt", "data.bin"]);
    assert_eq!(rows[0][1].len(), 3);
    assert_ne!(rows[0][1][0], sha256_hex(notes));
}
