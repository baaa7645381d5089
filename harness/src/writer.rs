//! The output of an analysis, written as it is found: each frame's PDUs
//! when the frame is read, each connection's summary or session record when
//! the connection ends. Only per-connection aggregates of the connections
//! still open are held, so memory does not grow with the capture.

use std::collections::HashMap;
use std::io::Write;

use mailscope::Pdu;
use serde_json::Value as Json;

use crate::analyze::{ConnectionInfo, ConnectionSummary, End, FrameRecord, Report, Sink};
use crate::capture::CaptureError;
use crate::extract::Extractor;
use crate::filter::Filter;
use crate::render;
use crate::sessions::Record;

/// What is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// A readable tree per frame.
    Tree,
    /// A JSON object per frame.
    Json,
    /// Credentials, messages and facts per connection.
    Summary,
    /// A JSON session record per connection.
    Sessions,
    /// Session records kept (for Parquet), nothing written.
    Records,
    /// With an extractor: a line per file written.
    Files,
    /// Nothing written (an extractor may still be at work).
    Nothing,
}

impl Form {
    fn aggregates(self) -> bool {
        matches!(self, Form::Summary | Form::Sessions | Form::Records)
    }
}

/// What is added up for an open connection: its session record, and for
/// the summary its credentials and messages.
#[derive(Default)]
struct Aggregate {
    summary: Option<ConnectionSummary>,
    record: Record,
}

/// A [`Sink`] that writes one capture's output to `out` as it goes.
pub struct Writer<W: Write> {
    form: Form,
    file: String,
    filter: Filter,
    out: W,
    /// The first error writing the output or extracting.
    failed: Option<String>,
    /// The shown connections still open, with their aggregates.
    open: HashMap<usize, Option<Box<Aggregate>>>,
    extractor: Option<Extractor>,
    records: Vec<Json>,
    /// Connections found, and of them shown, so far.
    found: usize,
    shown: usize,
    /// Why the capture could not be read to its end.
    capture_error: Option<String>,
    text: String,
    /// `== FILE`, written before this capture's first output (one of several).
    heading: Option<String>,
}

impl<W: Write> Writer<W> {
    /// A writer of `form` for the capture named `file`, showing what `filter` keeps.
    pub fn new(form: Form, file: &str, filter: Filter, out: W) -> Self {
        Writer {
            form,
            file: file.to_string(),
            filter,
            out,
            failed: None,
            open: HashMap::new(),
            extractor: None,
            records: Vec::new(),
            found: 0,
            shown: 0,
            capture_error: None,
            text: String::new(),
            heading: None,
        }
    }

    /// Heads the output with `== FILE` (when several captures are read),
    /// unless nothing of the capture could be read: an error is no output.
    pub fn headed(mut self) -> Self {
        self.heading = Some(format!("== {}\n", self.file));
        self
    }

    /// Also writes every message and attachment with `extractor`.
    pub fn extracting(mut self, extractor: Extractor) -> Self {
        self.extractor = Some(extractor);
        self
    }

    /// Writes what `text` holds, remembering the first failure.
    fn emit(&mut self) {
        if self.text.is_empty() {
            return;
        }
        if let Some(heading) = self.heading.take() {
            self.text.insert_str(0, &heading);
        }
        if self.failed.is_none() {
            if let Err(e) = self.out.write_all(self.text.as_bytes()) {
                self.failed = Some(format!("cannot write the output: {e}"));
            }
        }
        self.text.clear();
    }

    fn extract(&mut self, connection: usize, pdu: &Pdu) {
        let Some(extractor) = &mut self.extractor else {
            return;
        };
        if pdu.message.is_none() || self.failed.is_some() {
            return;
        }
        match extractor.pdu(connection, pdu) {
            Ok(files) if self.form == Form::Files => {
                for file in files {
                    self.text.push_str(&format!(
                        "{}\t{} bytes\tsha256 {}\n",
                        file.path.display(),
                        file.size,
                        file.sha256
                    ));
                }
            }
            Ok(_) => {}
            Err(e) => {
                self.failed = Some(format!(
                    "cannot write into {}: {e}",
                    extractor.dir().display()
                ))
            }
        }
    }

    /// Adds `pdus` of shown connection `info` to its aggregate and the
    /// extractor. The session record adds up every PDU (the state, TLS and
    /// anomalies it reports are the analysis's, whatever is shown); the
    /// summary's list and the extractor take only the PDUs the filter keeps.
    fn take(&mut self, info: &ConnectionInfo, pdus: &[Pdu]) {
        for pdu in pdus {
            let kept = self.filter.keeps(pdu);
            if let Some(Some(aggregate)) = self.open.get_mut(&info.id) {
                let items = pdu.flatten_wire();
                if let (Some(summary), true) = (&mut aggregate.summary, kept) {
                    summary.pdu(pdu, &items);
                }
                aggregate.record.pdu(info.protocol, pdu, &items);
            }
            if kept {
                self.extract(info.id, pdu);
            }
        }
    }

