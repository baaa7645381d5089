//! TLS decryption with a key log (the SSLKEYLOGFILE format Wireshark reads),
//! so the harness sees inside STARTTLS/STLS and implicit-TLS sessions what the
//! plugin sees through Wireshark's TLS dissector. TLS 1.3 and TLS 1.2 AEAD
//! suites (AES-GCM, ChaCha20-Poly1305); the ciphers and key schedule are
//! the RustCrypto crates'.
//!
//! A [`TlsSession`] takes each direction's TLS bytes in stream order and
//! returns the application data they carry, decrypted, with the frame in
//! which each record completed.

use std::collections::HashMap;
use std::path::Path;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes128Gcm, Aes256Gcm};
use chacha20poly1305::ChaCha20Poly1305;
use hmac::{Hmac, Mac};
use mailscope::Direction;
use sha2::{Sha256, Sha384};

/// Longest TLS record kept while waiting for its end (2^14 plus expansion).
const MAX_RECORD: usize = (1 << 14) + 2048;

/// Secrets of one session, by the client random they belong to.
#[derive(Debug, Default, Clone)]
struct Secrets {
    master: Option<Vec<u8>>,
    client_handshake: Option<Vec<u8>>,
    server_handshake: Option<Vec<u8>>,
    client_traffic: Option<Vec<u8>>,
    server_traffic: Option<Vec<u8>>,
}

/// A key log: the secrets of every session it names.
#[derive(Debug, Default, Clone)]
pub struct KeyLog {
    sessions: HashMap<Vec<u8>, Secrets>,
}

impl KeyLog {
    pub fn from_file(path: &Path) -> std::io::Result<KeyLog> {
        Ok(KeyLog::parse(&std::fs::read_to_string(path)?))
    }

