//! PLAIN (RFC 4616) and LOGIN: the clear-text mechanisms.

use super::LoginPrompt;
use crate::fields::Field;
use crate::item::display_text;

use super::{Exchange, StepContext};

impl Exchange {
    pub(super) fn plain(&mut self, data: &[u8], ctx: &mut StepContext) {
        let parts: Vec<&[u8]> = data.split(|b| *b == 0).collect();
        if parts.len() != 3 {
            ctx.bad_sasl(format!(
                "PLAIN message has {} NUL-separated parts, expected 3 (authzid, authcid, password)",
                parts.len()
            ));
            return;
        }
        let authzid = display_text(parts[0]);
        let username = display_text(parts[1]);
        let password = display_text(parts[2]);
        if !authzid.is_empty() {
            ctx.text(Field::AuthAuthzid, &authzid);
            self.credential.authzid = Some(authzid);
        }
        ctx.text(Field::AuthUsername, &username);
        ctx.text(Field::AuthPassword, &password);
        ctx.out.username = Some(username.clone());
        self.credential.username = Some(username);
        self.credential.password = Some(password);
    }

    pub(super) fn login_client(&mut self, data: &[u8], ctx: &mut StepContext) {
        let value = display_text(data);
        match self.login_next {
            LoginPrompt::Username => {
                ctx.text(Field::AuthUsername, &value);
                ctx.out.username = Some(value.clone());
                self.credential.username = Some(value);
                self.login_next = LoginPrompt::Password;
            }
            LoginPrompt::Password => {
                ctx.text(Field::AuthPassword, &value);
                self.credential.password = Some(value);
            }
        }
    }
}
