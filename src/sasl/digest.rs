//! The challenge-response digests: CRAM-MD5 (RFC 2195) and DIGEST-MD5 (RFC 2831).

use crate::codec::abbreviate;
use crate::fields::Field;
use crate::item::display_text;

use super::{Exchange, StepContext};

impl Exchange {
    pub(super) fn cram_md5(&mut self, data: &[u8], ctx: &mut StepContext) {
        let text = display_text(data);
        match text.rsplit_once(' ') {
            Some((user, digest)) => {
                ctx.text(Field::AuthUsername, user);
                ctx.text(Field::AuthResponse, digest);
                ctx.out.username = Some(user.to_string());
                self.credential.username = Some(user.to_string());
            }
            None => ctx.bad_sasl(format!(
                "CRAM-MD5 response \"{}\" lacks \"user digest\"",
                abbreviate(&text, 40)
            )),
        }
    }

    pub(super) fn digest_md5_client(&mut self, data: &[u8], ctx: &mut StepContext) {
        if data.is_empty() {
            return; // the empty response that acknowledges rspauth
        }
        let text = display_text(data);
        for (key, value) in directives(&text) {
            match key.as_str() {
                "username" => {
                    ctx.text(Field::AuthUsername, &value);
                    ctx.out.username = Some(value.clone());
                    self.credential.username = Some(value);
                }
                "authzid" => {
                    ctx.text(Field::AuthAuthzid, &value);
                    self.credential.authzid = Some(value);
                }
                "realm" => ctx.text(Field::AuthRealm, &value),
                "nonce" => ctx.text(Field::AuthNonce, &value),
                "cnonce" => ctx.text(Field::AuthCnonce, &value),
                "digest-uri" => ctx.text(Field::AuthDigestUri, &value),
                "qop" => ctx.text(Field::AuthQop, &value),
                "response" => ctx.text(Field::AuthResponse, &value),
                _ => {}
            }
        }
        if self.credential.username.is_none() {
            ctx.bad_sasl("DIGEST-MD5 response has no username directive".to_string());
        }
    }
}

/// DIGEST-MD5 directives (RFC 2831 7.1): `key=value` or `key="quoted"`, comma separated.
pub fn directives(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        while i < bytes.len() && (bytes[i] == b',' || bytes[i].is_ascii_whitespace()) {
            i += 1;
        }
        let key_start = i;
        while i < bytes.len() && bytes[i] != b'=' && bytes[i] != b',' {
            i += 1;
        }
        let key = text[key_start..i].trim().to_ascii_lowercase();
        if i >= bytes.len() || bytes[i] != b'=' {
            continue;
        }
        i += 1;
        let mut value = String::new();
        if i < bytes.len() && bytes[i] == b'"' {
            i += 1;
            while i < bytes.len() && bytes[i] != b'"' {
                if bytes[i] == b'\\' && i + 1 < bytes.len() {
                    i += 1;
                }
                let ch_len = utf8_len(bytes[i]);
                value.push_str(&text[i..(i + ch_len).min(bytes.len())]);
                i += ch_len;
            }
            i += 1;
        } else {
            let start = i;
            while i < bytes.len() && bytes[i] != b',' {
                i += 1;
            }
            value.push_str(text[start..i].trim());
        }
        if !key.is_empty() {
            out.push((key, value));
        }
    }
    out
}

fn utf8_len(first: u8) -> usize {
    match first {
        0xF0..=0xFF => 4,
        0xE0..=0xEF => 3,
        0xC0..=0xDF => 2,
        _ => 1,
    }
}
