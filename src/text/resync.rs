//! Finding the protocol again after bytes the capture lost: whether the
//! bytes that follow a gap start a line (a command verb, a reply code, a
//! status indicator), and where the next status line is in a block that
//! lost its end.

/// Whether `data` starts with one of `verbs` (any case) followed by a space
/// or a line end; `None` while too few bytes are there to tell.
pub(crate) fn starts_command(data: &[u8], verbs: &[&str]) -> Option<bool> {
    let longest = verbs.iter().map(|v| v.len()).max().unwrap_or(0);
    let Some(end) = data
        .iter()
        .take(longest + 1)
        .position(|b| matches!(b, b' ' | b'\r' | b'\n'))
    else {
        // No delimiter yet: wait while the bytes could still become a verb.
        let could = data.len() <= longest
            && verbs.iter().any(|v| {
                v.len() >= data.len() && v.as_bytes()[..data.len()].eq_ignore_ascii_case(data)
            });
        return if could { None } else { Some(false) };
    };
    let word = &data[..end];
    Some(
        verbs
            .iter()
            .any(|v| v.as_bytes().eq_ignore_ascii_case(word)),
    )
}

/// Whether `data` starts an SMTP reply line: three digits, then a space,
/// a hyphen or a line end.
pub(crate) fn starts_reply(data: &[u8]) -> Option<bool> {
    for (i, b) in data.iter().take(4).enumerate() {
        let fits = if i < 3 {
            b.is_ascii_digit()
        } else {
            matches!(b, b' ' | b'-' | b'\r' | b'\n')
        };
        if !fits {
            return Some(false);
        }
    }
    (data.len() >= 4).then_some(true)
}

/// Whether `data` starts with one of `prefixes`; `None` while it could still.
pub(crate) fn starts_with_any(data: &[u8], prefixes: &[&[u8]]) -> Option<bool> {
    if prefixes.iter().any(|p| data.starts_with(p)) {
        return Some(true);
    }
    let could = prefixes
        .iter()
        .any(|p| data.len() < p.len() && p.starts_with(data));
    if could {
        None
    } else {
        Some(false)
    }
}

/// Position of the first line at or after `from` that starts with one of
/// `prefixes`; `from` itself counts as a line start (a gap ended there).
pub(crate) fn next_line_starting(data: &[u8], from: usize, prefixes: &[&[u8]]) -> Option<usize> {
    let mut at = from.min(data.len());
    loop {
        if prefixes.iter().any(|p| data[at..].starts_with(p)) {
            return Some(at);
        }
        at += memchr::memchr(b'\n', &data[at..])? + 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_starts_are_told_from_line_middles() {
        let verbs = &["MAIL", "QUIT", "RCPT"];
        assert_eq!(starts_command(b"RCPT TO:<a@b>\r\n", verbs), Some(true));
        assert_eq!(starts_command(b"quit\r\n", verbs), Some(true));
        assert_eq!(starts_command(b"QU", verbs), None);
        assert_eq!(starts_command(b"o:<a@b>\r\n", verbs), Some(false));
        assert_eq!(starts_command(b"QUITTING", verbs), Some(false));
        assert_eq!(starts_reply(b"250 ok"), Some(true));
        assert_eq!(starts_reply(b"25"), None);
        assert_eq!(starts_reply(b"ok\r\n250 x"), Some(false));
        assert_eq!(starts_with_any(b"+O", &[b"+OK", b"-ERR"]), None);
        assert_eq!(starts_with_any(b"-ERR x", &[b"+OK", b"-ERR"]), Some(true));
        assert_eq!(starts_with_any(b"Subject", &[b"+OK", b"-ERR"]), Some(false));
        let data = b"tail of a line\r\nmore\r\n+OK 12 octets\r\n";
        assert_eq!(next_line_starting(data, 0, &[b"+OK"]), Some(22));
        assert_eq!(next_line_starting(data, 22, &[b"+OK"]), Some(22));
        assert_eq!(next_line_starting(b"x+OK\r\n", 0, &[b"+OK"]), None);
    }
}
