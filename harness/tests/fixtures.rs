//! The project's own fixtures: one snapshot each, and the facts each was built to carry.

mod common;

use common::{analyze, credentials, fixture, values};
use mailscope::Field;
use mailscope_harness::{render, summarize};

#[test]
fn snapshots() {
    insta::glob!("../../fixtures", "*/capture.*", |path| {
        let report = analyze(path);
        insta::assert_snapshot!(render::snapshot(&report));
    });
}

/// (mechanism, username, secret, success) of one credential.
type CredentialFacts = (String, Option<String>, Option<String>, Option<bool>);

/// The facts of every credential in a fixture.
fn creds(name: &str) -> Vec<CredentialFacts> {
    credentials(&analyze(&fixture(name)))
        .into_iter()
        .map(|c| (c.mechanism, c.username, c.password.or(c.token), c.success))
        .collect()
}

fn some(s: &str) -> Option<String> {
    Some(s.to_string())
}

#[test]
fn plain_with_authzid() {
    let report = analyze(&fixture("auth-plain"));
    let c = &credentials(&report)[0];
    assert_eq!(
        (
            c.authzid.as_deref(),
            c.username.as_deref(),
            c.password.as_deref()
        ),
        (Some("admin"), Some("alice"), Some("wonderland"))
    );
    assert_eq!(c.success, Some(true));
    let s = summarize(&report);
    // Two dot-stuffed lines were unstuffed; the content keeps one dot each.
    assert_eq!(values(&report, Field::SmtpDataUnstuffedLines), ["2"]);
    let message = report
        .frames
        .iter()
        .flat_map(|f| &f.pdus)
        .find_map(|p| p.message.clone())
        .unwrap();
    let text = String::from_utf8(message.content).unwrap();
    assert!(text.contains("\r\n.hidden\r\n..two\r\n"), "{text}");
    assert_eq!(s[0].messages[0].rcpt_to, ["bob@example.org"]);
}

#[test]
fn failed_plain_then_login() {
    assert_eq!(
        creds("auth-plain-two-step-failure"),
        [
            ("PLAIN".into(), some("carol"), some("guess1"), Some(false)),
            (
                "LOGIN".into(),
                some("carol"),
                some("correct horse"),
                Some(true)
            ),
        ]
    );
    let report = analyze(&fixture("auth-plain-two-step-failure"));
    assert_eq!(values(&report, Field::AuthResult), ["failure", "success"]);
}

#[test]
fn login_prompts_and_split_message() {
    assert_eq!(
        creds("auth-login-split-message"),
        [("LOGIN".into(), some("dave"), some("pa55word"), Some(true))]
    );
    let report = analyze(&fixture("auth-login-split-message"));
    assert_eq!(
        values(&report, Field::AuthChallenge),
        ["Username:", "Password:"]
    );
    let s = summarize(&report);
    assert_eq!(s[0].messages.len(), 1);
    assert!(s[0].messages[0].size > 6000);
    // The content crossed ~60 segments yet is one PDU attributed to the frame with its last byte.
    assert_eq!(values(&report, Field::SmtpDataComplete), ["True"]);
}

#[test]
fn login_with_initial_response_and_odd_prompt() {
    assert_eq!(
        creds("auth-login-odd-prompts"),
        [("LOGIN".into(), some("eve"), some("hunter2"), Some(true))]
    );
}

#[test]
fn cram_md5_challenge_user_digest() {
    let report = analyze(&fixture("auth-cram-md5"));
    assert_eq!(
        values(&report, Field::AuthChallenge),
        ["<1896.697170952@mail.example.org>"]
    );
    assert_eq!(values(&report, Field::AuthUsername), ["frank", "frank"]);
    let digest = &values(&report, Field::AuthResponse)[0];
    assert!(
        digest.len() == 32 && digest.bytes().all(|b| b.is_ascii_hexdigit()),
        "{digest}"
    );
}

#[test]
fn digest_md5_directives_and_rspauth() {
    let report = analyze(&fixture("auth-digest-md5"));
    assert_eq!(
        values(&report, Field::AuthRealm),
        ["example.org", "example.org"]
    );
    assert_eq!(
        values(&report, Field::AuthDigestUri),
        ["smtp/mail.example.org"]
    );
    assert_eq!(values(&report, Field::AuthCnonce), ["OA6MHXh6VqTrRk"]);
    assert_eq!(values(&report, Field::AuthRspauth).len(), 1);
    assert_eq!(
        creds("auth-digest-md5"),
        [("DIGEST-MD5".into(), some("grace"), None, Some(true))]
    );
}

