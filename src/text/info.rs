//! The Info column text of a line, as Wireshark's mail dissectors write it.

use crate::item::Direction;

/// Info column text for a line: at most 120 characters of it.
pub(crate) fn info_line(direction: Direction, line: &str) -> String {
    let line = crate::item::escape_controls(line);
    let mut text: String = line.chars().take(120).collect();
    if line.chars().count() > 120 {
        text.push_str("...");
    }
    format!("{}: {}", direction.info_prefix(), text)
}
