//! Whole messages through `analyze`: the facts a reader of the part tree relies on.

use super::*;
use crate::message::{MailMessage, MessageSource};

fn carried(content: &[u8]) -> MailMessage {
    MailMessage {
        source: MessageSource::SmtpData { transaction: 1 },
        content: content.to_vec(),
        first_frame: 1,
        last_frame: 1,
        stream_start: 0,
        stream_end: content.len() as u64,
        complete: true,
        truncated: false,
        gaps: Vec::new(),
    }
}

fn decode(content: &[u8]) -> MimeMessage {
    analyze(&carried(content), &Options::default())
}

const MIXED: &[u8] = b"From: =?UTF-8?B?w6lsaWU=?= <elie@example.org>\r\n\
To: \"Bob, Jr\" <bob@example.net>, carol@example.net\r\n\
Subject: =?UTF-8?Q?R=C3=A9sum=C3=A9?= (draft)\r\n\
Message-ID: <abc.123@example.org>\r\n\
Date: Tue, 1 Jul 2003 10:52:37 +0200\r\n\
Content-Type: multipart/mixed; boundary=\"b1\"\r\n\
\r\n\
preamble\r\n\
--b1\r\n\
Content-Type: multipart/alternative; boundary=b2\r\n\
\r\n\
--b2\r\n\
Content-Type: text/plain; charset=GB2312\r\n\
Content-Transfer-Encoding: base64\r\n\
\r\n\
xOO6ww==\r\n\
--b2\r\n\
Content-Type: text/html; charset=utf-8\r\n\
Content-Transfer-Encoding: quoted-printable\r\n\
\r\n\
<p>caf=C3=A9</p>\r\n\
--b2--\r\n\
--b1\r\n\
Content-Type: application/octet-stream; name=\"ignored.bin\"\r\n\
Content-Disposition: attachment; filename*0*=UTF-8''%E6%8A%A5%E5%91%8A; filename*1=\".bin\"\r\n\
Content-Transfer-Encoding: base64\r\n\
\r\n\
AAEC\r\n\
Aw==\r\n\
--b1\r\n\
Content-Type: message/rfc822\r\n\
\r\n\
Subject: inner\r\n\
Content-Type: text/plain\r\n\
\r\n\
inner body\r\n\
--b1--\r\n\
epilogue\r\n";

#[test]
fn headers_are_decoded_with_their_spans() {
    let m = decode(MIXED);
    let subject = m.subject.as_ref().unwrap();
    assert_eq!(subject.value, "Résumé (draft)");
    assert!(MIXED[subject.offset..].starts_with(b"Subject: =?UTF-8?Q?"));
    assert_eq!(
        &MIXED[subject.offset + subject.len - 7..subject.offset + subject.len],
        b"(draft)"
    );
    assert_eq!(m.from.unwrap().value, "élie <elie@example.org>");
    assert_eq!(
        m.to.unwrap().value,
        "Bob, Jr <bob@example.net>, carol@example.net"
    );
    assert_eq!(m.message_id.unwrap().value, "abc.123@example.org");
    assert_eq!(m.date.unwrap().value, "Tue, 1 Jul 2003 10:52:37 +0200");
    assert_eq!(m.size, MIXED.len() as u64);
    assert_eq!(m.sha256, body::sha256_hex(MIXED));
    assert!(m.anomalies.is_empty(), "{:?}", m.anomalies);
}

