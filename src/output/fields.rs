//! The field and expert-info vocabulary, generated from `fields.table`.

/// Value type of a field; maps one-to-one onto a Wireshark `ftenum`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum FieldKind {
    /// A subtree header with no value (`FT_NONE`).
    None = 0,
    /// UTF-8 text (`FT_STRING`).
    String = 1,
    /// Unsigned integer (`FT_UINT32`, shown in decimal).
    UInt = 2,
    /// Boolean (`FT_BOOLEAN`).
    Bool = 3,
}

/// Severity of an expert info; maps onto `PI_CHAT` .. `PI_ERROR`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Severity {
    Chat = 0,
    Note = 1,
    Warn = 2,
    Error = 3,
}

/// Group of an expert info; maps onto `PI_SECURITY`, `PI_MALFORMED`, ...
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum ExpertGroup {
    Security = 0,
    Malformed = 1,
    Protocol = 2,
    Sequence = 3,
    Undecoded = 4,
}

include!(concat!(env!("OUT_DIR"), "/fields.rs"));

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn abbrevs_are_unique_and_in_the_mail_namespace() {
        let mut seen = std::collections::HashSet::new();
        for field in Field::ALL {
            assert!(field.abbrev().starts_with("mail."), "{}", field.abbrev());
            assert!(seen.insert(field.abbrev()), "duplicate {}", field.abbrev());
            assert_eq!(Field::ALL[*field as usize], *field);
        }
        for expert in Expert::ALL {
            assert!(
                seen.insert(expert.abbrev()),
                "duplicate {}",
                expert.abbrev()
            );
        }
    }

    #[test]
    fn required_abbrevs_exist() {
        let names: Vec<_> = Field::ALL.iter().map(|f| f.abbrev()).collect();
        for required in [
            "mail.smtp.command",
            "mail.smtp.argument",
            "mail.smtp.reply.code",
            "mail.smtp.reply.text",
            "mail.smtp.helo",
            "mail.smtp.capability",
            "mail.smtp.mail_from",
            "mail.smtp.rcpt_to",
            "mail.auth.mechanism",
            "mail.auth.username",
            "mail.auth.password",
            "mail.auth.authzid",
            "mail.auth.token",
            "mail.auth.challenge",
            "mail.auth.response",
            "mail.auth.result",
            "mail.auth.ntlm.domain",
            "mail.auth.ntlm.host",
        ] {
            assert!(
                names.contains(&required),
                "{required} missing from fields.table"
            );
        }
    }
}
