//! Which mail protocol a connection speaks, from ports or from content.
//!
//! Ports decide at once; content decides through a [`Detector`] that holds
//! a connection's first payloads until they prove a mail protocol. The
//! Wireshark plugin and the harness run the same detector on the same
//! payloads, so both find the same connections at the same frame.

mod detector;
mod lines;

pub use detector::{Detector, Held, Replay, Verdict, DETECTION_PAYLOADS, MAX_HELD_BYTES};
pub use lines::contradiction;

use crate::item::Direction;

#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Protocol {
    Smtp,
    Pop3,
}

impl Protocol {
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Smtp => "SMTP",
            Protocol::Pop3 => "POP3",
        }
    }
}

/// Ports on which SMTP is dissected without looking at content.
pub const SMTP_PORTS: &[u16] = &[25, 587, 2525];

/// Ports on which POP3 is dissected without looking at content.
pub const POP3_PORTS: &[u16] = &[110];

/// Ports that carry SMTP or POP3 inside TLS from the first byte.
pub const IMPLICIT_TLS_PORTS: &[(u16, Protocol)] = &[(465, Protocol::Smtp), (995, Protocol::Pop3)];

/// The protocol served on `port` by default, if any.
pub fn by_port(port: u16) -> Option<Protocol> {
    if SMTP_PORTS.contains(&port) {
        Some(Protocol::Smtp)
    } else if POP3_PORTS.contains(&port) {
        Some(Protocol::Pop3)
    } else {
        None
    }
}

/// Ports of other well-known protocols, some of which greet with `220`, log
/// in with `USER`/`PASS` or answer `+OK` as mail does (FTP, Redis, IRC):
/// never claimed as mail by content. A port the user names as mail still is.
/// Proxy ports (SOCKS 1080, HTTP CONNECT 3128 and 8080) are not here: mail
/// tunnelled through them is found where its dialogue starts.
pub const OTHER_PROTOCOL_PORTS: &[u16] = &[
    20, 21, 22, 23, 53, 69, 79, 80, 88, 119, 139, 194, 389, 443, 445, 513, 514, 531, 563, 636, 873,
    989, 990, 992, 1433, 1521, 1883, 2049, 3306, 3389, 5060, 5222, 5269, 5432, 5900, 6379, 6660,
    6661, 6662, 6663, 6664, 6665, 6666, 6667, 6668, 6669, 6697, 7000, 8883, 9092, 11211, 27017,
];

/// Whether a connection on `port` may be found to be mail by its content.
pub fn claimable_by_content(port: u16) -> bool {
    !OTHER_PROTOCOL_PORTS.contains(&port)
}

/// A first guess from one payload, for a port the user has named as mail
/// without saying which protocol: a `+OK` greeting or a client's `USER`,
/// `APOP`, `CAPA` or `STLS` is POP3, a `220` greeting, `EHLO`/`HELO` or
/// `MAIL FROM:` is SMTP. Too weak to claim a connection on its own (FTP and
/// Redis say as much): content detection is the [`Detector`]'s.
pub fn by_first_line(payload: &[u8]) -> Option<(Protocol, Direction)> {
    use lines::{ClientLine, ServerLine};
    let end = memchr::memchr(b'\n', payload)?;
    let line = &payload[..=end];
    if line.len() > 1000 {
        return None;
    }
    match lines::server_line(line) {
        ServerLine::Smtp220 { .. } => return Some((Protocol::Smtp, Direction::ToClient)),
        ServerLine::Pop3Status { ok: true } => return Some((Protocol::Pop3, Direction::ToClient)),
        _ => {}
    }
    match lines::client_line(line) {
        ClientLine::Ehlo | ClientLine::MailFrom => Some((Protocol::Smtp, Direction::ToServer)),
        ClientLine::Pop3Opening => Some((Protocol::Pop3, Direction::ToServer)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smtp_greeting_and_helo_are_recognised() {
        assert_eq!(
            by_first_line(b"220 mx.example ESMTP Postfix\r\n"),
            Some((Protocol::Smtp, Direction::ToClient))
        );
        assert_eq!(
            by_first_line(b"ehlo client\r\n"),
            Some((Protocol::Smtp, Direction::ToServer))
        );
    }

    #[test]
    fn pop3_greeting_and_opening_commands_are_recognised() {
        assert_eq!(
            by_first_line(b"+OK Dovecot ready.\r\n"),
            Some((Protocol::Pop3, Direction::ToClient))
        );
        assert_eq!(
            by_first_line(b"CAPA\r\n"),
            Some((Protocol::Pop3, Direction::ToServer))
        );
        assert_eq!(
            by_first_line(b"user alice\r\n"),
            Some((Protocol::Pop3, Direction::ToServer))
        );
        assert_eq!(by_first_line(b"CAPABILITY\r\n"), None);
        assert_eq!(by_port(110), Some(Protocol::Pop3));
    }

    #[test]
    fn partial_lines_are_not() {
        assert_eq!(by_first_line(b"220 mx.example ESMTP"), None);
        assert_eq!(by_first_line(b"GET / HTTP/1.1\r\n"), None);
    }
}
