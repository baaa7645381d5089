//! Export objects: a message and its attachments as files, for the shim's
//! `mail` export-object tap. Built on demand (only while an export-object
//! listener is active) and freed right after, so nothing decoded is kept.

use std::ffi::CString;
use std::panic::catch_unwind;

use mailscope::mime;
use mailscope::mime::export::{message_file_name, safe_name};
use mailscope::{MailMessage, MessageSource};

use crate::abi::{MsExport, MsExports};

/// The view C reads first, and the storage its pointers point into.
#[repr(C)]
struct OwnedExports {
    view: MsExports,
    entries: Vec<MsExport>,
    strings: Vec<CString>,
    bodies: Vec<Vec<u8>>,
}

fn objects(content: &[u8]) -> Vec<(String, String, Vec<u8>)> {
    let message = MailMessage {
        source: MessageSource::SmtpData { transaction: 1 },
        content: content.to_vec(),
        first_frame: 0,
        last_frame: 0,
        stream_start: 0,
        stream_end: content.len() as u64,
        complete: true,
        truncated: false,
        gaps: Vec::new(),
    };
    let options = mime::Options {
        keep_bodies: true,
        ..mime::Options::default()
    };
    let decoded = mime::analyze(&message, &options);
    let mut out = vec![(
        message_file_name(&decoded),
        "message/rfc822".to_string(),
        message.content.clone(),
    )];
    // The attachments `--extract` writes: parts with a file name or declared attachments.
    for part in decoded.parts {
        if !part.is_attachment() {
            continue;
        }
        if let Some(body) = part.body {
            let name = part.filename.unwrap_or_default();
            out.push((safe_name(&name, "part"), part.content_type, body));
        }
    }
    out
}

/// The message in `data` and each of its attachments, or null.
///
/// # Safety
/// `data` must point to `len` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn mailscope_message_exports(data: *const u8, len: usize) -> *mut MsExports {
    if data.is_null() {
        return std::ptr::null_mut();
    }
    let content = std::slice::from_raw_parts(data, len);
    let Ok(found) = catch_unwind(|| objects(content)) else {
        return std::ptr::null_mut();
    };
    let mut owned = Box::new(OwnedExports {
        view: MsExports {
            entries: std::ptr::null(),
            count: 0,
        },
        entries: Vec::new(),
        strings: Vec::new(),
        bodies: Vec::new(),
    });
    for (name, content_type, body) in found {
        let name = CString::new(name.replace('\0', "_")).unwrap_or_default();
        let content_type = CString::new(content_type.replace('\0', "_")).unwrap_or_default();
        owned.entries.push(MsExport {
            filename: name.as_ptr(),
            content_type: content_type.as_ptr(),
            data: body.as_ptr(),
            len: body.len(),
        });
        // Moving a CString or Vec moves its handle, not its heap buffer.
        owned.strings.push(name);
        owned.strings.push(content_type);
        owned.bodies.push(body);
    }
    owned.view.entries = owned.entries.as_ptr();
    owned.view.count = owned.entries.len() as u32;
    Box::into_raw(owned).cast::<MsExports>()
}

/// Frees what `mailscope_message_exports` returned.
///
/// # Safety
/// `exports` is null or came from `mailscope_message_exports` and was not freed.
#[no_mangle]
pub unsafe extern "C" fn mailscope_exports_free(exports: *mut MsExports) {
    if !exports.is_null() {
        drop(Box::from_raw(exports.cast::<OwnedExports>()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_and_its_named_parts_are_exported() {
        let message = b"Subject: a/b\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n\
Content-Type: text/plain\r\n\r\nhi\r\n--x\r\nContent-Type: application/octet-stream\r\n\
Content-Disposition: attachment; filename=\"../evil.bin\"\r\nContent-Transfer-Encoding: base64\r\n\r\nAAEC\r\n--x--\r\n";
        // SAFETY: a valid buffer; the result is freed below.
        let exports = unsafe { mailscope_message_exports(message.as_ptr(), message.len()) };
        let view = unsafe { &*exports };
        let entries = unsafe { std::slice::from_raw_parts(view.entries, view.count as usize) };
        let names: Vec<_> = entries
            .iter()
            .map(|e| {
                unsafe { std::ffi::CStr::from_ptr(e.filename) }
                    .to_str()
                    .unwrap()
            })
            .collect();
        assert_eq!(names, ["a_b.eml", "_evil.bin"]);
        let body = unsafe { std::slice::from_raw_parts(entries[1].data, entries[1].len) };
        assert_eq!(body, [0, 1, 2]);
        unsafe { mailscope_exports_free(exports) };
    }
}
