//! The record layer: header, sequence numbers, AES-256-GCM sealing.
//!
//! ```text
//! header (14 bytes, all of it the AEAD's AAD):
//!   version u8 | type u8 | length u32 | sequence number u64     (big-endian)
//! payload (length bytes):
//!   plaintext records: the message body
//!   encrypted records: AES-256-GCM(inner type u8 | body) | tag (16 bytes)
//! ```
//!
//! Nonce = per-direction nonce base XOR (4 zero bytes | sequence number),
//! the deterministic construction of NIST SP 800-38D section 8.2.1, so a
//! nonce never repeats under one key. Each direction numbers its records
//! from 0 (the first plaintext handshake record) and the receiver accepts
//! only the next number.

use crate::crypto::aead::{AeadKey, Aes256Gcm, NONCE_LEN, TAG_LEN};
use crate::crypto::hkdf::{self, Prk};
use crate::crypto::secret::Secret;

use super::{ProtoError, MAX_PLAINTEXT_LEN, PROTOCOL_VERSION};

/// Header length in bytes.
pub const HEADER_LEN: usize = 14;

/// Records one key may seal or open: 2^21 (512 GiB of full records).
/// This keeps AES-GCM's confidentiality bound at the level TLS 1.3 aims
/// for (about 2^-57 with 2^35 blocks per key). A sender updates its
/// application key before the limit ([`KEY_UPDATE_AFTER`]); a receiver
/// refuses to open one more record under a key ([`ProtoError::KeyLimit`]).
pub const MAX_RECORDS_PER_KEY: u64 = 1 << 21;

/// The outer record type (second header byte).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum RecordType {
    /// Plaintext HELLO, client to server.
    Hello = 1,
    /// Plaintext CHALLENGE, server to client.
    Challenge = 2,
    /// Plaintext alert, only before any keys exist (1-byte code).
    PlainAlert = 3,
    /// An AES-256-GCM record.
    Encrypted = 23,
}

/// Payload length of a HELLO record: version u8, random 32, X25519 key 32.
pub const HELLO_LEN: usize = 65;
/// Payload length of a CHALLENGE record: random 32, X25519 key 32,
/// Ed25519 identity 32, signature 64.
pub const CHALLENGE_LEN: usize = 160;

/// A parsed, validated record header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// Outer record type.
    pub kind: RecordType,
    /// Payload length in bytes (for encrypted records, including the tag).
    pub len: usize,
    /// Sequence number of this record in its direction.
    pub seq: u64,
}

impl Header {
    /// Encodes the 14 header bytes.
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut h = [0u8; HEADER_LEN];
        h[0] = PROTOCOL_VERSION;
        h[1] = self.kind as u8;
        h[2..6].copy_from_slice(&(self.len as u32).to_be_bytes());
        h[6..14].copy_from_slice(&self.seq.to_be_bytes());
        h
    }

    /// Parses and validates a header: version, known type, and a length
    /// that is exact for plaintext types and within
    /// [`MAX_PLAINTEXT_LEN`] + tag for encrypted ones. Runs before any
    /// payload is buffered, so an oversize length allocates nothing.
    ///
    /// # Errors
    /// `UnsupportedVersion`, `MalformedRecord` or `RecordTooLarge`.
    pub fn parse(h: &[u8; HEADER_LEN]) -> Result<Header, ProtoError> {
        if h[0] != PROTOCOL_VERSION {
            return Err(ProtoError::UnsupportedVersion { got: h[0] });
        }
        let len = u32::from_be_bytes(h[2..6].try_into().expect("4 bytes")) as usize;
        let seq = u64::from_be_bytes(h[6..14].try_into().expect("8 bytes"));
        let (kind, ok) = match h[1] {
            1 => (RecordType::Hello, len == HELLO_LEN),
            2 => (RecordType::Challenge, len == CHALLENGE_LEN),
            3 => (RecordType::PlainAlert, len == 1),
            23 => {
                let max = MAX_PLAINTEXT_LEN + TAG_LEN;
                if len > max {
                    return Err(ProtoError::RecordTooLarge { len, max });
                }
                (RecordType::Encrypted, len > TAG_LEN)
            }
            _ => return Err(ProtoError::MalformedRecord("unknown record type")),
        };
        if !ok {
            return Err(ProtoError::MalformedRecord(
                "length does not fit the record type",
            ));
        }
        Ok(Header { kind, len, seq })
    }
}

