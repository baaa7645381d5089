//! NTLM (MS-NLMP): NTLMSSP messages, enough to name who authenticated, and
//! the exchange step that shows them.

use crate::fields::Field;

use super::{Exchange, StepContext};

impl Exchange {
    pub(super) fn ntlm(&mut self, data: &[u8], ctx: &mut StepContext) {
        if data.is_empty() {
            return; // the empty "334 " that invites the NEGOTIATE message
        }
        match parse(data) {
            Ok(message) => {
                ctx.uint(Field::AuthNtlmMessageType, u64::from(message.message_type));
                if let Some(challenge) = &message.server_challenge {
                    ctx.text(Field::AuthNtlmServerChallenge, challenge);
                }
                if let Some(target) = message.target {
                    ctx.text(Field::AuthNtlmTarget, &target);
                }
                if message.message_type == 3 {
                    if let Some(user) = message.user {
                        ctx.text(Field::AuthUsername, &user);
                        ctx.out.username = Some(user.clone());
                        self.credential.username = Some(user);
                    }
                    if let Some(domain) = message.domain {
                        ctx.text(Field::AuthNtlmDomain, &domain);
                        self.credential.domain = Some(domain);
                    }
                    if let Some(host) = message.host {
                        ctx.text(Field::AuthNtlmHost, &host);
                        self.credential.host = Some(host);
                    }
                }
            }
            Err(message) => ctx.bad_sasl(message),
        }
    }
}

/// What an NTLM message tells a user.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct NtlmMessage {
    pub message_type: u32,
    pub user: Option<String>,
    pub domain: Option<String>,
    pub host: Option<String>,
    pub target: Option<String>,
    pub server_challenge: Option<String>,
}

const SIGNATURE: &[u8; 8] = b"NTLMSSP\0";
const NEGOTIATE_UNICODE: u32 = 0x0000_0001;

fn u16_at(data: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(data.get(at..at + 2)?.try_into().ok()?))
}
fn u32_at(data: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(data.get(at..at + 4)?.try_into().ok()?))
}

/// A security buffer: `len u16, max u16, offset u32` at `at`.
fn buffer(data: &[u8], at: usize, unicode: bool, what: &str) -> Result<Option<String>, String> {
    let (Some(len), Some(offset)) = (u16_at(data, at), u32_at(data, at + 4)) else {
        return Err(format!("NTLM message too short for its {what} field"));
    };
    if len == 0 {
        return Ok(None);
    }
    let start = offset as usize;
    let Some(bytes) = data.get(start..start + len as usize) else {
        return Err(format!(
            "NTLM {what} field (offset {offset}, length {len}) lies outside the message"
        ));
    };
    let text = if unicode {
        let units: Vec<u16> = bytes
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect();
        String::from_utf16_lossy(&units)
    } else {
        String::from_utf8_lossy(bytes).into_owned()
    };
    Ok(Some(text))
}

pub fn parse(data: &[u8]) -> Result<NtlmMessage, String> {
    if data.len() < 12 || &data[..8] != SIGNATURE {
        return Err("not an NTLMSSP message (signature missing)".to_string());
    }
    let message_type = u32_at(data, 8).unwrap_or(0);
    let mut message = NtlmMessage {
        message_type,
        ..NtlmMessage::default()
    };
    match message_type {
        1 => {}
        2 => {
            let flags = u32_at(data, 20).ok_or("NTLM CHALLENGE message too short")?;
            message.target = buffer(data, 12, flags & NEGOTIATE_UNICODE != 0, "target name")?;
            let challenge = data
                .get(24..32)
                .ok_or("NTLM CHALLENGE message lacks its server challenge")?;
            message.server_challenge = Some(challenge.iter().map(|b| format!("{b:02x}")).collect());
        }
        3 => {
            let flags = u32_at(data, 60).unwrap_or(NEGOTIATE_UNICODE);
            let unicode = flags & NEGOTIATE_UNICODE != 0;
            message.domain = buffer(data, 28, unicode, "domain name")?;
            message.user = buffer(data, 36, unicode, "user name")?;
            message.host = buffer(data, 44, unicode, "workstation")?;
        }
        other => return Err(format!("NTLM message type {other} is not 1, 2 or 3")),
    }
    Ok(message)
}
