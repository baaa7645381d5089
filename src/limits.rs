//! The caps that bound what the core keeps per connection.
//!
//! Built by [`Limits::new`], which rejects values the engines cannot work
//! with; [`Limits::default`] is what the harness and the plugin use.

use std::fmt;

/// Caps that bound memory per connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Longest command or reply line kept; longer lines are cut and flagged.
    pub(crate) max_line: usize,
    /// Most lines in one multi-line reply before it is cut and flagged.
    pub(crate) max_reply_lines: usize,
    /// Most message bytes kept per transaction; the rest is counted, not kept.
    pub(crate) max_message: usize,
    /// Most commands awaiting a reply (pipelining depth) that are remembered.
    pub(crate) max_pending: usize,
    /// Most bytes of a POP3 listing (LIST, UIDL, CAPA) held before it is cut
    /// and shown: the smaller of 1 MiB and the message cap.
    pub(crate) max_listing: usize,
}

/// The listing cap for a message cap.
const fn listing_cap(max_message: usize) -> usize {
    if max_message < 1 << 20 {
        max_message
    } else {
        1 << 20
    }
}

/// A limit the engines cannot work with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LimitsError {
    pub limit: &'static str,
    pub value: usize,
    pub minimum: usize,
}

impl fmt::Display for LimitsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} must be at least {} (got {})",
            self.limit, self.minimum, self.value
        )
    }
}

impl std::error::Error for LimitsError {}

impl Limits {
    /// Shortest line cap: room for any command verb, a reply code and a SASL prompt.
    pub const MIN_LINE: usize = 64;

    /// Checked caps: every one must leave the engines room to frame a PDU.
    pub fn new(
        max_line: usize,
        max_reply_lines: usize,
        max_message: usize,
        max_pending: usize,
    ) -> Result<Self, LimitsError> {
        let check = |limit, value, minimum| {
            if value < minimum {
                Err(LimitsError {
                    limit,
                    value,
                    minimum,
                })
            } else {
                Ok(())
            }
        };
        check("max_line", max_line, Self::MIN_LINE)?;
        check("max_reply_lines", max_reply_lines, 1)?;
        check("max_message", max_message, 1)?;
        check("max_pending", max_pending, 1)?;
        Ok(Limits {
            max_line,
            max_reply_lines,
            max_message,
            max_pending,
            max_listing: listing_cap(max_message),
        })
    }

    pub fn max_line(&self) -> usize {
        self.max_line
    }
    pub fn max_reply_lines(&self) -> usize {
        self.max_reply_lines
    }
    pub fn max_message(&self) -> usize {
        self.max_message
    }
    pub fn max_pending(&self) -> usize {
        self.max_pending
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_line: 8192,
            max_reply_lines: 1000,
            max_message: 64 * 1024 * 1024,
            max_pending: 1000,
            max_listing: listing_cap(64 * 1024 * 1024),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonsense_limits_are_rejected_with_the_value() {
        let error = Limits::new(2, 10, 100, 10).unwrap_err();
        assert_eq!(error.to_string(), "max_line must be at least 64 (got 2)");
        assert_eq!(
            Limits::new(64, 0, 100, 10).unwrap_err().limit,
            "max_reply_lines"
        );
        assert_eq!(Limits::new(64, 1, 0, 10).unwrap_err().limit, "max_message");
        assert_eq!(Limits::new(64, 1, 1, 0).unwrap_err().limit, "max_pending");
        assert!(Limits::new(64, 1, 1, 1).is_ok());
    }
}
