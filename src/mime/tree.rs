//! A decoded message as items: one `mail.msg` subtree, one `mail.mime.part`
//! per part inside it. Spans are offsets in the message as carried
//! ([`crate::MailMessage::content`]), which hosts show as a data source of
//! its own; values not tied to bytes have length 0 (generated).

use super::{HeaderValue, MimeMessage, PartKind};
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
    let attachments = message.attachments().count();
    if attachments > 0 {
        msg.push(Item::uint(Field::MsgAttachments, 0, 0, attachments as u64));
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
            add(&mut node, Field::MimeSha256, part.sha256.as_deref());
        }
        for line in &part.text {
            node.push(Item::text(Field::MimeText, 0, 0, line.clone()));
        }
        msg.push(node);
    }
    msg
}