#[test]
fn the_part_tree_has_paths_types_names_and_digests() {
    let m = decode(MIXED);
    let rows: Vec<_> = m
        .parts
        .iter()
        .map(|p| (p.path.as_str(), p.content_type.as_str(), p.size))
        .collect();
    assert_eq!(
        rows,
        [
            ("0", "multipart/mixed", None),
            ("1", "multipart/alternative", None),
            ("1.1", "text/plain", Some(4)),
            ("1.2", "text/html", Some(12)),
            ("2", "application/octet-stream", Some(4)),
            ("3", "message/rfc822", Some(54)),
            ("3.1", "text/plain", Some(10)),
        ]
    );
    let gb = &m.parts[2];
    assert_eq!(gb.charset.as_deref(), Some("GB2312"));
    assert_eq!(gb.transfer_encoding.as_deref(), Some("base64"));
    assert_eq!(gb.text, ["你好"]);
    assert_eq!(
        gb.sha256.as_deref(),
        Some(body::sha256_hex(b"\xc4\xe3\xba\xc3").as_str())
    );
    assert_eq!(m.parts[3].text, ["<p>café</p>"]);
    let attachment = &m.parts[4];
    assert_eq!(attachment.filename.as_deref(), Some("报告.bin"));
    assert_eq!(attachment.disposition.as_deref(), Some("attachment"));
    assert_eq!(
        attachment.sha256.as_deref(),
        Some(body::sha256_hex(&[0, 1, 2, 3]).as_str())
    );
    assert_eq!(
        attachment.md5.as_deref(),
        Some("37b59afd592725f9305e484a5d7f5168")
    );
    let (offset, len) = attachment.span.unwrap();
    assert!(MIXED[offset..offset + len].starts_with(b"Content-Type: application/octet-stream"));
    assert!(MIXED[offset..offset + len].ends_with(b"Aw=="));
    let inner = &m.parts[5];
    assert_eq!(
        inner.sha256.as_deref(),
        Some(
            body::sha256_hex(b"Subject: inner\r\nContent-Type: text/plain\r\n\r\ninner body")
                .as_str()
        )
    );
    assert_eq!(m.parts[6].text, ["inner body"]);
    assert_eq!(m.attachments().count(), 1);
}

#[test]
fn a_base64_encoded_attached_message_is_parsed_from_its_decoded_bytes() {
    let inner = b"Subject: hidden\r\n\r\nsecret body\r\n";
    let encoded = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, inner);
    let raw = format!(
        "Subject: outer\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n\
         Content-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\n{encoded}\r\n--x--\r\n"
    );
    let m = decode(raw.as_bytes());
    let paths: Vec<_> = m
        .parts
        .iter()
        .map(|p| (p.path.as_str(), p.span.is_some()))
        .collect();
    assert_eq!(paths, [("0", true), ("1", true), ("1.1", false)]);
    assert_eq!(
        m.parts[1].sha256.as_deref(),
        Some(body::sha256_hex(inner).as_str())
    );
    assert_eq!(m.parts[2].text, ["secret body"]);
}

#[test]
fn broken_bodies_and_boundaries_are_flagged_not_fatal() {
    let raw = b"Subject: x\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\
Content-Type: application/pdf; name=\"=?UTF-8?B?w6kucGRm?=\"\r\nContent-Transfer-Encoding: base64\r\n\r\n\
!!!!not base64@@@\r\n--b\r\nContent-Type: text/plain; charset=x-klingon\r\n\r\nqapla\r\n";
    let m = decode(raw);
    let experts: Vec<_> = m.anomalies.iter().map(|a| a.expert).collect();
    assert!(experts.contains(&Expert::MimeEncoding), "{:?}", m.anomalies);
    assert!(experts.contains(&Expert::MimeCharset), "{:?}", m.anomalies);
    assert!(experts.contains(&Expert::MimeBoundary), "{:?}", m.anomalies);
    assert_eq!(m.parts[1].filename.as_deref(), Some("é.pdf"));
    assert_eq!(m.parts[2].text, ["qapla"]);
}

#[test]
fn a_cut_message_is_marked_and_not_blamed_for_its_missing_end() {
    let mut message = carried(
        b"Subject: cut\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\nhalf",
    );
    message.complete = false;
    let m = analyze(&message, &Options::default());
    assert!(m.truncated);
    assert!(m.anomalies.is_empty(), "{:?}", m.anomalies);
    message.source = MessageSource::Pop3Top {
        number: 1,
        lines: 0,
    };
    message.complete = true;
    let m = analyze(&message, &Options::default());
    assert!(m.partial && !m.truncated);
}

#[test]
fn a_body_without_headers_and_an_empty_message_still_decode() {
    let m = decode(b"just a line of text\r\n");
    assert_eq!(m.parts.len(), 1);
    assert_eq!(m.parts[0].text, ["just a line of text"]);
    assert_eq!(m.parts[0].span, None);
    let empty = decode(b"");
    assert_eq!((empty.size, empty.parts.len()), (0, 0));
}