#[test]
fn scram_sha1_and_sha256() {
    let report = analyze(&fixture("auth-scram"));
    assert_eq!(
        values(&report, Field::AuthMechanism)
            .first()
            .map(String::as_str),
        Some("SCRAM-SHA-1")
    );
    assert_eq!(values(&report, Field::AuthIterations), ["4096", "4096"]);
    // The salt as sent: base64 of the salt bytes "QSXCR+Q6sek8bf92".
    assert_eq!(
        values(&report, Field::AuthSalt),
        ["UVNYQ1IrUTZzZWs4YmY5Mg==", "UVNYQ1IrUTZzZWs4YmY5Mg=="]
    );
    assert_eq!(values(&report, Field::AuthProof).len(), 2);
    assert_eq!(values(&report, Field::AuthVerifier).len(), 2);
    assert_eq!(
        creds("auth-scram"),
        [
            ("SCRAM-SHA-1".into(), some("heidi"), None, Some(true)),
            ("SCRAM-SHA-256".into(), some("ivan"), None, Some(true))
        ]
    );
}

#[test]
fn xoauth2_failure_then_success() {
    assert_eq!(
        creds("auth-xoauth2"),
        [
            (
                "XOAUTH2".into(),
                some("judy@example.com"),
                some("ya29.expired-token"),
                Some(false)
            ),
            (
                "XOAUTH2".into(),
                some("judy@example.com"),
                some("ya29.valid-token"),
                Some(true)
            ),
        ]
    );
    let report = analyze(&fixture("auth-xoauth2"));
    assert!(values(&report, Field::AuthError)[0].contains("\"status\":\"401\""));
}

#[test]
fn oauthbearer() {
    assert_eq!(
        creds("auth-oauthbearer"),
        [(
            "OAUTHBEARER".into(),
            some("mallory@example.com"),
            some("vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg=="),
            Some(true)
        )]
    );
    assert_eq!(
        values(
            &analyze(&fixture("auth-oauthbearer")),
            Field::AuthOauthbearerHost
        ),
        ["mail.example.org"]
    );
}

#[test]
fn ntlm_user_domain_host() {
    let c = &credentials(&analyze(&fixture("auth-ntlm")))[0];
    assert_eq!(
        (
            c.username.as_deref(),
            c.domain.as_deref(),
            c.host.as_deref()
        ),
        (Some("niaj"), Some("EXAMPLE"), Some("WS042"))
    );
    let report = analyze(&fixture("auth-ntlm"));
    assert_eq!(
        values(&report, Field::AuthNtlmServerChallenge),
        ["0123456789abcdef"]
    );
    assert_eq!(values(&report, Field::AuthNtlmMessageType), ["1", "2", "3"]);
}

#[test]
fn external_anonymous_gssapi() {
    let report = analyze(&fixture("auth-external-anonymous-gssapi"));
    assert_eq!(values(&report, Field::AuthAuthzid), ["olivia@example.com"]);
    assert_eq!(values(&report, Field::AuthTrace), ["sirius@example.com"]);
    assert_eq!(
        values(&report, Field::AuthResult),
        ["success", "success", "success"]
    );
    // GSSAPI stays opaque: its steps are shown as sent, with no invented credential.
    let mechanisms = credentials(&report)
        .into_iter()
        .map(|c| c.mechanism)
        .collect::<Vec<_>>();
    assert_eq!(mechanisms, ["EXTERNAL", "ANONYMOUS"]);
}

#[test]
fn cancel_unknown_and_bad_base64_do_not_break_the_session() {
    let report = analyze(&fixture("auth-cancel-unknown-badbase64"));
    assert_eq!(values(&report, Field::AuthCancelled), ["True"]);
    let experts: Vec<_> = report
        .frames
        .iter()
        .flat_map(|f| &f.pdus)
        .flat_map(|p| &p.anomalies)
        .map(|a| a.expert.abbrev())
        .collect();
    assert!(experts.contains(&"mail.expert.bad_base64"), "{experts:?}");
    assert!(experts.contains(&"mail.expert.bad_sasl"), "{experts:?}");
    assert!(
        experts.contains(&"mail.expert.auth_cancelled"),
        "{experts:?}"
    );
    // The unknown mechanism's data is shown raw, and the session goes on to QUIT.
    assert!(values(&report, Field::AuthData).contains(&"dG9rZW4tMTIzNA==".to_string()));
    assert_eq!(common::last_command(&report).as_deref(), Some("QUIT"));
}

