//! SASL exchanges, decoded for every mechanism seen in mail traffic.
//!
//! Protocol engines (SMTP `AUTH`, POP3 `AUTH`) own the framing: they hand
//! this module each client response and server challenge as the base64 text
//! found on the wire, with its span in the PDU. The exchange keeps what it
//! learned (prompts, the credential so far) and returns items to place under
//! a `mail.auth` subtree. Nothing here fails: undecodable input becomes an
//! anomaly and the raw text stays visible.

use crate::fields::{Expert, Field};
use crate::item::{display_text, Anomaly, Credential, Item, Pdu};

pub use crate::codec::decode_base64;

mod digest;
mod ntlm;
mod oauth;
mod plain;
mod scram;

pub use digest::directives;
pub use ntlm::{parse as parse_ntlm, NtlmMessage};
use scram::scram_attributes;

/// Puts one SASL step's output into `pdu`: items under `auth`, anomalies,
/// the user in the Info column, and the credential it completed.
pub(crate) fn apply_step(pdu: &mut Pdu, auth: &mut Item, step: StepOutput) {
    auth.children.extend(step.items);
    pdu.anomalies.extend(step.anomalies);
    if let Some(user) = step.username {
        pdu.info.push_str(&format!(" (user: {user})"));
    }
    if step.credential.is_some() {
        pdu.credential = step.credential;
    }
}

/// A client line inside an exchange (a response, or `*` to cancel), in a PDU
/// of its own; `state` is the protocol's session-state item for it.
pub(crate) fn client_line(exchange: Option<&mut Exchange>, pdu: &mut Pdu, state: Item) {
    let line = crate::text::strip_eol(&pdu.bytes).to_vec();
    let text = crate::text::lossy(&line);
    pdu.info = crate::text::info_line(crate::item::Direction::ToServer, &text);
    let mut auth = Item::tree(Field::Auth, 0, line.len());
    auth.push(state);
    let Some(exchange) = exchange else { return };
    // The Info column names the step, not its base64.
    pdu.info = if text.trim() == "*" {
        format!("C: * ({} cancelled)", exchange.mechanism())
    } else {
        format!("C: ({} response)", exchange.mechanism())
    };
    let step = if text.trim() == "*" {
        exchange.cancel(0, line.len())
    } else {
        exchange.step(Side::Client, &text, 0, pdu.frame)
    };
    apply_step(pdu, &mut auth, step);
    pdu.items.push(auth);
}

/// The Info column text of a server challenge: its decoded text when that
/// is a short prompt (LOGIN's `Username:`), else what it is.
pub(crate) fn challenge_info(prefix: &str, mechanism: &str, step: &StepOutput) -> String {
    let decoded = step
        .items
        .iter()
        .find(|i| i.field == Field::AuthChallenge)
        .and_then(|i| i.value.as_str());
    let what = format!("{mechanism} challenge");
    format!("S: {prefix} {}", crate::text::sasl_info(decoded, &what))
}

/// Which SASL message this is.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Side {
    /// Initial response carried on the AUTH command line.
    Initial,
    /// A client response line.
    Client,
    /// A server challenge (`334 ...` in SMTP, `+ ...` in POP3).
    Server,
}

impl Side {
    fn label(self) -> &'static str {
        match self {
            Side::Initial => "initial response",
            Side::Client => "response",
            Side::Server => "challenge",
        }
    }
}

/// What one SASL message yielded.
#[derive(Debug, Default)]
pub struct StepOutput {
    /// Children for the `mail.auth` subtree.
    pub items: Vec<Item>,
    pub anomalies: Vec<Anomaly>,
    /// Set when this message completes the client's credential.
    pub credential: Option<Credential>,
    /// Username decoded in this message, for the Info column.
    pub username: Option<String>,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum LoginPrompt {
    Username,
    Password,
}

/// One authentication exchange, from `AUTH <mechanism>` to its outcome.
#[derive(Clone, Debug)]
pub struct Exchange {
    mechanism: String,
    client_messages: u32,
    server_messages: u32,
    login_next: LoginPrompt,
    credential: Credential,
    credential_sent: bool,
    cancelled: bool,
}

impl Exchange {
    pub fn new(mechanism: &str) -> Self {
        let mechanism = mechanism.to_ascii_uppercase();
        Exchange {
            credential: Credential {
                mechanism: mechanism.clone(),
                ..Credential::default()
            },
            mechanism,
            client_messages: 0,
            server_messages: 0,
            login_next: LoginPrompt::Username,
            credential_sent: false,
            cancelled: false,
        }
    }

