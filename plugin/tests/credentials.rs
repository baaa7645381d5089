//! A login's user, secret and outcome as users pull them out of tshark.

mod common;

use common::{root, tshark};

/// With two passes (the GUI, `tshark -2`) the credential's frame also says
/// how its login ended, so one `-T fields` row holds all three; one pass
/// cannot know it yet and leaves the column empty.
#[test]
fn one_row_holds_user_secret_and_outcome_with_two_passes() {
    let capture = root().join("fixtures/auth-plain-two-step-failure/capture.pcap");
    let fields = [
        "-Y",
        "mail.auth.password",
        "-T",
        "fields",
        "-e",
        "frame.number",
        "-e",
        "mail.auth.username",
        "-e",
        "mail.auth.password",
        "-e",
        "mail.auth.result",
    ];
    let mut two_pass = vec!["-2"];
    two_pass.extend(fields);
    assert_eq!(
        tshark().on(&capture, &two_pass).stdout,
        "14\tcarol\tguess1\tfailure\n26\tcarol\tcorrect horse\tsuccess\n"
    );
    assert_eq!(
        tshark().on(&capture, &fields).stdout,
        "14\tcarol\tguess1\t\n26\tcarol\tcorrect horse\t\n"
    );
    // POP3 USER/PASS: the user was named two frames before the secret.
    let pop3 = root().join("fixtures/pop3-user-pass/capture.pcap");
    let rows = tshark().on(&pop3, &two_pass).stdout;
    let first = rows.lines().next().unwrap();
    assert!(first.ends_with("\twendy\tguess\tfailure"), "{rows}");
}

/// `-z credentials` names the frame the harness's summary names: the one
/// that carried the secret.
#[test]
fn credentials_tap_and_summary_name_the_same_frame() {
    let capture = root().join("fixtures/auth-plain-two-step-failure/capture.pcap");
    let tap = tshark().on(&capture, &["-q", "-z", "credentials"]).stdout;
    let ours: Vec<&str> = tap
        .lines()
        .filter(|l| l.contains(" authentication, "))
        .map(|l| l.split_whitespace().next().unwrap())
        .collect();
    let summary = mailscope_harness::summarize(&mailscope_harness::analyze_file(
        &capture,
        mailscope_harness::Options::default(),
        |_| {},
    ));
    let frames: Vec<String> = summary[0]
        .credentials
        .iter()
        .map(|c| c.frame.to_string())
        .collect();
    assert_eq!(ours, frames);
    assert_eq!(ours, ["14", "26"]);
}
