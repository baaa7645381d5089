//! The bearer-token mechanisms: XOAUTH2 and OAUTHBEARER (RFC 7628).

use super::scram::scram_unescape;
use crate::fields::Field;

use super::{Exchange, StepContext};

impl Exchange {
    pub(super) fn xoauth2(&mut self, data: &[u8], ctx: &mut StepContext) {
        if data.is_empty() {
            return; // the empty response after a server error
        }
        let text = String::from_utf8_lossy(data).into_owned();
        let mut found = false;
        for pair in text.split('\x01') {
            if let Some(user) = pair.strip_prefix("user=") {
                ctx.text(Field::AuthUsername, user);
                ctx.out.username = Some(user.to_string());
                self.credential.username = Some(user.to_string());
                found = true;
            } else if let Some(auth) = pair.strip_prefix("auth=") {
                let token = bearer(auth);
                ctx.text(Field::AuthToken, token);
                self.credential.token = Some(token.to_string());
                found = true;
            }
        }
        if !found {
            ctx.bad_sasl("XOAUTH2 response has neither user= nor auth=".to_string());
        }
    }

    pub(super) fn oauthbearer(&mut self, data: &[u8], ctx: &mut StepContext) {
        if data.len() <= 1 {
            return; // the lone ^A that ends a failed exchange
        }
        let text = String::from_utf8_lossy(data).into_owned();
        let mut parts = text.split('\x01');
        let header = parts.next().unwrap_or("");
        for attribute in header.split(',') {
            if let Some(user) = attribute.strip_prefix("a=") {
                let user = scram_unescape(user);
                ctx.text(Field::AuthUsername, &user);
                ctx.out.username = Some(user.clone());
                self.credential.username = Some(user);
            }
        }
        for pair in parts {
            if let Some(host) = pair.strip_prefix("host=") {
                ctx.text(Field::AuthOauthbearerHost, host);
            } else if let Some(auth) = pair.strip_prefix("auth=") {
                let token = bearer(auth);
                ctx.text(Field::AuthToken, token);
                self.credential.token = Some(token.to_string());
            }
        }
        if self.credential.token.is_none() {
            ctx.bad_sasl("OAUTHBEARER message has no auth= key".to_string());
        }
    }
}

/// `Bearer xyz` -> `xyz`; other schemes are kept whole.
fn bearer(auth: &str) -> &str {
    let auth = auth.trim();
    match auth.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim(),
        _ => auth,
    }
}
