//! Records for Wireshark's credentials tap (`Tools > Credentials`,
//! `tshark -z credentials`): one per login, with its mechanism, user and
//! outcome, queued on the frame that carries the server's answer (the
//! username's frame is linked), so a failed attempt never reads as one that
//! worked. Logins the capture holds no answer to are listed at the end.

use mailscope::{Credential, Field, Limits, Pdu};

/// One credentials-tap record, as the shim queues it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TapRecord {
    pub user: String,
    pub info: String,
    /// The field that carries the secret (password, token or response).
    pub secret_field: Field,
    /// Frame of the client message that completed the credential.
    pub username_frame: u64,
}

fn record(credential: &Credential, outcome: &str) -> TapRecord {
    let mut info = format!("{} authentication, {outcome}", credential.mechanism);
    if let Some(domain) = &credential.domain {
        info.push_str(&format!(", domain {domain}"));
    }
    if let Some(host) = &credential.host {
        info.push_str(&format!(", host {host}"));
    }
    TapRecord {
        user: credential
            .username
            .clone()
            .unwrap_or_else(|| "n.a.".to_string()),
        info,
        secret_field: credential.secret_field(),
        username_frame: credential.frame,
    }
}

/// The logins of one connection awaiting the server's answer, at most as
/// many as the commands the core remembers awaiting a reply: past that the
/// core has already raised its "oldest is forgotten" expert info, and the
/// oldest login leaves the tap (it stays in the packet tree).
#[derive(Debug, Default)]
pub struct Logins {
    pending: std::collections::VecDeque<Credential>,
}

impl Logins {
    /// Notes the credentials `pdus` complete and returns a record for each
    /// login they answer.
    pub fn observe(&mut self, pdus: &[Pdu]) -> Vec<TapRecord> {
        let mut records = Vec::new();
        for pdu in pdus {
            if let Some(credential) = &pdu.credential {
                if self.pending.len() >= Limits::default().max_pending() {
                    self.pending.pop_front();
                }
                self.pending.push_back(credential.clone());
            }
            if let Some((frame, success)) = pdu.auth_outcome {
                if let Some(at) = self.pending.iter().rposition(|c| c.frame == frame) {
                    let Some(credential) = self.pending.remove(at) else {
                        continue;
                    };
                    records.push(record(
                        &credential,
                        if success { "success" } else { "failure" },
                    ));
                }
            }
        }
        records
    }

    /// Records for the logins still unanswered (at the end of the capture).
    pub fn unanswered(&self) -> Vec<TapRecord> {
        self.pending
            .iter()
            .map(|c| record(c, "no answer in the capture"))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mailscope::{Connection, Direction, Protocol};

    #[test]
    fn a_login_is_recorded_with_its_outcome_on_the_answer() {
        let mut conn = Connection::new(Protocol::Pop3);
        let mut logins = Logins::default();
        let mut feed = |direction, text: &str, frame| {
            let pdus = conn.stream_data(direction, text.as_bytes(), frame).pdus;
            logins.observe(&pdus)
        };
        feed(Direction::ToClient, "+OK ready\r\n", 1);
        feed(Direction::ToServer, "USER wendy\r\n", 1);
        feed(Direction::ToClient, "+OK\r\n", 1);
        assert!(feed(Direction::ToServer, "PASS guess\r\n", 2).is_empty());
        let records = feed(Direction::ToClient, "-ERR [AUTH] failed\r\n", 3);
        assert_eq!(records.len(), 1);
        assert_eq!(records[0].user, "wendy");
        assert_eq!(records[0].info, "USER/PASS authentication, failure");
        assert_eq!(records[0].username_frame, 2);
        assert!(feed(Direction::ToServer, "PASS hunter2\r\n", 4).is_empty());
        assert_eq!(
            logins.unanswered()[0].info,
            "USER/PASS authentication, no answer in the capture"
        );
    }

    #[test]
    fn unanswered_logins_are_bounded() {
        let mut conn = Connection::new(Protocol::Smtp);
        let mut logins = Logins::default();
        let cap = Limits::default().max_pending();
        let line = b"AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n";
        for frame in 0..(cap as u64 + 50) {
            let pdus = conn.stream_data(Direction::ToServer, line, frame).pdus;
            logins.observe(&pdus);
        }
        let unanswered = logins.unanswered();
        assert_eq!(unanswered.len(), cap);
        assert_eq!(unanswered[0].username_frame, 50, "the oldest left first");
    }
}