#[test]
fn pipelining_bdat_and_rejected_recipient() {
    let report = analyze(&fixture("pipelining-bdat"));
    let s = &summarize(&report)[0];
    assert_eq!(s.messages.len(), 2);
    assert_eq!(
        s.messages[0].rcpt_to,
        ["bob@example.org", "carol@example.org"]
    );
    assert_eq!(
        s.messages[1].rcpt_to,
        ["bob@example.org"],
        "the 550-refused recipient is dropped"
    );
    assert_eq!(values(&report, Field::SmtpBdatLast), ["False", "True"]);
    assert!(values(&report, Field::SmtpTransaction)
        .iter()
        .any(|t| t == "2"));
    // Each reply answers the right pipelined command.
    let answered = values(&report, Field::SmtpReplyCommand);
    assert_eq!(&answered[1..6], ["MAIL", "RCPT", "RCPT", "BDAT", "BDAT"]);
    assert!(report
        .frames
        .iter()
        .flat_map(|f| &f.pdus)
        .all(|p| p.anomalies.is_empty()));
}

#[test]
fn starttls_stops_text_parsing() {
    let report = analyze(&fixture("starttls"));
    let last = report.frames.last().unwrap();
    assert!(last.pdus.last().unwrap().starts_tls);
    assert_eq!(values(&report, Field::SmtpCommand), ["EHLO", "STARTTLS"]);
}

#[test]
fn ipv6_reordered_and_retransmitted() {
    assert_eq!(
        creds("ipv6-reordered"),
        [("PLAIN".into(), some("trent"), some("reorder"), Some(true))]
    );
    let report = analyze(&fixture("ipv6-reordered"));
    assert_eq!(
        values(&report, Field::SmtpCommand),
        ["EHLO", "AUTH", "MAIL", "QUIT"]
    );
}

#[test]
fn lf_endings_decode_like_crlf() {
    assert_eq!(
        creds("lf-line-endings"),
        [("LOGIN".into(), some("uma"), some("lfonly"), Some(true))]
    );
    let report = analyze(&fixture("lf-line-endings"));
    let message = report
        .frames
        .iter()
        .flat_map(|f| &f.pdus)
        .find_map(|p| p.message.clone())
        .unwrap();
    assert_eq!(message.content, b"Subject: lf\n\nbody line\n.dot line\n");
}

#[test]
fn found_on_a_port_without_a_rule() {
    let report = analyze(&fixture("nonstandard-port"));
    assert_eq!(report.connections[0].server.1, 10025);
    assert_eq!(
        report.connections[0].first_frame, 4,
        "found from the greeting on"
    );
    // The client's EHLO (frame 6) proves it SMTP; that frame shows the greeting too.
    let first = &report.frames[0];
    assert_eq!(first.frame, 6);
    assert_eq!(
        first.pdus[0].info,
        "S: 220 mail.example.org ESMTP Postfix (Debian/GNU)"
    );
    assert_eq!(creds("nonstandard-port")[0].1.as_deref(), Some("victor"));
}

#[test]
fn hostile_lines_are_flagged_and_bounded() {
    let report = analyze(&fixture("hostile-lines"));
    let anomalies: Vec<_> = report
        .frames
        .iter()
        .flat_map(|f| &f.pdus)
        .flat_map(|p| &p.anomalies)
        .collect();
    let has = |abbrev: &str, text: &str| {
        anomalies
            .iter()
            .any(|a| a.expert.abbrev() == abbrev && a.message.contains(text))
    };
    assert!(has("mail.expert.unknown_command", "XYZZY"));
    assert!(has("mail.expert.line_too_long", "8192"));
    assert!(has(
        "mail.expert.bad_reply",
        "does not start with a 3-digit code"
    ));
    assert!(has("mail.expert.bad_reply", "differs"));
    assert!(has(
        "mail.expert.violation",
        "BDAT size \"12x\" is not a number"
    ));
    assert!(has("mail.expert.violation", "RCPT TO without a MAIL FROM"));
    let longest = report
        .frames
        .iter()
        .flat_map(|f| &f.pdus)
        .map(|p| p.bytes.len())
        .max()
        .unwrap();
    assert!(longest <= 8192, "a PDU kept {longest} bytes");
}

