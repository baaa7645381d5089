//! Runs the core over every mail connection in a capture.
//!
//! Connections are found by port (SMTP on 25, 587, 2525 and `--smtp-port`,
//! POP3 on 110 and `--pop3-port`) or by content, with the same detector the
//! Wireshark plugin runs, so both see the same connections from the same frame on.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::Path;

use mailscope::detect::{self, Detector, Protocol, Verdict};
use mailscope::{Connection, Credential, Direction, Item, Pdu};

use crate::capture::{read_capture, CaptureError, TcpSegment};
use crate::parallel::MimeStage;
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
    /// Threads that decode messages beside the analysis (0: decode them in
    /// line). The output is the same either way.
    pub mime_threads: usize,
    /// A connection with no packet for this long (capture time) is ended
    /// and its state released [default: `DEFAULT_IDLE_TIMEOUT` seconds].
    pub idle_timeout: Option<std::time::Duration>,
}

impl Options {
    /// Whether each connection decodes its messages itself.
    fn decode_in_line(&self) -> bool {
        !self.skip_mime && self.mime_threads == 0
    }
}

/// Seconds of capture time without a packet after which a connection is
/// ended: RFC 1939's shortest POP3 autologout timer, twice RFC 5321's
/// server timeout for a command.
pub const DEFAULT_IDLE_TIMEOUT: i64 = 600;

/// Seconds of capture time a flow is kept after both FINs or a RST, for
/// segments captured out of order (Zeek's `tcp_close_delay`).
pub const CLOSE_DELAY: i64 = 5;

/// Flows are checked for their end at most once every this many segments
/// (or once per segment per flow, when there are more flows).
const SWEEP_EVERY: usize = 4096;

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
    /// How the connection's analysis ended; `None` while it is open.
    pub end: Option<End>,
}

/// How a connection's analysis ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// Both sides sent a FIN.
    Closed,
    /// A side sent a RST.
    Reset,
    /// No packet for the idle timeout.
    Idle,
    /// The capture ended with the connection open.
    Capture,
    /// Found by its content, it turned out to be another protocol (FTP's
    /// `PASV`, `227`, `150`): it is not reported as mail.
    Released,
}

impl End {
    pub fn name(self) -> &'static str {
        match self {
            End::Closed => "closed",
            End::Reset => "reset",
            End::Idle => "idle",
            End::Capture => "end of capture",
            End::Released => "released: not mail",
        }
    }
}

/// Where an [`Analyzer`] hands what it finds, as it finds it.
pub trait Sink {
    /// A connection was found to carry mail (ids count up from 1).
    fn opened(&mut self, info: &ConnectionInfo);
    /// The PDUs one frame completed, with the connection as it stands.
    fn frame(&mut self, info: &ConnectionInfo, record: FrameRecord);
    /// A connection ended (`info.end` says how) and its state was
    /// released; `pdus` are what only its end completed.
    fn closed(&mut self, info: &ConnectionInfo, pdus: Vec<Pdu>);
    /// The capture was read: `frames_read` frames, and why it stopped early.
    fn finished(&mut self, frames_read: u64, error: Option<CaptureError>);
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

/// Everything an analysis found, held whole: for tests and for callers that
/// look at a capture as a whole. The command line streams instead.
#[derive(Debug, Default)]
pub struct Report {
    pub frames: Vec<FrameRecord>,
    pub connections: Vec<ConnectionInfo>,
    /// PDUs only the end of a connection completed (an open message, bytes
    /// after a hole), per connection, in the order the connections ended.
    pub at_end: Vec<(usize, Vec<Pdu>)>,
    /// Connection ids in the order the connections ended.
    pub ended: Vec<usize>,
    pub frames_read: u64,
    pub error: Option<CaptureError>,
}

impl Report {
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

impl Sink for Report {
    fn opened(&mut self, info: &ConnectionInfo) {
        debug_assert_eq!(info.id, self.connections.len() + 1);
        self.connections.push(info.clone());
    }