/// Traffic key and nonce base of one direction (HKDF output, wiped on drop).
pub struct DirectionKeys {
    /// AES-256-GCM key, 32 bytes.
    pub key: AeadKey,
    /// Nonce base, 12 bytes.
    pub iv: Secret<NONCE_LEN>,
}

/// An application traffic secret of one direction (32 bytes, wiped on
/// drop). Its key and nonce base, and the next secret of a key update, are
/// HKDF-Expand outputs of it (docs/PROTOCOL.md §2.5, as TLS 1.3's
/// RFC 8446 §7.2):
///
/// ```text
/// key  = HKDF-Expand(secret, "sft/2 key", 32)
/// iv   = HKDF-Expand(secret, "sft/2 iv", 12)
/// next = HKDF-Expand(secret, "sft/2 key update", 32)
/// ```
pub struct TrafficSecret(pub Prk);

impl TrafficSecret {
    fn keys(&self) -> Result<DirectionKeys, ProtoError> {
        Ok(DirectionKeys {
            key: hkdf::expand(&self.0, b"sft/2 key")?,
            iv: hkdf::expand(&self.0, b"sft/2 iv")?,
        })
    }

    fn next(&self) -> Result<TrafficSecret, ProtoError> {
        Ok(TrafficSecret(hkdf::expand(&self.0, b"sft/2 key update")?))
    }
}

/// Per-direction AEAD state: the key's context, nonce base, the count of
/// records used under this key, and (for application keys) the traffic
/// secret a key update derives the next key from.
struct Protection {
    aead: Aes256Gcm,
    iv: Secret<NONCE_LEN>,
    used: u64,
    secret: Option<TrafficSecret>,
}

impl Protection {
    fn new(keys: &DirectionKeys, secret: Option<TrafficSecret>) -> Result<Self, ProtoError> {
        Ok(Protection {
            aead: Aes256Gcm::new(&keys.key)?,
            iv: Secret::from_slice(keys.iv.expose())
                .ok_or(ProtoError::InvalidCall("nonce base of the wrong length"))?,
            used: 0,
            secret,
        })
    }

    fn from_secret(secret: TrafficSecret) -> Result<Self, ProtoError> {
        Protection::new(&secret.keys()?, Some(secret))
    }

    /// The protection after a key update: keys from the next secret, the
    /// count restarted.
    fn updated(&self) -> Result<Self, ProtoError> {
        let secret = self
            .secret
            .as_ref()
            .ok_or(ProtoError::UnexpectedMessage {
                got: "KEY_UPDATE",
                state: "under handshake keys",
            })?
            .next()?;
        Protection::from_secret(secret)
    }

    fn nonce(&self, seq: u64) -> [u8; NONCE_LEN] {
        let mut n = *self.iv.expose();
        for (b, s) in n[4..].iter_mut().zip(seq.to_be_bytes()) {
            *b ^= s;
        }
        n
    }
}

/// One direction's state: the next sequence number and, once keys exist,
/// their AEAD state. Numbering continues across key changes.
#[derive(Default)]
struct Direction {
    next_seq: u64,
    protection: Option<Protection>,
}

/// Records a sender seals under one key before it updates the key: one
/// less than [`MAX_RECORDS_PER_KEY`], so the KEY_UPDATE record itself is
/// still within the limit.
pub const KEY_UPDATE_AFTER: u64 = MAX_RECORDS_PER_KEY - 1;

