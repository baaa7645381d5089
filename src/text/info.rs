//! The Info column text of a line, as Wireshark's mail dissectors write it.

use crate::item::Direction;

/// Info column text for a line: at most 120 characters of it, runs of
/// blanks written as one space.
pub(crate) fn info_line(direction: Direction, line: &str) -> String {
    let line = crate::item::escape_controls(&single_spaced(line));
    let mut text: String = line.chars().take(120).collect();
    if line.chars().count() > 120 {
        text.push_str("...");
    }
    format!("{}: {}", direction.info_prefix(), text)
}

/// `text` with each run of spaces and tabs written as one space.
fn single_spaced(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blank = false;
    for ch in text.chars() {
        if ch == ' ' || ch == '\t' {
            if !blank {
                out.push(' ');
            }
            blank = true;
        } else {
            out.push(ch);
            blank = false;
        }
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
}
