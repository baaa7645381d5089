//! POP3's item trees, built from typed commands and responses with the
//! session facts they need. No parsing and no state here.

use crate::fields::Field;
use crate::item::{Credential, Item};
use crate::text::Spanned;

use super::command::{Command, CommandLine};
use super::response::{ListingEntry, ListingValue, Status};
use super::USER_PASS;

/// The command a response answers, as the session remembers it.
#[derive(Clone, Debug)]
pub struct Answered {
    pub verb: String,
    pub frame: u64,
    pub argument: String,
    /// A positive answer carries a dot-terminated block.
    pub multiline: bool,
}

impl Answered {
    /// The generated items that say which command, sent in which frame, a response answers.
    pub fn items(&self) -> [Item; 2] {
        [
            Item::text(Field::PopResponseCommand, 0, 0, self.verb.clone()),
            Item::uint(Field::PopResponseRequestFrame, 0, 0, self.frame),
        ]
    }
}

fn state(state: &str, len: usize) -> Item {
    Item::text(Field::PopState, 0, len, state)
}

/// `mail.pop.request` with the verb, the argument and the message number.
pub fn request(line: &CommandLine, session_state: &str) -> Item {
    let mut request = Item::tree(Field::PopRequest, 0, line.len);
    request.push(state(session_state, line.len));
    request.push(Item::text(
        Field::PopCommand,
        0,
        line.verb_len,
        line.verb.clone(),
    ));
    if let Some(argument) = &line.argument {
        request.push(Item::text(
            Field::PopArgument,
            argument.offset,
            argument.len,
            argument.value.clone(),
        ));
    }
    if let Command::Numbered {
        number: Some(number),
    } = &line.command
    {
        request.push(Item::uint(
            Field::PopMessageNumber,
            number.offset,
            number.len,
            number.value,
        ));
    }
    request
}

/// The `mail.auth` subtree of a command, spanning its argument.
pub fn auth_of(line: &CommandLine, mechanism: &str) -> Item {
    let (at, len) = (line.argument_offset, line.argument_len());
    let mut auth = Item::tree(Field::Auth, at, len);
    auth.push(Item::text(Field::AuthMechanism, at, len, mechanism));
    auth
}

/// USER: the name, under `mail.auth`.
pub fn user(line: &CommandLine, name: &Spanned<String>) -> Item {
    let mut auth = auth_of(line, USER_PASS);
    auth.push(Item::text(
        Field::AuthUsername,
        name.offset,
        name.len,
        name.value.clone(),
    ));
    auth
}

/// PASS: the user named by USER before it (if any) and the password.
pub fn pass(line: &CommandLine, user: Option<&str>, password: &Spanned<String>) -> Item {
    let mut auth = auth_of(line, USER_PASS);
    if let Some(user) = user {
        // Carried over from USER: generated here, before the password.
        auth.push(Item::text(Field::AuthUsername, password.offset, 0, user));
    }
    auth.push(Item::text(
        Field::AuthPassword,
        password.offset,
        password.len,
        password.value.clone(),
    ));
    auth
}

/// APOP: the name, the greeting's timestamp it digests, and the digest.
pub fn apop(
    line: &CommandLine,
    login: Option<&(Spanned<String>, Spanned<String>)>,
    timestamp: Option<&str>,
) -> Item {
    let mut auth = auth_of(line, "APOP");
    if let Some((name, digest)) = login {
        auth.push(Item::text(
            Field::AuthUsername,
            name.offset,
            name.len,
            name.value.clone(),
        ));
        if let Some(timestamp) = timestamp {
            auth.push(Item::text(Field::AuthChallenge, 0, 0, timestamp));
        }
        auth.push(Item::text(
            Field::AuthResponse,
            digest.offset,
            digest.len,
            digest.value.clone(),
        ));
    }
    auth
}