    fn frame(&mut self, info: &ConnectionInfo, record: FrameRecord) {
        self.connections[info.id - 1] = info.clone();
        self.frames.push(record);
    }

    fn closed(&mut self, info: &ConnectionInfo, pdus: Vec<Pdu>) {
        self.connections[info.id - 1] = info.clone();
        self.ended.push(info.id);
        if info.end == Some(End::Released) {
            self.frames.retain(|f| f.connection != info.id);
            return;
        }
        if !pdus.is_empty() {
            self.at_end.push((info.id, pdus));
        }
    }

    fn finished(&mut self, frames_read: u64, error: Option<CaptureError>) {
        self.frames_read = frames_read;
        self.error = error;
    }
}

enum FlowState {
    /// Not decided by a port: the detector holds its first payloads.
    Undecided(Option<Box<Detector>>),
    NotMail,
    Mail(Box<MailFlow>),
}

/// A connection found to carry mail, and what analyses it.
struct MailFlow {
    info: ConnectionInfo,
    connection: Connection,
    /// The TLS session after STARTTLS/STLS (or from the start), and the
    /// mail protocol inside it, when a key log is given.
    tls: Option<Box<TlsBranch>>,
}

/// The protocol a port names, and whether it is implicit TLS.
type PortRule = Option<(Protocol, bool)>;

/// A decrypted TLS session and the connection that parses what it carries.
struct TlsBranch {
    session: TlsSession,
    inner: Connection,
}

/// A value per side of a flow: index 0 for the lower endpoint of its key,
/// 1 for the other (see [`flow_key`]).
type PerSide<T> = [Option<T>; 2];

struct Flow {
    /// The flow's lower endpoint (its key's first): side 0.
    low: Endpoint,
    /// First payload byte's sequence number per side, from SYN and SYN-ACK.
    first_seq: PerSide<u32>,
    /// Capture time of the flow's first packet (its SYN, when captured).
    first_ts: Timestamp,
    /// Capture time of its latest packet, for the idle timeout.
    last_ts: Timestamp,
    /// Sides that sent a FIN.
    fin_from: PerSide<()>,
    /// When both sides had sent a FIN, or one a RST: the flow is released
    /// `CLOSE_DELAY` later (segments captured out of order still count).
    ended: Option<(Timestamp, End)>,
    state: FlowState,
}

impl Flow {
    /// The side `endpoint` is on.
    fn side(&self, endpoint: &Endpoint) -> usize {
        usize::from(*endpoint != self.low)
    }

    fn new(low: Endpoint, ts: Timestamp) -> Self {
        Flow {
            low,
            first_seq: [None; 2],
            first_ts: ts,
            last_ts: ts,
            fin_from: [None; 2],
            ended: None,
            state: FlowState::Undecided(None),
        }
    }

    /// A SYN. On a 4-tuple whose connection was mail, a new SYN (not a
    /// SYN-ACK) starts a new connection: the old one is handed back to be
    /// ended.
    fn syn(&mut self, segment: &TcpSegment<'_>) -> Option<Box<MailFlow>> {
        if segment.rst {
            return None;
        }
        self.first_seq[self.side(&segment.src)] = Some(segment.seq.wrapping_add(1));
        if !matches!(self.state, FlowState::Mail(_)) || segment.ack.is_some() {
            return None;
        }
        let FlowState::Mail(old) = std::mem::replace(&mut self.state, FlowState::Undecided(None))
        else {
            return None;
        };
        self.first_ts = segment.ts;
        self.first_seq[1 - self.side(&segment.src)] = None;
        self.fin_from = [None; 2];
        self.ended = None;
        Some(old)
    }

