//! One SMTP command line -> a typed [`Command`]. Pure: no session state, no
//! items. Offsets are byte offsets into the line; problems that the line
//! alone shows (a MAIL without `FROM:`, a BDAT size that is not a number)
//! travel with the command as [`Problem`]s.

use crate::fields::Expert;
use crate::text::VerbLine;
pub use crate::text::{Problem, Spanned};

/// Commands of RFC 5321 and its extensions, and common vendor ones.
pub const KNOWN_VERBS: &[&str] = &[
    "HELO",
    "EHLO",
    "MAIL",
    "RCPT",
    "DATA",
    "BDAT",
    "RSET",
    "NOOP",
    "VRFY",
    "EXPN",
    "HELP",
    "QUIT",
    "AUTH",
    "STARTTLS",
    "TURN",
    "ETRN",
    "ATRN",
    "XCLIENT",
    "XFORWARD",
    "XEXCH50",
    "X-ANONYMOUSTLS",
    "X-EXPS",
    "X-LINK2STATE",
    "SIZE",
    "SEND",
    "SOML",
    "SAML",
    "VERB",
    "ONEX",
    "LHLO",
    "BURL",
];

/// What a command asks for, as far as the line says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// HELO, EHLO or LHLO and the name the client announced.
    Hello {
        domain: Spanned<String>,
    },
    /// MAIL FROM: the reverse-path (without angle brackets) and ESMTP parameters.
    Mail {
        path: Spanned<String>,
        params: Vec<Spanned<String>>,
    },
    /// RCPT TO: the forward-path and ESMTP parameters.
    Rcpt {
        path: Spanned<String>,
        params: Vec<Spanned<String>>,
    },
    Data,
    /// BDAT with a size that parsed and nothing after it but LAST.
    Bdat {
        size: Spanned<u64>,
        last: bool,
        /// The argument's span (size and LAST).
        args: Spanned<()>,
    },
    /// AUTH with its mechanism and, if given, the initial response as sent.
    Auth {
        mechanism: Spanned<String>,
        initial: Option<Spanned<String>>,
    },
    Rset,
    Quit,
    StartTls,
    /// Any other verb, or one whose arguments did not parse (see the problems).
    Other,
}

/// One command line, split and typed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommandLine {
    /// Length of the line without its line ending.
    pub len: usize,
    /// The verb, upper-cased.
    pub verb: String,
    pub verb_len: usize,
    /// Everything after the verb and one space, if there is anything.
    pub argument: Option<Spanned<String>>,
    pub command: Command,
    pub problems: Vec<Problem>,
}

impl CommandLine {
    /// Where the argument starts (the line's end when there is none).
    pub fn argument_offset(&self) -> usize {
        (self.verb_len + 1).min(self.len)
    }
}

/// Parses one command line (without its line ending).
pub fn parse(line: &[u8]) -> CommandLine {
    let split = VerbLine::split(line);
    let VerbLine {
        len,
        verb_len,
        argument_offset: arg_offset,
        ..
    } = split;
    let argument = split.argument();
    let (verb, argument_text) = (split.verb, split.argument_text);
    let mut problems = Vec::new();
    if !KNOWN_VERBS.contains(&verb.as_str()) {
        let printable = verb
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        problems.push(Problem {
            expert: Expert::UnknownCommand,
            offset: 0,
            len: verb_len,
            message: if printable && !verb.is_empty() {
                format!("unknown SMTP command \"{verb}\"")
            } else {
                "client sent a line that is not an SMTP command".to_string()
            },
        });
    }
    let args = Args {
        text: &argument_text,
        offset: arg_offset,
        line,
    };
    let command = match verb.as_str() {
        "HELO" | "EHLO" | "LHLO" => Command::Hello {
            domain: Spanned::new(arg_offset, len - arg_offset, argument_text.clone()),
        },
        "MAIL" => match args.path("FROM:", &mut problems) {
            Some((path, params)) => Command::Mail { path, params },
            None => Command::Other,
        },
        "RCPT" => match args.path("TO:", &mut problems) {
            Some((path, params)) => Command::Rcpt { path, params },
            None => Command::Other,
        },
        "DATA" => Command::Data,
        "BDAT" => args.bdat(&mut problems).unwrap_or(Command::Other),
        "AUTH" => args.auth(&mut problems).unwrap_or(Command::Other),
        "RSET" => Command::Rset,
        "QUIT" => Command::Quit,
        "STARTTLS" => Command::StartTls,
        _ => Command::Other,
    };
    CommandLine {
        len,
        verb,
        verb_len,
        argument,
        command,
        problems,
    }
}

/// `<a@b>` -> `a@b`; also accepts a bare path.
fn strip_angles(path: &str) -> &str {
    path.strip_prefix('<')
        .and_then(|p| p.strip_suffix('>'))
        .unwrap_or(path)
}

/// A command's argument text, at `offset` in `line`.
struct Args<'a> {
    text: &'a str,
    offset: usize,
    line: &'a [u8],
}

