//! What one line of an undecided connection could be: the pure rules that
//! content detection reads.
//!
//! A line is classed on its own; whether the classes seen so far prove a
//! mail protocol is the [`Detector`](super::Detector)'s business.

/// A line sent by the side that would be the client.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ClientLine {
    /// `EHLO domain` or `HELO domain`: SMTP and nothing else.
    Ehlo,
    /// `MAIL FROM:<...>`: opens an SMTP transaction.
    MailFrom,
    /// Another SMTP command that only follows an ESMTP greeting: `RCPT TO:`,
    /// `STARTTLS`, `AUTH mech`.
    SmtpCommand,
    /// A POP3 command that can open a session (`USER`, `APOP`, `CAPA`, `STLS`).
    Pop3Opening,
    /// Any other POP3 command (`PASS`, `STAT`, `LIST`, `RETR`, `QUIT`, ...).
    Pop3Command,
    Other,
}

/// A line sent by the side that would be the server.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ServerLine {
    /// `220 ...` or `220-...`; `esmtp` when its text names ESMTP.
    Smtp220 {
        esmtp: bool,
    },
    /// `250 ...` or `250-...`.
    Smtp250,
    /// `+OK`, `-ERR`, or `+ ` (a POP3 AUTH continuation).
    Pop3Status {
        ok: bool,
    },
    Other,
}

/// A line without its CR LF, upper-cased for the comparisons below.
fn upper(line: &[u8]) -> Vec<u8> {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    line.to_ascii_uppercase()
}

/// Whether `line` is `word` alone or `word` and a space.
fn is_command(line: &[u8], word: &[u8]) -> bool {
    line.strip_prefix(word)
        .is_some_and(|rest| rest.is_empty() || rest[0] == b' ')
}

/// Whether the line holds anything but printable text (binary protocols,
/// TLS records).
fn binary(line: &[u8]) -> bool {
    line.iter().any(|b| *b < 0x20 && *b != b'\t')
}

/// What a line from the would-be client says.
pub fn client_line(line: &[u8]) -> ClientLine {
    let line = upper(line);
    if binary(&line) {
        return ClientLine::Other;
    }
    let with_argument = |word: &[u8]| {
        line.strip_prefix(word)
            .is_some_and(|rest| rest.len() > 1 && rest[0] == b' ')
    };
    if with_argument(b"EHLO") || with_argument(b"HELO") {
        return ClientLine::Ehlo;
    }
    if line.starts_with(b"MAIL FROM:") {
        return ClientLine::MailFrom;
    }
    if line.starts_with(b"RCPT TO:") || line == b"STARTTLS" || with_argument(b"AUTH") {
        return ClientLine::SmtpCommand;
    }
    if with_argument(b"USER") || with_argument(b"APOP") || line == b"CAPA" || line == b"STLS" {
        return ClientLine::Pop3Opening;
    }
    const POP3: &[&[u8]] = &[
        b"PASS", b"AUTH", b"STAT", b"LIST", b"UIDL", b"RETR", b"TOP", b"DELE", b"NOOP", b"RSET",
        b"QUIT",
    ];
    if POP3.iter().any(|word| is_command(&line, word)) {
        return ClientLine::Pop3Command;
    }
    ClientLine::Other
}

/// What a line from the would-be server says.
pub fn server_line(line: &[u8]) -> ServerLine {
    let line = upper(line);
    if binary(&line) {
        return ServerLine::Other;
    }
    let code = |c: &[u8]| {
        line.strip_prefix(c)
            .is_some_and(|rest| rest.is_empty() || matches!(rest[0], b' ' | b'-'))
    };
    if code(b"220") {
        let text = &line[3..];
        let has = |word: &[u8]| text.windows(word.len()).any(|w| w == word);
        return ServerLine::Smtp220 {
            esmtp: has(b"ESMTP") || (has(b"SMTP") && !has(b"FTP")),
        };
    }
    if code(b"250") {
        return ServerLine::Smtp250;
    }
    if line == b"+OK" || line.starts_with(b"+OK ") || line.starts_with(b"+ ") || line == b"+" {
        return ServerLine::Pop3Status { ok: true };
    }
    if line == b"-ERR" || line.starts_with(b"-ERR ") {
        return ServerLine::Pop3Status { ok: false };
    }
    ServerLine::Other
}

/// FTP's commands that no mail protocol has; `RETR` with a file name is
/// FTP's too (POP3's takes a message number).
const FTP_COMMANDS: &[&[u8]] = &[
    b"PASV", b"EPSV", b"PORT", b"EPRT", b"TYPE", b"CWD", b"CDUP", b"PWD", b"SYST", b"MKD", b"STOR",
    b"MDTM", b"SIZE", b"FEAT",
];

