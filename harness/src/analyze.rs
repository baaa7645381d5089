//! Runs the core over every mail connection in a capture.
//!
//! Connections are found by port (SMTP on 25, 587, 2525 and `--smtp-port`,
//! POP3 on 110 and `--pop3-port`) or by content, with the same per-packet rules the Wireshark plugin's
//! heuristic uses, so both see the same connections from the same frame on.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::Path;

use mailscope::detect::{self, Protocol, DETECTION_PACKETS};
use mailscope::{Connection, Credential, Direction, Pdu};

use crate::capture::{read_capture, CaptureError, TcpSegment};
use crate::time::Timestamp;
use crate::tls::TlsSession;

#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Extra ports on which SMTP is assumed without looking at content.
    pub smtp_ports: Vec<u16>,
    /// Extra ports on which POP3 is assumed without looking at content.
    pub pop3_ports: Vec<u16>,
    /// Charset for message text and headers that declare none and are not UTF-8.
    pub default_charset: Option<String>,
    /// Do not decode messages (MIME): faster when only sessions and credentials matter.
    pub skip_mime: bool,
    /// Secrets to decrypt TLS with (STARTTLS/STLS, and implicit TLS on 465
    /// and 995, which are only analysed when a key log is given).
    pub tls_keylog: Option<std::sync::Arc<crate::tls::KeyLog>>,
}

pub type Endpoint = (IpAddr, u16);

/// A connection carrying mail.
#[derive(Debug, Clone)]
pub struct ConnectionInfo {
    pub id: usize,
    pub protocol: Protocol,
    pub client: Endpoint,
    pub server: Endpoint,
    pub first_frame: u64,
    pub last_frame: u64,
    /// Capture times of the first and last frames seen of the connection.
    pub first_ts: Timestamp,
    pub last_ts: Timestamp,
    /// How it was found to be mail: by a port, or by what its bytes said.
    pub detected_by: Detection,
    /// TLS from the first byte (465, 995).
    pub implicit_tls: bool,
    /// Application data was decrypted with the key log.
    pub tls_decrypted: bool,
}

/// How a connection was found to be mail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detection {
    Port,
    Content,
}

impl Detection {
    pub fn name(self) -> &'static str {
        match self {
            Detection::Port => "port",
            Detection::Content => "content",
        }
    }
}

/// PDUs completed by one frame.
#[derive(Debug)]
pub struct FrameRecord {
    pub frame: u64,
    pub ts: Timestamp,
    /// The frame's source and destination.
    pub src: Endpoint,
    pub dst: Endpoint,
    pub connection: usize,
    pub pdus: Vec<Pdu>,
}

#[derive(Debug, Default)]
pub struct Report {
    pub frames: Vec<FrameRecord>,
    pub connections: Vec<ConnectionInfo>,
    /// PDUs only the end of the capture completed (an open message, bytes after a hole), per connection.
    pub at_end: Vec<(usize, Vec<Pdu>)>,
    pub frames_read: u64,
    pub error: Option<CaptureError>,
    /// Connections a filter left out (ids keep their numbers).
    pub hidden: std::collections::HashSet<usize>,
}

impl Report {
    /// The connections shown: all but those a filter hid.
    pub fn shown(&self) -> impl Iterator<Item = &ConnectionInfo> {
        self.connections
            .iter()
            .filter(|c| !self.hidden.contains(&c.id))
    }

    /// Every PDU with its connection id: frame by frame, then what only the
    /// end of the capture completed.
    pub fn pdus(&self) -> impl Iterator<Item = (usize, &Pdu)> {
        let at_end = self
            .at_end
            .iter()
            .flat_map(|(id, pdus)| pdus.iter().map(move |p| (*id, p)));
        self.frames
            .iter()
            .flat_map(|f| f.pdus.iter().map(move |p| (f.connection, p)))
            .chain(at_end)
    }
}

enum FlowState {
    Undecided {
        payloads: u32,
    },
    NotMail,
    Mail {
        id: usize,
        client: Endpoint,
        connection: Box<Connection>,
        /// The TLS session after STARTTLS/STLS (or from the start), and the
        /// mail protocol inside it, when a key log is given.
        tls: Option<Box<TlsBranch>>,
        implicit_tls: bool,
    },
}

/// The protocol a port names, and whether it is implicit TLS.
type PortRule = Option<(Protocol, bool)>;