/// The sending half: numbers records and seals them into an output buffer.
/// Starts with no keys; its first record is number 0. Under application
/// keys it updates its key by itself every [`KEY_UPDATE_AFTER`] records.
pub struct Sealer {
    dir: Direction,
    update_after: u64,
    /// Set when sealing failed inside OpenSSL: the nonce may have been
    /// used, so nothing more is sealed under this key.
    broken: bool,
    /// Makes the next AEAD seal fail as an OpenSSL failure would (tests of
    /// the failure path; OpenSSL cannot be made to fail on demand).
    #[cfg(test)]
    fail_next_seal: bool,
}

impl Default for Sealer {
    fn default() -> Self {
        Sealer {
            dir: Direction::default(),
            update_after: KEY_UPDATE_AFTER,
            broken: false,
            #[cfg(test)]
            fail_next_seal: false,
        }
    }
}

impl Sealer {
    /// A sealer with no keys.
    pub fn new() -> Self {
        Sealer::default()
    }

    /// Switches to handshake keys (no key update under them); numbering
    /// continues.
    ///
    /// # Errors
    /// `Crypto` if the AEAD context cannot be created.
    pub fn set_keys(&mut self, keys: &DirectionKeys) -> Result<(), ProtoError> {
        self.dir.protection = Some(Protection::new(keys, None)?);
        Ok(())
    }

    /// Switches to application keys derived from `secret`; numbering
    /// continues.
    ///
    /// # Errors
    /// `Crypto` on an OpenSSL failure.
    pub fn set_traffic_secret(&mut self, secret: TrafficSecret) -> Result<(), ProtoError> {
        self.dir.protection = Some(Protection::from_secret(secret)?);
        Ok(())
    }

    /// Lowers the number of records sealed under one key before a key
    /// update (tests cross many updates with a small transfer).
    #[cfg(test)]
    pub(crate) fn set_update_after(&mut self, records: u64) {
        self.update_after = records.clamp(1, KEY_UPDATE_AFTER);
    }

    /// Whether records are encrypted now (and sealing still works).
    pub fn has_keys(&self) -> bool {
        self.dir.protection.is_some() && !self.broken
    }

    /// Appends a plaintext record (HELLO, CHALLENGE, plain alert) to `out`.
    pub fn plaintext(&mut self, out: &mut Vec<u8>, kind: RecordType, body: &[u8]) {
        let header = Header {
            kind,
            len: body.len(),
            seq: self.dir.next_seq,
        };
        self.dir.next_seq += 1;
        out.extend_from_slice(&header.encode());
        out.extend_from_slice(body);
    }

    /// Appends an encrypted record whose plaintext is `inner_type` followed
    /// by `parts` concatenated (at most [`MAX_PLAINTEXT_LEN`] bytes in all),
    /// copied once into `out` and sealed there in place. When the current
    /// application key has sealed its share, a KEY_UPDATE record goes first
    /// and the record is sealed under the next key.
    ///
    /// On any error nothing of the record stays in `out`; after an OpenSSL
    /// failure the sealer refuses all further records (the nonce may have
    /// been consumed).
    ///
    /// # Errors
    /// `KeyLimit` at [`MAX_RECORDS_PER_KEY`] (handshake keys only; they
    /// never update); `InvalidCall` without keys or over the size limit;
    /// `Crypto` on an OpenSSL failure.
    pub fn seal(
        &mut self,
        out: &mut Vec<u8>,
        inner_type: u8,
        parts: &[&[u8]],
    ) -> Result<(), ProtoError> {
        if 1 + parts.iter().map(|b| b.len()).sum::<usize>() > MAX_PLAINTEXT_LEN {
            return Err(ProtoError::InvalidCall(
                "record plaintext size out of range",
            ));
        }
        let due = self
            .dir
            .protection
            .as_ref()
            .is_some_and(|p| p.secret.is_some() && p.used >= self.update_after);
        if due {
            self.seal_one(out, KEY_UPDATE, &[])?;
            match self.usable()?.updated() {
                Ok(next) => self.dir.protection = Some(next),
                Err(e) => {
                    self.broken = true;
                    return Err(e);
                }
            }
        }
        self.seal_one(out, inner_type, parts)
    }