    /// Lines `LABEL <client random hex> <secret hex>`; comments and lines of
    /// other labels are skipped.
    pub fn parse(text: &str) -> KeyLog {
        let mut log = KeyLog::default();
        for line in text.lines() {
            let mut words = line.split_whitespace();
            let (Some(label), Some(random), Some(secret)) =
                (words.next(), words.next(), words.next())
            else {
                continue;
            };
            let (Ok(random), Ok(secret)) = (hex::decode(random), hex::decode(secret)) else {
                continue;
            };
            let entry = log.sessions.entry(random).or_default();
            match label {
                "CLIENT_RANDOM" => entry.master = Some(secret),
                "CLIENT_HANDSHAKE_TRAFFIC_SECRET" => entry.client_handshake = Some(secret),
                "SERVER_HANDSHAKE_TRAFFIC_SECRET" => entry.server_handshake = Some(secret),
                "CLIENT_TRAFFIC_SECRET_0" => entry.client_traffic = Some(secret),
                "SERVER_TRAFFIC_SECRET_0" => entry.server_traffic = Some(secret),
                _ => {}
            }
        }
        log
    }

    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cipher {
    Aes128Gcm,
    Aes256Gcm,
    ChaCha20Poly1305,
}

impl Cipher {
    /// The AEAD and the hash of a cipher suite, if it is one mailscope decrypts.
    fn of_suite(suite: u16) -> Option<(Cipher, bool)> {
        // (cipher, hash is SHA-384)
        match suite {
            0x1301 | 0xc02b | 0xc02f | 0x009c | 0x009e => Some((Cipher::Aes128Gcm, false)),
            0x1302 | 0xc02c | 0xc030 | 0x009d | 0x009f => Some((Cipher::Aes256Gcm, true)),
            0x1303 | 0xcca8 | 0xcca9 | 0xccaa => Some((Cipher::ChaCha20Poly1305, false)),
            _ => None,
        }
    }
    fn key_len(self) -> usize {
        match self {
            Cipher::Aes128Gcm => 16,
            Cipher::Aes256Gcm | Cipher::ChaCha20Poly1305 => 32,
        }
    }
}

/// One direction's record protection.
#[derive(Clone)]
struct Keys {
    cipher: Cipher,
    key: Vec<u8>,
    /// TLS 1.3 and ChaCha: the 12-byte IV; TLS 1.2 GCM: the 4-byte salt.
    iv: Vec<u8>,
    seq: u64,
    tls13: bool,
}

impl Keys {
    fn open(&mut self, header: &[u8], body: &[u8]) -> Option<Vec<u8>> {
        let seq = self.seq;
        self.seq += 1;
        let (nonce, ciphertext, aad): ([u8; 12], &[u8], Vec<u8>) = if self.tls13 {
            (xor_nonce(&self.iv, seq), body, header.to_vec())
        } else {
            let (nonce, ciphertext) = match self.cipher {
                Cipher::ChaCha20Poly1305 => (xor_nonce(&self.iv, seq), body),
                _ => {
                    let explicit = body.get(..8)?;
                    let mut nonce = [0u8; 12];
                    nonce[..4].copy_from_slice(self.iv.get(..4)?);
                    nonce[4..].copy_from_slice(explicit);
                    (nonce, &body[8..])
                }
            };
            let plain_len = ciphertext.len().checked_sub(16)? as u16;
            let mut aad = seq.to_be_bytes().to_vec();
            aad.extend_from_slice(&header[..3]);
            aad.extend_from_slice(&plain_len.to_be_bytes());
            (nonce, ciphertext, aad)
        };
        let payload = Payload {
            msg: ciphertext,
            aad: &aad,
        };
        let nonce = aes_gcm::Nonce::from_slice(&nonce);
        match self.cipher {
            Cipher::Aes128Gcm => Aes128Gcm::new_from_slice(&self.key)
                .ok()?
                .decrypt(nonce, payload)
                .ok(),
            Cipher::Aes256Gcm => Aes256Gcm::new_from_slice(&self.key)
                .ok()?
                .decrypt(nonce, payload)
                .ok(),
            Cipher::ChaCha20Poly1305 => ChaCha20Poly1305::new_from_slice(&self.key)
                .ok()?
                .decrypt(chacha20poly1305::Nonce::from_slice(nonce), payload)
                .ok(),
        }
    }
}

fn xor_nonce(iv: &[u8], seq: u64) -> [u8; 12] {
    let mut nonce = [0u8; 12];
    nonce.copy_from_slice(&iv[..12]);
    for (n, s) in nonce[4..].iter_mut().zip(seq.to_be_bytes()) {
        *n ^= s;
    }
    nonce
}

/// TLS 1.3 HKDF-Expand-Label (RFC 8446 7.1) with an empty context.
fn expand_label(secret: &[u8], label: &str, len: usize, sha384: bool) -> Option<Vec<u8>> {
    let full = format!("tls13 {label}");
    let mut info = Vec::with_capacity(4 + full.len());
    info.extend_from_slice(&(len as u16).to_be_bytes());
    info.push(full.len() as u8);
    info.extend_from_slice(full.as_bytes());
    info.push(0);
    let mut out = vec![0u8; len];
    if sha384 {
        hkdf::Hkdf::<Sha384>::from_prk(secret)
            .ok()?
            .expand(&info, &mut out)
            .ok()?;
    } else {
        hkdf::Hkdf::<Sha256>::from_prk(secret)
            .ok()?
            .expand(&info, &mut out)
            .ok()?;
    }
    Some(out)
}

fn keys13(secret: &[u8], cipher: Cipher, sha384: bool) -> Option<Keys> {
    Some(Keys {
        cipher,
        key: expand_label(secret, "key", cipher.key_len(), sha384)?,
        iv: expand_label(secret, "iv", 12, sha384)?,
        seq: 0,
        tls13: true,
    })
}

/// The TLS 1.2 PRF (RFC 5246 5) with HMAC-SHA256 or HMAC-SHA384.
fn prf12(secret: &[u8], label: &[u8], seed: &[u8], len: usize, sha384: bool) -> Vec<u8> {
    fn p_hash<M: Mac + KeyInit + Clone>(secret: &[u8], seed: &[u8], len: usize) -> Vec<u8> {
        let mac = <M as KeyInit>::new_from_slice(secret).expect("HMAC takes any key length");
        let mut a = {
            let mut m = mac.clone();
            m.update(seed);
            m.finalize().into_bytes().to_vec()
        };
        let mut out = Vec::with_capacity(len + 64);
        while out.len() < len {
            let mut m = mac.clone();
            m.update(&a);
            m.update(seed);
            out.extend_from_slice(&m.finalize().into_bytes());
            let mut m = mac.clone();
            m.update(&a);
            a = m.finalize().into_bytes().to_vec();
        }
        out.truncate(len);
        out
    }
    let full: Vec<u8> = [label, seed].concat();
    if sha384 {
        p_hash::<Hmac<Sha384>>(secret, &full, len)
    } else {
        p_hash::<Hmac<Sha256>>(secret, &full, len)
    }
}

/// One direction's bytes waiting to make whole records.
#[derive(Default)]
struct RecordBuf {
    data: Vec<u8>,
    /// Handshake bytes (possibly several messages, possibly split over records).
    handshake: Vec<u8>,
    keys: Option<Keys>,
    /// TLS 1.2: a ChangeCipherSpec was seen; the next records are protected.
    cipher_on: bool,
    /// TLS 1.3: the handshake keys are in use (until this side's Finished).
    in_handshake: bool,
}

/// What one segment's TLS bytes gave.
#[derive(Debug, Default)]
pub struct Decrypted {
    /// Application data, in order.
    pub data: Vec<u8>,
    /// Records that could not be decrypted (no secrets, bad tag).
    pub failures: usize,
}

/// A TLS session seen from both directions.
#[derive(Default)]
pub struct TlsSession {
    bufs: [RecordBuf; 2],
    client_random: Option<Vec<u8>>,
    server_random: Option<Vec<u8>>,
    suite: Option<u16>,
    tls13: bool,
    keys_ready: bool,
    /// Application data was decrypted at least once.
    pub decrypted: bool,
}

impl TlsSession {
    /// Feeds `direction`'s next bytes; returns the application data completed.
    pub fn feed(&mut self, log: &KeyLog, direction: Direction, bytes: &[u8]) -> Decrypted {
        let mut out = Decrypted::default();
        let d = direction.index();
        self.bufs[d].data.extend_from_slice(bytes);
        loop {
            let buf = &mut self.bufs[d];
            if buf.data.len() < 5 {
                break;
            }
            let length = u16::from_be_bytes([buf.data[3], buf.data[4]]) as usize;
            if !(20..=23).contains(&buf.data[0]) || length > MAX_RECORD {
                // Not TLS (or lost sync): nothing more can be read in this direction.
                buf.data.clear();
                out.failures += 1;
                break;
            }
            if buf.data.len() < 5 + length {
                break;
            }
            let record: Vec<u8> = buf.data.drain(..5 + length).collect();
            self.record(log, direction, &record, &mut out);
        }
        out
    }