#[test]
fn truncated_file_reports_what_was_read() {
    let report = analyze(&fixture("truncated-file"));
    let error = report
        .error
        .as_ref()
        .expect("truncation is reported")
        .to_string();
    assert!(error.contains("truncated"), "{error}");
    assert_eq!(creds("truncated-file")[0].2.as_deref(), Some("cutshort"));
}

/// The generator the fixture READMEs name reproduces every committed capture byte for byte.
#[test]
fn fixtures_are_reproducible_from_their_generator() {
    let root = common::root();
    let out = std::env::temp_dir().join(format!("mailscope-fixtures-{}", std::process::id()));
    let status = std::process::Command::new("python3")
        .arg(root.join("fixtures/generate.py"))
        .arg("--out")
        .arg(&out)
        .stdout(std::process::Stdio::null())
        .status()
        .expect("python3 runs the generator");
    assert!(status.success());
    let mut compared = 0;
    for entry in std::fs::read_dir(root.join("fixtures")).unwrap() {
        let dir = entry.unwrap().path();
        if dir.join("keys.log").exists() {
            continue; // real TLS: fresh randomness on every run, rebuilt only with --tls
        }
        for file in ["capture.pcap", "capture.pcapng", "README.md"] {
            if dir.join(file).exists() {
                let name = dir.file_name().unwrap();
                let fresh = std::fs::read(out.join(name).join(file)).unwrap();
                assert!(
                    fresh == std::fs::read(dir.join(file)).unwrap(),
                    "{}/{file} differs from the generator's",
                    dir.display()
                );
                compared += 1;
            }
        }
    }
    assert!(compared >= 38, "compared only {compared} files");
    std::fs::remove_dir_all(&out).ok();
}

/// Cutting every segment into 1-byte or 7-byte pieces changes nothing a user sees:
/// framing is incremental, and a PDU belongs to the frame that completes it.
/// A flow's segments stay whole until it is found to be mail (a detector
/// fed the same whole segments says when): content detection counts payloads.
#[test]
fn any_segmentation_gives_the_same_report() {
    use mailscope_harness::analyze::Analyzer;
    use mailscope_harness::capture::read_capture;
    use mailscope_harness::Options;

    for entry in std::fs::read_dir(common::root().join("fixtures")).unwrap() {
        let dir = entry.unwrap().path();
        let Some(path) = ["capture.pcap", "capture.pcapng"]
            .iter()
            .map(|f| dir.join(f))
            .find(|p| p.exists())
        else {
            continue;
        };
        let whole = render::snapshot(&analyze(&path));
        for piece in [1usize, 7] {
            let mut analyzer = Analyzer::new(Options::default());
            let mut detectors = std::collections::HashMap::new();
            let frames = read_capture(
                &path,
                |segment| {
                    use mailscope::detect::{by_port, Detector, Verdict};
                    let low = segment.src.min(segment.dst);
                    let ports = (segment.src.1, segment.dst.1);
                    let detector = detectors
                        .entry((low, segment.src.max(segment.dst)))
                        .or_insert_with(|| Detector::new(ports));
                    let by_ports = by_port(ports.0).is_some() || by_port(ports.1).is_some();
                    let undecided = !by_ports
                        && !matches!(detector.verdict(), Verdict::Mail { .. })
                        && !segment.payload.is_empty();
                    if undecided {
                        let from_a = segment.src == low;
                        detector.payload(from_a, segment.seq, segment.ack, segment.payload, 0);
                    }
                    if undecided || segment.payload.len() <= piece {
                        return analyzer.segment(segment);
                    }
                    for (i, chunk) in segment.payload.chunks(piece).enumerate() {
                        let mut part = segment.clone();
                        part.seq = segment.seq.wrapping_add((i * piece) as u32);
                        part.payload = chunk;
                        analyzer.segment(part);
                    }
                },
                |_| {},
            );
            let (frames, error) = match frames {
                Ok(n) => (n, None),
                Err(e) => (0, Some(e)),
            };
            let mut split = analyzer.finish(frames, error);
            let mut reference = analyze(&path);
            // The frame count of a truncated file is not part of the comparison.
            split.frames_read = reference.frames_read;
            reference.error = None;
            split.error = None;
            let whole_without_error = render::snapshot(&reference);
            assert_eq!(
                render::snapshot(&split),
                whole_without_error,
                "{} cut into {piece}-byte pieces",
                path.display()
            );
            assert!(!whole.is_empty());
        }
    }
}

