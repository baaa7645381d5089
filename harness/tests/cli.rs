//! The `mailscope` command as a user runs it.

mod common;

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
fn truncated_capture_exits_non_zero_after_printing_what_was_read() {
    let path = fixture("truncated-file");
    let (code, stdout, stderr) = run(&["--format", "summary", path.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(stdout.contains("password=\"cutshort\""), "{stdout}");
    assert!(stderr.contains("truncated after frame"), "{stderr}");
}

#[test]
fn unreadable_inputs_get_clear_errors() {
    let (code, _, stderr) = run(&["/nonexistent/capture.pcap"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("cannot open capture"), "{stderr}");
    let readme = common::root().join("fixtures/auth-plain/README.md");
    let (code, _, stderr) = run(&[readme.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(stderr.contains("not a pcap or pcapng file"), "{stderr}");
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

    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
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
