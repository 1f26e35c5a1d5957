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

    /// Drops the current keys: nothing can be sealed until new ones are set
    /// (the client between RESPONSE and SESSION_ESTABLISHED). Numbering
    /// continues.
    pub fn retire_keys(&mut self) {
        self.dir.protection = None;
    }

    /// Lowers the number of records sealed under one key before a key
    /// update (tests cross many updates with a small transfer).
    #[cfg(test)]
    pub(crate) fn set_update_after(&mut self, records: u64) {
        self.update_after = records.clamp(1, KEY_UPDATE_AFTER);
    }

    /// Whether records are encrypted now (even if sealing has broken).
    pub fn has_keys(&self) -> bool {
        self.dir.protection.is_some()
    }

    /// Whether a record can be sealed now: keys exist and no OpenSSL
    /// failure broke the sealer.
    pub fn can_seal(&self) -> bool {
        self.has_keys() && !self.broken
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

#[cfg(test)]
mod tests {
    //! The record layer at its limits: per-key counts at the limit and one
    //! past, key updates, and what a failed seal leaves behind.

    use super::*;
    use crate::crypto::hkdf;

    const CHUNK: u8 = 0x14;

    fn traffic_secret(b: u8) -> TrafficSecret {
        TrafficSecret(Secret::from_slice(&[b; 32]).unwrap())
    }

    fn handshake_keys(b: u8) -> DirectionKeys {
        DirectionKeys {
            key: Secret::from_slice(&[b; 32]).unwrap(),
            iv: Secret::from_slice(&[b; NONCE_LEN]).unwrap(),
        }
    }

    /// A sealer and an opener of one direction under handshake keys.
    fn handshake_pair() -> (Sealer, Opener) {
        let (mut s, mut o) = (Sealer::new(), Opener::new());
        s.set_keys(&handshake_keys(1)).unwrap();
        o.set_keys(&handshake_keys(1)).unwrap();
        (s, o)
    }

    /// A sealer and an opener of one direction under application keys.
    fn application_pair() -> (Sealer, Opener) {
        let (mut s, mut o) = (Sealer::new(), Opener::new());
        s.set_traffic_secret(traffic_secret(3)).unwrap();
        o.set_traffic_secret(traffic_secret(3)).unwrap();
        (s, o)
    }

    /// The key-update vector in tests/vectors/protocol/key_update.txt: a
    /// client→server application traffic secret S_0 = `77`×32 whose first
    /// record was number 2; the last record under key(S_0), then the
    /// KEY_UPDATE and the first record under key(S_1), byte for byte.
    /// Regenerate with `SFT_REGENERATE_VECTORS=1 cargo test --release --lib`.
    #[test]
    fn key_update_vector() {
        const LIST: u8 = 0x12;
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/vectors/protocol/key_update.txt"
        );
        let mut s = Sealer::new();
        s.set_traffic_secret(traffic_secret(0x77)).unwrap();
        // As if 2^21 - 2 records had been sealed since sequence number 2.
        *sealer_used(&mut s) = KEY_UPDATE_AFTER - 1;
        s.dir.next_seq = 2 + KEY_UPDATE_AFTER - 1;
        let mut last_old = Vec::new();
        s.seal(&mut last_old, LIST, &[]).unwrap();
        let mut update_and_next = Vec::new();
        s.seal(&mut update_and_next, LIST, &[]).unwrap();
        let s0 = traffic_secret(0x77);
        let s1 = s0.next().unwrap();
        let k1 = s1.keys().unwrap();
        let text = format!(
            "# sft protocol version 2: one key update, regenerated by src/proto/record.rs (key_update_vector)\n\
             # Input: a client->server application traffic secret S_0 = 77*32 whose first record was\n\
             # sequence number 2 (docs/PROTOCOL.md section 2.5). Secrets and keys are hex; the last two\n\
             # lines are wire bytes (records with headers; the last line holds two records back to back).\n\
             S_1 = {}\nkey(S_1) = {}\niv(S_1) = {}\n\
             c->s LIST at seq 2097152 under key(S_0) = {}\n\
             c->s KEY_UPDATE at seq 2097153 under key(S_0), LIST at seq 2097154 under key(S_1) = {}\n",
            hex::encode(s1.0.expose()),
            hex::encode(k1.key.expose()),
            hex::encode(k1.iv.expose()),
            hex::encode(&last_old),
            hex::encode(&update_and_next),
        );
        if std::env::var_os("SFT_REGENERATE_VECTORS").is_some() {
            std::fs::write(path, &text).unwrap();
        }
        assert_eq!(std::fs::read_to_string(path).unwrap(), text);
    }

    fn sealer_used(s: &mut Sealer) -> &mut u64 {
        &mut s.dir.protection.as_mut().unwrap().used
    }

    fn opener_used(o: &mut Opener) -> &mut u64 {
        &mut o.0.protection.as_mut().unwrap().used
    }

    /// Splits a byte stream into whole records: header and payload.
    fn split(mut bytes: &[u8]) -> Vec<(Header, Vec<u8>)> {
        let mut v = Vec::new();
        while !bytes.is_empty() {
            let header = Header::parse(bytes[..HEADER_LEN].try_into().unwrap()).unwrap();
            let end = HEADER_LEN + header.len;
            v.push((header, bytes[HEADER_LEN..end].to_vec()));
            bytes = &bytes[end..];
        }
        v
    }

    /// Opens one split record: `Ok(None)` for a KEY_UPDATE.
    fn open(o: &mut Opener, rec: &(Header, Vec<u8>)) -> Result<Option<(u8, Vec<u8>)>, ProtoError> {
        let mut payload = rec.1.clone();
        Ok(o.open(&rec.0, &mut payload)?.map(|(t, b)| (t, b.to_vec())))
    }

    #[test]
    fn header_length_limits_at_and_one_past() {
        let head = |kind: u8, len: u32| {
            let mut h = [0u8; HEADER_LEN];
            h[0] = PROTOCOL_VERSION;
            h[1] = kind;
            h[2..6].copy_from_slice(&len.to_be_bytes());
            h
        };
        let max = MAX_PLAINTEXT_LEN + TAG_LEN;
        assert_eq!(Header::parse(&head(23, max as u32)).unwrap().len, max);
        assert!(matches!(
            Header::parse(&head(23, max as u32 + 1)),
            Err(ProtoError::RecordTooLarge { len, max: m }) if len == max + 1 && m == max
        ));
        // The smallest encrypted record holds the inner type and the tag.
        assert_eq!(Header::parse(&head(23, 17)).unwrap().len, 17);
        assert!(matches!(
            Header::parse(&head(23, 16)),
            Err(ProtoError::MalformedRecord(_))
        ));
        for (kind, exact) in [(1, HELLO_LEN), (2, CHALLENGE_LEN), (3, 1)] {
            assert!(Header::parse(&head(kind, exact as u32)).is_ok());
            for wrong in [exact - 1, exact + 1] {
                assert!(
                    matches!(
                        Header::parse(&head(kind, wrong as u32)),
                        Err(ProtoError::MalformedRecord(_))
                    ),
                    "type {kind} length {wrong}"
                );
            }
        }
    }

    /// Fails if the opener counts off by one: it must open record number
    /// MAX_RECORDS_PER_KEY under one key and refuse the next, before any
    /// decryption.
    #[test]
    fn opener_opens_record_max_and_refuses_max_plus_one_under_one_key() {
        let (mut s, mut o) = handshake_pair();
        *opener_used(&mut o) = MAX_RECORDS_PER_KEY - 1;
        let mut out = Vec::new();
        s.seal(&mut out, CHUNK, &[b"record 2^21"]).unwrap();
        s.seal(&mut out, CHUNK, &[b"record 2^21 + 1"]).unwrap();
        let recs = split(&out);
        assert_eq!(
            open(&mut o, &recs[0]).unwrap(),
            Some((CHUNK, b"record 2^21".to_vec()))
        );
        assert!(matches!(open(&mut o, &recs[1]), Err(ProtoError::KeyLimit)));

        // Application keys alike: a peer that never updates its key is
        // refused at the same count.
        let (mut s, mut o) = application_pair();
        *opener_used(&mut o) = MAX_RECORDS_PER_KEY - 1;
        let mut out = Vec::new();
        s.seal(&mut out, CHUNK, &[b"a"]).unwrap();
        s.seal(&mut out, CHUNK, &[b"b"]).unwrap();
        let recs = split(&out);
        assert_eq!(
            open(&mut o, &recs[0]).unwrap(),
            Some((CHUNK, b"a".to_vec()))
        );
        assert!(matches!(open(&mut o, &recs[1]), Err(ProtoError::KeyLimit)));
    }

    /// Fails if handshake keys were allowed past the limit (they never
    /// update), or if a refusal left bytes in `out` or used up a number.
    #[test]
    fn handshake_sealer_refuses_at_the_limit_and_leaves_nothing() {
        let (mut s, _) = handshake_pair();
        *sealer_used(&mut s) = MAX_RECORDS_PER_KEY - 1;
        let mut out = b"earlier".to_vec();
        s.seal(&mut out, CHUNK, &[b"the last one"]).unwrap();
        let before = out.clone();
        let seq = s.dir.next_seq;
        assert!(matches!(
            s.seal(&mut out, CHUNK, &[b"one more"]),
            Err(ProtoError::KeyLimit)
        ));
        assert_eq!(out, before);
        assert_eq!(s.dir.next_seq, seq);
        assert_eq!(
            split(&out[7..]).len(),
            1,
            "no KEY_UPDATE under handshake keys"
        );
    }

    /// Fails on the pre-rewrite sealer (no key update: KeyLimit here) and
    /// on one that updates a record late or early.
    #[test]
    fn application_sealer_updates_at_key_update_after_and_keeps_going() {
        let (mut s, mut o) = application_pair();
        *sealer_used(&mut s) = KEY_UPDATE_AFTER - 1;
        *opener_used(&mut o) = KEY_UPDATE_AFTER - 1;
        let mut out = Vec::new();
        s.seal(&mut out, CHUNK, &[b"last under the first key"])
            .unwrap();
        assert_eq!(split(&out).len(), 1, "no update before KEY_UPDATE_AFTER");
        s.seal(&mut out, CHUNK, &[b"first under the next key"])
            .unwrap();
        for i in 0..5u8 {
            s.seal(&mut out, CHUNK, &[&[i]]).unwrap();
        }
        let recs = split(&out);
        assert_eq!(recs.len(), 8, "one KEY_UPDATE, then no more");
        let seqs: Vec<u64> = recs.iter().map(|r| r.0.seq).collect();
        assert_eq!(seqs, (0..8).collect::<Vec<_>>(), "numbering carries on");
        // The KEY_UPDATE is record number MAX_RECORDS_PER_KEY under the
        // first key: still within the receiver's limit.
        assert_eq!(recs[1].0.len, 1 + TAG_LEN);
        assert_eq!(open(&mut o, &recs[0]).unwrap().unwrap().0, CHUNK);
        assert_eq!(open(&mut o, &recs[1]).unwrap(), None);
        assert_eq!(
            open(&mut o, &recs[2]).unwrap(),
            Some((CHUNK, b"first under the next key".to_vec()))
        );
        for (i, rec) in recs[3..].iter().enumerate() {
            assert_eq!(open(&mut o, rec).unwrap(), Some((CHUNK, vec![i as u8])));
        }
        assert_eq!(*sealer_used(&mut s), 6, "the count restarted with the key");
        assert_eq!(*opener_used(&mut o), 6);
    }

    /// Fails if either side derived the next key otherwise than
    /// docs/PROTOCOL.md §2.5 says, or if the opener ignored KEY_UPDATE (a
    /// record under the old key must then be refused).
    #[test]
    fn key_update_moves_to_next_secret_as_specified_and_the_old_key_is_refused() {
        let (mut s, _) = application_pair();
        s.set_update_after(1);
        let mut out = Vec::new();
        s.seal(&mut out, CHUNK, &[b"A"]).unwrap();
        s.seal(&mut out, CHUNK, &[b"B"]).unwrap();
        let recs = split(&out);
        assert_eq!(recs.len(), 3, "A, KEY_UPDATE, B");

        // On the wire, KEY_UPDATE is inner type 0x03 and nothing else,
        // under the key it retires.
        let mut old = Protection::from_secret(traffic_secret(3)).unwrap();
        let (header, mut payload) = recs[1].clone();
        let (ct, tag) = payload.split_at_mut(header.len - TAG_LEN);
        old.aead
            .open_in_place(
                &old.nonce(header.seq),
                &header.encode(),
                ct,
                (&*tag).try_into().unwrap(),
            )
            .unwrap();
        assert_eq!(ct, [0x03]);

        // next(S) = HKDF-Expand(S, "sft/2 key update", 32)
        let s0 = Secret::<32>::from_slice(&[3; 32]).unwrap();
        let s1 = TrafficSecret(hkdf::expand(&s0, b"sft/2 key update").unwrap());
        let mut o1 = Opener::new();
        o1.set_traffic_secret(s1).unwrap();
        o1.0.next_seq = 2;
        assert_eq!(
            open(&mut o1, &recs[2]).unwrap(),
            Some((CHUNK, b"B".to_vec()))
        );

        // A record sealed under the old key after the update is refused.
        let mut stale = Sealer::new();
        stale.set_traffic_secret(traffic_secret(3)).unwrap();
        let mut stale_out = Vec::new();
        for body in [&b"A"[..], b"filler at the update's number", b"B"] {
            stale.seal(&mut stale_out, CHUNK, &[body]).unwrap();
        }
        let stale_recs = split(&stale_out);
        let (_, mut o) = application_pair();
        assert!(open(&mut o, &recs[0]).unwrap().is_some());
        assert_eq!(open(&mut o, &recs[1]).unwrap(), None);
        assert!(matches!(
            open(&mut o, &stale_recs[2]),
            Err(ProtoError::BadRecord)
        ));
    }

    #[test]
    fn key_update_under_handshake_keys_is_unexpected() {
        let (mut s, mut o) = handshake_pair();
        let mut out = Vec::new();
        s.seal(&mut out, KEY_UPDATE, &[]).unwrap();
        let err = open(&mut o, &split(&out)[0]).unwrap_err();
        assert!(
            matches!(
                err,
                ProtoError::UnexpectedMessage {
                    got: "KEY_UPDATE",
                    ..
                }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn key_update_with_a_body_is_malformed() {
        let (mut s, mut o) = application_pair();
        let mut out = Vec::new();
        s.seal(&mut out, KEY_UPDATE, &[&[0]]).unwrap();
        let err = open(&mut o, &split(&out)[0]).unwrap_err();
        assert!(
            matches!(err, ProtoError::MalformedMessage("KEY_UPDATE")),
            "{err:?}"
        );
    }

    /// Defect 4. Fails on an implementation that writes the header (or a
    /// KEY_UPDATE) before checking the size, or numbers the record before
    /// it is sealed: the next record would then skip a number, or a due
    /// KEY_UPDATE would go out alone.
    #[test]
    fn oversize_plaintext_leaves_out_unchanged_and_keeps_the_number() {
        let (mut s, mut o) = application_pair();
        let mut out = b"queued".to_vec();
        let big = vec![7u8; MAX_PLAINTEXT_LEN];
        assert!(matches!(
            s.seal(&mut out, CHUNK, &[&big]),
            Err(ProtoError::InvalidCall(_))
        ));
        assert!(matches!(
            s.seal(&mut out, CHUNK, &[&big[..10], &big[10..]]),
            Err(ProtoError::InvalidCall(_))
        ));
        assert_eq!(out, b"queued");
        assert_eq!(s.dir.next_seq, 0);
        // Exactly MAX_PLAINTEXT_LEN (inner type included) is allowed, and
        // takes the number the refused record did not.
        s.seal(&mut out, CHUNK, &[&big[1..]]).unwrap();
        let recs = split(&out[6..]);
        assert_eq!(recs.len(), 1);
        assert_eq!(recs[0].0.seq, 0);
        assert_eq!(recs[0].0.len, MAX_PLAINTEXT_LEN + TAG_LEN);
        assert_eq!(open(&mut o, &recs[0]).unwrap().unwrap().1, big[1..]);

        // With a key update due, an oversize record sends no KEY_UPDATE
        // either; the next record sends it, at the next number.
        s.set_update_after(1);
        out.clear();
        assert!(s.seal(&mut out, CHUNK, &[&big]).is_err());
        assert!(out.is_empty());
        assert_eq!(*sealer_used(&mut s), 1);
        s.seal(&mut out, CHUNK, &[b"x"]).unwrap();
        let recs = split(&out);
        assert_eq!(
            recs.iter().map(|r| (r.0.seq, r.0.len)).collect::<Vec<_>>(),
            vec![(1, 1 + TAG_LEN), (2, 2 + TAG_LEN)]
        );
        assert_eq!(open(&mut o, &recs[0]).unwrap(), None);
        assert_eq!(
            open(&mut o, &recs[1]).unwrap(),
            Some((CHUNK, b"x".to_vec()))
        );
    }

    /// Defect 4. Fails on the pre-rewrite sealer, which returned on an
    /// OpenSSL error with the header and the plaintext left in `out` (sent
    /// in clear by the next write) and the number unused, so the alert that
    /// followed was sealed under the same nonce.
    #[test]
    fn failed_seal_leaves_nothing_and_stops_the_sealer() {
        let (mut s, _) = application_pair();
        let mut out = b"queued".to_vec();
        s.fail_next_seal();
        assert!(matches!(
            s.seal(&mut out, CHUNK, &[b"secret file data"]),
            Err(ProtoError::Crypto(_))
        ));
        assert_eq!(out, b"queued", "nothing of the record stays");
        assert!(s.has_keys() && !s.can_seal(), "keyed, but broken");
        // Nothing more is sealed under that key, at that number or any other.
        assert!(matches!(
            s.seal(&mut out, 0x02, &[&[6]]),
            Err(ProtoError::InvalidCall(_))
        ));
        assert_eq!(out, b"queued");

        // The same when the failure hits the KEY_UPDATE.
        let (mut s, _) = application_pair();
        s.set_update_after(1);
        let mut out = Vec::new();
        s.seal(&mut out, CHUNK, &[b"a"]).unwrap();
        let len = out.len();
        s.fail_next_seal();
        assert!(s.seal(&mut out, CHUNK, &[b"b"]).is_err());
        assert_eq!(out.len(), len);
        assert!(s.has_keys() && !s.can_seal());
    }
}
