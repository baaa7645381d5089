//! Messages decoded: the project's MIME fixtures and the shared captures'
//! messages, checked against bytes built independently and against the
//! other projects' expected outputs (Zeek's extracted files, Suricata's
//! fileinfo, Arkime's decoded subject).

mod common;

use std::path::Path;

use common::{first_message_with_default_charset, fixture, messages, shared};
use mailscope::mime::{self, MimeMessage};
use mailscope::{MailMessage, MessageSource};

fn sha256(bytes: &[u8]) -> String {
    mime::sha256_hex(bytes)
}

/// The attachments the generator writes, built here from the same recipe.
fn report_pdf() -> Vec<u8> {
    let mut pdf = b"%PDF-1.4\n".to_vec();
    pdf.extend((0..3000u32).map(|i| ((i * 7 + 3) % 256) as u8));
    pdf.extend_from_slice(b"\n%%EOF\n");
    pdf
}

fn binary_blob() -> Vec<u8> {
    (0..8).flat_map(|_| 0..=255u8).collect()
}

fn part<'m>(message: &'m MimeMessage, path: &str) -> &'m mime::MimePart {
    message
        .parts
        .iter()
        .find(|p| p.path == path)
        .unwrap_or_else(|| panic!("no part {path}"))
}

#[test]
fn foxmail_gb2312_subject_sender_and_bodies_decode_to_chinese() {
    let all = messages(&fixture("mime-foxmail-gb2312"));
    let [(carried, m)] = &all[..] else {
        panic!("{} messages", all.len())
    };
    assert_eq!(m.subject.as_ref().unwrap().value, "测试邮件：会议通知");
    assert_eq!(m.from.as_ref().unwrap().value, "张三 <zhangsan@example.cn>");
    assert_eq!(
        m.message_id.as_ref().unwrap().value,
        "202311150930001234567@example.cn"
    );
    assert_eq!(m.size, carried.content.len() as u64);
    let text = part(m, "1");
    assert_eq!(
        (text.content_type.as_str(), text.charset.as_deref()),
        ("text/plain", Some("GB2312"))
    );
    assert_eq!(
        text.text,
        ["各位好：", "", "明天上午十点开会，请准时参加。", "", "张三"]
    );
    let html = part(m, "2");
    assert!(
        html.text[0].contains("<p>明天上午十点开会，请准时参加。</p>"),
        "{:?}",
        html.text
    );
    assert!(m.anomalies.is_empty(), "{:?}", m.anomalies);
}

