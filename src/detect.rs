//! Which mail protocol a connection speaks, from ports or from content.
//!
//! The rules look at one payload at a time so the Wireshark heuristic
//! dissector and the harness, which call them packet by packet, reach the
//! same verdict on the same packet.

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

/// Payload packets of a connection looked at before it is given up as not mail.
pub const DETECTION_PACKETS: u32 = 8;

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

fn first_line(payload: &[u8]) -> Option<&[u8]> {
    let end = payload.iter().position(|b| *b == b'\n')?;
    Some(&payload[..end])
}

/// Recognises the protocol from one payload in either direction: for SMTP a
/// `220` greeting (not an FTP one) or a client's `EHLO`/`HELO`; for POP3 a
/// `+OK` greeting or a client's `USER`, `APOP`, `CAPA` or `STLS`.
pub fn by_content(payload: &[u8]) -> Option<(Protocol, Direction)> {
    let line = first_line(payload)?;
    if line.len() > 1000 {
        return None;
    }
    let upper = line.to_ascii_uppercase();
    if upper.len() >= 4 && &upper[..3] == b"220" && matches!(upper[3], b' ' | b'-') {
        let text = String::from_utf8_lossy(&upper);
        if text.contains("FTP") && !text.contains("SMTP") {
            return None;
        }
        return Some((Protocol::Smtp, Direction::ToClient));
    }
    let line = upper.strip_suffix(b"\r").unwrap_or(&upper);
    if line.iter().any(|b| *b < 0x20 && *b != b'\r') {
        return None;
    }
    if line.starts_with(b"EHLO ") || line.starts_with(b"HELO ") {
        return Some((Protocol::Smtp, Direction::ToServer));
    }
    if line == b"+OK" || line.starts_with(b"+OK ") {
        return Some((Protocol::Pop3, Direction::ToClient));
    }
    let pop3_opening = line.starts_with(b"USER ")
        || line.starts_with(b"APOP ")
        || line == b"CAPA"
        || line == b"STLS";
    if pop3_opening {
        return Some((Protocol::Pop3, Direction::ToServer));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smtp_greeting_and_helo_are_recognised() {
        assert_eq!(
            by_content(b"220 mx.example ESMTP Postfix\r\n"),
            Some((Protocol::Smtp, Direction::ToClient))
        );
        assert_eq!(
            by_content(b"ehlo client\r\n"),
            Some((Protocol::Smtp, Direction::ToServer))
        );
    }

    #[test]
    fn pop3_greeting_and_opening_commands_are_recognised() {
        assert_eq!(
            by_content(b"+OK Dovecot ready.\r\n"),
            Some((Protocol::Pop3, Direction::ToClient))
        );
        assert_eq!(
            by_content(b"CAPA\r\n"),
            Some((Protocol::Pop3, Direction::ToServer))
        );
        assert_eq!(
            by_content(b"user alice\r\n"),
            Some((Protocol::Pop3, Direction::ToServer))
        );
        assert_eq!(by_content(b"CAPABILITY\r\n"), None);
        assert_eq!(by_port(110), Some(Protocol::Pop3));
    }

    #[test]
    fn ftp_and_partial_lines_are_not() {
        assert_eq!(by_content(b"220 ProFTPD Server ready\r\n"), None);
        assert_eq!(by_content(b"220 mx.example ESMTP"), None);
        assert_eq!(by_content(b"GET / HTTP/1.1\r\n"), None);
    }
}