    fn record(&mut self, log: &KeyLog, direction: Direction, record: &[u8], out: &mut Decrypted) {
        let d = direction.index();
        let (content_type, header, body) = (record[0], &record[..5], &record[5..]);
        match content_type {
            // ChangeCipherSpec: TLS 1.2 protection starts; TLS 1.3 sends it for middleboxes only.
            20 if !self.tls13 => self.bufs[d].cipher_on = true,
            21..=23 => {
                let protected = if self.tls13 {
                    content_type == 23
                } else {
                    self.bufs[d].cipher_on
                };
                if !protected {
                    if content_type == 22 {
                        self.handshake(log, direction, body);
                    }
                    return;
                }
                self.ensure_keys(log);
                let Some(keys) = self.bufs[d].keys.as_mut() else {
                    out.failures += 1;
                    return;
                };
                let Some(mut plain) = keys.open(header, body) else {
                    out.failures += 1;
                    return;
                };
                let inner_type = if self.tls13 {
                    // TLSInnerPlaintext: content, the real type, then zero padding.
                    while plain.last() == Some(&0) {
                        plain.pop();
                    }
                    plain.pop().unwrap_or(0)
                } else {
                    content_type
                };
                match inner_type {
                    23 => {
                        self.decrypted = true;
                        out.data.extend_from_slice(&plain);
                    }
                    22 => self.protected_handshake(log, direction, &plain),
                    _ => {}
                }
            }
            _ => {}
        }
    }