/// The outcome of a USER/PASS or APOP login, under the response.
pub fn login_outcome(credential: &Credential, success: bool, len: usize) -> Item {
    let mut auth = Item::tree(Field::Auth, 0, len);
    auth.push(Item::text(
        Field::AuthMechanism,
        0,
        len,
        credential.mechanism.clone(),
    ));
    if let Some(user) = &credential.username {
        // Carried over from the login: generated here.
        auth.push(Item::text(Field::AuthUsername, 0, 0, user.clone()));
    }
    let result = if success { "success" } else { "failure" };
    auth.push(Item::text(Field::AuthResult, 0, len, result));
    auth
}

/// `mail.pop.response` for a status line of a response `total_len` long
/// (without its last line ending); `answered` is the command it answers.
pub fn response(
    status: &Status,
    total_len: usize,
    session_state: &str,
    answered: Option<&Answered>,
) -> Item {
    let mut tree = Item::tree(Field::PopResponse, 0, total_len);
    tree.push(state(session_state, status.len()));
    let Some(indicator) = status.indicator else {
        tree.push(Item::text(
            Field::PopResponseText,
            0,
            status.len(),
            status.text.clone(),
        ));
        return tree;
    };
    if let Some(command) = answered {
        tree.children.extend(command.items());
    }
    let indicator = indicator.as_str();
    tree.push(Item::text(
        Field::PopResponseIndicator,
        0,
        indicator.len(),
        indicator,
    ));
    if status.text_offset < status.len() && indicator != "+" {
        tree.push(Item::text(
            Field::PopResponseText,
            status.text_offset,
            status.len() - status.text_offset,
            status.text.clone(),
        ));
    }
    tree
}

/// The greeting's text, and the `<...>` timestamp APOP digests (returned too).
pub fn greeting(status: &Status, tree: &mut Item) -> Option<String> {
    let at = status.text_offset;
    tree.push(Item::text(
        Field::PopGreeting,
        at,
        status.len() - at,
        status.text.clone(),
    ));
    let (start, end) = (status.text.find('<')?, status.text.rfind('>')?);
    if start >= end {
        return None;
    }
    let stamp = &status.text[start..=end];
    tree.push(Item::text(
        Field::PopApopTimestamp,
        at + start,
        stamp.len(),
        stamp,
    ));
    Some(stamp.to_string())
}

/// STAT's message count and maildrop size.
pub fn stat(status: &Status, tree: &mut Item) {
    if let [count, size, ..] = status.words().as_slice() {
        if let (Ok(c), Ok(s)) = (count.parse::<u64>(), size.parse::<u64>()) {
            let at = status.text_offset;
            tree.push(Item::uint(Field::PopMessageCount, at, count.len(), c));
            let size_at = at + status.text.find(size).unwrap_or(0);
            tree.push(Item::uint(Field::PopMessageSize, size_at, size.len(), s));
        }
    }
}

/// `mail.pop.listing` for one LIST or UIDL entry.
pub fn listing(entry: &ListingEntry) -> Item {
    let mut item = Item::tree(Field::PopListing, entry.offset, entry.len);
    let number = &entry.number;
    item.push(Item::uint(
        Field::PopMessageNumber,
        number.offset,
        number.len,
        number.value,
    ));
    item.push(match &entry.value {
        ListingValue::Size(size) => {
            Item::uint(Field::PopMessageSize, size.offset, size.len, size.value)
        }
        ListingValue::Uid(uid) => {
            Item::text(Field::PopMessageUid, uid.offset, uid.len, uid.value.clone())
        }
    });
    item
}

/// `mail.pop.data` for RETR or TOP content at `body_at`, `body_len` bytes on the wire.
pub fn content(body_at: usize, body_len: usize, size: usize, unstuffed: u64) -> Item {
    let mut data = Item::tree(Field::PopData, body_at, body_len);
    data.push(Item::uint(
        Field::PopDataSize,
        body_at,
        body_len,
        size as u64,
    ));
    data.push(Item::uint(
        Field::PopDataUnstuffedLines,
        body_at,
        body_len,
        unstuffed,
    ));
    data
}
