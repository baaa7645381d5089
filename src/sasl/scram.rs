//! SCRAM-SHA-1 and SCRAM-SHA-256 (RFC 5802, RFC 7677).

use crate::fields::Field;
use crate::item::display_text;

use super::{Exchange, StepContext};

impl Exchange {
    pub(super) fn scram_client(&mut self, data: &[u8], ctx: &mut StepContext) {
        let text = display_text(data);
        let mut attributes = &text[..];
        if self.client_messages == 1 {
            // client-first-message: gs2-header "n,," or "y,," or "p=...," then "a=authzid,"
            let mut pieces = text.splitn(3, ',');
            let _binding = pieces.next();
            let authzid = pieces.next().unwrap_or("");
            match pieces.next() {
                Some(rest) => attributes = &text[text.len() - rest.len()..],
                None => {
                    ctx.bad_sasl("SCRAM client-first-message lacks its GS2 header".to_string());
                    return;
                }
            }
            if let Some(id) = authzid.strip_prefix("a=") {
                let id = scram_unescape(id);
                ctx.text(Field::AuthAuthzid, &id);
                self.credential.authzid = Some(id);
            }
        }
        for (key, value) in scram_attributes(attributes) {
            match key {
                'n' => {
                    let user = scram_unescape(value);
                    ctx.text(Field::AuthUsername, &user);
                    ctx.out.username = Some(user.clone());
                    self.credential.username = Some(user);
                }
                'r' if self.client_messages == 1 => ctx.text(Field::AuthCnonce, value),
                'r' => ctx.text(Field::AuthNonce, value),
                'p' => ctx.text(Field::AuthProof, value),
                _ => {}
            }
        }
    }
}

/// SCRAM `k=value` attributes (RFC 5802 5.1); values may contain `=`.
pub(super) fn scram_attributes(text: &str) -> impl Iterator<Item = (char, &str)> {
    text.split(',').filter_map(|attr| {
        let mut chars = attr.chars();
        let key = chars.next()?;
        let rest = chars.as_str().strip_prefix('=')?;
        Some((key, rest))
    })
}

/// SCRAM saslname: `=2C` is `,` and `=3D` is `=`.
pub(super) fn scram_unescape(name: &str) -> String {
    name.replace("=2C", ",").replace("=3D", "=")
}
