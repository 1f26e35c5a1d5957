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
use crate::crypto::secret::Secret;

use super::{ProtoError, MAX_PLAINTEXT_LEN, PROTOCOL_VERSION};

/// Header length in bytes.
pub const HEADER_LEN: usize = 14;

/// Records one key may seal or open: 2^21 (512 GiB of full records).
/// This keeps AES-GCM's confidentiality bound at the level TLS 1.3 aims
/// for (about 2^-57 with 2^35 blocks per key). At the limit the sender
/// refuses to seal ([`ProtoError::KeyLimit`]) and the session ends; the
/// client reconnects for more.
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

/// Per-direction AEAD state: the key's context, nonce base and the count
/// of records used under this key.
struct Protection {
    aead: Aes256Gcm,
    iv: Secret<NONCE_LEN>,
    used: u64,
}

impl Protection {
    fn new(keys: &DirectionKeys) -> Result<Self, ProtoError> {
        Ok(Protection {
            aead: Aes256Gcm::new(&keys.key)?,
            iv: Secret::from_slice(keys.iv.expose()).expect("12 bytes"),
            used: 0,
        })
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

impl Direction {
    fn set_keys(&mut self, keys: &DirectionKeys) -> Result<(), ProtoError> {
        self.protection = Some(Protection::new(keys)?);
        Ok(())
    }
}

/// The sending half: numbers records and seals them into an output buffer.
/// Starts with no keys; its first record is number 0.
#[derive(Default)]
pub struct Sealer(Direction);

impl Sealer {
    /// A sealer with no keys.
    pub fn new() -> Self {
        Sealer::default()
    }

    /// Switches to new keys; numbering continues.
    ///
    /// # Errors
    /// `Crypto` if the AEAD context cannot be created.
    pub fn set_keys(&mut self, keys: &DirectionKeys) -> Result<(), ProtoError> {
        self.0.set_keys(keys)
    }

    /// Whether records are encrypted now.
    pub fn has_keys(&self) -> bool {
        self.0.protection.is_some()
    }

    /// Appends a plaintext record (HELLO, CHALLENGE, plain alert) to `out`.
    pub fn plaintext(&mut self, out: &mut Vec<u8>, kind: RecordType, body: &[u8]) {
        let header = Header {
            kind,
            len: body.len(),
            seq: self.0.next_seq,
        };
        self.0.next_seq += 1;
        out.extend_from_slice(&header.encode());
        out.extend_from_slice(body);
    }

    /// Appends an encrypted record whose plaintext is `inner_type` followed
    /// by `parts` concatenated (at most [`MAX_PLAINTEXT_LEN`] bytes in all),
    /// copied once into `out` and sealed there in place.
    ///
    /// # Errors
    /// `KeyLimit` at [`MAX_RECORDS_PER_KEY`]; `InvalidCall` without keys or
    /// over the size limit; `Crypto` on an OpenSSL failure.
    pub fn seal(
        &mut self,
        out: &mut Vec<u8>,
        inner_type: u8,
        parts: &[&[u8]],
    ) -> Result<(), ProtoError> {
        let p = self
            .0
            .protection
            .as_mut()
            .ok_or(ProtoError::InvalidCall("no keys to seal with"))?;
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
            seq: self.0.next_seq,
        };
        let aad = header.encode();
        let start = out.len();
        out.reserve(HEADER_LEN + plain_len + TAG_LEN);
        out.extend_from_slice(&aad);
        out.push(inner_type);
        for part in parts {
            out.extend_from_slice(part);
        }
        let body = &mut out[start + HEADER_LEN..];
        let tag = p
            .aead
            .seal_in_place(&p.nonce(self.0.next_seq), &aad, body)?;
        out.extend_from_slice(&tag);
        p.used += 1;
        self.0.next_seq += 1;
        Ok(())
    }
}

/// The receiving half: checks sequence numbers and opens records in place.
/// Starts with no keys, expecting record 0.
#[derive(Default)]
pub struct Opener(Direction);

impl Opener {
    /// An opener with no keys.
    pub fn new() -> Self {
        Opener::default()
    }

    /// Switches to new keys; numbering continues.
    ///
    /// # Errors
    /// `Crypto` if the AEAD context cannot be created.
    pub fn set_keys(&mut self, keys: &DirectionKeys) -> Result<(), ProtoError> {
        self.0.set_keys(keys)
    }

    /// Whether encrypted records are expected now.
    pub fn has_keys(&self) -> bool {
        self.0.protection.is_some()
    }

    /// Accepts a plaintext record's header: it must carry the next number
    /// and no keys may exist yet (after keys, plaintext is refused).
    ///
    /// # Errors
    /// `BadRecord` when out of sequence or when keys exist.
    pub fn accept_plaintext(&mut self, header: &Header) -> Result<(), ProtoError> {
        if self.0.protection.is_some() || header.seq != self.0.next_seq {
            return Err(ProtoError::BadRecord);
        }
        self.0.next_seq += 1;
        Ok(())
    }

    /// Opens an encrypted record in place. `payload` is the ciphertext and
    /// tag (`header.len` bytes). Returns the inner type and the body.
    ///
    /// # Errors
    /// `BadRecord` for a wrong sequence number (replay, drop, reorder,
    /// reflection) or a failed tag, without saying which; `KeyLimit` past
    /// [`MAX_RECORDS_PER_KEY`].
    pub fn open<'a>(
        &mut self,
        header: &Header,
        payload: &'a mut [u8],
    ) -> Result<(u8, &'a mut [u8]), ProtoError> {
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
        Ok((*inner, body))
    }
}