    fn usable(&mut self) -> Result<&mut Protection, ProtoError> {
        match &mut self.dir.protection {
            Some(p) if !self.broken => Ok(p),
            _ => Err(ProtoError::InvalidCall("no keys to seal with")),
        }
    }

    fn seal_one(
        &mut self,
        out: &mut Vec<u8>,
        inner_type: u8,
        parts: &[&[u8]],
    ) -> Result<(), ProtoError> {
        let seq = self.dir.next_seq;
        #[cfg(test)]
        let inject = std::mem::take(&mut self.fail_next_seal);
        let p = self.usable()?;
        let plain_len = 1 + parts.iter().map(|b| b.len()).sum::<usize>();
        if plain_len > MAX_PLAINTEXT_LEN {
            return Err(ProtoError::InvalidCall(
                "record plaintext size out of range",
            ));
        }
        if p.used >= MAX_RECORDS_PER_KEY {
            return Err(ProtoError::KeyLimit);
        }
        let header = Header {
            kind: RecordType::Encrypted,
            len: plain_len + TAG_LEN,
            seq,
        };
        let aad = header.encode();
        let start = out.len();
        out.reserve(HEADER_LEN + plain_len + TAG_LEN);
        out.extend_from_slice(&aad);
        out.push(inner_type);
        for part in parts {
            out.extend_from_slice(part);
        }
        let sealed = p
            .aead
            .seal_in_place(&p.nonce(seq), &aad, &mut out[start + HEADER_LEN..]);
        #[cfg(test)]
        let sealed = if inject {
            Err(crate::crypto::CryptoError::Backend {
                operation: "AES-256-GCM seal (injected by a test)",
                stack: openssl::error::ErrorStack::get(),
            })
        } else {
            sealed
        };
        match sealed {
            Ok(tag) => {
                out.extend_from_slice(&tag);
                p.used += 1;
                self.dir.next_seq += 1;
                Ok(())
            }
            Err(e) => {
                out.truncate(start);
                self.broken = true;
                Err(e.into())
            }
        }
    }
}

/// Inner type of the KEY_UPDATE record (empty body): the sender's next
/// records use the next key of its direction (docs/PROTOCOL.md §2.5). The
/// record layer sends and consumes it; the application never sees it.
pub const KEY_UPDATE: u8 = 0x03;

/// The receiving half: checks sequence numbers and opens records in place.
/// Starts with no keys, expecting record 0.
#[derive(Default)]
pub struct Opener(Direction);

impl Opener {
    /// An opener with no keys.
    pub fn new() -> Self {
        Opener::default()
    }

    /// Switches to handshake keys; numbering continues.
    ///
    /// # Errors
    /// `Crypto` if the AEAD context cannot be created.
    pub fn set_keys(&mut self, keys: &DirectionKeys) -> Result<(), ProtoError> {
        self.0.protection = Some(Protection::new(keys, None)?);
        Ok(())
    }

    /// Switches to application keys derived from `secret`; numbering
    /// continues.
    ///
    /// # Errors
    /// `Crypto` on an OpenSSL failure.
    pub fn set_traffic_secret(&mut self, secret: TrafficSecret) -> Result<(), ProtoError> {
        self.0.protection = Some(Protection::from_secret(secret)?);
        Ok(())
    }

    /// Whether encrypted records are expected now.
    pub fn has_keys(&self) -> bool {
        self.0.protection.is_some()
    }