    /// Clear-text handshake messages: the randoms, the version and the suite.
    fn handshake(&mut self, log: &KeyLog, direction: Direction, body: &[u8]) {
        let d = direction.index();
        self.bufs[d].handshake.extend_from_slice(body);
        loop {
            let buf = &mut self.bufs[d].handshake;
            if buf.len() < 4 {
                break;
            }
            let len = u32::from_be_bytes([0, buf[1], buf[2], buf[3]]) as usize;
            if buf.len() < 4 + len {
                break;
            }
            let message: Vec<u8> = buf.drain(..4 + len).collect();
            let (kind, msg) = (message[0], &message[4..]);
            match kind {
                // ClientHello: legacy_version(2) random(32)
                1 if msg.len() >= 34 => self.client_random = Some(msg[2..34].to_vec()),
                // ServerHello: version(2) random(32) session_id cipher_suite ...
                2 if msg.len() >= 35 => {
                    self.server_random = Some(msg[2..34].to_vec());
                    let sid = msg[34] as usize;
                    let at = 35 + sid;
                    if let Some(suite) = msg.get(at..at + 2) {
                        self.suite = Some(u16::from_be_bytes([suite[0], suite[1]]));
                    }
                    self.tls13 = server_hello_is_tls13(msg, at + 3);
                    self.keys_ready = false;
                    self.ensure_keys(log);
                }
                _ => {}
            }
        }
    }

    /// Handshake messages inside protection: a Finished moves a TLS 1.3 side
    /// from its handshake keys to its application keys.
    fn protected_handshake(&mut self, log: &KeyLog, direction: Direction, plain: &[u8]) {
        if !self.tls13 {
            return;
        }
        let mut at = 0;
        while at + 4 <= plain.len() {
            let kind = plain[at];
            let len = u32::from_be_bytes([0, plain[at + 1], plain[at + 2], plain[at + 3]]) as usize;
            if kind == 20 {
                self.application_keys(log, direction);
            }
            at += 4 + len;
        }
    }

    fn secrets<'a>(&self, log: &'a KeyLog) -> Option<&'a Secrets> {
        log.sessions.get(self.client_random.as_ref()?)
    }

    /// Derives the keys the handshake allows once the ServerHello is known.
    fn ensure_keys(&mut self, log: &KeyLog) {
        if self.keys_ready {
            return;
        }
        let Some((cipher, sha384)) = self.suite.and_then(Cipher::of_suite) else {
            return;
        };
        let Some(secrets) = self.secrets(log).cloned() else {
            return;
        };
        if self.tls13 {
            for (d, secret) in [
                (0, &secrets.client_handshake),
                (1, &secrets.server_handshake),
            ] {
                if let Some(secret) = secret {
                    self.bufs[d].keys = keys13(secret, cipher, sha384);
                    self.bufs[d].in_handshake = true;
                }
            }
        } else {
            let (Some(master), Some(client_random), Some(server_random)) =
                (&secrets.master, &self.client_random, &self.server_random)
            else {
                return;
            };
            let (key_len, iv_len) = match cipher {
                Cipher::ChaCha20Poly1305 => (32, 12),
                _ => (cipher.key_len(), 4),
            };
            let seed = [server_random.as_slice(), client_random.as_slice()].concat();
            let block = prf12(
                master,
                b"key expansion",
                &seed,
                2 * (key_len + iv_len),
                sha384,
            );
            let (client_key, rest) = block.split_at(key_len);
            let (server_key, rest) = rest.split_at(key_len);
            let (client_iv, server_iv) = rest.split_at(iv_len);
            for (d, key, iv) in [(0, client_key, client_iv), (1, server_key, server_iv)] {
                self.bufs[d].keys = Some(Keys {
                    cipher,
                    key: key.to_vec(),
                    iv: iv.to_vec(),
                    seq: 0,
                    tls13: false,
                });
            }
        }
        self.keys_ready = true;
    }

    fn application_keys(&mut self, log: &KeyLog, direction: Direction) {
        let Some((cipher, sha384)) = self.suite.and_then(Cipher::of_suite) else {
            return;
        };
        let Some(secrets) = self.secrets(log) else {
            return;
        };
        let secret = match direction {
            Direction::ToServer => secrets.client_traffic.clone(),
            Direction::ToClient => secrets.server_traffic.clone(),
        };
        let buf = &mut self.bufs[direction.index()];
        buf.keys = secret.and_then(|s| keys13(&s, cipher, sha384));
        buf.in_handshake = false;
    }
}

