//! Traffic that is not mail is never claimed as mail: other protocols'
//! public captures (Zeek's FTP, Redis, IRC, LDAP and MySQL traces) and the
//! project's own look-alike fixture (FTP, Redis, IRC, finger, HTTP, MQTT
//! and PostgreSQL, on their ports and on ports no rule names).

mod common;

use std::path::PathBuf;

use common::not_mail::NOT_MAIL;
use common::{analyze, fixture, shared};
use mailscope_harness::analyze::End;

fn not_mail_captures() -> Vec<PathBuf> {
    let mut out = vec![fixture("not-mail-lookalikes"), fixture("not-mail-released")];
    if let Some(dir) = shared() {
        out.extend(NOT_MAIL.iter().map(|p| dir.join(p)));
    }
    out
}

#[test]
fn no_connection_of_another_protocol_is_claimed() {
    for path in not_mail_captures() {
        let report = analyze(&path);
        assert!(
            report.error.is_none(),
            "{}: {:?}",
            path.display(),
            report.error
        );
        assert!(report.frames_read > 0, "{}: read nothing", path.display());
        let claimed: Vec<String> = report
            .connections
            .iter()
            .filter(|c| c.end != Some(End::Released))
            .map(|c| format!("{} {:?} -> {:?}", c.protocol.name(), c.client, c.server))
            .collect();
        assert!(
            claimed.is_empty(),
            "{}: claimed {claimed:?}",
            path.display()
        );
    }
}

/// The same dialogues with the server's port named as mail by the user are
/// claimed: the port rule still wins over content.
#[test]
fn a_port_named_by_the_user_is_still_mail() {
    let options = mailscope_harness::Options {
        pop3_ports: vec![16379],
        ..Default::default()
    };
    let report = mailscope_harness::analyze_file(&fixture("not-mail-lookalikes"), options, |_| {});
    assert_eq!(report.connections.len(), 1);
    assert_eq!(report.connections[0].server.1, 16379);
}

/// An FTP server whose greeting names ESMTP, probed with EHLO, is claimed at
/// the EHLO and released at the PASV: no frame, summary or record of it.
#[test]
fn a_connection_shown_to_be_ftp_is_released() {
    let report = analyze(&fixture("not-mail-released"));
    assert_eq!(report.connections.len(), 1);
    assert_eq!(report.connections[0].end, Some(End::Released));
    assert!(report.frames.is_empty());
    assert!(report.at_end.is_empty());
    let summary = mailscope_harness::render::summary(&report);
    assert_eq!(summary, "no SMTP or POP3 connection in this capture\n");
}