    /// Accepts a plaintext record's header: it must carry the next number
    /// and no keys may exist yet (after keys, plaintext is refused).
    ///
    /// # Errors
    /// `BadRecord` when keys exist; `OutOfSequence` when the number is not
    /// the next one.
    pub fn accept_plaintext(&mut self, header: &Header) -> Result<(), ProtoError> {
        if self.0.protection.is_some() {
            return Err(ProtoError::BadRecord);
        }
        if header.seq != self.0.next_seq {
            return Err(ProtoError::OutOfSequence {
                expected: self.0.next_seq,
                got: header.seq,
            });
        }
        self.0.next_seq += 1;
        Ok(())
    }

    /// Opens an encrypted record in place. `payload` is the ciphertext and
    /// tag (`header.len` bytes). Returns the inner type and the body. A
    /// KEY_UPDATE record is consumed here: it switches to the next key and
    /// `Ok(None)` is returned.
    ///
    /// # Errors
    /// `BadRecord` for a wrong sequence number (replay, drop, reorder,
    /// reflection) or a failed tag, without saying which; `KeyLimit` past
    /// [`MAX_RECORDS_PER_KEY`]; `MalformedMessage` for a KEY_UPDATE with a
    /// body; `UnexpectedMessage` for a KEY_UPDATE under handshake keys.
    pub fn open<'a>(
        &mut self,
        header: &Header,
        payload: &'a mut [u8],
    ) -> Result<Option<(u8, &'a mut [u8])>, ProtoError> {
        let p = self.0.protection.as_mut().ok_or(ProtoError::BadRecord)?;
        if header.seq != self.0.next_seq || header.kind != RecordType::Encrypted {
            return Err(ProtoError::BadRecord);
        }
        if p.used >= MAX_RECORDS_PER_KEY {
            return Err(ProtoError::KeyLimit);
        }
        let (ct, tag) = payload.split_at_mut(header.len - TAG_LEN);
        let tag: &[u8; TAG_LEN] = (&*tag).try_into().map_err(|_| ProtoError::BadRecord)?;
        p.aead
            .open_in_place(&p.nonce(header.seq), &header.encode(), ct, tag)
            .map_err(|_| ProtoError::BadRecord)?;
        p.used += 1;
        self.0.next_seq += 1;
        let (inner, body) = ct.split_first_mut().ok_or(ProtoError::BadRecord)?;
        if *inner == KEY_UPDATE {
            if !body.is_empty() {
                return Err(ProtoError::MalformedMessage("KEY_UPDATE"));
            }
            let next = p.updated()?;
            self.0.protection = Some(next);
            return Ok(None);
        }
        Ok(Some((*inner, body)))
    }
}

#[cfg(test)]
impl Sealer {
    /// Makes the next AEAD seal fail as an OpenSSL failure would.
    pub(crate) fn fail_next_seal(&mut self) {
        self.fail_next_seal = true;
    }

    /// Opens one whole `record` (header and payload) this sealer sealed,
    /// under its current key: lets a test read what its own side queued
    /// when no peer is in a state to read it. Returns the inner type and
    /// the body.
    pub(crate) fn open_own(&mut self, record: &[u8]) -> Result<(u8, Vec<u8>), ProtoError> {
        let head: [u8; HEADER_LEN] = record
            .get(..HEADER_LEN)
            .and_then(|h| h.try_into().ok())
            .ok_or(ProtoError::BadRecord)?;
        let header = Header::parse(&head)?;
        let mut payload = record[HEADER_LEN..].to_vec();
        if header.kind != RecordType::Encrypted || payload.len() != header.len {
            return Err(ProtoError::BadRecord);
        }
        let p = self.dir.protection.as_mut().ok_or(ProtoError::BadRecord)?;
        let (ct, tag) = payload.split_at_mut(header.len - TAG_LEN);
        let tag: &[u8; TAG_LEN] = (&*tag).try_into().map_err(|_| ProtoError::BadRecord)?;
        p.aead
            .open_in_place(&p.nonce(header.seq), &head, ct, tag)
            .map_err(|_| ProtoError::BadRecord)?;
        Ok((ct[0], ct[1..].to_vec()))
    }
}