    pub fn mechanism(&self) -> &str {
        &self.mechanism
    }

    /// The client cancelled with `*` (RFC 4954 4, RFC 5034 4).
    pub fn cancel(&mut self, offset: usize, len: usize) -> StepOutput {
        self.cancelled = true;
        let mut out = StepOutput::default();
        out.items.push(Item::text(
            Field::AuthMechanism,
            offset,
            len,
            self.mechanism.clone(),
        ));
        out.items
            .push(Item::flag(Field::AuthCancelled, offset, len, true));
        out.anomalies.push(Anomaly {
            expert: Expert::AuthCancelled,
            offset,
            len,
            message: format!("{} authentication cancelled by the client", self.mechanism),
        });
        out
    }

    /// Decodes one SASL message: `text` is the base64 as sent, at `offset` in the PDU.
    pub fn step(&mut self, side: Side, text: &str, offset: usize, frame: u64) -> StepOutput {
        let len = text.len();
        let mut out = StepOutput::default();
        out.items.push(Item::text(
            Field::AuthMechanism,
            offset,
            len,
            self.mechanism.clone(),
        ));
        out.items
            .push(Item::text(Field::AuthStep, offset, len, side.label()));
        if !text.is_empty() {
            out.items
                .push(Item::text(Field::AuthData, offset, len, text));
        }
        let decoded = match decode_base64(text) {
            Ok(bytes) => bytes,
            Err(message) => {
                out.anomalies.push(Anomaly {
                    expert: Expert::BadBase64,
                    offset,
                    len,
                    message,
                });
                return out;
            }
        };
        let mut ctx = StepContext { out, offset, len };
        match side {
            Side::Server => {
                self.server_messages += 1;
                self.server_step(&decoded, &mut ctx);
            }
            Side::Initial | Side::Client => {
                self.client_messages += 1;
                self.client_step(&decoded, &mut ctx);
            }
        }
        let mut out = ctx.out;
        if out.credential.is_none() && !self.credential_sent && self.credential_complete() {
            // The step that completes a credential names whose it is, even when the
            // username came in an earlier message (LOGIN, SCRAM, DIGEST-MD5's rspauth).
            // Carried over, it is generated (no bytes of its own here) and
            // stands before the secret, as users read a login.
            if let (Some(user), None) = (&self.credential.username, &out.username) {
                let secret = out.items.iter().position(|i| {
                    matches!(
                        i.field,
                        Field::AuthPassword
                            | Field::AuthToken
                            | Field::AuthResponse
                            | Field::AuthProof
                    )
                });
                let at = secret.unwrap_or(out.items.len());
                out.items
                    .insert(at, Item::text(Field::AuthUsername, offset, 0, user.clone()));
                out.username = Some(user.clone());
            }
            self.credential.frame = frame;
            self.credential_sent = true;
            out.credential = Some(self.credential.clone());
            if self.credential.password.is_some() || self.credential.token.is_some() {
                out.anomalies.push(Anomaly {
                    expert: Expert::Cleartext,
                    offset,
                    len,
                    message: format!("{} credentials in clear text", self.mechanism),
                });
            }
        }
        out
    }

