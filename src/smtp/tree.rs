//! SMTP's item trees, built from typed commands, replies and content with
//! the session facts they need (state, transaction, the command a reply
//! answers). No parsing and no state here: the session decides, this file
//! only says how it is shown.

use crate::fields::Field;
use crate::item::Item;

use super::command::{Command, CommandLine};
use super::reply::Reply;

/// The command a reply answers, as the session remembers it.
#[derive(Clone, Debug)]
pub struct Answered {
    pub verb: String,
    pub frame: u64,
    /// The path a MAIL or RCPT named, repeated under its reply.
    pub path: Option<(Field, String)>,
    /// The session state the command left, shown on its reply while later
    /// pipelined commands are still unanswered.
    pub state_after: &'static str,
    /// A message's end (the final dot), which is answered like a command
    /// but is none: its reply must not be taken for a pipelined DATA's.
    pub ends_content: bool,
}

fn state(state: &str, len: usize) -> Item {
    Item::text(Field::SmtpState, 0, len, state)
}

/// `mail.smtp.request` for a command line; `transaction` is shown for MAIL,
/// RCPT, DATA and BDAT.
pub fn request(line: &CommandLine, session_state: &str, transaction: Option<u32>) -> Item {
    let mut request = Item::tree(Field::SmtpRequest, 0, line.len);
    request.push(state(session_state, line.len));
    request.push(Item::text(
        Field::SmtpCommand,
        0,
        line.verb_len,
        line.verb.clone(),
    ));
    if let Some(argument) = &line.argument {
        request.push(Item::text(
            Field::SmtpArgument,
            argument.offset,
            argument.len,
            argument.value.clone(),
        ));
    }
    match &line.command {
        Command::Hello { domain } => request.push(Item::text(
            Field::SmtpHelo,
            domain.offset,
            domain.len,
            domain.value.clone(),
        )),
        Command::Mail { path, params } | Command::Rcpt { path, params } => {
            let field = match line.command {
                Command::Mail { .. } => Field::SmtpMailFrom,
                _ => Field::SmtpRcptTo,
            };
            request.push(Item::text(field, path.offset, path.len, path.value.clone()));
            for param in params {
                request.push(Item::text(
                    Field::SmtpParameter,
                    param.offset,
                    param.len,
                    param.value.clone(),
                ));
            }
        }
        Command::Bdat { size, last, args } => {
            request.push(Item::uint(
                Field::SmtpBdatSize,
                size.offset,
                size.len,
                size.value,
            ));
            request.push(Item::flag(
                Field::SmtpBdatLast,
                args.offset,
                args.len,
                *last,
            ));
        }
        _ => {}
    }
    if let Some(transaction) = transaction {
        request.push(Item::uint(
            Field::SmtpTransaction,
            0,
            line.len,
            u64::from(transaction),
        ));
    }
    request
}

/// The path a MAIL or RCPT command names, for the reply that answers it.
pub fn named_path(line: &CommandLine) -> Option<(Field, String)> {
    match &line.command {
        Command::Mail { path, .. } => Some((Field::SmtpMailFrom, path.value.clone())),
        Command::Rcpt { path, .. } => Some((Field::SmtpRcptTo, path.value.clone())),
        _ => None,
    }
}

/// `mail.smtp.reply` for a reply, with every line's code, status and text.
pub fn reply(
    reply: &Reply,
    session_state: &str,
    answered: Option<&Answered>,
    is_greeting: bool,
) -> Item {
    let mut tree = Item::tree(Field::SmtpReply, 0, reply.len);
    tree.push(state(session_state, reply.len));
    let Some(code) = reply.code else {
        tree.push(Item::text(
            Field::SmtpReplyText,
            0,
            reply.first_line.len(),
            reply.first_text(),
        ));
        return tree;
    };
    if let Some(command) = answered {
        tree.push(Item::text(
            Field::SmtpReplyCommand,
            0,
            0,
            command.verb.clone(),
        ));
        tree.push(Item::uint(
            Field::SmtpReplyRequestFrame,
            0,
            0,
            command.frame,
        ));
        if let Some((field, path)) = &command.path {
            tree.push(Item::text(*field, 0, 0, path.clone()));
        }
    }
    let after_ehlo = matches!(answered.map(|c| c.verb.as_str()), Some("EHLO" | "LHLO"));
    for (index, line) in reply.lines.iter().enumerate() {
        if let Some(c) = line.code {
            tree.push(Item::uint(
                Field::SmtpReplyCode,
                line.offset,
                3,
                u64::from(c),
            ));
        }
        if let Some(status) = &line.status {
            tree.push(Item::text(
                Field::SmtpReplyStatus,
                line.text_offset,
                status.len(),
                status.clone(),
            ));
        }
        let text_len = line.len - (line.text_offset - line.offset);
        tree.push(Item::text(
            Field::SmtpReplyText,
            line.text_offset,
            text_len,
            line.text.clone(),
        ));
        if index > 0 && code == 250 && after_ehlo {
            tree.push(Item::text(
                Field::SmtpCapability,
                line.text_offset,
                line.text.len(),
                line.text.clone(),
            ));
        }
        if index == 0 && is_greeting && code == 220 {
            tree.push(Item::text(
                Field::SmtpGreeting,
                line.text_offset,
                line.text.len(),
                line.text.clone(),
            ));
        }
    }
    tree
}

/// What a piece of message content showed.
pub struct ContentFacts {
    /// `data` (DATA) or `bdat`.
    pub state: &'static str,
    pub transaction: u32,
    /// The chunk size: bytes on the wire for DATA, the announced size for BDAT.
    pub chunk_size: u64,
    /// DATA only: lines unstuffed, over the content without its terminator.
    pub unstuffed: Option<(u64, usize)>,
    /// Set when this piece ends the message: its size, and whether the end was seen.
    pub end: Option<(u64, bool)>,
}

/// `mail.smtp.data` for DATA content or a BDAT chunk of `len` bytes.
pub fn content(facts: &ContentFacts, len: usize) -> Item {
    let mut data = Item::tree(Field::SmtpData, 0, len);
    data.push(state(facts.state, len));
    data.push(Item::uint(
        Field::SmtpTransaction,
        0,
        len,
        u64::from(facts.transaction),
    ));
    data.push(Item::uint(
        Field::SmtpDataChunkSize,
        0,
        len,
        facts.chunk_size,
    ));
    let body_len = facts.unstuffed.map_or(len, |(_, body)| body);
    if let Some((unstuffed, body)) = facts.unstuffed {
        data.push(Item::uint(
            Field::SmtpDataUnstuffedLines,
            0,
            body,
            unstuffed,
        ));
    }
    match facts.end {
        Some((size, complete)) => {
            data.push(Item::uint(Field::SmtpDataSize, 0, body_len, size));
            // DATA's flag covers the terminator; a BDAT chunk's the whole chunk.
            let (at, span) = match facts.unstuffed {
                Some(_) => (body_len, len - body_len),
                None => (0, len),
            };
            data.push(Item::flag(Field::SmtpDataComplete, at, span, complete));
        }
        None if facts.unstuffed.is_some() => {
            data.push(Item::flag(Field::SmtpDataComplete, 0, len, false))
        }
        None => {}
    }
    data
}
