//! File names for exported messages and attachments: the decoded name made
//! safe for any file system, never a path, collisions numbered.

use std::collections::HashSet;

use super::MimeMessage;

/// Longest exported name, in bytes (file systems allow 255).
const MAX_NAME: usize = 200;

/// `name` as one safe path component: no separators, no control
/// characters, no leading dots, not empty, at most [`MAX_NAME`] bytes with
/// the extension kept.
pub fn safe_name(name: &str, fallback: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| match c {
            '/' | '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|' => '_',
            c if c.is_control() => '_',
            c => c,
        })
        .collect();
    let trimmed = cleaned
        .trim()
        .trim_start_matches('.')
        .trim_end_matches(['.', ' ']);
    let mut out = if trimmed.is_empty() {
        fallback.to_string()
    } else {
        trimmed.to_string()
    };
    if out.len() > MAX_NAME {
        let (stem, ext) = split_ext(&out);
        let ext = if ext.len() < 16 { ext } else { "" };
        let mut cut = MAX_NAME - ext.len();
        while !stem.is_char_boundary(cut.min(stem.len())) {
            cut -= 1;
        }
        out = format!("{}{ext}", &stem[..cut.min(stem.len())]);
    }
    out
}

/// (stem, ".ext") of a name; the extension is empty if there is none.
fn split_ext(name: &str) -> (&str, &str) {
    match name.rfind('.') {
        Some(dot) if dot > 0 => name.split_at(dot),
        _ => (name, ""),
    }
}

/// Hands out names unique within one export: `a.txt`, `a(1).txt`, `a(2).txt`.
#[derive(Debug, Default)]
pub struct UniqueNames {
    used: HashSet<String>,
}

impl UniqueNames {
    pub fn take(&mut self, name: &str) -> String {
        if self.used.insert(name.to_lowercase()) {
            return name.to_string();
        }
        let (stem, ext) = split_ext(name);
        (1..)
            .map(|n| format!("{stem}({n}){ext}"))
            .find(|candidate| self.used.insert(candidate.to_lowercase()))
            .unwrap_or_default()
    }
}

/// The file name a message is exported under: its subject, else `message`, as `.eml`.
pub fn message_file_name(message: &MimeMessage) -> String {
    let subject = message.subject.as_ref().map_or("", |s| s.value.as_str());
    let mut base = safe_name(subject, "message");
    let mut cut = base.len().min(MAX_NAME - 4);
    while !base.is_char_boundary(cut) {
        cut -= 1;
    }
    base.truncate(cut);
    format!("{base}.eml")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_stay_inside_the_directory() {
        assert_eq!(safe_name("../../etc/passwd", "x"), "_.._etc_passwd");
        assert_eq!(safe_name("..", "part"), "part");
        assert_eq!(safe_name("a\0b\r\n.txt", "x"), "a_b__.txt");
        assert_eq!(safe_name("C:\\boot.ini", "x"), "C__boot.ini");
        assert_eq!(safe_name("报告.pdf", "x"), "报告.pdf");
        let long = format!("{}.pdf", "é".repeat(300));
        let safe = safe_name(&long, "x");
        assert!(safe.len() <= MAX_NAME && safe.ends_with(".pdf"), "{safe}");
    }

    #[test]
    fn collisions_are_numbered() {
        let mut names = UniqueNames::default();
        assert_eq!(names.take("a.txt"), "a.txt");
        assert_eq!(names.take("A.TXT"), "A(1).TXT");
        assert_eq!(names.take("a.txt"), "a(2).txt");
        assert_eq!(names.take("noext"), "noext");
        assert_eq!(names.take("noext"), "noext(1)");
    }
}
