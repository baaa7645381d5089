//! Where a message's missing bytes fall: the part each gap of the carried
//! message lies in, and the one expert info that says what was lost.

use super::{DamagedPart, MimeAnomaly, MimeMessage, PartKind};
use crate::fields::Expert;
use crate::message::MailMessage;

impl MimeMessage {
    /// Bytes missing from the capture inside part `path`, if any.
    pub fn part_missing(&self, path: &str) -> Option<u64> {
        self.damaged
            .iter()
            .find(|d| d.path == path)
            .map(|d| d.missing)
    }
}

/// Notes `message`'s gaps in `decoded`: the total, the innermost part (not
/// a multipart container) each falls in, and one anomaly naming them.
pub(super) fn place(decoded: &mut MimeMessage, message: &MailMessage) {
    decoded.missing = message.missing();
    if decoded.missing == 0 {
        return;
    }
    for gap in &message.gaps {
        let inside = decoded
            .parts
            .iter()
            .filter(|p| p.kind != PartKind::Multipart)
            .filter_map(|p| p.span.map(|span| (p, span)))
            .filter(|(_, (start, len))| gap.offset >= *start && gap.offset <= start + len)
            .min_by_key(|(_, (_, len))| *len);
        let Some((part, _)) = inside else {
            continue;
        };
        match decoded.damaged.iter_mut().find(|d| d.path == part.path) {
            Some(damaged) => damaged.missing += gap.missing,
            None => decoded.damaged.push(DamagedPart {
                path: part.path.clone(),
                missing: gap.missing,
            }),
        }
    }
    let names: Vec<String> = decoded
        .damaged
        .iter()
        .map(|d| {
            let part = decoded.parts.iter().find(|p| p.path == d.path);
            match part.and_then(|p| p.filename.as_deref()) {
                Some(name) => format!("part {} ({name})", d.path),
                None => format!("part {}", d.path),
            }
        })
        .collect();
    let place = if names.is_empty() {
        String::new()
    } else {
        format!(", in {}", names.join(", "))
    };
    let count = message.gaps.len();
    let gaps = if count == 1 {
        "one gap".to_string()
    } else {
        format!("{count} gaps")
    };
    decoded.anomalies.push(MimeAnomaly {
        expert: Expert::MsgIncomplete,
        message: format!(
            "{} bytes of this message are missing from the capture ({gaps}{place}); \
             the rest is decoded around them",
            decoded.missing
        ),
    });
}
