//! Which mail protocol a connection speaks, from ports or from content.
//!
//! The rules look at one payload at a time so the Wireshark heuristic
//! dissector and the harness, which call them packet by packet, reach the
//! same verdict on the same packet.

use crate::item::Direction;

#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Protocol {
    Smtp,
}

impl Protocol {
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Smtp => "SMTP",
        }
    }
}

/// Ports on which SMTP is dissected without looking at content.
pub const SMTP_PORTS: &[u16] = &[25, 587, 2525];

/// The protocol served on `port` by default, if any.
pub fn by_port(port: u16) -> Option<Protocol> {
    SMTP_PORTS.contains(&port).then_some(Protocol::Smtp)
}

fn first_line(payload: &[u8]) -> Option<&[u8]> {
    let end = payload.iter().position(|b| *b == b'\n')?;
    Some(&payload[..end])
}

/// Recognises SMTP from the first payload seen in either direction: a `220`
/// greeting (not an FTP one) from the server, or `EHLO`/`HELO` from the client.
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
    if (upper.starts_with(b"EHLO ") || upper.starts_with(b"HELO "))
        && upper.iter().all(|b| *b >= 0x20 || *b == b'\r')
    {
        return Some((Protocol::Smtp, Direction::ToServer));
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
    fn ftp_and_partial_lines_are_not() {
        assert_eq!(by_content(b"220 ProFTPD Server ready\r\n"), None);
        assert_eq!(by_content(b"220 mx.example ESMTP"), None);
        assert_eq!(by_content(b"GET / HTTP/1.1\r\n"), None);
    }
}