impl Args<'_> {
    fn violation(&self, problems: &mut Vec<Problem>, message: String) {
        problems.push(Problem {
            expert: Expert::Violation,
            offset: self.offset,
            len: self.line.len() - self.offset,
            message,
        });
    }

    /// `FROM:<path> PARAM=...` (or `TO:`): the path and each parameter.
    fn path(
        &self,
        keyword: &str,
        problems: &mut Vec<Problem>,
    ) -> Option<(Spanned<String>, Vec<Spanned<String>>)> {
        let Some(prefix) = self
            .text
            .get(..keyword.len())
            .filter(|p| p.eq_ignore_ascii_case(keyword))
        else {
            self.violation(
                problems,
                format!("argument does not start with \"{keyword}\""),
            );
            return None;
        };
        let after = &self.text[prefix.len()..];
        let spaces = after.len() - after.trim_start().len();
        let rest = after.trim_start();
        let path_len = if rest.starts_with('<') {
            rest.find('>').map(|i| i + 1).unwrap_or(rest.len())
        } else {
            rest.find(' ').unwrap_or(rest.len())
        };
        let path_offset = self.offset + prefix.len() + spaces;
        let path = Spanned::new(
            path_offset,
            path_len,
            strip_angles(&rest[..path_len]).to_string(),
        );
        let mut params = Vec::new();
        let mut cursor = path_offset + path_len;
        for param in rest[path_len..].split(' ').filter(|p| !p.is_empty()) {
            let at = self.line[cursor..]
                .windows(param.len())
                .position(|w| w == param.as_bytes())
                .map(|i| cursor + i)
                .unwrap_or(cursor);
            params.push(Spanned::new(at, param.len(), param.to_string()));
            cursor = at + param.len();
        }
        Some((path, params))
    }

    /// `size [LAST]`; arguments that do not parse announce no chunk (the
    /// server answers 501 and reads the next line as a command).
    fn bdat(&self, problems: &mut Vec<Problem>) -> Option<Command> {
        let mut words = self.text.split(' ').filter(|w| !w.is_empty());
        let size_text = words.next().unwrap_or("");
        let Ok(size) = size_text.parse::<u64>() else {
            let shown = if size_text.is_empty() {
                "missing".to_string()
            } else {
                format!("\"{size_text}\" is not a number")
            };
            self.violation(problems, format!("BDAT size {shown}"));
            return None;
        };
        let last = match words.next() {
            None => false,
            Some(word) if word.eq_ignore_ascii_case("LAST") => true,
            Some(word) => {
                self.violation(
                    problems,
                    format!("BDAT parameter \"{word}\" is not LAST; no chunk follows"),
                );
                return None;
            }
        };
        Some(Command::Bdat {
            size: Spanned::new(self.offset, size_text.len(), size),
            last,
            args: Spanned::new(self.offset, self.line.len() - self.offset, ()),
        })
    }

    /// `mechanism [initial-response]`.
    fn auth(&self, problems: &mut Vec<Problem>) -> Option<Command> {
        let (mechanism, initial) = match self.text.split_once(' ') {
            Some((m, i)) => (m, Some(i)),
            None => (self.text, None),
        };
        if mechanism.is_empty() {
            problems.push(Problem {
                expert: Expert::Violation,
                offset: 0,
                len: self.line.len(),
                message: "AUTH without a mechanism".to_string(),
            });
            return None;
        }
        let initial_offset = self.offset + mechanism.len() + 1;
        Some(Command::Auth {
            mechanism: Spanned::new(self.offset, mechanism.len(), mechanism.to_string()),
            initial: initial.map(|text| Spanned::new(initial_offset, text.len(), text.to_string())),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mail_from_with_parameters_keeps_their_offsets() {
        let line = parse(b"MAIL FROM:<a@x> SIZE=10 BODY=8BITMIME");
        let Command::Mail { path, params } = line.command else {
            panic!("{line:?}")
        };
        assert_eq!((path.offset, path.len, path.value.as_str()), (10, 5, "a@x"));
        assert_eq!(params[1].offset, 24);
        assert_eq!(params[1].value, "BODY=8BITMIME");
    }

    #[test]
    fn bdat_with_a_bad_parameter_is_no_chunk() {
        let line = parse(b"BDAT 5 X");
        assert_eq!(line.command, Command::Other);
        assert_eq!(
            line.problems[0].message,
            "BDAT parameter \"X\" is not LAST; no chunk follows"
        );
        let line = parse(b"bdat 5000000000 last");
        assert!(matches!(
            line.command,
            Command::Bdat {
                size: Spanned {
                    value: 5_000_000_000,
                    ..
                },
                last: true,
                ..
            }
        ));
    }

    #[test]
    fn auth_splits_mechanism_and_initial_response() {
        let line = parse(b"AUTH PLAIN AGFsaWNlAHNlY3JldA==");
        let Command::Auth { mechanism, initial } = line.command else {
            panic!()
        };
        assert_eq!(mechanism.value, "PLAIN");
        assert_eq!(initial.unwrap().offset, 11);
        assert_eq!(
            parse(b"AUTH").problems[0].message,
            "AUTH without a mechanism"
        );
    }

    #[test]
    fn unknown_verbs_are_named_when_printable() {
        assert_eq!(
            parse(b"XYZZY now").problems[0].message,
            "unknown SMTP command \"XYZZY\""
        );
        assert_eq!(
            parse(b"\x01\x02").problems[0].message,
            "client sent a line that is not an SMTP command"
        );
    }
}
