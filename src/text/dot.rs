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

/// Appends as much of `bytes` as keeps `target` within `cap`; true if some did not fit.
pub(crate) fn extend_capped(target: &mut Vec<u8>, bytes: &[u8], cap: usize) -> bool {
    let room = cap.saturating_sub(target.len());
    target.extend_from_slice(&bytes[..bytes.len().min(room)]);
    bytes.len() > room
}

/// Removes dot-stuffing from `raw`, appending the content to `out` as long
/// as `out` stays within `cap` bytes (no copy in between: a message at the
/// cap is held once). Returns how many lines were unstuffed (all of them,
/// kept or not) and whether some content did not fit.
pub(crate) fn unstuff_into(raw: &[u8], out: &mut Vec<u8>, cap: usize) -> (u64, bool) {
    let mut count = 0;
    let mut cut = false;
    let mut rest = raw;
    loop {
        if rest.len() > 1 && rest[0] == b'.' {
            rest = &rest[1..];
            count += 1;
        }
        match memchr::memchr(b'\n', rest) {
            Some(i) => {
                cut |= extend_capped(out, &rest[..=i], cap);
                rest = &rest[i + 1..];
            }
            None => {
                cut |= extend_capped(out, rest, cap);
                return (count, cut);
            }
        }
    }
}