/// FTP's replies that no mail protocol sends: data connections (125, 150,
/// 226, 227, 229), login steps (230, 331, 332), system type and directory (215, 257).
const FTP_REPLIES: &[&[u8]] = &[
    b"125", b"150", b"215", b"226", b"227", b"229", b"230", b"257", b"331", b"332",
];

/// Whether a line of a connection found to be mail by its content is one
/// only another protocol sends (FTP's `PASV`, `227`, a `RETR` of a file
/// answered `150`): what it is, if so.
pub fn contradiction(to_server: bool, line: &[u8]) -> Option<String> {
    let line = upper(line);
    if to_server {
        if let Some(word) = FTP_COMMANDS.iter().find(|w| is_command(&line, w)) {
            return Some(format!("FTP command {}", String::from_utf8_lossy(word)));
        }
        let file = line
            .strip_prefix(b"RETR ")
            .is_some_and(|arg| !arg.is_empty() && !arg.iter().all(u8::is_ascii_digit));
        return file.then(|| "FTP command RETR of a file".to_string());
    }
    let code = FTP_REPLIES.iter().find(|code| {
        line.strip_prefix(**code)
            .is_some_and(|rest| rest.is_empty() || matches!(rest[0], b' ' | b'-'))
    })?;
    Some(format!("FTP reply {}", String::from_utf8_lossy(code)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_lines() {
        assert_eq!(client_line(b"ehlo client.example\r\n"), ClientLine::Ehlo);
        assert_eq!(client_line(b"HELO x\r\n"), ClientLine::Ehlo);
        assert_eq!(client_line(b"EHLO\r\n"), ClientLine::Other);
        assert_eq!(client_line(b"MAIL FROM:<a@b>\r\n"), ClientLine::MailFrom);
        assert_eq!(client_line(b"AUTH PLAIN\r\n"), ClientLine::SmtpCommand);
        assert_eq!(client_line(b"user alice\r\n"), ClientLine::Pop3Opening);
        assert_eq!(client_line(b"CAPA\r\n"), ClientLine::Pop3Opening);
        assert_eq!(client_line(b"QUIT\r\n"), ClientLine::Pop3Command);
        assert_eq!(client_line(b"CAPABILITY\r\n"), ClientLine::Other);
        assert_eq!(client_line(b"PASV\r\n"), ClientLine::Other);
        assert_eq!(client_line(b"*2\r\n"), ClientLine::Other);
    }

    #[test]
    fn ftp_contradicts_mail() {
        assert_eq!(
            contradiction(true, b"PASV\r\n").as_deref(),
            Some("FTP command PASV")
        );
        assert_eq!(
            contradiction(true, b"RETR robots.txt\r\n").as_deref(),
            Some("FTP command RETR of a file")
        );
        assert_eq!(contradiction(true, b"RETR 1\r\n"), None);
        assert_eq!(contradiction(true, b"MAIL FROM:<a@b> SIZE=12\r\n"), None);
        assert_eq!(
            contradiction(false, b"227 Entering Passive Mode (1,2,3,4,5,6)\r\n").as_deref(),
            Some("FTP reply 227")
        );
        assert_eq!(contradiction(false, b"250 2.0.0 Ok\r\n"), None);
        assert_eq!(contradiction(false, b"+OK 150 octets\r\n"), None);
    }

    #[test]
    fn server_lines() {
        assert_eq!(
            server_line(b"220 mx.example ESMTP Postfix\r\n"),
            ServerLine::Smtp220 { esmtp: true }
        );
        assert_eq!(
            server_line(b"220 ProFTPD Server ready\r\n"),
            ServerLine::Smtp220 { esmtp: false }
        );
        assert_eq!(
            server_line(b"220 FTP and SMTP gateway\r\n"),
            ServerLine::Smtp220 { esmtp: false }
        );
        assert_eq!(server_line(b"250-PIPELINING\r\n"), ServerLine::Smtp250);
        assert_eq!(
            server_line(b"+OK Dovecot ready.\r\n"),
            ServerLine::Pop3Status { ok: true }
        );
        assert_eq!(
            server_line(b"-ERR no\r\n"),
            ServerLine::Pop3Status { ok: false }
        );
        assert_eq!(server_line(b"331 Password required\r\n"), ServerLine::Other);
        assert_eq!(server_line(b"+OKAY\r\n"), ServerLine::Other);
    }
}
