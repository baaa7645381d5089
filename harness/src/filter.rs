//! Narrowing the output: by protocol, connection, address, or to the logins.

use std::net::IpAddr;

use mailscope::{Pdu, Protocol};

use crate::analyze::ConnectionInfo;

/// What to keep; empty keeps everything.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub protocol: Option<Protocol>,
    /// Connection ids, as numbered in the unfiltered output.
    pub connections: Vec<usize>,
    /// Addresses of the client or the server.
    pub hosts: Vec<IpAddr>,
    /// Only connections with a login, and of them only the PDUs that carry
    /// a credential or its outcome.
    pub credentials_only: bool,
}

impl Filter {
    /// Whether connection `c` is shown, as far as its start tells (with
    /// `credentials_only`, a connection is shown only if it carried a login,
    /// known at its end).
    pub fn admits(&self, c: &ConnectionInfo) -> bool {
        self.protocol.is_none_or(|p| p == c.protocol)
            && (self.connections.is_empty() || self.connections.contains(&c.id))
            && (self.hosts.is_empty()
                || self.hosts.contains(&c.client.0)
                || self.hosts.contains(&c.server.0))
    }

    /// Whether a PDU of a shown connection is shown.
    pub fn keeps(&self, pdu: &Pdu) -> bool {
        !self.credentials_only || pdu.credential.is_some() || pdu.auth_outcome.is_some()
    }
}
