//! Dot-terminated blocks (RFC 5321 4.5.2, RFC 1939 3): where one ends, and
//! the content with its dot-stuffing removed.

/// Position just past CRLF "." CRLF (or LF "." LF) in `data`.
pub(crate) fn find_end_of_data(data: &[u8]) -> Option<usize> {
    let mut from = 0;
    while let Some(i) = memchr::memchr(b'\n', &data[from..]) {
        let at = from + i + 1;
        let rest = &data[at..];
        if rest.starts_with(b".\r\n") {
            return Some(at + 3);
        }
        if rest.starts_with(b".\n") {
            return Some(at + 2);
        }
        from = at;
    }
    None
}

/// Removes RFC 5321 4.5.2 dot-stuffing; returns the content and how many lines were unstuffed.
pub(crate) fn unstuff(raw: &[u8]) -> (Vec<u8>, u64) {
    let mut out = Vec::with_capacity(raw.len());
    let mut count = 0;
    let mut rest = raw;
    loop {
        if rest.len() > 1 && rest[0] == b'.' {
            rest = &rest[1..];
            count += 1;
        }
        match memchr::memchr(b'\n', rest) {
            Some(i) => {
                out.extend_from_slice(&rest[..=i]);
                rest = &rest[i + 1..];
            }
            None => {
                out.extend_from_slice(rest);
                return (out, count);
            }
        }
    }
}
