//! A decoded message as items: one `mail.msg` subtree, one `mail.mime.part`
//! per part inside it. Spans are offsets in the message as carried
//! ([`crate::MailMessage::content`]), which hosts show as a data source of
//! its own; values not tied to bytes have length 0 (generated).

use super::{HeaderValue, MimeMessage, MimePart, PartKind};
use crate::fields::Field;
use crate::item::Item;

/// The `mail.msg` subtree of `message`, whose carried bytes are `len` long.
pub fn items(message: &MimeMessage, len: usize) -> Item {
    let mut msg = Item::tree(Field::Msg, 0, len);
    let header = |field, value: &Option<HeaderValue>| {
        value
            .as_ref()
            .map(|h| Item::text(field, h.offset, h.len, h.value.clone()))
    };
    for item in [
        header(Field::MsgSubject, &message.subject),
        header(Field::MsgFrom, &message.from),
        header(Field::MsgTo, &message.to),
        header(Field::MsgCc, &message.cc),
        header(Field::MsgDate, &message.date),
        header(Field::MsgMessageId, &message.message_id),
    ]
    .into_iter()
    .flatten()
    {
        msg.push(item);
    }
    msg.push(Item::uint(Field::MsgSize, 0, len, message.size));
    msg.push(Item::text(Field::MsgSha256, 0, len, message.sha256.clone()));
    msg.push(Item::text(Field::MsgSha1, 0, len, message.sha1.clone()));
    if let Some(guess) = &message.charset_guess {
        msg.push(Item::text(Field::MsgCharsetGuess, 0, 0, guess.clone()));
    }
    let attachments = message.attachments().count();
    if attachments > 0 {
        msg.push(Item::uint(Field::MsgAttachments, 0, 0, attachments as u64));
    }
    for part in message.attachments() {
        msg.push(attachment(part));
    }
    if message.partial {
        msg.push(Item::flag(Field::MsgPartial, 0, 0, true));
    }
    if message.truncated {
        msg.push(Item::flag(Field::MsgTruncated, 0, 0, true));
    }
    if message.missing > 0 {
        msg.push(Item::uint(Field::MsgMissing, 0, 0, message.missing));
    }
    for part in &message.parts {
        let (offset, span) = part.span.unwrap_or((0, 0));
        let mut node = Item::tree(Field::MimePart, offset, span);
        let add = |node: &mut Item, field, value: Option<&str>| {
            if let Some(value) = value {
                node.push(Item::text(field, 0, 0, value));
            }
        };
        add(&mut node, Field::MimePath, Some(&part.path));
        add(&mut node, Field::MimeContentType, Some(&part.content_type));
        add(&mut node, Field::MimeCharset, part.charset.as_deref());
        add(
            &mut node,
            Field::MimeCharsetGuess,
            part.charset_guess.as_deref(),
        );
        add(
            &mut node,
            Field::MimeTransferEncoding,
            part.transfer_encoding.as_deref(),
        );
        add(
            &mut node,
            Field::MimeDisposition,
            part.disposition.as_deref(),
        );
        add(&mut node, Field::MimeFilename, part.filename.as_deref());
        if let Some(missing) = message.part_missing(&part.path) {
            node.push(Item::uint(Field::MimeMissing, 0, 0, missing));
        }
        if part.kind != PartKind::Multipart {
            if let Some(size) = part.size {
                node.push(Item::uint(Field::MimeSize, 0, 0, size));
            }
            add(&mut node, Field::MimeMd5, part.md5.as_deref());
            add(&mut node, Field::MimeSha1, part.sha1.as_deref());
            add(&mut node, Field::MimeSha256, part.sha256.as_deref());
        }
        for line in &part.text {
            node.push(Item::text(Field::MimeText, 0, 0, line.clone()));
        }
        msg.push(node);
    }
    msg
}

/// The `mail.attachment` subtree of an attachment: its name and digests
/// alone, one subtree per attachment, so that `-T fields` columns of these
/// fields pair row by row (body parts have digests and no name).
fn attachment(part: &MimePart) -> Item {
    let (offset, span) = part.span.unwrap_or((0, 0));
    let mut node = Item::tree(Field::Attachment, offset, span);
    let name = part.filename.clone().unwrap_or_default();
    node.push(Item::text(Field::AttachmentFilename, 0, 0, name));
    node.push(Item::text(
        Field::AttachmentContentType,
        0,
        0,
        part.content_type.clone(),
    ));
    if let Some(size) = part.size {
        node.push(Item::uint(Field::AttachmentSize, 0, 0, size));
    }
    for (field, digest) in [
        (Field::AttachmentMd5, &part.md5),
        (Field::AttachmentSha1, &part.sha1),
        (Field::AttachmentSha256, &part.sha256),
    ] {
        if let Some(digest) = digest {
            node.push(Item::text(field, 0, 0, digest.clone()));
        }
    }
    node.push(Item::text(Field::AttachmentPath, 0, 0, part.path.clone()));
    node
}
