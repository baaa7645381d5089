//! The `mailscope` command as a user runs it.

mod common;
#[path = "cli/inputs.rs"]
mod inputs;

use std::process::Command;

use common::fixture;

fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_mailscope"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn json_lines_carry_frame_and_fields_in_tree_order() {
    let path = fixture("auth-plain");
    let (code, stdout, _) = run(&["--format", "json", path.to_str().unwrap()]);
    assert_eq!(code, 0);
    let frames: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let auth = frames
        .iter()
        .find(|f| {
            f["fields"]
                .as_array()
                .unwrap()
                .iter()
                .any(|x| x["name"] == "mail.auth.password")
        })
        .expect("a frame with the password");
    assert_eq!(auth["frame"], 10);
    let names: Vec<&str> = auth["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["name"].as_str().unwrap())
        .collect();
    let user = names
        .iter()
        .position(|n| *n == "mail.auth.username")
        .unwrap();
    let password = names
        .iter()
        .position(|n| *n == "mail.auth.password")
        .unwrap();
    assert!(
        names[0] == "mail.smtp.request" && user < password,
        "{names:?}"
    );
    let value = |name: &str| {
        auth["fields"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["name"] == name)
            .unwrap()["value"]
            .clone()
    };
    assert_eq!(value("mail.auth.username"), "alice");
    assert_eq!(value("mail.auth.password"), "wonderland");
    assert_eq!(auth["info"][0], "C: AUTH PLAIN (user: alice)");
}

#[test]
fn summary_lists_credentials_with_outcome() {
    let path = fixture("auth-plain-two-step-failure");
    let (code, stdout, _) = run(&["--format", "summary", path.to_str().unwrap()]);
    assert_eq!(code, 0);
    assert!(
        stdout.contains("PLAIN user=\"carol\" password=\"guess1\" result=failure"),
        "{stdout}"
    );
    assert!(
        stdout.contains("LOGIN user=\"carol\" password=\"correct horse\" result=success"),
        "{stdout}"
    );
}

