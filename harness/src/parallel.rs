//! Messages decoded on other cores: MIME decoding costs several times what
//! framing and sessions do on a capture of attachments, and a message's
//! decoding depends on nothing but the message. The analysis hands each
//! event to a [`MimeStage`], which sends those carrying messages to worker
//! threads and passes every event on to the sink in the order it came, so
//! the output is the same as decoding in line. Events wait in a bounded
//! queue: memory stays flat.

use std::collections::VecDeque;
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use mailscope::mime::{self, Options as MimeOptions};
use mailscope::Pdu;

use crate::analyze::{ConnectionInfo, FrameRecord, Sink};
use crate::capture::CaptureError;

/// Messages being decoded at most at once, per worker.
const IN_FLIGHT_PER_WORKER: usize = 4;
/// Events held waiting for a message before them at most.
const MAX_QUEUED: usize = 4096;

enum Event {
    Opened(ConnectionInfo),
    Frame(ConnectionInfo, FrameRecord),
    Closed(ConnectionInfo, Vec<Pdu>),
}

impl Event {
    fn pdus(&mut self) -> &mut [Pdu] {
        match self {
            Event::Opened(_) => &mut [],
            Event::Frame(_, record) => &mut record.pdus,
            Event::Closed(_, pdus) => pdus,
        }
    }
}

type Job = (u64, Event);

/// A [`Sink`] that decodes messages on `workers` threads and hands
/// everything on to `inner` in order.
pub struct MimeStage<S: Sink> {
    inner: S,
    /// Events in order from sequence number `base`; `None` while a worker
    /// decodes it.
    queue: VecDeque<Option<Event>>,
    base: u64,
    in_flight: usize,
    max_in_flight: usize,
    jobs: Option<Sender<Job>>,
    done: Receiver<Job>,
    workers: Vec<JoinHandle<()>>,
}

impl<S: Sink> MimeStage<S> {
    pub fn new(inner: S, workers: usize, options: MimeOptions) -> Self {
        let (jobs, inbox) = mpsc::channel::<Job>();
        let (finished, done) = mpsc::channel::<Job>();
        let inbox = Arc::new(Mutex::new(inbox));
        let options = Arc::new(options);
        let workers = (0..workers.max(1))
            .map(|_| {
                let (inbox, finished, options) = (inbox.clone(), finished.clone(), options.clone());
                std::thread::spawn(move || loop {
                    let job = inbox
                        .lock()
                        .map_err(|_| ())
                        .and_then(|r| r.recv().map_err(|_| ()));
                    let Ok((seq, mut event)) = job else { break };
                    // The core catches a panic of the MIME parser; should one
                    // escape, the event still goes on, its message undecoded.
                    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        for pdu in event.pdus() {
                            mime::decode_pdu(pdu, &options);
                        }
                    }));
                    if finished.send((seq, event)).is_err() {
                        break;
                    }
                })
            })
            .collect::<Vec<_>>();
        MimeStage {
            inner,
            queue: VecDeque::new(),
            base: 0,
            in_flight: 0,
            max_in_flight: workers.len() * IN_FLIGHT_PER_WORKER,
            jobs: Some(jobs),
            done,
            workers,
        }
    }

    fn push(&mut self, mut event: Event) {
        let seq = self.base + self.queue.len() as u64;
        let has_message = event.pdus().iter().any(|p| p.message.is_some());
        match (&self.jobs, has_message) {
            (Some(jobs), true) => match jobs.send((seq, event)) {
                Ok(()) => {
                    self.queue.push_back(None);
                    self.in_flight += 1;
                }
                // No worker left (one panicked): in line, undecoded.
                Err(mpsc::SendError((_, event))) => self.queue.push_back(Some(event)),
            },
            _ => self.queue.push_back(Some(event)),
        }
        self.drain(false);
        while self.in_flight >= self.max_in_flight || self.queue.len() >= MAX_QUEUED {
            if !self.drain(true) {
                break;
            }
        }
    }

    /// Takes in what the workers finished (waiting for one if `block`) and
    /// hands on the events at the front that are ready. False when nothing
    /// more can come.
    fn drain(&mut self, block: bool) -> bool {
        let mut received = false;
        if block && self.in_flight > 0 {
            match self.done.recv() {
                Ok(job) => {
                    self.place(job);
                    received = true;
                }
                Err(_) => return false,
            }
        }
        while let Ok(job) = self.done.try_recv() {
            self.place(job);
            received = true;
        }
        while let Some(Some(_)) = self.queue.front() {
            if let Some(Some(event)) = self.queue.pop_front() {
                self.base += 1;
                match event {
                    Event::Opened(info) => self.inner.opened(&info),
                    Event::Frame(info, record) => self.inner.frame(&info, record),
                    Event::Closed(info, pdus) => self.inner.closed(&info, pdus),
                }
            }
        }
        received || !block
    }

    fn place(&mut self, (seq, event): Job) {
        self.in_flight -= 1;
        let index = (seq - self.base) as usize;
        self.queue[index] = Some(event);
    }

    /// The sink, once every event has been handed on.
    pub fn into_inner(mut self) -> S {
        self.stop();
        self.inner
    }

    fn stop(&mut self) {
        self.jobs = None;
        while self.in_flight > 0 {
            if !self.drain(true) {
                break;
            }
        }
        self.drain(false);
        for worker in self.workers.drain(..) {
            let _ = worker.join();
        }
    }
}

impl<S: Sink> Sink for MimeStage<S> {
    fn opened(&mut self, info: &ConnectionInfo) {
        self.push(Event::Opened(info.clone()));
    }

    fn frame(&mut self, info: &ConnectionInfo, record: FrameRecord) {
        self.push(Event::Frame(info.clone(), record));
    }

    fn closed(&mut self, info: &ConnectionInfo, pdus: Vec<Pdu>) {
        self.push(Event::Closed(info.clone(), pdus));
    }

    fn finished(&mut self, frames_read: u64, error: Option<CaptureError>) {
        self.stop();
        self.inner.finished(frames_read, error);
    }
}