#[test]
fn the_mixed_message_is_the_same_over_data_bdat_retr() {
    let smtp = messages(&fixture("mime-mixed-data-bdat"));
    let pop = messages(&fixture("mime-pop3-retr-top"));
    assert_eq!(smtp.len(), 2);
    assert!(matches!(smtp[0].0.source, MessageSource::SmtpData { .. }));
    assert!(matches!(
        smtp[1].0.source,
        MessageSource::SmtpBdat { chunks: 3, .. }
    ));
    assert!(matches!(
        pop[0].0.source,
        MessageSource::Pop3Retr { number: 1 }
    ));
    let pdf = report_pdf();
    let blob = binary_blob();
    for (carried, m) in [&smtp[0], &smtp[1], &pop[0]] {
        // Dot-unstuffed: the same bytes whichever way they came.
        assert_eq!(m.sha256, smtp[0].1.sha256);
        assert_eq!(carried.content.len(), 8911);
        assert!(carried.content.windows(5).any(|w| w == b"\n.hid"));
        assert_eq!(m.subject.as_ref().unwrap().value, "Résumé and minutes (v2)");
        assert_eq!(
            m.cc.as_ref().unwrap().value,
            "François <francois@example.fr>"
        );
        let rows: Vec<_> = m
            .parts
            .iter()
            .map(|p| {
                (
                    p.path.as_str(),
                    p.content_type.as_str(),
                    p.filename.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            rows,
            [
                ("0", "multipart/mixed", None),
                ("1", "multipart/alternative", None),
                ("1.1", "text/plain", None),
                ("1.2", "text/html", None),
                ("2", "application/pdf", Some("简历 Résumé.pdf")),
                ("3", "application/octet-stream", Some("протокол.bin")),
                ("4", "message/rfc822", Some("Re: cafe meeting.eml")),
                ("4.1", "text/plain", None),
            ]
        );
        assert!(part(m, "1.1")
            .text
            .contains(&".hidden line that starts with a dot".to_string()));
        assert_eq!(
            part(m, "1.2").transfer_encoding.as_deref(),
            Some("quoted-printable")
        );
        assert!(part(m, "1.2").text[0].contains("Résumé attached"));
        let (p2, p3) = (part(m, "2"), part(m, "3"));
        assert_eq!(p2.body.as_deref(), Some(&pdf[..]));
        assert_eq!(
            (p2.size, p2.sha256.clone()),
            (Some(pdf.len() as u64), Some(sha256(&pdf)))
        );
        assert_eq!(
            (p3.size, p3.sha256.clone()),
            (Some(2048), Some(sha256(&blob)))
        );
        assert_eq!(p3.disposition.as_deref(), Some("attachment"));
        // The attached message in ISO-8859-1, decoded from its own charset.
        assert_eq!(part(m, "4.1").text, ["Le café est prêt."]);
        assert!(m.anomalies.is_empty(), "{:?}", m.anomalies);
    }
}

#[test]
fn top_is_partial_and_says_so() {
    let pop = messages(&fixture("mime-pop3-retr-top"));
    let (carried, top) = &pop[1];
    assert!(matches!(
        carried.source,
        MessageSource::Pop3Top {
            number: 1,
            lines: 5
        }
    ));
    assert!(top.partial && !top.truncated);
    assert_eq!(
        top.subject.as_ref().unwrap().value,
        "Résumé and minutes (v2)"
    );
    assert!(
        top.anomalies.is_empty(),
        "a TOP is not blamed for its missing end: {:?}",
        top.anomalies
    );
    let (_, gb) = &pop[2];
    assert_eq!(gb.subject.as_ref().unwrap().value, "测试邮件：会议通知");
}

#[test]
fn a_message_cut_by_the_end_of_the_capture_is_decoded_as_far_as_it_goes() {
    let all = messages(&fixture("mime-cut-off"));
    let [(carried, m)] = &all[..] else {
        panic!("{} messages", all.len())
    };
    assert!(!carried.complete);
    assert!(m.truncated);
    assert_eq!(m.subject.as_ref().unwrap().value, "never finished");
    let zip = part(m, "2");
    assert_eq!(zip.filename.as_deref(), Some("archive.zip"));
    // What arrived is a prefix of the real attachment.
    let whole: Vec<u8> = (0..4).flat_map(|_| binary_blob()).collect();
    let got = zip.body.as_deref().unwrap();
    assert!(
        !got.is_empty() && whole.starts_with(got),
        "{} bytes",
        got.len()
    );
}

fn shared_messages(relative: &str) -> Option<Vec<(MailMessage, MimeMessage)>> {
    Some(messages(&shared()?.join(relative)))
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Zeek's file analysis extracted each MIME entity of the first session;
/// the same bytes come out of mailscope (Zeek keeps the CRLF that RFC 2046
/// gives to the boundary delimiter, mailscope does not).
#[test]
fn zeek_extracted_entities_match_decoded_parts() {
    let Some(dir) = shared() else { return };
    let all = messages(&dir.join("zeek/Traces/smtp.pcap"));
    let first = &all[0].1;
    let expected =
        dir.join("zeek/Traces/smtp.pcap.expected/scripts.base.frameworks.file-analysis.smtp");
    for n in 0..3 {
        let file = std::fs::read(expected.join(format!("thefile{n}"))).unwrap();
        // The btest baseline's first line is its own header.
        let start = file.iter().position(|b| *b == b'\n').unwrap() + 1;
        let entity = &file[start..];
        let found = first.parts.iter().any(|p| {
            p.body.as_deref().is_some_and(|b| {
                b == entity || (entity.ends_with(b"\r\n") && b == &entity[..entity.len() - 2])
            })
        });
        assert!(
            found,
            "thefile{n} ({} bytes) is no decoded part",
            entity.len()
        );
    }
    assert_eq!(part(first, "2").filename.as_deref(), Some("NEWS.txt"));
    assert_eq!(first.subject.as_ref().unwrap().value, "SMTP");
}

/// Suricata's fileinfo for the quoted-printable `related.patch`: name, size and sha256.
#[test]
fn suricata_quoted_printable_patch_has_its_expected_sha256() {
    let Some(dir) = shared() else { return };
    let test = read(&dir.join("suricata-verify/tests/mime/mime-quoted-printable/test.yaml"));
    let value = |key: &str| {
        let at = test.find("related.patch").unwrap();
        let line = test[at..]
            .lines()
            .find(|l| l.trim_start().starts_with(key))
            .unwrap();
        line.split(':').nth(1).unwrap().trim().to_string()
    };
    let all =
        shared_messages("suricata-verify/tests/mime/mime-quoted-printable/input.pcap").unwrap();
    let patch = all[0]
        .1
        .parts
        .iter()
        .find(|p| p.filename.as_deref() == Some("related.patch"))
        .expect("related.patch");
    assert_eq!(patch.size.unwrap().to_string(), value("fileinfo.size"));
    assert_eq!(patch.sha256.as_deref().unwrap(), value("fileinfo.sha256"));
    assert_eq!(patch.transfer_encoding.as_deref(), Some("quoted-printable"));
}

/// Suricata's expected file name, joined from RFC 2231 `filename*0=`/`filename*1=` continuations.
#[test]
fn suricata_rfc2231_continued_filename() {
    let Some(dir) = shared() else { return };
    let test = read(&dir.join("suricata-verify/tests/smtp-rfc2231/test.yaml"));
    let expected = test
        .lines()
        .find_map(|l| l.trim().strip_prefix("fileinfo.filename:"))
        .unwrap()
        .trim();
    let all = messages(&dir.join("suricata-verify/tests/smtp-rfc2231/input.pcap"));
    let names: Vec<_> = all[0]
        .1
        .attachments()
        .filter_map(|p| p.filename.clone())
        .collect();
    assert_eq!(names, [expected]);
}

/// Arkime's session JSON holds the decoded subject of mixed `=?utf-8?B?` and `=?utf-8?Q?` words.
#[test]
fn arkime_mixed_encoded_word_subject() {
    let Some(dir) = shared() else { return };
    let test = read(&dir.join("arkime/tests/pcap/smtp-subject-utf8-mixed.test"));
    let after = &test[test.find("\"subject\" : [").unwrap()..];
    let line = after.lines().nth(1).unwrap().trim();
    let expected: String = serde_json::from_str(line).unwrap();
    let all = messages(&dir.join("arkime/tests/pcap/smtp-subject-utf8-mixed.pcap"));
    assert_eq!(all[0].1.subject.as_ref().unwrap().value, expected);
}

/// The GB2312 `=?GB2312?B?u9i4tDogu9i4tDogsuLK1DHPwg==?=` subject of the message RETR 5 fetches.
#[test]
fn suricata_pop3_gb2312_subject_and_text() {
    let Some(all) = shared_messages("suricata-verify/tests/pop3-02-bug-7709/input.pcap") else {
        return;
    };
    let [(carried, m)] = &all[..] else {
        panic!("{} messages", all.len())
    };
    assert!(matches!(
        carried.source,
        MessageSource::Pop3Retr { number: 5 }
    ));
    assert_eq!(m.subject.as_ref().unwrap().value, "回复: 回复: 测试1下");
    let text = part(m, "1");
    assert_eq!(text.charset.as_deref(), Some("GB2312"));
    assert!(
        text.text
            .iter()
            .any(|l| l.contains("主题： 回复: 回复: 测试1下")),
        "{:?}",
        text.text
    );
}

/// Thunderbird's JPEG attachment: a whole JPEG (SOI to EOI) under its name.
#[test]
fn chrissanders_jpeg_attachment_is_a_whole_jpeg() {
    let Some(all) = shared_messages("chrissanders-packets/mail_sender_attachment.pcapng") else {
        return;
    };
    let jpeg = all[0].1.attachments().next().expect("an attachment");
    assert_eq!(jpeg.filename.as_deref(), Some("newguy.jpg"));
    assert_eq!(jpeg.content_type, "image/jpeg");
    let body = jpeg.body.as_deref().unwrap();
    assert!(body.starts_with(&[0xff, 0xd8, 0xff]) && body.ends_with(&[0xff, 0xd9]));
    assert_eq!(jpeg.size, Some(body.len() as u64));
}

/// Undeclared legacy text: read in the charset chardetng guesses (GBK,
/// named, with a note), and in the default charset when one is set.
#[test]
fn undeclared_gbk_is_guessed_and_a_default_charset_still_wins() {
    let path = fixture("mime-undeclared-charset");
    let plain = messages(&path);
    let (_, m) = &plain[0];
    assert_eq!(m.subject.as_ref().unwrap().value, "季度报表");
    assert_eq!(m.charset_guess.as_deref(), Some("GBK"));
    assert_eq!(m.parts[0].text, ["附件是第三季度报表，请查收。"]);
    assert_eq!(m.parts[0].charset_guess.as_deref(), Some("GBK"));
    let noted: Vec<_> = m
        .anomalies
        .iter()
        .filter(|a| a.expert == mailscope::Expert::MimeCharsetGuess)
        .map(|a| a.message.as_str())
        .collect();
    assert_eq!(
        noted,
        [
            "Subject header: raw 8-bit text in no declared charset, read as GBK (guessed; set a default charset to choose another)",
            "part 0: no charset declared and the text is not UTF-8: read as GBK (guessed; set a default charset to choose another)"
        ]
    );
    let decoded = first_message_with_default_charset(&path, "gb18030");
    assert_eq!(decoded.subject.as_ref().unwrap().value, "季度报表");
    assert_eq!(decoded.parts[0].text, ["附件是第三季度报表，请查收。"]);
    // Nothing guessed: the default charset was used.
    assert_eq!(decoded.charset_guess, None);
    assert_eq!(decoded.parts[0].charset_guess, None);
    assert!(decoded.anomalies.is_empty(), "{:?}", decoded.anomalies);
}
