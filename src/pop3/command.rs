//! One POP3 command line -> a typed [`Command`]. Pure: no session state, no
//! items; problems the line alone shows travel with it.

use crate::fields::Expert;
use crate::text::VerbLine;
use crate::text::{Problem, Spanned};

/// Commands of RFC 1939, 2449, 2595, 5034 and 6856, and old common ones.
pub const KNOWN_VERBS: &[&str] = &[
    "USER", "PASS", "APOP", "AUTH", "CAPA", "STLS", "STAT", "LIST", "RETR", "DELE", "NOOP", "RSET",
    "QUIT", "TOP", "UIDL", "LAST", "XTND", "UTF8", "LANG",
];

/// What a command asks for, as far as the line says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// USER: the name (the whole argument).
    User {
        name: Spanned<String>,
    },
    /// PASS: the password (the whole argument, spaces and all).
    Pass {
        password: Spanned<String>,
    },
    /// APOP name digest; `None` when the argument is not exactly two words.
    Apop {
        login: Option<(Spanned<String>, Spanned<String>)>,
    },
    /// AUTH mechanism [initial-response].
    Auth {
        mechanism: Spanned<String>,
        initial: Option<Spanned<String>>,
    },
    /// RETR, DELE, LIST, UIDL, TOP: the message number, if it parsed.
    Numbered {
        number: Option<Spanned<u64>>,
    },
    Quit,
    Other,
}

/// One command line, split and typed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommandLine {
    pub len: usize,
    /// The verb, upper-cased.
    pub verb: String,
    pub verb_len: usize,
    /// Everything after the verb and one space, if there is anything.
    pub argument: Option<Spanned<String>>,
    /// The argument's text ("" when there is none) and its offset.
    pub argument_text: String,
    pub argument_offset: usize,
    pub command: Command,
    /// A positive answer carries a dot-terminated block.
    pub multiline: bool,
    pub problems: Vec<Problem>,
}

impl CommandLine {
    /// The argument's length (0 when there is none).
    pub fn argument_len(&self) -> usize {
        self.len - self.argument_offset
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
    let arg_len = len - arg_offset;
    let words: Vec<&str> = argument_text.split(' ').filter(|w| !w.is_empty()).collect();
    let mut problems = Vec::new();
    if !KNOWN_VERBS.contains(&verb.as_str()) {
        let printable =
            !verb.is_empty() && verb.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        problems.push(Problem {
            expert: Expert::UnknownCommand,
            offset: 0,
            len: verb_len,
            message: if printable {
                format!("unknown POP3 command \"{verb}\"")
            } else {
                "client sent a line that is not a POP3 command".to_string()
            },
        });
    }
    let whole = || Spanned {
        offset: arg_offset,
        len: arg_len,
        value: argument_text.clone(),
    };
    let command = match verb.as_str() {
        "USER" => Command::User { name: whole() },
        "PASS" => Command::Pass { password: whole() },
        "APOP" => Command::Apop {
            login: apop(&argument_text, arg_offset, &words, &mut problems),
        },
        "AUTH" if !words.is_empty() => auth(&argument_text, arg_offset, words[0]),
        "RETR" | "DELE" | "LIST" | "UIDL" | "TOP" => {
            let number = numbered(&verb, &argument_text, arg_offset, &words, &mut problems);
            if verb == "TOP" && words.len() != 2 {
                problems.push(Problem {
                    expert: Expert::Violation,
                    offset: 0,
                    len,
                    message: "TOP needs a message number and a line count".to_string(),
                });
            }
            Command::Numbered { number }
        }
        "QUIT" => Command::Quit,
        _ => Command::Other,
    };
    let multiline = match verb.as_str() {
        "CAPA" | "RETR" | "TOP" => true,
        "LIST" | "UIDL" | "AUTH" => words.is_empty(),
        _ => false,
    };
    CommandLine {
        len,
        verb,
        verb_len,
        argument,
        argument_text,
        argument_offset: arg_offset,
        command,
        multiline,
        problems,
    }
}

/// APOP's name and digest, located in the argument.
fn apop(
    argument: &str,
    arg_offset: usize,
    words: &[&str],
    problems: &mut Vec<Problem>,
) -> Option<(Spanned<String>, Spanned<String>)> {
    if let [name, digest] = words {
        let digest_at = arg_offset + argument.rfind(digest).unwrap_or(0);
        return Some((
            Spanned {
                offset: arg_offset,
                len: name.len(),
                value: name.to_string(),
            },
            Spanned {
                offset: digest_at,
                len: digest.len(),
                value: digest.to_string(),
            },
        ));
    }
    problems.push(Problem {
        expert: Expert::Violation,
        offset: arg_offset,
        len: argument.len(),
        message: "APOP needs a name and a digest".to_string(),
    });
    None
}

/// AUTH's mechanism (the first word) and the initial response after it.
fn auth(argument: &str, arg_offset: usize, mechanism: &str) -> Command {
    Command::Auth {
        mechanism: Spanned {
            offset: arg_offset,
            len: mechanism.len(),
            value: mechanism.to_string(),
        },
        initial: argument.split_once(' ').map(|(_, initial)| Spanned {
            offset: arg_offset + mechanism.len() + 1,
            len: initial.len(),
            value: initial.to_string(),
        }),
    }
}

/// The message number a command names (its first word), located in the argument.
fn numbered(
    verb: &str,
    argument: &str,
    arg_offset: usize,
    words: &[&str],
    problems: &mut Vec<Problem>,
) -> Option<Spanned<u64>> {
    let word = words.first()?;
    let word_at = arg_offset + argument.find(word).unwrap_or(0);
    match word.parse::<u64>() {
        Ok(n) => Some(Spanned {
            offset: word_at,
            len: word.len(),
            value: n,
        }),
        Err(_) => {
            problems.push(Problem {
                expert: Expert::Violation,
                offset: word_at,
                len: word.len(),
                message: format!("{verb} message number \"{word}\" is not a number"),
            });
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apop_needs_two_words_and_top_two_numbers() {
        let line = parse(b"APOP mrose c4c9334bac560ecc979e58001b3e22fb");
        let Command::Apop {
            login: Some((name, digest)),
        } = line.command
        else {
            panic!()
        };
        assert_eq!((name.value.as_str(), digest.offset), ("mrose", 11));
        assert_eq!(
            parse(b"APOP mrose").problems[0].message,
            "APOP needs a name and a digest"
        );
        let top = parse(b"TOP x");
        assert_eq!(
            top.problems[0].message,
            "TOP message number \"x\" is not a number"
        );
        assert_eq!(
            top.problems[1].message,
            "TOP needs a message number and a line count"
        );
        assert!(top.multiline);
    }

    #[test]
    fn list_and_auth_are_multi_line_only_without_an_argument() {
        assert!(parse(b"LIST").multiline);
        assert!(!parse(b"LIST 1").multiline);
        assert!(parse(b"AUTH").multiline);
        assert!(!parse(b"AUTH PLAIN").multiline);
    }
}