#[test]
fn hostile_structures_stay_within_the_limits() {
    // 10,000 parts: the first MAX_PARTS are described, one anomaly counts the rest.
    let mut raw = b"Content-Type: multipart/mixed; boundary=b\r\n\r\n".to_vec();
    for _ in 0..10_000 {
        raw.extend_from_slice(b"--b\r\n\r\nx\r\n");
    }
    raw.extend_from_slice(b"--b--\r\n");
    let m = decode(&raw);
    assert_eq!(m.parts.len(), MAX_PARTS);
    let limits: Vec<_> = m
        .anomalies
        .iter()
        .filter(|a| a.expert == Expert::MimeLimit)
        .collect();
    assert_eq!(limits.len(), 1);
    assert!(
        limits[0].message.contains("9001 more"),
        "{}",
        limits[0].message
    );

    // 5,000 nested multiparts: described down to MAX_DEPTH, one anomaly.
    let mut raw = Vec::new();
    for level in 0..5_000 {
        raw.extend_from_slice(
            format!("Content-Type: multipart/mixed; boundary=l{level}\r\n\r\n--l{level}\r\n")
                .as_bytes(),
        );
    }
    raw.extend_from_slice(b"\r\ndeep\r\n");
    let m = decode(&raw);
    assert_eq!(m.parts.len(), MAX_DEPTH + 1);
    assert_eq!(
        m.anomalies
            .iter()
            .filter(|a| a.expert == Expert::MimeLimit)
            .count(),
        1
    );

    // A Subject header of a megabyte: decoded up to MAX_HEADER_BYTES.
    let mut raw = b"Subject: ".to_vec();
    raw.extend(std::iter::repeat_n(b'=', 1 << 20));
    raw.extend_from_slice(b"?q?\r\n\r\nbody\r\n");
    let m = decode(&raw);
    assert!(m.subject.unwrap().value.len() <= headers::MAX_HEADER_BYTES);

    // 200,000 header lines and no body: read, the Subject among them found.
    let mut raw = Vec::new();
    for n in 0..200_000 {
        raw.extend_from_slice(format!("X-Filler-{n}: {}\r\n", "y".repeat(20)).as_bytes());
    }
    raw.extend_from_slice(b"Subject: at the end\r\n");
    let m = decode(&raw);
    assert_eq!(m.subject.unwrap().value, "at the end");
}

#[test]
fn invalid_base64_at_the_message_cap_is_flagged_and_counted() {
    // The connection keeps at most 64 MiB of a message (Limits::default):
    // 100 MB of it would be cut there. That much of a body that is not
    // base64 is decoded as far as it goes, flagged once, and described.
    let cap = crate::limits::Limits::default().max_message();
    let mut raw = b"Subject: junk\r\nContent-Type: application/octet-stream; name=x.bin\r\n\
Content-Transfer-Encoding: base64\r\n\r\n"
        .to_vec();
    let line = b"@@@@ this is not base64 at all ~~~~ !!!! ^^^^ ******** ))))))))\r\n";
    while raw.len() + line.len() <= cap {
        raw.extend_from_slice(line);
    }
    let m = decode(&raw);
    assert_eq!(m.size, raw.len() as u64);
    let flagged: Vec<_> = m
        .anomalies
        .iter()
        .filter(|a| a.expert == Expert::MimeEncoding)
        .collect();
    assert_eq!(flagged.len(), 1, "{:?}", m.anomalies);
    assert_eq!(m.parts[0].filename.as_deref(), Some("x.bin"));
    assert!(m.parts[0].size.unwrap() > 60 << 20, "kept as sent");
}

#[test]
fn a_message_that_trips_the_mime_parser_is_reported_not_fatal() {
    // Found by the mime fuzz target: it trips a debug assertion inside
    // mail-parser (builds with debug assertions, such as the tests, panic
    // there). Either way the message is reported and nothing unwinds further.
    let raw = include_bytes!("testdata/fuzz-mail-parser-part-id.eml");
    let m = decode(raw);
    assert_eq!(m.size, raw.len() as u64);
    assert_eq!(m.sha256, body::sha256_hex(raw));
    if cfg!(debug_assertions) {
        assert!(
            m.anomalies
                .iter()
                .any(|a| a.expert == Expert::MimeMalformed),
            "{:?}",
            m.anomalies
        );
    }
}

/// A message/rfc822 part that declares base64 around `inner` sent as is.
fn rfc822_declared_base64(inner: &[u8]) -> Vec<u8> {
    let mut raw =
        b"Subject: wrapper\r\nContent-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            .to_vec();
    raw.extend_from_slice(inner);
    raw
}

