#![no_main]
//! A message as carried, decoded (bodies kept, as for export), and its tree.

use mailscope::message::MessageGap;
use mailscope::mime::{self, Options};
use mailscope::{MailMessage, MessageSource};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let message = MailMessage {
        source: MessageSource::SmtpData { transaction: 1 },
        content: data.to_vec(),
        first_frame: 1,
        last_frame: 1,
        stream_start: 0,
        stream_end: data.len() as u64,
        complete: data.len() % 3 != 0,
        truncated: false,
        // Bytes the capture lost, somewhere in the message: placed in its parts.
        gaps: match data {
            [first, _, ..] => vec![MessageGap {
                offset: usize::from(*first) * data.len() / 256,
                missing: u64::from(*first) + 1,
            }],
            _ => Vec::new(),
        },
    };
    let options = Options {
        keep_bodies: true,
        default_charset: Some("gb18030".into()),
    };
    let decoded = mime::analyze(&message, &options);
    let tree = mime::tree::items(&decoded, data.len());
    tree.walk(0, &mut |item, _| {
        assert!(item.offset + item.len <= data.len(), "{item:?}")
    });
    for part in &decoded.parts {
        let _ = mime::export::safe_name(part.filename.as_deref().unwrap_or(""), "part");
    }
});
