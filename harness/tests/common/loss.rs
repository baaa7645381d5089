//! What each `loss-*` fixture must still show after the segment the
//! generator left out (shared with the plugin's tests, which include this
//! file by path): the harness and tshark are held to the same facts.

pub const PDF: &str = "简历 Résumé.pdf";
pub const PDF_SHA256: &str = "af9c9accea7e35e8fa249d913b4b8a9993950fc4fb17f116f0428d3bcbd120f5";
pub const BIN: &str = "протокол.bin";
pub const BIN_SHA256: &str = "10fc3c51a152e90e5b90319b601d92ccf37290ef53c35ff92507687d8a911a08";
pub const EML: &str = "Re: cafe meeting.eml";
pub const EML_SHA256: &str = "ec32fc6582875bae41ff2c2097c7da5ce3fbceb7984c1691399370c1c4ca80e6";
/// The multipart/mixed message that loses a segment, and the whole one after it.
pub const MIXED_SUBJECT: &str = "Résumé and minutes (v2)";
pub const FOXMAIL_SUBJECT: &str = "测试邮件：会议通知";

/// A fixture whose multipart/mixed message lost bytes, then a whole message.
pub struct LossCase {
    pub fixture: &'static str,
    /// Bytes of the first message missing from the capture.
    pub missing: u64,
    /// The attachment the gap fell in, and those it missed, with their SHA-256.
    pub damaged: &'static str,
    pub whole: &'static [(&'static str, &'static str)],
    pub final_state: &'static str,
    /// The expert infos of the session, in order: a few, not a flood.
    pub experts: &'static [&'static str],
}

const AFTER_THE_PDF: &[(&str, &str)] = &[(BIN, BIN_SHA256), (EML, EML_SHA256)];
const GAP_AND_MESSAGE: &[&str] = &["mail.expert.gap", "mail.expert.msg_incomplete"];

pub const CASES: [LossCase; 4] = [
    LossCase {
        fixture: "loss-smtp-attachment",
        missing: 1400,
        damaged: PDF,
        whole: AFTER_THE_PDF,
        final_state: "quit",
        experts: GAP_AND_MESSAGE,
    },
    // The last 516 bytes held the end of протокол.bin and the attached message.
    LossCase {
        fixture: "loss-smtp-final-dot",
        missing: 516,
        damaged: BIN,
        whole: &[(PDF, PDF_SHA256)],
        final_state: "quit",
        experts: GAP_AND_MESSAGE,
    },
    LossCase {
        fixture: "loss-bdat-chunk",
        missing: 1400,
        damaged: PDF,
        whole: AFTER_THE_PDF,
        final_state: "quit",
        experts: GAP_AND_MESSAGE,
    },
    LossCase {
        fixture: "loss-pop3-retr",
        missing: 1400,
        damaged: PDF,
        whole: AFTER_THE_PDF,
        final_state: "update",
        experts: &[
            "mail.expert.cleartext",
            "mail.expert.gap",
            "mail.expert.msg_incomplete",
        ],
    },
];