    /// The server's final word: items for the reply's `mail.auth` subtree.
    pub fn outcome(&mut self, success: bool, offset: usize, len: usize) -> StepOutput {
        self.credential.success = Some(success);
        let mut out = StepOutput::default();
        out.items.push(Item::text(
            Field::AuthMechanism,
            offset,
            len,
            self.mechanism.clone(),
        ));
        if let Some(user) = &self.credential.username {
            // Carried over from the client's messages: generated here.
            out.items
                .push(Item::text(Field::AuthUsername, offset, 0, user.clone()));
            out.username = Some(user.clone());
        }
        let result = if success { "success" } else { "failure" };
        out.items
            .push(Item::text(Field::AuthResult, offset, len, result));
        if !success && !self.cancelled {
            out.anomalies.push(Anomaly {
                expert: Expert::AuthFailed,
                offset,
                len,
                message: match &self.credential.username {
                    Some(user) => format!("{} authentication failed for {user}", self.mechanism),
                    None => format!("{} authentication failed", self.mechanism),
                },
            });
        }
        out
    }

    /// The frame of the client message that completed the credential, if any.
    pub fn credential_frame(&self) -> Option<u64> {
        self.credential_sent.then_some(self.credential.frame)
    }

    fn credential_complete(&self) -> bool {
        let c = &self.credential;
        match self.mechanism.as_str() {
            "LOGIN" | "PLAIN" => c.password.is_some(),
            "CRAM-MD5" | "DIGEST-MD5" => c.username.is_some(),
            m if m.starts_with("SCRAM-") => c.username.is_some() && self.client_messages >= 2,
            "XOAUTH2" | "OAUTHBEARER" => c.token.is_some(),
            "NTLM" => c.username.is_some() || c.domain.is_some(),
            "EXTERNAL" => self.client_messages >= 1,
            "ANONYMOUS" => self.client_messages >= 1,
            _ => false,
        }
    }

    fn client_step(&mut self, data: &[u8], ctx: &mut StepContext) {
        match self.mechanism.as_str() {
            "PLAIN" => self.plain(data, ctx),
            "LOGIN" => self.login_client(data, ctx),
            "CRAM-MD5" => self.cram_md5(data, ctx),
            "DIGEST-MD5" => self.digest_md5_client(data, ctx),
            m if m.starts_with("SCRAM-") => self.scram_client(data, ctx),
            "XOAUTH2" => self.xoauth2(data, ctx),
            "OAUTHBEARER" => self.oauthbearer(data, ctx),
            "NTLM" => self.ntlm(data, ctx),
            "EXTERNAL" => {
                let authzid = display_text(data);
                if !authzid.is_empty() {
                    ctx.text(Field::AuthAuthzid, &authzid);
                    self.credential.authzid = Some(authzid.clone());
                    self.credential.username = Some(authzid.clone());
                    ctx.out.username = Some(authzid);
                }
            }
            "ANONYMOUS" => {
                let trace = display_text(data);
                ctx.text(Field::AuthTrace, &trace);
                if !trace.is_empty() {
                    self.credential.username = Some(trace);
                }
            }
            // GSSAPI, GSS-SPNEGO and unknown mechanisms: opaque, shown as sent.
            _ => {}
        }
    }