    /// A connection was found: it is shown if the filter admits it.
    pub fn opened_ref(&mut self, info: &ConnectionInfo) {
        self.found += 1;
        if self.filter.admits(info) {
            let aggregate = self.form.aggregates().then(|| {
                Box::new(Aggregate {
                    summary: (self.form == Form::Summary).then(ConnectionSummary::default),
                    record: Record::default(),
                })
            });
            self.open.insert(info.id, aggregate);
        }
    }

    /// One frame's PDUs: added up, and written in the per-frame forms.
    pub fn frame_ref(&mut self, info: &ConnectionInfo, record: &FrameRecord) {
        if !self.open.contains_key(&info.id) {
            return;
        }
        self.take(info, &record.pdus);
        let keep = |p: &&Pdu| self.filter.keeps(p);
        match self.form {
            Form::Tree => render::tree_frame(&mut self.text, info, record, keep),
            Form::Json => render::json_frame(&mut self.text, &self.file, record, keep),
            _ => {}
        }
        self.emit();
    }

    /// A connection ended: what its end completed, then its block or record.
    pub fn closed_ref(&mut self, info: &ConnectionInfo, pdus: &[Pdu]) {
        if !self.open.contains_key(&info.id) {
            return;
        }
        if info.end == Some(End::Released) {
            // Not mail after all: nothing more of it is written.
            self.open.remove(&info.id);
            self.found -= 1;
            return;
        }
        self.take(info, pdus);
        let aggregate = self.open.remove(&info.id).flatten();
        if self.form == Form::Tree {
            render::tree_end(&mut self.text, info, pdus, |p| self.filter.keeps(p));
        }
        if let Some(aggregate) = aggregate {
            let Aggregate { summary, record } = *aggregate;
            if !self.filter.credentials_only || record.has_login() {
                self.shown += 1;
                let record = record.finish(info, &self.file);
                match (self.form, summary) {
                    (Form::Summary, Some(summary)) => {
                        render::summary_block(&mut self.text, info, &summary, &record)
                    }
                    (Form::Sessions, _) => {
                        self.text.push_str(&record.to_string());
                        self.text.push('\n');
                    }
                    _ => self.records.push(record),
                }
            }
        }
        self.emit();
    }

    /// The capture was read (`error`: why not to its end): the closing
    /// words, the manifest, and a flush.
    pub fn finished_ref(&mut self, error: Option<&CaptureError>) {
        self.capture_error = error.map(ToString::to_string);
        if error.is_some_and(CaptureError::read_nothing) {
            // Said on standard error; standard output gets nothing for it.
            self.heading = None;
        } else if self.form == Form::Summary {
            if self.found == 0 {
                self.text
                    .push_str("no SMTP or POP3 connection in this capture\n");
            } else if self.shown == 0 {
                self.text.push_str("no connection matches the filter\n");
            }
        }
        if let Some(heading) = self.heading.take() {
            self.text.insert_str(0, &heading);
        }
        self.emit();
        if let Some(extractor) = self.extractor.take() {
            if self.failed.is_none() {
                if let Err(e) = extractor.finish() {
                    self.failed = Some(format!("cannot write the manifest: {e}"));
                }
            }
        }
        if self.failed.is_none() {
            if let Err(e) = self.out.flush() {
                self.failed = Some(format!("cannot write the output: {e}"));
            }
        }
    }

    /// Writes what a whole report holds, as if it were being found:
    /// connections, frames, then the connections' ends in the order they
    /// ended.
    pub fn replay(&mut self, report: &Report) {
        for info in &report.connections {
            self.opened_ref(info);
        }
        for record in &report.frames {
            self.frame_ref(&report.connections[record.connection - 1], record);
        }
        let at_end: HashMap<usize, &Vec<Pdu>> =
            report.at_end.iter().map(|(id, pdus)| (*id, pdus)).collect();
        for id in &report.ended {
            let pdus = at_end.get(id).map_or(&[][..], |p| &p[..]);
            self.closed_ref(&report.connections[id - 1], pdus);
        }
        self.finished_ref(report.error.as_ref());
    }

    /// Why the capture could not be read whole, or the output written.
    pub fn errors(&self) -> Option<String> {
        match (&self.capture_error, &self.failed) {
            (Some(a), Some(b)) => Some(format!("{a}; {b}")),
            (a, b) => a.clone().or_else(|| b.clone()),
        }
    }

    /// The records kept by [`Form::Records`].
    pub fn into_records(self) -> Vec<Json> {
        self.records
    }
}

impl Writer<Vec<u8>> {
    /// What was written, as text.
    pub fn into_string(self) -> String {
        String::from_utf8_lossy(&self.out).into_owned()
    }
}

impl<W: Write> Sink for Writer<W> {
    fn opened(&mut self, info: &ConnectionInfo) {
        self.opened_ref(info);
    }

    fn frame(&mut self, info: &ConnectionInfo, record: FrameRecord) {
        self.frame_ref(info, &record);
    }

    fn closed(&mut self, info: &ConnectionInfo, pdus: Vec<Pdu>) {
        self.closed_ref(info, &pdus);
    }

    fn finished(&mut self, _frames_read: u64, error: Option<CaptureError>) {
        self.finished_ref(error.as_ref());
    }
}
