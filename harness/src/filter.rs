//! Narrowing a report: by protocol, connection, address, or to the logins.

use std::net::IpAddr;

use mailscope::Protocol;

use crate::analyze::Report;

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
    pub fn is_empty(&self) -> bool {
        self.protocol.is_none()
            && self.connections.is_empty()
            && self.hosts.is_empty()
            && !self.credentials_only
    }

    /// Hides the connections the filter leaves out, and their frames.
    pub fn apply(&self, report: &mut Report) {
        if self.is_empty() {
            return;
        }
        let with_login: std::collections::HashSet<usize> = report
            .frames
            .iter()
            .filter(|f| f.pdus.iter().any(|p| p.credential.is_some()))
            .map(|f| f.connection)
            .collect();
        for c in &report.connections {
            let keep = self.protocol.is_none_or(|p| p == c.protocol)
                && (self.connections.is_empty() || self.connections.contains(&c.id))
                && (self.hosts.is_empty()
                    || self.hosts.contains(&c.client.0)
                    || self.hosts.contains(&c.server.0))
                && (!self.credentials_only || with_login.contains(&c.id));
            if !keep {
                report.hidden.insert(c.id);
            }
        }
        let hidden = report.hidden.clone();
        report.frames.retain(|f| !hidden.contains(&f.connection));
        report.at_end.retain(|(id, _)| !hidden.contains(id));
        if self.credentials_only {
            for frame in &mut report.frames {
                frame
                    .pdus
                    .retain(|p| p.credential.is_some() || p.auth_outcome.is_some());
            }
            report.frames.retain(|f| !f.pdus.is_empty());
            for (_, pdus) in &mut report.at_end {
                pdus.retain(|p| p.credential.is_some() || p.auth_outcome.is_some());
            }
            report.at_end.retain(|(_, pdus)| !pdus.is_empty());
        }
    }
}