// ----- POP3

#[test]
fn pop3_user_pass_through_all_three_states() {
    let user_pass = || mailscope::pop3::USER_PASS.to_string();
    assert_eq!(
        creds("pop3-user-pass"),
        [
            (user_pass(), some("wendy"), some("guess"), Some(false)),
            (user_pass(), some("wendy"), some("hunter2"), Some(true))
        ]
    );
    let report = analyze(&fixture("pop3-user-pass"));
    let states = values(&report, Field::PopState);
    let first_transaction = states.iter().position(|s| s == "transaction").unwrap();
    assert!(states[..first_transaction]
        .iter()
        .all(|s| s == "authorization"));
    assert_eq!(states.last().map(String::as_str), Some("update"));
    assert_eq!(
        values(&report, Field::PopApopTimestamp),
        ["<4121.1700000000@mail.example.org>"]
    );
    assert!(values(&report, Field::PopCapability)
        .contains(&"SASL PLAIN LOGIN CRAM-MD5 SCRAM-SHA-256".to_string()));
    assert_eq!(
        values(&report, Field::PopMessageUid),
        ["000000016543a2c1", "000000026543a2c1"]
    );
    let messages: Vec<_> = report
        .frames
        .iter()
        .flat_map(|f| &f.pdus)
        .filter_map(|p| p.message.clone())
        .collect();
    assert_eq!(messages.len(), 2, "RETR 1 and TOP 2 0");
    let retr = String::from_utf8(messages[0].content.clone()).unwrap();
    assert!(
        retr.contains("\r\n.a line that starts with a dot\r\n"),
        "{retr}"
    );
    let top = String::from_utf8(messages[1].content.clone()).unwrap();
    assert!(
        top.starts_with("From: ") && top.ends_with("\r\n\r\n") && !top.contains("This is message"),
        "{top}"
    );
    assert_eq!(
        common::last_command(&report).as_deref(),
        None,
        "POP3 commands are mail.pop.command"
    );
    assert_eq!(
        values(&report, Field::PopCommand)
            .last()
            .map(String::as_str),
        Some("QUIT")
    );
}

#[test]
fn pop3_apop_digest_and_timestamp() {
    let report = analyze(&fixture("pop3-apop"));
    assert_eq!(
        values(&report, Field::AuthChallenge),
        ["<1896.697170952@dbc.mtview.ca.us>"]
    );
    // RFC 1939's example digest for this timestamp and the secret "tanstaaf".
    assert_eq!(
        values(&report, Field::AuthResponse),
        ["c4c9334bac560ecc979e58001b3e22fb"]
    );
    assert_eq!(
        creds("pop3-apop"),
        [("APOP".into(), some("mrose"), None, Some(true))]
    );
    assert_eq!(values(&report, Field::PopMessageCount), ["2"]);
}

#[test]
fn pop3_sasl_mechanisms_list_success_failure_and_cancel() {
    let report = analyze(&fixture("pop3-auth-sasl"));
    let offered: Vec<String> = values(&report, Field::AuthMechanism)
        .into_iter()
        .take(4)
        .collect();
    assert_eq!(offered, ["PLAIN", "LOGIN", "CRAM-MD5", "SCRAM-SHA-256"]);
    assert_eq!(
        creds("pop3-auth-sasl"),
        [
            ("CRAM-MD5".into(), some("xena"), None, Some(true)),
            ("PLAIN".into(), some("yuri"), some("gagarin"), Some(true)),
            ("LOGIN".into(), some("zoe"), some("washburne"), Some(false)),
        ]
    );
    assert_eq!(values(&report, Field::AuthCancelled), ["True"]);
    assert_eq!(values(&report, Field::AuthIterations), ["4096"]);
}