    fn server_step(&mut self, data: &[u8], ctx: &mut StepContext) {
        match self.mechanism.as_str() {
            "LOGIN" => {
                let prompt = display_text(data);
                let lower = prompt.to_ascii_lowercase();
                if lower.contains("pass") {
                    self.login_next = LoginPrompt::Password;
                } else if lower.contains("user") {
                    self.login_next = LoginPrompt::Username;
                }
                ctx.text(Field::AuthChallenge, &prompt);
            }
            "CRAM-MD5" => ctx.text(Field::AuthChallenge, &display_text(data)),
            "DIGEST-MD5" => {
                let text = display_text(data);
                ctx.text(Field::AuthChallenge, &text);
                for (key, value) in directives(&text) {
                    match key.as_str() {
                        "realm" => ctx.text(Field::AuthRealm, &value),
                        "nonce" => ctx.text(Field::AuthNonce, &value),
                        "qop" => ctx.text(Field::AuthQop, &value),
                        "rspauth" => ctx.text(Field::AuthRspauth, &value),
                        _ => {}
                    }
                }
            }
            m if m.starts_with("SCRAM-") => {
                let text = display_text(data);
                ctx.text(Field::AuthChallenge, &text);
                for (key, value) in scram_attributes(&text) {
                    match key {
                        'r' => ctx.text(Field::AuthNonce, value),
                        's' => ctx.text(Field::AuthSalt, value),
                        'i' => match value.parse::<u64>() {
                            Ok(n) => ctx.uint(Field::AuthIterations, n),
                            Err(_) => ctx.bad_sasl(format!(
                                "SCRAM iteration count \"{value}\" is not a number"
                            )),
                        },
                        'v' => ctx.text(Field::AuthVerifier, value),
                        'e' => ctx.text(Field::AuthError, value),
                        _ => {}
                    }
                }
            }
            "XOAUTH2" | "OAUTHBEARER" => {
                if !data.is_empty() {
                    ctx.text(Field::AuthError, &display_text(data));
                }
            }
            "NTLM" => self.ntlm(data, ctx),
            _ => {
                if !data.is_empty() && data.iter().all(|b| b.is_ascii_graphic() || *b == b' ') {
                    ctx.text(Field::AuthChallenge, &display_text(data));
                }
            }
        }
    }
}

struct StepContext {
    out: StepOutput,
    offset: usize,
    len: usize,
}

impl StepContext {
    fn text(&mut self, field: Field, value: &str) {
        self.out
            .items
            .push(Item::text(field, self.offset, self.len, value));
    }
    fn uint(&mut self, field: Field, value: u64) {
        self.out
            .items
            .push(Item::uint(field, self.offset, self.len, value));
    }
    fn bad_sasl(&mut self, message: String) {
        self.out.anomalies.push(Anomaly {
            expert: Expert::BadSasl,
            offset: self.offset,
            len: self.len,
            message,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(out: &StepOutput, field: Field) -> Option<String> {
        out.items
            .iter()
            .find(|i| i.field == field)
            .map(|i| i.value.to_string())
    }

    #[test]
    fn plain_splits_authzid_user_password() {
        let mut ex = Exchange::new("plain");
        let out = ex.step(Side::Initial, "YWRtaW4AYWxpY2UAczNjcmV0", 0, 7);
        assert_eq!(value(&out, Field::AuthAuthzid).as_deref(), Some("admin"));
        assert_eq!(value(&out, Field::AuthUsername).as_deref(), Some("alice"));
        assert_eq!(value(&out, Field::AuthPassword).as_deref(), Some("s3cret"));
        let cred = out.credential.expect("PLAIN completes the credential");
        assert_eq!(cred.frame, 7);
        assert!(out.anomalies.iter().any(|a| a.expert == Expert::Cleartext));
    }

    #[test]
    fn login_follows_prompts_even_when_reversed() {
        let mut ex = Exchange::new("LOGIN");
        ex.step(Side::Server, "UGFzc3dvcmQ6", 0, 1); // "Password:"
        let out = ex.step(Side::Client, "aHVudGVyMg==", 0, 2);
        assert_eq!(value(&out, Field::AuthPassword).as_deref(), Some("hunter2"));
    }

    #[test]
    fn bad_base64_is_an_anomaly_not_a_failure() {
        let mut ex = Exchange::new("LOGIN");
        let out = ex.step(Side::Client, "not*base64!", 0, 1);
        assert_eq!(out.anomalies[0].expert, Expert::BadBase64);
        assert_eq!(value(&out, Field::AuthData).as_deref(), Some("not*base64!"));
    }

    #[test]
    fn digest_md5_directives_with_quotes_and_commas() {
        let d = directives(r#"username="bob",realm="ex,ample",nonce="abc",qop=auth,response=0123"#);
        assert_eq!(d[1], ("realm".into(), "ex,ample".into()));
        assert_eq!(d[3], ("qop".into(), "auth".into()));
    }

    #[test]
    fn ntlm_rejects_out_of_range_buffers() {
        let mut msg = b"NTLMSSP\0\x03\0\0\0".to_vec();
        msg.resize(64, 0);
        msg[36] = 10; // user name: 10 bytes at offset 0xffff
        msg[40] = 0xff;
        msg[41] = 0xff;
        assert!(parse_ntlm(&msg)
            .unwrap_err()
            .contains("outside the message"));
    }
}