/// A decrypted TLS session and the connection that parses what it carries.
struct TlsBranch {
    session: TlsSession,
    inner: Connection,
}

struct Flow {
    /// First payload byte's sequence number per endpoint, from SYN and SYN-ACK.
    first_seq: HashMap<Endpoint, u32>,
    /// While undecided: the sequence number after the last payload each
    /// endpoint sent. A tunnel's set-up (HTTP CONNECT, SOCKS5) comes before
    /// the mail protocol; found by content, the mail streams start after it.
    undecided_end: HashMap<Endpoint, u32>,
    /// Capture time of the flow's first packet (its SYN, when captured).
    first_ts: Timestamp,
    state: FlowState,
}

impl Flow {
    fn syn(&mut self, segment: &TcpSegment<'_>) {
        if segment.rst {
            return;
        }
        self.first_seq
            .insert(segment.src, segment.seq.wrapping_add(1));
        // A new SYN on a finished 4-tuple starts a new connection.
        if matches!(self.state, FlowState::Mail { .. }) && segment.ack.is_none() {
            self.state = FlowState::Undecided { payloads: 0 };
            self.first_ts = segment.ts;
            self.first_seq
                .retain(|endpoint, _| *endpoint == segment.src);
        }
    }

    /// An undecided flow's next payload: by port (destination first, then
    /// source) or by content, it becomes mail connection `id`, or is counted
    /// towards giving up.
    fn decide(
        &mut self,
        segment: &TcpSegment<'_>,
        (by_port_dst, by_port_src): (PortRule, PortRule),
        id: usize,
    ) -> Option<ConnectionInfo> {
        let by_port = by_port_dst.is_some() || by_port_src.is_some();
        let implicit_tls = by_port_dst.or(by_port_src).is_some_and(|(_, tls)| tls);
        let decided = if let Some((protocol, _)) = by_port_dst {
            Some((protocol, segment.src, segment.dst))
        } else if let Some((protocol, _)) = by_port_src {
            Some((protocol, segment.dst, segment.src))
        } else {
            detect::by_content(segment.payload).map(|(protocol, direction)| match direction {
                Direction::ToServer => (protocol, segment.src, segment.dst),
                Direction::ToClient => (protocol, segment.dst, segment.src),
            })
        };
        let Some((protocol, client, server)) = decided else {
            self.undecided_end.insert(
                segment.src,
                segment.seq.wrapping_add(segment.payload.len() as u32),
            );
            if let FlowState::Undecided { payloads } = &mut self.state {
                *payloads += 1;
                if *payloads >= DETECTION_PACKETS {
                    self.state = FlowState::NotMail;
                }
            }
            return None;
        };
        let mut connection = Box::new(if implicit_tls {
            Connection::implicit_tls(protocol)
        } else {
            Connection::new(protocol)
        });
        for (endpoint, direction) in [(client, Direction::ToServer), (server, Direction::ToClient)]
        {
            // Found by content: the mail protocol starts with this segment,
            // after whatever each side sent before it (a tunnel's set-up).
            let start = if by_port {
                self.first_seq.get(&endpoint).copied()
            } else if endpoint == segment.src {
                Some(segment.seq)
            } else {
                self.undecided_end
                    .get(&endpoint)
                    .or(self.first_seq.get(&endpoint))
                    .copied()
            };
            if let Some(seq) = start {
                connection.start_at(direction, seq);
            }
        }
        self.undecided_end.clear();
        self.state = FlowState::Mail {
            id,
            client,
            connection,
            tls: None,
            implicit_tls,
        };
        Some(ConnectionInfo {
            id,
            protocol,
            client,
            server,
            first_frame: segment.frame,
            last_frame: segment.frame,
            first_ts: self.first_ts,
            last_ts: segment.ts,
            detected_by: if by_port {
                Detection::Port
            } else {
                Detection::Content
            },
            implicit_tls,
            tls_decrypted: false,
        })
    }
}

fn flow_key(a: Endpoint, b: Endpoint) -> (Endpoint, Endpoint) {
    if a <= b {
        (a, b)
    } else {
        (b, a)
    }
}

/// Incremental analysis: feed segments in capture order, then `finish`.
pub struct Analyzer {
    options: Options,
    flows: HashMap<(Endpoint, Endpoint), Flow>,
    report: Report,
}

impl Analyzer {
    pub fn new(options: Options) -> Self {
        Analyzer {
            options,
            flows: HashMap::new(),
            report: Report::default(),
        }
    }