#[test]
fn a_forbidden_encoding_is_seen_through_and_flagged() {
    let inner = b"Subject: inner\r\nContent-Type: application/octet-stream; name=\"x.exe\"\r\n\
Content-Transfer-Encoding: base64\r\n\r\nTVqQAA==\r\n";
    // Sent as is: read as sent, the attachment inside found, spans into the message.
    let as_sent = rfc822_declared_base64(inner);
    let m = decode(&as_sent);
    let exe = m.attachments().next().expect("x.exe");
    assert_eq!(
        (exe.path.as_str(), exe.filename.as_deref(), exe.size),
        ("0.1", Some("x.exe"), Some(4))
    );
    let (offset, len) = exe.span.unwrap();
    assert!(as_sent[offset..offset + len].starts_with(b"Subject: inner"));
    let flagged: Vec<_> = m
        .anomalies
        .iter()
        .map(|a| (a.expert, a.message.as_str()))
        .collect();
    assert_eq!(
        flagged,
        [(
            Expert::MimeEvasion,
            "part 0: message/rfc822 part declares base64, which RFC 2045 forbids for it: read as sent"
        )]
    );
    // Really encoded (mail-parser decodes it itself): the same part, flagged as decoded.
    let encoded = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, inner);
    let m = decode(&rfc822_declared_base64(encoded.as_bytes()));
    assert_eq!(m.attachments().next().unwrap().size, Some(4));
    assert!(
        m.anomalies[0].message.ends_with("forbids for it: decoded"),
        "{:?}",
        m.anomalies
    );
    // A multipart declared base64 over boundaries sent as is: its parts are read as sent.
    let multipart =
        b"Content-Type: multipart/mixed; boundary=b\r\nContent-Transfer-Encoding: base64\r\n\r\n\
--b\r\nContent-Type: text/plain; name=a.txt\r\n\r\nhello\r\n--b--\r\n";
    let m = decode(multipart);
    let a_txt = m.attachments().next().unwrap();
    assert_eq!((a_txt.path.as_str(), a_txt.size), ("1", Some(5)));
    assert!(
        m.anomalies[0]
            .message
            .ends_with("forbids for it: read as sent"),
        "{:?}",
        m.anomalies
    );
    // message/global may be encoded (RFC 6532); message/partial may not, and is not parsed.
    let global = b"Content-Type: message/global\r\nContent-Transfer-Encoding: base64\r\n\r\nU3ViamVjdDogeA0KDQp5\r\n";
    assert!(decode(global).anomalies.is_empty());
    let partial = b"Content-Type: message/partial; id=1; number=1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nabc\r\n";
    let m = decode(partial);
    assert_eq!(
        (m.parts.len(), m.anomalies[0].expert),
        (1, Expert::MimeEvasion)
    );
}

#[test]
fn nested_evasion_stays_within_the_depth_and_the_see_through_budget() {
    // 100 levels: described down to MAX_DEPTH, as for any nesting.
    let mut raw = b"Subject: bottom\r\n\r\nbottom\r\n".to_vec();
    for _ in 0..100 {
        raw = rfc822_declared_base64(&raw);
    }
    let m = decode(&raw);
    assert_eq!(m.parts.len(), MAX_DEPTH + 1);
    let count = |expert| m.anomalies.iter().filter(|a| a.expert == expert).count();
    assert_eq!(
        (count(Expert::MimeLimit), count(Expert::MimeEvasion)),
        (1, MAX_DEPTH + 1)
    );

    // 10 levels around 6 MiB: parsed again while the budget (16 MiB here)
    // lasts, then left undescribed below, and said so.
    let mut raw = b"Subject: bottom\r\n\r\n".to_vec();
    raw.extend(std::iter::repeat_n(b'a', 6 << 20));
    for _ in 0..10 {
        raw = rfc822_declared_base64(&raw);
    }
    let m = decode(&raw);
    assert!(m.parts.len() < 6, "{} parts", m.parts.len());
    assert!(
        m.anomalies
            .iter()
            .any(|a| a.expert == Expert::MimeLimit && a.message.contains("see-through budget")),
        "{:?}",
        m.anomalies
    );
}

#[test]
fn undeclared_utf8_is_never_guessed() {
    let m = decode("Subject: café\r\nContent-Type: text/plain\r\n\r\ncrème brûlée\r\n".as_bytes());
    assert_eq!(m.subject.unwrap().value, "café");
    assert_eq!(
        (m.charset_guess, m.parts[0].charset_guess.clone()),
        (None, None)
    );
    assert!(m.anomalies.is_empty(), "{:?}", m.anomalies);
}
