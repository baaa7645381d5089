//! The hostile streams of `scripts/make-hostile.py`, at sizes a test run
//! affords: bounded output, a handful of expert infos, and the mail before
//! and after the hostile part still decoded. What they cost in memory and
//! time at full size is measured by `scripts/bench.sh`, not here.

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;

use mailscope::Pdu;
use mailscope_harness::analyze::{analyze_into, ConnectionInfo, End, FrameRecord, Sink};
use mailscope_harness::capture::CaptureError;
use mailscope_harness::filter::Filter;
use mailscope_harness::writer::{Form, Writer};
use mailscope_harness::Options;

/// Builds a hostile capture with the project's generator.
fn make(kind: &str, size: u64) -> PathBuf {
    common::hostile::make(&common::root(), kind, size)
}

/// What a run found, counted rather than kept.
#[derive(Default)]
struct Tally {
    pdus: usize,
    /// The most items one PDU carried.
    most_items: usize,
    experts: BTreeMap<&'static str, Vec<String>>,
    logins: Vec<(String, String)>,
    subjects: Vec<String>,
    opened: usize,
    ended: BTreeMap<&'static str, usize>,
}

impl Tally {
    fn pdu(&mut self, pdu: &Pdu) {
        self.pdus += 1;
        self.most_items = self.most_items.max(pdu.flatten().len());
        for anomaly in &pdu.anomalies {
            let list = self.experts.entry(anomaly.expert.abbrev()).or_default();
            if list.len() < 20 {
                list.push(anomaly.message.clone());
            }
        }
        if let Some(c) = &pdu.credential {
            self.logins.push((
                c.username.clone().unwrap_or_default(),
                c.password.clone().unwrap_or_default(),
            ));
        }
        if let Some(subject) = pdu.mime.as_ref().and_then(|m| m.subject.as_ref()) {
            self.subjects.push(subject.value.clone());
        }
    }

    fn total_experts(&self) -> usize {
        self.experts.values().map(Vec::len).sum()
    }
}

impl Sink for Tally {
    fn opened(&mut self, _: &ConnectionInfo) {
        self.opened += 1;
    }
    fn frame(&mut self, _: &ConnectionInfo, record: FrameRecord) {
        record.pdus.iter().for_each(|p| self.pdu(p));
    }
    fn closed(&mut self, info: &ConnectionInfo, pdus: Vec<Pdu>) {
        *self.ended.entry(info.end.unwrap().name()).or_default() += 1;
        pdus.iter().for_each(|p| self.pdu(p));
    }
    fn finished(&mut self, _: u64, error: Option<CaptureError>) {
        assert!(error.is_none(), "{error:?}");
    }
}

fn tally(path: &std::path::Path, options: Options) -> Tally {
    analyze_into(path, options, Tally::default(), |_| {})
}

fn login(user: &str, password: &str) -> (String, String) {
    (user.to_string(), password.to_string())
}

#[test]
fn a_listing_that_never_ends_is_cut_shown_and_the_next_login_still_read() {
    let capture = make("endless-list", 4);
    let t = tally(&capture, Options::default());
    assert_eq!(
        t.logins,
        [
            login("before", "listing-ahead"),
            login("after", "still-decoded")
        ]
    );
    // Cut at its cap and shown (1,000 entries at most), not held to the end.
    let cut = &t.experts["mail.expert.truncated"];
    assert!(
        cut[0].starts_with("multi-line response over 1048568 bytes: shown up to here"),
        "{cut:?}"
    );
    assert!(
        cut[1].starts_with("LIST response of more than 1000 lines"),
        "{cut:?}"
    );
    // 1,000 entries of three items each: far from Wireshark's cap on a tree.
    assert!(t.most_items < 3_100, "a PDU carried {} items", t.most_items);
    assert!(t.total_experts() <= 8, "{:?}", t.experts);
    // The JSON output stays small: the 4 MB listing is not copied into it.
    let mut json = Writer::new(Form::Json, "", Filter::default(), Vec::new());
    json = analyze_into(&capture, Options::default(), json, |_| {});
    assert!(json.into_string().len() < 400_000);
}