    /// Notes FIN and RST: when the flow as a whole has ended.
    fn flags(&mut self, segment: &TcpSegment<'_>) {
        if segment.fin {
            self.fin_from[self.side(&segment.src)] = Some(());
        }
        if self.ended.is_none() {
            if segment.rst {
                self.ended = Some((segment.ts, End::Reset));
            } else if self.fin_from.iter().all(Option::is_some) {
                self.ended = Some((segment.ts, End::Closed));
            }
        }
    }

    /// An undecided flow's next payload: by port (destination first, then
    /// source) it becomes mail connection `id` at once; else the detector
    /// reads it, and when its evidence is complete the connection starts
    /// with the segments it held (what this frame shows).
    fn decide(
        &mut self,
        segment: &TcpSegment<'_>,
        (by_port_dst, by_port_src): (PortRule, PortRule),
        id: usize,
    ) -> Option<(ConnectionInfo, Connection, Option<detect::Replay>)> {
        let implicit_tls = by_port_dst.or(by_port_src).is_some_and(|(_, tls)| tls);
        let by_port = if let Some((protocol, _)) = by_port_dst {
            Some((protocol, segment.src, segment.dst))
        } else if let Some((protocol, _)) = by_port_src {
            Some((protocol, segment.dst, segment.src))
        } else {
            None
        };
        let (protocol, client, server, replay) = match by_port {
            Some((protocol, client, server)) => (protocol, client, server, None),
            None => {
                let from_a = self.side(&segment.src) == 0;
                let FlowState::Undecided(detector) = &mut self.state else {
                    return None;
                };
                let detector = detector
                    .get_or_insert_with(|| Box::new(Detector::new((segment.src.1, segment.dst.1))));
                let verdict = detector.payload(
                    from_a,
                    segment.seq,
                    segment.ack,
                    segment.payload,
                    segment.frame,
                );
                let (protocol, server_is_a) = match verdict {
                    Verdict::Undecided => return None,
                    Verdict::NotMail => {
                        self.state = FlowState::NotMail;
                        return None;
                    }
                    Verdict::Mail {
                        protocol,
                        server_is_a,
                    } => (protocol, server_is_a),
                };
                let replay = detector.take_replay();
                let server_is_src = server_is_a == from_a;
                let (client, server) = if server_is_src {
                    (segment.dst, segment.src)
                } else {
                    (segment.src, segment.dst)
                };
                (protocol, client, server, Some(replay))
            }
        };
        let mut connection = if implicit_tls {
            Connection::implicit_tls(protocol)
        } else {
            Connection::new(protocol)
        };
        if replay.is_none() {
            for (endpoint, direction) in
                [(client, Direction::ToServer), (server, Direction::ToClient)]
            {
                if let Some(seq) = self.first_seq[self.side(&endpoint)] {
                    connection.start_at(direction, seq);
                }
            }
        }
        let first_frame = replay
            .as_ref()
            .and_then(|r| r.segments.first())
            .map_or(segment.frame, |held| held.frame);
        let info = ConnectionInfo {
            id,
            protocol,
            client,
            server,
            first_frame,
            last_frame: segment.frame,
            first_ts: self.first_ts,
            last_ts: segment.ts,
            detected_by: if replay.is_none() {
                Detection::Port
            } else {
                Detection::Content
            },
            implicit_tls,
            tls_decrypted: false,
            end: None,
        };
        Some((info, connection, replay))
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
/// What it finds goes to a [`Sink`] as it is found; a connection's state is
/// released when it ends (FIN both ways or RST, `CLOSE_DELAY` later, or
/// idle for the idle timeout, in capture time).
pub struct Analyzer<S: Sink = Report> {
    options: Options,
    flows: HashMap<(Endpoint, Endpoint), Flow>,
    sink: S,
    /// Connections found so far (the next id is one more).
    found: usize,
    /// The latest frame's PDUs, until a segment of another frame or
    /// connection (a frame may take several calls).
    pending: Option<(ConnectionInfo, FrameRecord)>,
    /// The latest capture time seen.
    now: Timestamp,
    /// Segments since flows were last checked for their end.
    since_sweep: usize,
}

impl Analyzer<Report> {
    /// An analyzer that collects everything into a [`Report`].
    pub fn new(options: Options) -> Self {
        Analyzer::with_sink(options, Report::default())
    }
}

impl<S: Sink> Analyzer<S> {
    pub fn with_sink(options: Options, sink: S) -> Self {
        Analyzer {
            options,
            flows: HashMap::new(),
            sink,
            found: 0,
            pending: None,
            now: Timestamp::default(),
            since_sweep: 0,
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

    fn idle_timeout(&self) -> i64 {
        self.options
            .idle_timeout
            .map_or(DEFAULT_IDLE_TIMEOUT, |d| d.as_secs() as i64)
    }

    pub fn segment(&mut self, segment: TcpSegment<'_>) {
        self.now = self.now.max(segment.ts);
        self.since_sweep += 1;
        if self.since_sweep >= SWEEP_EVERY.max(self.flows.len()) {
            self.sweep();
        }
        let key = flow_key(segment.src, segment.dst);
        let by_port = (self.port_rule(segment.dst.1), self.port_rule(segment.src.1));
        let flow = self
            .flows
            .entry(key)
            .or_insert_with(|| Flow::new(key.0, segment.ts));
        flow.last_ts = flow.last_ts.max(segment.ts);
        if segment.syn {
            if let Some(old) = flow.syn(&segment) {
                self.end(old, End::Closed);
            }
            return;
        }
        flow.flags(&segment);
        if segment.payload.is_empty() {
            return;
        }
        let mut replay = None;
        if matches!(flow.state, FlowState::Undecided(_)) {
            let Some((info, mut connection, held)) = flow.decide(&segment, by_port, self.found + 1)
            else {
                return;
            };
            replay = held;
            self.found += 1;
            connection.set_default_charset(self.options.default_charset.clone());
            connection.set_decode_messages(self.options.decode_in_line());
            connection.keep_tls_bytes(self.options.tls_keylog.is_some());
            if info.detected_by == Detection::Content {
                connection.watch_for_other_protocols();
            }
            self.sink.opened(&info);
            flow.state = FlowState::Mail(Box::new(MailFlow {
                info,
                connection,
                tls: None,
            }));
        }
        let FlowState::Mail(mail) = &mut flow.state else {
            return;
        };
        let pdus = mail.segment(&segment, replay, &self.options);
        if mail.connection.contradiction().is_some() {
            // Not mail after all: what it showed is taken back, and the
            // flow is not looked at again.
            let FlowState::Mail(mut mail) = std::mem::replace(&mut flow.state, FlowState::NotMail)
            else {
                return;
            };
            if self
                .pending
                .as_ref()
                .is_some_and(|(info, _)| info.id == mail.info.id)
            {
                self.pending = None;
            }
            self.flush();
            mail.info.end = Some(End::Released);
            self.sink.closed(&mail.info, Vec::new());
            return;
        }
        if pdus.is_empty() {
            return;
        }
        let info = mail.info.clone();
        match &mut self.pending {
            // One record per frame, whatever number of calls its bytes took.
            Some((pending_info, last))
                if last.frame == segment.frame && last.connection == info.id =>
            {
                *pending_info = info;
                last.pdus.extend(pdus);
            }
            _ => {
                self.flush();
                self.pending = Some((
                    info.clone(),
                    FrameRecord {
                        frame: segment.frame,
                        ts: segment.ts,
                        src: segment.src,
                        dst: segment.dst,
                        connection: info.id,
                        pdus,
                    },
                ));
            }
        }
    }

    /// Hands the pending frame's PDUs to the sink.
    fn flush(&mut self) {
        if let Some((info, record)) = self.pending.take() {
            self.sink.frame(&info, record);
        }
    }

    /// Ends the flows whose connection closed `CLOSE_DELAY` ago, or that
    /// have been idle for the idle timeout; mail connections in the order
    /// they were found.
    fn sweep(&mut self) {
        self.since_sweep = 0;
        let now = self.now;
        let idle = self.idle_timeout();
        let mut ended = Vec::new();
        self.flows.retain(|_, flow| {
            let end = match flow.ended {
                Some((at, end)) if now.secs - at.secs >= CLOSE_DELAY => end,
                _ if now.secs - flow.last_ts.secs >= idle => End::Idle,
                _ => return true,
            };
            if let FlowState::Mail(mail) = std::mem::replace(&mut flow.state, FlowState::NotMail) {
                ended.push((mail, end));
            }
            false
        });
        ended.sort_by_key(|(mail, _)| mail.info.id);
        for (mail, end) in ended {
            self.end(mail, end);
        }
    }

    /// What the end of a connection completes (an open message, bytes after
    /// a hole), handed to the sink with the connection's final facts.
    fn end(&mut self, mut mail: Box<MailFlow>, end: End) {
        self.flush();
        let last = mail.info.last_frame;
        let mut pdus = mail.connection.finish(last);
        if let Some(branch) = &mut mail.tls {
            pdus.extend(branch.inner.finish(last));
        }
        mail.info.end = Some(end);
        self.sink.closed(&mail.info, pdus);
    }

    /// Ends every connection still open (in the order they were found) and
    /// hands back the sink.
    pub fn finish(mut self, frames_read: u64, error: Option<CaptureError>) -> S {
        self.flush();
        let mut open: Vec<_> = std::mem::take(&mut self.flows)
            .into_values()
            .filter_map(|flow| match flow.state {
                FlowState::Mail(mail) => Some((mail, flow.ended.map_or(End::Capture, |e| e.1))),
                _ => None,
            })
            .collect();
        open.sort_by_key(|(mail, _)| mail.info.id);
        for (mail, end) in open {
            self.end(mail, end);
        }
        self.sink.finished(frames_read, error);
        self.sink
    }
}

impl MailFlow {
    /// The PDUs one segment completes, in the clear and, with a key log,
    /// inside TLS.
    /// A connection found by content starts with the detector's `replay`,
    /// which holds this segment too.
    fn segment(
        &mut self,
        segment: &TcpSegment<'_>,
        replay: Option<detect::Replay>,
        options: &Options,
    ) -> Vec<Pdu> {
        let direction = if segment.src == self.info.client {
            Direction::ToServer
        } else {
            Direction::ToClient
        };
        let mut out = match replay {
            Some(replay) => {
                let server_is_a = self.info.server < self.info.client;
                self.connection.replay(replay, server_is_a)
            }
            None => self.connection.segment(
                direction,
                segment.seq,
                segment.ack,
                segment.payload,
                segment.frame,
            ),
        };
        let info = &mut self.info;
        info.last_frame = segment.frame;
        info.last_ts = segment.ts;
        if let (Some(log), false) = (&options.tls_keylog, out.tls.is_empty()) {
            let protocol = info.protocol;
            let implicit_tls = info.implicit_tls;
            let branch = self.tls.get_or_insert_with(|| {
                let mut inner = if implicit_tls {
                    Connection::new(protocol)
                } else {
                    Connection::after_starttls(protocol)
                };
                inner.set_default_charset(options.default_charset.clone());
                inner.set_decode_messages(options.decode_in_line());
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
        out.pdus
    }
}

/// Reads and analyses a whole capture; a read error is kept in the report with everything read before it.
pub fn analyze_file(path: &Path, options: Options, on_progress: impl FnMut(u64)) -> Report {
    analyze_into(path, options, Report::default(), on_progress)
}

/// Reads and analyses a whole capture into `sink`, which is told of a read
/// error after everything read before it.
pub fn analyze_into<S: Sink>(
    path: &Path,
    options: Options,
    sink: S,
    on_progress: impl FnMut(u64),
) -> S {
    if options.mime_threads > 0 && !options.skip_mime {
        let mime = mailscope::mime::Options {
            default_charset: options.default_charset.clone(),
            keep_bodies: false,
        };
        let stage = MimeStage::new(sink, options.mime_threads, mime);
        return read_into(path, options, stage, on_progress).into_inner();
    }
    read_into(path, options, sink, on_progress)
}

fn read_into<S: Sink>(path: &Path, options: Options, sink: S, on_progress: impl FnMut(u64)) -> S {
    let mut analyzer = Analyzer::with_sink(options, sink);
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
    /// Bytes of it missing from the capture.
    pub missing: u64,
    /// Decoded subject, and the parts with a file name: (name, size, sha256).
    pub subject: Option<String>,
    pub attachments: Vec<(String, u64, String)>,
}

#[derive(Debug, Default, Clone)]
pub struct ConnectionSummary {
    pub credentials: Vec<Credential>,
    pub messages: Vec<MessageSummary>,
    /// Messages and credentials past `MAX_LISTED`, counted.
    pub omitted: usize,
    /// MAIL FROM and the RCPT TOs of the transaction under way.
    envelope: (Option<String>, Vec<String>),
}

/// Most credentials and messages a summary lists per connection; the rest
/// are counted.
pub const MAX_LISTED: usize = 1000;

impl ConnectionSummary {
    /// Adds what one PDU says; `items` are its wire items
    /// (`Pdu::flatten_wire`), flattened once for all who read them.
    pub fn pdu(&mut self, pdu: &Pdu, items: &[(&Item, usize)]) {
        use mailscope::Field;
        let code = items
            .iter()
            .find(|(i, _)| i.field == Field::SmtpReplyCode)
            .map(|(i, _)| i.value.to_string());
        let refused = code.is_some_and(|c| c.starts_with('4') || c.starts_with('5'));
        for (item, _) in items {
            let value = item.value.as_str().map(str::to_string);
            let envelope = &mut self.envelope;
            match (pdu.direction, item.field) {
                (Direction::ToServer, Field::SmtpMailFrom) => *envelope = (value, Vec::new()),
                (Direction::ToServer, Field::SmtpRcptTo) if envelope.1.len() < MAX_LISTED => {
                    envelope.1.extend(value)
                }
                // A refused recipient, possibly answered after a pipelined message was sent.
                (Direction::ToClient, Field::SmtpRcptTo) if refused => {
                    envelope.1.retain(|r| Some(r) != value.as_ref());
                    if let Some(m) = self.messages.last_mut() {
                        m.rcpt_to.retain(|r| Some(r) != value.as_ref());
                    }
                }
                _ => {}
            }
        }
        if let Some(credential) = &pdu.credential {
            if self.credentials.len() < MAX_LISTED {
                self.credentials.push(credential.clone());
            } else {
                self.omitted += 1;
            }
        }
        if let Some((frame, success)) = pdu.auth_outcome {
            if let Some(c) = self.credentials.iter_mut().rev().find(|c| c.frame == frame) {
                c.success = Some(success);
            }
        }
        let Some(message) = &pdu.message else {
            return;
        };
        if self.messages.len() >= MAX_LISTED {
            self.omitted += 1;
            return;
        }
        self.messages.push(MessageSummary {
            frame: pdu.frame,
            transaction: message.source.number(),
            mail_from: self.envelope.0.clone(),
            rcpt_to: self.envelope.1.clone(),
            size: message.content.len(),
            complete: message.complete && !message.truncated,
            missing: message.missing(),
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

/// Credentials with their outcome, and messages with their envelope, per connection.
pub fn summarize(report: &Report) -> Vec<ConnectionSummary> {
    let mut out = vec![ConnectionSummary::default(); report.connections.len()];
    for (id, pdu) in report.pdus() {
        out[id - 1].pdu(pdu, &pdu.flatten_wire());
    }
    out
}
