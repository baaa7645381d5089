//! Text in a legacy charset: decoded by name (declared or the default), or
//! by chardetng's guess when nothing names one (Firefox's detector for
//! unlabelled pages; mail clients meet the same unlabelled 8-bit text).

use chardetng::{EncodingDetector, Iso2022JpDetection, Utf8Detection};
use encoding_rs::Encoding;

/// `bytes` decoded in charset `name`: mail-parser's decoder (which knows
/// mail's aliases), else encoding_rs's by WHATWG label; `None` if neither
/// knows the name.
pub fn decode(bytes: &[u8], name: &str) -> Option<String> {
    if let Some(decoder) = super::body::decoder(name) {
        return Some(decoder(bytes));
    }
    let encoding = Encoding::for_label(name.trim().trim_matches('"').as_bytes())?;
    Some(encoding.decode_without_bom_handling(bytes).0.into_owned())
}

/// The charset chardetng guesses for `bytes`, which are not UTF-8 (UTF-8 is
/// never a guess: text that is UTF-8 is read as such before any guessing).
/// ISO-2022-JP is allowed, as chardetng's author advises for mail.
pub fn guess(bytes: &[u8]) -> &'static Encoding {
    let mut detector = EncodingDetector::new(Iso2022JpDetection::Allow);
    detector.feed(bytes, true);
    detector.guess(None, Utf8Detection::Deny)
}

/// `bytes` read in the charset guessed for them, and that charset's name.
pub fn decode_guessed(bytes: &[u8]) -> (String, &'static str) {
    let encoding = guess(bytes);
    let text = encoding.decode_without_bom_handling(bytes).0.into_owned();
    (text, encoding.name())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_1252_punctuation_is_guessed() {
        // Arkime's smtp-subject-windows: "What’s Next" with the 0x92 apostrophe.
        assert_eq!(
            decode_guessed(b"What\x92s Next"),
            ("What’s Next".to_string(), "windows-1252")
        );
    }

    #[test]
    fn legacy_chinese_and_cyrillic_are_guessed() {
        let gbk = "附件是第三季度报表，请查收。".as_bytes();
        let (gbk_bytes, _, _) = encoding_rs::GBK.encode(std::str::from_utf8(gbk).unwrap());
        assert_eq!(decode_guessed(&gbk_bytes).1, "GBK");
        let (cyrillic, _, _) = encoding_rs::WINDOWS_1251.encode("Привет, как дела? Всё хорошо.");
        assert_eq!(
            decode_guessed(&cyrillic),
            ("Привет, как дела? Всё хорошо.".to_string(), "windows-1251")
        );
    }

    #[test]
    fn names_decode_through_mail_parser_or_encoding_rs() {
        assert_eq!(decode(b"caf\xe9", "ISO-8859-1").as_deref(), Some("café"));
        assert_eq!(
            decode(b"\x93hi\x94", "windows-1252").as_deref(),
            Some("“hi”")
        );
        assert_eq!(decode(b"x", "x-klingon"), None);
    }
}
