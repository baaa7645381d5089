//! The Info column text of a line, as Wireshark's mail dissectors write it.

use crate::item::Direction;

/// Info column text for a line: at most 120 characters of it, runs of
/// blanks written as one space, control characters escaped. Only as much of
/// the line is read as is shown.
pub(crate) fn info_line(direction: Direction, line: &str) -> String {
    const SHOWN: usize = 120;
    let prefix = direction.info_prefix();
    let mut out = String::with_capacity(prefix.len() + 2 + SHOWN + 8);
    out.push_str(prefix);
    out.push_str(": ");
    let start = out.len();
    let mut count = 0;
    let mut blank = false;
    let mut cut = false;
    for ch in line.chars() {
        let is_blank = ch == ' ' || ch == '\t';
        if is_blank && blank {
            continue;
        }
        blank = is_blank;
        let before = out.len();
        crate::item::push_escaped(&mut out, if is_blank { ' ' } else { ch });
        count += out[before..].chars().count();
        if count > SHOWN {
            cut = true;
            break;
        }
    }
    if cut {
        let end = out[start..]
            .char_indices()
            .nth(SHOWN)
            .map_or(out.len(), |(i, _)| start + i);
        out.truncate(end);
        out.push_str("...");
    }
    out
}

/// The Info text of a SASL message: what it decoded to when that is short
/// printable text (a LOGIN prompt), else what it is, never the base64.
pub(crate) fn sasl_info(decoded: Option<&str>, what: &str) -> String {
    match decoded {
        Some(text)
            if !text.is_empty()
                && text.len() <= 60
                && text.chars().all(|c| c.is_ascii_graphic() || c == ' ') =>
        {
            text.to_string()
        }
        _ => format!("({what})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blanks_collapse_and_long_lines_are_cut() {
        assert_eq!(
            info_line(Direction::ToServer, "MAIL  FROM:\t<a@b>"),
            "C: MAIL FROM: <a@b>"
        );
        assert!(info_line(Direction::ToClient, &"x".repeat(200)).ends_with("..."));
        assert_eq!(sasl_info(Some("Username:"), "LOGIN challenge"), "Username:");
        assert_eq!(
            sasl_info(Some("\u{1}\u{2}"), "NTLM challenge"),
            "(NTLM challenge)"
        );
    }

    /// What the Info text is defined as: the whole line single-spaced and
    /// escaped, then cut; `info_line` reads only what it shows.
    fn reference(direction: Direction, line: &str) -> String {
        let mut spaced = String::new();
        let mut blank = false;
        for ch in line.chars() {
            if ch == ' ' || ch == '\t' {
                if !blank {
                    spaced.push(' ');
                }
                blank = true;
            } else {
                spaced.push(ch);
                blank = false;
            }
        }
        let line = crate::item::escape_controls(&spaced);
        let mut text: String = line.chars().take(120).collect();
        if line.chars().count() > 120 {
            text.push_str("...");
        }
        format!("{}: {}", direction.info_prefix(), text)
    }

    #[test]
    fn reading_only_what_is_shown_gives_the_same_text() {
        let pieces = [
            "a", " ", "\t", "\u{1}", "\0", "é", "漢", "\u{7f}", "xyz", "  ",
        ];
        let mut state = 7u64;
        for _ in 0..5000 {
            let mut line = String::new();
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let len = (state >> 33) % 200;
            for _ in 0..len {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                line.push_str(pieces[((state >> 33) % pieces.len() as u64) as usize]);
            }
            assert_eq!(
                info_line(Direction::ToServer, &line),
                reference(Direction::ToServer, &line),
                "{line:?}"
            );
        }
    }
}