#[test]
fn truncated_capture_exits_1_after_printing_what_was_read() {
    let path = fixture("truncated-file");
    let (code, stdout, stderr) = run(&["--format", "summary", path.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(stdout.contains("password=\"cutshort\""), "{stdout}");
    assert_eq!(
        stderr,
        format!(
            "mailscope: {}: capture truncated at byte 1576 (the file ends inside a packet): \
             the 16 frames before it were analysed\n",
            path.display()
        )
    );
}

#[test]
fn unreadable_inputs_get_clear_errors_and_exit_1() {
    let (code, _, stderr) = run(&["/nonexistent/capture.pcap"]);
    assert_eq!(code, 1);
    assert_eq!(
        stderr,
        "mailscope: /nonexistent/capture.pcap: cannot open capture: No such file or directory (os error 2)\n"
    );
    let readme = common::root().join("fixtures/auth-plain/README.md");
    let (code, _, stderr) = run(&[readme.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(
        stderr.ends_with(": not a pcap or pcapng file: it starts with \"# auth-plain\\n\\nMa\"\n"),
        "{stderr}"
    );
    let empty = std::env::temp_dir().join(format!("mailscope-empty-{}.pcap", std::process::id()));
    std::fs::write(&empty, b"").unwrap();
    let (code, _, stderr) = run(&[empty.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(
        stderr.ends_with("not a pcap or pcapng file: the file is empty\n"),
        "{stderr}"
    );
    let _ = std::fs::remove_file(empty);
    // Usage errors are 2, as clap reports them.
    let (code, _, _) = run(&["--format", "nonsense", readme.to_str().unwrap()]);
    assert_eq!(code, 2);
    let (code, _, _) = run(&[]);
    assert_eq!(code, 2);
}

fn run_with_stdin(args: &[&str], input: &[u8]) -> (i32, String, String) {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_mailscope"))
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn stdin_gzip_and_zstd_read_like_the_file() {
    let path = fixture("auth-plain");
    let bytes = std::fs::read(&path).unwrap();
    let (_, plain, _) = run(&["--format", "summary", path.to_str().unwrap()]);
    assert!(
        plain.contains("user=\"alice\" password=\"wonderland\""),
        "{plain}"
    );

    let (code, from_stdin, _) = run_with_stdin(&["--format", "summary", "-"], &bytes);
    assert_eq!((code, &from_stdin), (0, &plain));

    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, &bytes).unwrap();
    let gz = gz.finish().unwrap();
    let (code, from_gzip, _) = run_with_stdin(&["--format", "summary", "-"], &gz);
    assert_eq!((code, &from_gzip), (0, &plain));

    let zst =
        ruzstd::encoding::compress_to_vec(&bytes[..], ruzstd::encoding::CompressionLevel::Fastest);
    let file = std::env::temp_dir().join(format!("mailscope-{}.pcap.zst", std::process::id()));
    std::fs::write(&file, zst).unwrap();
    let (code, from_zstd, _) = run(&["--format", "summary", file.to_str().unwrap()]);
    assert_eq!((code, &from_zstd), (0, &plain));
    // Sessions name the file they came from: the only key that differs.
    let (_, sessions_zstd, _) = run(&["--format", "sessions", file.to_str().unwrap()]);
    let (_, sessions_stdin, _) = run_with_stdin(&["--format", "sessions", "-"], &bytes);
    let mut a: serde_json::Value = serde_json::from_str(sessions_zstd.trim()).unwrap();
    let mut b: serde_json::Value = serde_json::from_str(sessions_stdin.trim()).unwrap();
    assert_eq!(b["file"], "-");
    a["file"] = serde_json::Value::Null;
    b["file"] = serde_json::Value::Null;
    assert_eq!(a, b);
    let _ = std::fs::remove_file(file);
}

#[test]
fn several_captures_and_directories_come_out_in_the_order_given() {
    let a = fixture("auth-plain");
    let b = fixture("pop3-user-pass");
    let (code, out, _) = run(&[
        "--format",
        "sessions",
        "-j",
        "2",
        b.to_str().unwrap(),
        a.to_str().unwrap(),
        b.to_str().unwrap(),
    ]);
    assert_eq!(code, 0);
    let files: Vec<String> = out
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["file"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    let (a, b) = (a.display().to_string(), b.display().to_string());
    assert_eq!(files, [b.clone(), a, b]);

    // A directory: every capture below it, sorted; one bad capture makes the status 1
    // while the others are still reported.
    let dir = common::root().join("fixtures");
    let (code, out, stderr) = run(&["--format", "summary", dir.to_str().unwrap()]);
    assert_eq!(code, 1, "truncated-file is among them");
    assert!(
        stderr.contains("truncated-file/capture.pcap: capture truncated"),
        "{stderr}"
    );
    let headings: Vec<&str> = out.lines().filter(|l| l.starts_with("== ")).collect();
    let expected: Vec<String> = mailscope_harness::capture::find_captures(&dir)
        .iter()
        .map(|p| format!("== {}", p.display()))
        .collect();
    assert!(expected.len() >= 35, "{}", expected.len());
    assert_eq!(headings, expected);
}

#[test]
fn filters_narrow_to_protocol_connection_host_and_logins() {
    let path = fixture("tunnelled-smtp");
    let count = |args: &[&str]| {
        let mut all = vec!["--format", "sessions"];
        all.extend(args);
        all.push(path.to_str().unwrap());
        let (code, out, _) = run(&all);
        assert_eq!(code, 0);
        out.lines()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()["connection"]
                    .as_u64()
                    .unwrap()
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(count(&[]), [1, 2]);
    assert_eq!(count(&["--connection", "2"]), [2]);
    assert_eq!(count(&["--host", "192.0.2.81"]), [2]);
    assert_eq!(count(&["--protocol", "pop3"]), Vec::<u64>::new());
    let (_, summary, _) = run(&[
        "--format",
        "summary",
        "--protocol",
        "pop3",
        path.to_str().unwrap(),
    ]);
    assert_eq!(summary, "no connection matches the filter\n");

    // Logins only: the frames that carry a credential or its outcome.
    let pop = fixture("pop3-user-pass");
    let (_, out, _) = run(&[
        "--format",
        "json",
        "--credentials-only",
        pop.to_str().unwrap(),
    ]);
    let frames: Vec<u64> = out
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["frame"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(frames, [14, 16, 22, 24]);
}

#[test]
fn a_capture_without_mail_says_so() {
    let empty = std::env::temp_dir().join(format!("mailscope-nomail-{}.pcap", std::process::id()));
    // A pcap header (version 2.4, Ethernet) and nothing after it.
    let mut header = Vec::new();
    for word in [0xa1b2_c3d4u32, 0x0004_0002, 0, 0, 65535, 1] {
        header.extend_from_slice(&word.to_le_bytes());
    }
    std::fs::write(&empty, header).unwrap();
    let (code, out, _) = run(&["--format", "summary", empty.to_str().unwrap()]);
    assert_eq!(
        (code, out.as_str()),
        (0, "no SMTP or POP3 connection in this capture\n")
    );
    let _ = std::fs::remove_file(empty);
}

#[test]
fn port_override_and_tree_output() {
    let path = fixture("auth-cram-md5");
    let (code, stdout, _) = run(&["--smtp-port", "10025", path.to_str().unwrap()]);
    assert_eq!(code, 0);
    assert!(
        stdout.contains("Frame 14 (connection 1: SMTP 192.0.2.10:50000 -> 192.0.2.25:25)"),
        "{stdout}"
    );
    assert!(stdout.contains("Username: frank"), "{stdout}");
}

#[test]
fn readme_documents_every_field_and_expert() {
    let readme = std::fs::read_to_string(common::root().join("README.md")).unwrap();
    for field in mailscope::Field::ALL {
        assert!(
            readme.contains(&format!("`{}`", field.abbrev())),
            "README lacks {}",
            field.abbrev()
        );
    }
    for expert in mailscope::Expert::ALL {
        assert!(
            readme.contains(&format!("`{}`", expert.abbrev())),
            "README lacks {}",
            expert.abbrev()
        );
    }
}

#[test]
fn extract_writes_messages_and_attachments_under_decoded_names_with_a_manifest() {
    let dir = std::env::temp_dir().join(format!("mailscope-extract-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let path = fixture("mime-mixed-data-bdat");
    let (code, stdout, stderr) = run(&["--extract", dir.to_str().unwrap(), path.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    // The PDF as the generator builds it.
    let mut pdf = b"%PDF-1.4\n".to_vec();
    pdf.extend((0..3000u32).map(|i| ((i * 7 + 3) % 256) as u8));
    pdf.extend_from_slice(b"\n%%EOF\n");
    assert_eq!(std::fs::read(dir.join("简历 Résumé.pdf")).unwrap(), pdf);
    // The same message came twice (DATA, then BDAT): the second copy is numbered.
    assert_eq!(std::fs::read(dir.join("简历 Résumé(1).pdf")).unwrap(), pdf);
    let blob: Vec<u8> = (0..8).flat_map(|_| 0..=255u8).collect();
    assert_eq!(std::fs::read(dir.join("протокол.bin")).unwrap(), blob);
    let eml = std::fs::read(dir.join("Résumé and minutes (v2).eml")).unwrap();
    assert_eq!(eml.len(), 8911);
    assert!(eml.starts_with(b"From: Alice <alice@example.com>\r\n"));
    assert!(
        stdout.contains("протокол.bin\t2048 bytes\tsha256 "),
        "{stdout}"
    );

    let text = std::fs::read_to_string(dir.join("manifest.json")).unwrap();
    let manifest: serde_json::Value = serde_json::from_str(&text).unwrap();
    // Written an entry at a time, laid out as a pretty-printed whole.
    assert_eq!(
        text,
        serde_json::to_string_pretty(&manifest).unwrap() + "\n"
    );
    let files = manifest["files"].as_array().unwrap();
    assert_eq!(files.len(), 8);
    let pdf_entry = files
        .iter()
        .find(|f| f["file"] == "简历 Résumé(1).pdf")
        .unwrap();
    assert_eq!(pdf_entry["kind"], "attachment");
    assert_eq!(pdf_entry["source"], "smtp-bdat");
    assert_eq!(pdf_entry["part"], "2");
    assert_eq!(pdf_entry["size"], 3016);
    assert_eq!(pdf_entry["sha256"], mailscope::mime::sha256_hex(&pdf));
    assert_eq!(pdf_entry["connection"], 1);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn summary_states_refusals_tls_deletions_and_the_final_state() {
    let summary = |name: &str| run(&["--format", "summary", fixture(name).to_str().unwrap()]).1;
    let smtp = summary("pipelining-bdat");
    assert!(
        smtp.contains("  recipient refused frame 14: nobody@example.org (550)\n"),
        "{smtp}"
    );
    assert!(smtp.ends_with("  final state: quit\n"), "{smtp}");
    let tls = summary("starttls");
    assert!(
        tls.contains("  STARTTLS frame 12: the session continues in TLS\n"),
        "{tls}"
    );
    let pop = summary("pop3-user-pass");
    assert!(
        pop.contains(
            "  deleted messages: none, after RSET, committed by QUIT\n  final state: update\n"
        ),
        "{pop}"
    );
}

#[test]
fn parquet_holds_the_session_records_of_every_capture() {
    use arrow_array::{Array, ListArray, StringArray, TimestampMicrosecondArray, UInt64Array};
    let out = std::env::temp_dir().join(format!("mailscope-{}.parquet", std::process::id()));
    let (mixed, pop) = (fixture("mime-mixed-data-bdat"), fixture("pop3-user-pass"));
    let (code, _, stderr) = run(&[
        "--format",
        "parquet",
        "--output",
        out.to_str().unwrap(),
        mixed.to_str().unwrap(),
        pop.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    let file = std::fs::File::open(&out).unwrap();
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .build()
        .unwrap();
    let batches: Vec<_> = reader.map(Result::unwrap).collect();
    let batch = &batches[0];
    assert_eq!(batch.num_rows(), 2);
    let column = |name: &str| batch.column_by_name(name).unwrap().clone();
    let strings = |name: &str| {
        column(name)
            .as_any()
            .downcast_ref::<StringArray>()
            .unwrap()
            .clone()
    };
    let list = |name: &str, row: usize| -> Vec<String> {
        let lists = column(name);
        let lists = lists.as_any().downcast_ref::<ListArray>().unwrap();
        let values = lists.value(row);
        let values = values.as_any().downcast_ref::<StringArray>().unwrap();
        (0..values.len())
            .map(|i| values.value(i).to_string())
            .collect()
    };
    assert_eq!(strings("file").value(0), mixed.display().to_string());
    assert_eq!(strings("protocol").value(1), "pop3");
    assert_eq!(
        list("attachment_names", 0),
        [
            "简历 Résumé.pdf",
            "протокол.bin",
            "Re: cafe meeting.eml",
            "简历 Résumé.pdf",
            "протокол.bin",
            "Re: cafe meeting.eml"
        ]
    );
    assert_eq!(
        list("subjects", 0),
        ["Résumé and minutes (v2)", "Résumé and minutes (v2)"]
    );
    assert_eq!(list("auth_usernames", 1), ["wendy", "wendy"]);
    assert_eq!(list("auth_outcomes", 1), ["failure", "success"]);
    let ports = column("server_port");
    assert_eq!(
        ports
            .as_any()
            .downcast_ref::<UInt64Array>()
            .unwrap()
            .value(1),
        110
    );
    let start = column("start");
    let start = start
        .as_any()
        .downcast_ref::<TimestampMicrosecondArray>()
        .unwrap();
    assert_eq!(
        start.value(0) / 1_000_000,
        1_700_000_000,
        "2023-11-14T22:13:20Z"
    );
    // The whole record rides along as JSON.
    let record: serde_json::Value = serde_json::from_str(strings("record").value(1)).unwrap();
    assert_eq!(record["committed"], true);
    let _ = std::fs::remove_file(out);
}

#[test]
fn tls_key_log_decrypts_starttls_and_implicit_tls_sessions() {
    let sessions = |name: &str, keylog: bool| {
        let dir = common::root().join("fixtures").join(name);
        let keys = dir.join("keys.log");
        let capture = dir.join("capture.pcap");
        let mut args = vec!["--format", "sessions"];
        if keylog {
            args.extend(["--tls-keylog", keys.to_str().unwrap()]);
        }
        args.push(capture.to_str().unwrap());
        let (code, out, stderr) = run(&args);
        assert_eq!(code, 0, "{stderr}");
        out.lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .collect::<Vec<_>>()
    };
    let logins = |records: &[serde_json::Value]| -> Vec<(String, String)> {
        records
            .iter()
            .flat_map(|r| r["auth"].as_array().unwrap().clone())
            .map(|a| {
                (
                    a["username"].as_str().unwrap().to_string(),
                    a["secret"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    // STARTTLS: without the key log the session stops at the switch.
    let plain = sessions("starttls-decryptable", false);
    assert!(logins(&plain).is_empty());
    assert_eq!(plain[0]["tls"]["decrypted"], false);
    let decrypted = sessions("starttls-decryptable", true);
    assert_eq!(
        logins(&decrypted),
        [("xavier".to_string(), "inside-tls".to_string())]
    );
    assert_eq!(decrypted[0]["tls"]["kind"], "starttls");
    assert_eq!(decrypted[0]["tls"]["decrypted"], true);
    assert_eq!(decrypted[0]["messages"][0]["subject"], "Encrypted");
    // TLS 1.2: AES-256-GCM-SHA384 and ChaCha20-Poly1305.
    let tls12 = sessions("starttls-tls12-decryptable", true);
    assert_eq!(
        logins(&tls12),
        [
            ("tls12-gcm".to_string(), "secret-0".to_string()),
            ("tls12-chacha".to_string(), "secret-1".to_string())
        ]
    );
    // Implicit TLS is analysed only with a key log: nothing can be read without one.
    assert!(sessions("implicit-tls-465", false).is_empty());
    let smtps = sessions("implicit-tls-465", true);
    assert_eq!(smtps[0]["tls"]["kind"], "implicit");
    assert_eq!(
        smtps[0]["greeting"],
        "mail.example.org ESMTP Postfix (Debian/GNU)"
    );
    assert_eq!(
        logins(&smtps),
        [("yvonne".to_string(), "smtps-secret".to_string())]
    );
    let pop3s = sessions("pop3-implicit-tls-995", true);
    assert_eq!(pop3s[0]["protocol"], "pop3");
    assert_eq!(
        logins(&pop3s),
        [("bessie".to_string(), "coleman-995".to_string())]
    );

    let (code, _, stderr) = run(&["--tls-keylog", "/nonexistent/keys.log", "x.pcap"]);
    assert_eq!(code, 1);
    assert_eq!(
        stderr,
        "mailscope: /nonexistent/keys.log: cannot read key log: No such file or directory (os error 2)\n"
    );
}