    fn protocol_on_port(&self, port: u16) -> Option<Protocol> {
        if self.options.smtp_ports.contains(&port) {
            return Some(Protocol::Smtp);
        }
        if self.options.pop3_ports.contains(&port) {
            return Some(Protocol::Pop3);
        }
        detect::by_port(port)
    }

    /// The protocol a port names, and whether it is implicit TLS (465, 995:
    /// only with a key log, without which nothing in them can be read).
    fn port_rule(&self, port: u16) -> PortRule {
        if let Some(protocol) = self.protocol_on_port(port) {
            return Some((protocol, false));
        }
        self.options.tls_keylog.as_ref()?;
        detect::IMPLICIT_TLS_PORTS
            .iter()
            .find(|(p, _)| *p == port)
            .map(|(_, protocol)| (*protocol, true))
    }

    pub fn segment(&mut self, segment: TcpSegment<'_>) {
        let key = flow_key(segment.src, segment.dst);
        let by_port = (self.port_rule(segment.dst.1), self.port_rule(segment.src.1));
        let flow = self.flows.entry(key).or_insert_with(|| Flow {
            first_seq: HashMap::new(),
            undecided_end: HashMap::new(),
            first_ts: segment.ts,
            state: FlowState::Undecided { payloads: 0 },
        });
        if segment.syn {
            flow.syn(&segment);
            return;
        }
        if segment.payload.is_empty() {
            return;
        }
        if matches!(flow.state, FlowState::Undecided { .. }) {
            let id = self.report.connections.len() + 1;
            let Some(info) = flow.decide(&segment, by_port, id) else {
                return;
            };
            self.report.connections.push(info);
            if let FlowState::Mail { connection, .. } = &mut flow.state {
                connection.set_default_charset(self.options.default_charset.clone());
                connection.set_decode_messages(!self.options.skip_mime);
                connection.keep_tls_bytes(self.options.tls_keylog.is_some());
            }
        }
        let FlowState::Mail {
            id,
            client,
            connection,
            tls,
            implicit_tls,
        } = &mut flow.state
        else {
            return;
        };
        let direction = if segment.src == *client {
            Direction::ToServer
        } else {
            Direction::ToClient
        };
        let mut out = connection.segment(
            direction,
            segment.seq,
            segment.ack,
            segment.payload,
            segment.frame,
        );
        let id = *id;
        let info = &mut self.report.connections[id - 1];
        info.last_frame = segment.frame;
        info.last_ts = segment.ts;
        if let (Some(log), false) = (&self.options.tls_keylog, out.tls.is_empty()) {
            let protocol = info.protocol;
            let branch = tls.get_or_insert_with(|| {
                let mut inner = if *implicit_tls {
                    Connection::new(protocol)
                } else {
                    Connection::after_starttls(protocol)
                };
                inner.set_default_charset(self.options.default_charset.clone());
                inner.set_decode_messages(!self.options.skip_mime);
                Box::new(TlsBranch {
                    session: TlsSession::default(),
                    inner,
                })
            });
            for (direction, bytes) in std::mem::take(&mut out.tls) {
                let decrypted = branch.session.feed(log, direction, &bytes);
                if !decrypted.data.is_empty() {
                    let inner = branch
                        .inner
                        .stream_data(direction, &decrypted.data, segment.frame);
                    out.pdus.extend(inner.pdus);
                }
            }
            info.tls_decrypted |= branch.session.decrypted;
        }
        if out.pdus.is_empty() {
            return;
        }
        match self.report.frames.last_mut() {
            // One record per frame, whatever number of calls its bytes took.
            Some(last) if last.frame == segment.frame && last.connection == id => {
                last.pdus.extend(out.pdus)
            }
            _ => self.report.frames.push(FrameRecord {
                frame: segment.frame,
                ts: segment.ts,
                src: segment.src,
                dst: segment.dst,
                connection: id,
                pdus: out.pdus,
            }),
        }
    }