#[test]
fn pop3_stls_stops_text_parsing_and_other_ports_are_found() {
    let report = analyze(&fixture("pop3-stls"));
    assert!(
        report
            .frames
            .last()
            .unwrap()
            .pdus
            .last()
            .unwrap()
            .starts_tls
    );
    assert_eq!(values(&report, Field::PopCommand), ["CAPA", "STLS"]);
    let report = analyze(&fixture("pop3-nonstandard-port"));
    assert_eq!(report.connections[0].server.1, 1110);
    assert_eq!(report.connections[0].protocol, mailscope::Protocol::Pop3);
    assert_eq!(
        creds("pop3-nonstandard-port")[0].2.as_deref(),
        Some("portless")
    );
}

// ----- edge cases the core once got wrong

#[test]
fn smtp_behind_http_connect_and_socks5_is_found_where_it_starts() {
    assert_eq!(
        creds("tunnelled-smtp"),
        [
            (
                "PLAIN".into(),
                some("tunnel-http"),
                some("through-proxy"),
                Some(true)
            ),
            (
                "PLAIN".into(),
                some("tunnel-socks"),
                some("through-socks"),
                Some(true)
            ),
        ]
    );
    let report = analyze(&fixture("tunnelled-smtp"));
    assert_eq!(
        values(&report, Field::SmtpHelo),
        ["client.example.com", "client.example.com"]
    );
    assert_eq!(values(&report, Field::SmtpGreeting).len(), 2);
    let gaps = report
        .frames
        .iter()
        .flat_map(|f| &f.pdus)
        .flat_map(|p| &p.anomalies)
        .filter(|a| a.expert == mailscope::Expert::Gap)
        .count();
    assert_eq!(
        gaps, 0,
        "the tunnel's set-up is not reported as missing bytes"
    );
}

#[test]
fn bdat_that_does_not_parse_announces_no_chunk_and_sizes_keep_64_bits() {
    let report = analyze(&fixture("bdat-malformed-and-huge"));
    // The MAIL after the refused `BDAT 5 X` is a command, not chunk bytes.
    assert_eq!(
        values(&report, Field::SmtpCommand),
        ["EHLO", "MAIL", "RCPT", "BDAT", "MAIL", "BDAT"]
    );
    assert_eq!(values(&report, Field::SmtpBdatSize), ["5000000000"]);
}

#[test]
fn messages_open_when_the_capture_ends_are_reported_truncated() {
    let report = analyze(&fixture("open-messages-at-end"));
    let at_end: Vec<_> = report
        .at_end
        .iter()
        .flat_map(|(_, pdus)| pdus)
        .filter_map(|p| p.message.as_ref().map(|m| (p, m)))
        .collect();
    assert_eq!(at_end.len(), 2);
    let (smtp, smtp_message) = at_end[0];
    assert!(smtp_message.truncated);
    assert!(
        String::from_utf8_lossy(&smtp_message.content).contains("The capture ends in this line")
    );
    assert_eq!(smtp.anomalies[0].expert, mailscope::Expert::Truncated);
    let (pop3, pop3_message) = at_end[1];
    assert!(pop3_message.truncated);
    assert_eq!(
        pop3_message.content,
        b"Subject: also cut\r\n\r\nfirst line\r\n"
    );
    assert_eq!(
        pop3.anomalies.last().unwrap().message,
        "the capture ends inside this response; 49 bytes of it were seen"
    );
}

/// Messages decoded on worker threads give the same report, in the same
/// order, as decoded in line, on every fixture and shared capture.
#[test]
fn decoding_messages_on_other_threads_gives_the_same_report() {
    use mailscope_harness::{analyze_file, Options};
    let mut captures: Vec<_> = std::fs::read_dir(common::root().join("fixtures"))
        .unwrap()
        .filter_map(|e| {
            let dir = e.unwrap().path();
            ["capture.pcap", "capture.pcapng"]
                .iter()
                .map(|f| dir.join(f))
                .find(|p| p.exists())
        })
        .collect();
    if let Some(shared) = common::shared() {
        captures.extend(mailscope_harness::capture::find_captures(&shared));
    }
    assert!(captures.len() > 30);
    for capture in captures {
        let in_line = render::snapshot(&analyze_file(&capture, Options::default(), |_| {}));
        let threads = Options {
            mime_threads: 2,
            ..Options::default()
        };
        let parallel = render::snapshot(&analyze_file(&capture, threads, |_| {}));
        assert!(in_line == parallel, "{} differs", capture.display());
    }
}
