//! Codecs the text framing and the SASL decoders both use. Depends on
//! nothing else in the crate, so neither of them imports the other for it.

use base64::engine::{general_purpose::GeneralPurpose, DecodePaddingMode, GeneralPurposeConfig};
use base64::{alphabet, Engine};

/// Base64 as SASL profiles send it: standard alphabet, padding optional.
const SASL_BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Decodes SASL base64; `=` alone is the RFC 4954 empty initial response.
pub fn decode_base64(text: &str) -> Result<Vec<u8>, String> {
    let trimmed = text.trim();
    if trimmed.is_empty() || trimmed == "=" {
        return Ok(Vec::new());
    }
    SASL_BASE64
        .decode(trimmed)
        .map_err(|err| format!("\"{}\" is not base64: {err}", abbreviate(trimmed, 40)))
}

/// At most `max` characters of `text`, with `...` when cut.
pub(crate) fn abbreviate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        let cut: String = text.chars().take(max).collect();
        format!("{cut}...")
    }
}