    pub fn finish(mut self, frames_read: u64, error: Option<CaptureError>) -> Report {
        let mut flows: Vec<_> = self.flows.into_values().collect();
        flows.sort_by_key(|f| match &f.state {
            FlowState::Mail { id, .. } => *id,
            _ => 0,
        });
        for flow in flows {
            if let FlowState::Mail {
                id,
                mut connection,
                tls,
                ..
            } = flow.state
            {
                let last = self.report.connections[id - 1].last_frame;
                let mut pdus = connection.finish(last);
                if let Some(mut branch) = tls {
                    pdus.extend(branch.inner.finish(last));
                }
                if !pdus.is_empty() {
                    self.report.at_end.push((id, pdus));
                }
            }
        }
        self.report.frames_read = frames_read;
        self.report.error = error;
        self.report
    }
}

/// Reads and analyses a whole capture; a read error is kept in the report with everything read before it.
pub fn analyze_file(path: &Path, options: Options, on_progress: impl FnMut(u64)) -> Report {
    let mut analyzer = Analyzer::new(options);
    let result = read_capture(path, |segment| analyzer.segment(segment), on_progress);
    match result {
        Ok(frames) => analyzer.finish(frames, None),
        Err(error) => {
            let frames = match &error {
                CaptureError::Truncated { frames, .. } | CaptureError::Corrupt { frames, .. } => {
                    *frames
                }
                _ => 0,
            };
            analyzer.finish(frames, Some(error))
        }
    }
}

/// What a connection carried, for the summary.
#[derive(Debug, Default, Clone)]
pub struct MessageSummary {
    pub frame: u64,
    pub transaction: u64,
    pub mail_from: Option<String>,
    pub rcpt_to: Vec<String>,
    pub size: usize,
    pub complete: bool,
    /// Decoded subject, and the parts with a file name: (name, size, sha256).
    pub subject: Option<String>,
    pub attachments: Vec<(String, u64, String)>,
}

#[derive(Debug, Default, Clone)]
pub struct ConnectionSummary {
    pub credentials: Vec<Credential>,
    pub messages: Vec<MessageSummary>,
}

/// Credentials with their outcome, and messages with their envelope, per connection.
pub fn summarize(report: &Report) -> Vec<ConnectionSummary> {
    use mailscope::Field;
    let mut out = vec![ConnectionSummary::default(); report.connections.len()];
    let mut envelopes: Vec<(Option<String>, Vec<String>)> =
        vec![(None, Vec::new()); report.connections.len()];
    for (id, pdu) in report.pdus() {
        let summary = &mut out[id - 1];
        let envelope = &mut envelopes[id - 1];
        let items = pdu.flatten();
        let code = items
            .iter()
            .find(|(i, _)| i.field == Field::SmtpReplyCode)
            .map(|(i, _)| i.value.to_string());
        let refused = code.is_some_and(|c| c.starts_with('4') || c.starts_with('5'));
        for (item, _) in items {
            let value = item.value.as_str().map(str::to_string);
            match (pdu.direction, item.field) {
                (Direction::ToServer, Field::SmtpMailFrom) => *envelope = (value, Vec::new()),
                (Direction::ToServer, Field::SmtpRcptTo) => envelope.1.extend(value),
                // A refused recipient, possibly answered after a pipelined message was sent.
                (Direction::ToClient, Field::SmtpRcptTo) if refused => {
                    envelope.1.retain(|r| Some(r) != value.as_ref());
                    if let Some(m) = summary.messages.last_mut() {
                        m.rcpt_to.retain(|r| Some(r) != value.as_ref());
                    }
                }
                _ => {}
            }
        }
        if let Some(credential) = &pdu.credential {
            summary.credentials.push(credential.clone());
        }
        if let Some((frame, success)) = pdu.auth_outcome {
            if let Some(c) = summary
                .credentials
                .iter_mut()
                .rev()
                .find(|c| c.frame == frame)
            {
                c.success = Some(success);
            }
        }
        if let Some(message) = &pdu.message {
            summary.messages.push(MessageSummary {
                frame: pdu.frame,
                transaction: message.source.number(),
                mail_from: envelope.0.clone(),
                rcpt_to: envelope.1.clone(),
                size: message.content.len(),
                complete: message.complete && !message.truncated,
                subject: pdu
                    .mime
                    .as_ref()
                    .and_then(|m| m.subject.as_ref())
                    .map(|s| s.value.clone()),
                attachments: pdu
                    .mime
                    .iter()
                    .flat_map(|m| m.attachments())
                    .map(|p| {
                        (
                            p.filename.clone().unwrap_or_default(),
                            p.size.unwrap_or(0),
                            p.sha256.clone().unwrap_or_default(),
                        )
                    })
                    .collect(),
            });
        }
    }
    out
}
