//! The switch to TLS that STARTTLS (SMTP) and STLS (POP3) announce.

use crate::item::Direction;

/// Whether bytes that follow an accepted STARTTLS/STLS begin a TLS record: its
/// content type (20..23) is a control byte that never starts a text command,
/// so the first byte decides, however small the segment.
fn tls_record_start(data: &[u8]) -> bool {
    data.first().is_some_and(|b| (20..=23).contains(b))
}

/// Where one direction stands with the switch to TLS.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum TlsStage {
    #[default]
    Clear,
    /// Accepted; the next bytes tell whether TLS really starts.
    Pending,
    Tls,
}

/// The switch to TLS that STARTTLS (SMTP) and STLS (POP3) announce. Once the
/// server accepts, each direction's next bytes tell whether TLS really starts
/// or (some middleboxes) the session goes on in clear text.
#[derive(Clone, Debug, Default)]
pub(crate) struct TlsSwitch {
    client: TlsStage,
    server: TlsStage,
    clear_after_accept: bool,
}

impl TlsSwitch {
    /// The connection is TLS from its first byte (ports 465, 995).
    pub(crate) fn start_now(&mut self) {
        self.client = TlsStage::Tls;
        self.server = TlsStage::Tls;
    }

    /// The server accepted STARTTLS or STLS.
    pub(crate) fn accept(&mut self) {
        self.client = TlsStage::Pending;
        self.server = TlsStage::Pending;
    }

    pub(crate) fn is_tls(&self, direction: Direction) -> bool {
        match direction {
            Direction::ToServer => self.client == TlsStage::Tls,
            Direction::ToClient => self.server == TlsStage::Tls,
        }
    }

    /// The client's text is not parsed from acceptance on (until clear text shows up).
    pub(crate) fn client_paused(&self) -> bool {
        self.client != TlsStage::Clear
    }

    /// True once, for the first client line after an acceptance that TLS never followed.
    pub(crate) fn take_clear_after_accept(&mut self) -> bool {
        std::mem::take(&mut self.clear_after_accept)
    }

    /// Whether `data`, the next bytes in `direction`, are TLS.
    pub(crate) fn classify(&mut self, direction: Direction, data: &[u8]) -> bool {
        let looks_tls = tls_record_start(data);
        match direction {
            Direction::ToServer => match self.client {
                TlsStage::Tls => true,
                TlsStage::Pending if looks_tls => {
                    self.client = TlsStage::Tls;
                    if self.server == TlsStage::Pending {
                        self.server = TlsStage::Tls;
                    }
                    true
                }
                TlsStage::Pending => {
                    *self = TlsSwitch {
                        clear_after_accept: true,
                        ..TlsSwitch::default()
                    };
                    false
                }
                TlsStage::Clear => false,
            },
            Direction::ToClient => match self.server {
                TlsStage::Tls => true,
                TlsStage::Pending if looks_tls => {
                    self.server = TlsStage::Tls;
                    true
                }
                _ => false,
            },
        }
    }
}