#[test]
fn a_flood_of_pipelined_recipients_raises_one_expert_and_the_message_is_read() {
    let capture = make("pipelined-rcpt", 100_000);
    let t = tally(&capture, Options::default());
    assert_eq!(t.logins, [login("before", "rcpt-flood")]);
    assert_eq!(t.subjects, ["after the flood"]);
    let overflow: Vec<_> = t.experts["mail.expert.violation"]
        .iter()
        .filter(|m| m.contains("without a reply"))
        .collect();
    assert_eq!(overflow.len(), 1, "{:?}", t.experts);
    assert!(t.total_experts() <= 6, "{:?}", t.experts);
    // The session record lists the first 1,000 recipients and counts the rest.
    let mut sessions = Writer::new(Form::Sessions, "", Filter::default(), Vec::new());
    sessions = analyze_into(&capture, Options::default(), sessions, |_| {});
    let record: serde_json::Value = serde_json::from_str(sessions.into_string().trim()).unwrap();
    let rcpts = record["transactions"][0]["rcpt_to"].as_array().unwrap();
    assert_eq!(rcpts.len(), 1000);
    assert_eq!(record["omitted"]["rcpt_to"], 99_000);
    assert_eq!(
        record["transactions"][0]["message"]["subject"],
        "after the flood"
    );
}

#[test]
fn binary_garbage_is_flagged_once_and_the_mail_after_it_is_read() {
    let capture = make("garbage", 4);
    let t = tally(&capture, Options::default());
    assert_eq!(t.logins, [login("before", "the-garbage")]);
    assert_eq!(t.subjects, ["after the garbage"]);
    let unknown = &t.experts["mail.expert.unknown_command"];
    assert_eq!(unknown.len(), 2, "{unknown:?}");
    assert!(unknown[1].starts_with("the "), "{unknown:?}");
    assert!(t.total_experts() <= 8, "{:?}", t.experts);
}

#[test]
fn idle_connections_are_ended_after_the_idle_timeout_and_the_last_login_read() {
    let capture = make("many-connections", 3000);
    let t = tally(&capture, Options::default());
    assert_eq!(t.opened, 3001);
    assert_eq!(t.logins, [login("after", "many-idle")]);
    // The capture spans 27 s: at the default timeout (600 s) they are open to its end.
    assert_eq!(t.ended.get("end of capture"), Some(&3000));
    assert_eq!(t.ended.get("closed"), Some(&1));
    // At 10 s, those idle that long are ended (and their state released) on the way.
    let options = Options {
        idle_timeout: Some(std::time::Duration::from_secs(10)),
        ..Options::default()
    };
    let t = tally(&capture, options);
    let idle = t.ended.get(End::Idle.name()).copied().unwrap_or(0);
    assert!((1000..3000).contains(&idle), "{:?}", t.ended);
    assert_eq!(t.logins, [login("after", "many-idle")]);
}

#[test]
fn a_message_past_the_cap_keeps_its_first_64_mib_and_the_session_goes_on() {
    let capture = make("huge-message", 70);
    let mut summary = Writer::new(Form::Sessions, "", Filter::default(), Vec::new());
    summary = analyze_into(&capture, Options::default(), summary, |_| {});
    let record: serde_json::Value = serde_json::from_str(summary.into_string().trim()).unwrap();
    let message = &record["messages"][0];
    assert_eq!(message["size"], 64 * 1024 * 1024, "{message}");
    assert_eq!(message["complete"], false);
    assert_eq!(message["subject"], "huge");
    assert_eq!(record["transactions"][0]["data_reply"]["code"], 552);
    assert_eq!(record["state"], "quit");
}