/// Whether a ServerHello (whose extensions start at `at`) chose TLS 1.3:
/// its supported_versions extension says 0x0304.
fn server_hello_is_tls13(msg: &[u8], at: usize) -> bool {
    let Some(total) = msg
        .get(at..at + 2)
        .map(|b| u16::from_be_bytes([b[0], b[1]]) as usize)
    else {
        return false;
    };
    let mut i = at + 2;
    let end = (at + 2 + total).min(msg.len());
    while i + 4 <= end {
        let kind = u16::from_be_bytes([msg[i], msg[i + 1]]);
        let len = u16::from_be_bytes([msg[i + 2], msg[i + 3]]) as usize;
        if kind == 0x002b && len == 2 {
            return msg.get(i + 4..i + 6) == Some(&[3, 4]);
        }
        i += 4 + len;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls13_key_schedule_matches_rfc8448() {
        // RFC 8448 3 (simple 1-RTT handshake): server handshake traffic secret and its key and IV.
        let secret =
            hex::decode("b67b7d690cc16c4e75e54213cb2d37b4e9c912bcded9105d42befd59d391ad38")
                .unwrap();
        let key = expand_label(&secret, "key", 16, false).unwrap();
        let iv = expand_label(&secret, "iv", 12, false).unwrap();
        assert_eq!(hex::encode(key), "3fce516009c21727d0f2e4e86ee403bc");
        assert_eq!(hex::encode(iv), "5d313eb2671276ee13000b30");
    }

    #[test]
    fn tls12_prf_matches_a_known_vector() {
        // The TLS 1.2 PRF (SHA-256) test vector published with the mailing-list
        // test vectors for RFC 5246 (secret, "test label", seed, 100 bytes).
        let secret = hex::decode("9bbe436ba940f017b17652849a71db35").unwrap();
        let seed = hex::decode("a0ba9f936cda311827a6f796ffd5198c").unwrap();
        let out = prf12(&secret, b"test label", &seed, 100, false);
        assert_eq!(hex::encode(&out[..16]), "e3f229ba727be17b8d122620557cd453");
    }

    #[test]
    fn key_log_lines_are_read_and_junk_skipped() {
        let log = KeyLog::parse(
            "# comment\nCLIENT_RANDOM 0102 aabb\nSERVER_TRAFFIC_SECRET_0 0102 ccdd\nnonsense\nCLIENT_RANDOM zz 00\n",
        );
        let s = &log.sessions[&vec![1u8, 2]];
        assert_eq!(s.master.as_deref(), Some(&[0xaa, 0xbb][..]));
        assert_eq!(s.server_traffic.as_deref(), Some(&[0xcc, 0xdd][..]));
        assert_eq!(log.sessions.len(), 1);
    }
}
