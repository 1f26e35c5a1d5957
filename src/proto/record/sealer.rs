//! The sending half of a direction: numbers records, seals them, and
//! updates its application key before the per-key limit.

use crate::crypto::aead::TAG_LEN;
use crate::proto::{ProtoError, MAX_PLAINTEXT_LEN};

use super::keys::{Direction, DirectionKeys, Protection, TrafficSecret};
use super::output::Output;
use super::{Header, RecordType, HEADER_LEN, KEY_UPDATE, KEY_UPDATE_AFTER, MAX_RECORDS_PER_KEY};

/// Most parts one record's plaintext may be given in, after its inner
/// type (a CHUNK is two: offset and data).
pub const MAX_PARTS: usize = 3;

/// The sending half: numbers records and seals them into an output buffer.
/// Starts with no keys; its first record is number 0. Under application
/// keys it updates its key by itself every [`KEY_UPDATE_AFTER`] records.
pub struct Sealer {
    pub(super) dir: Direction,
    pub(super) update_after: u64,
    /// Set when sealing failed inside OpenSSL: the nonce may have been
    /// used, so nothing more is sealed under this key.
    pub(super) broken: bool,
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
    pub fn plaintext(&mut self, out: &mut impl Output, kind: RecordType, body: &[u8]) {
        let header = Header {
            kind,
            len: body.len(),
            seq: self.dir.next_seq,
        };
        self.dir.next_seq += 1;
        let record = out.append(HEADER_LEN + body.len());
        record[..HEADER_LEN].copy_from_slice(&header.encode());
        record[HEADER_LEN..].copy_from_slice(body);
    }

    /// Appends an encrypted record whose plaintext is `inner_type` followed
    /// by `parts` concatenated (at most [`MAX_PLAINTEXT_LEN`] bytes in all,
    /// at most [`MAX_PARTS`] parts), encrypted from `parts` straight into
    /// `out`. When the current
    /// application key has sealed its share, a KEY_UPDATE record goes first
    /// and the record is sealed under the next key.
    ///
    /// On any error nothing of the record stays in `out`; after an OpenSSL
    /// failure the sealer refuses all further records (the nonce may have
    /// been consumed).
    ///
    /// # Errors
    /// `KeyLimit` at [`MAX_RECORDS_PER_KEY`] (handshake keys only; they
    /// never update); `InvalidCall` without keys, over the size limit or
    /// with more than [`MAX_PARTS`] parts; `Crypto` on an OpenSSL failure.
    pub fn seal(
        &mut self,
        out: &mut impl Output,
        inner_type: u8,
        parts: &[&[u8]],
    ) -> Result<(), ProtoError> {
        if 1 + parts.iter().map(|b| b.len()).sum::<usize>() > MAX_PLAINTEXT_LEN {
            return Err(ProtoError::InvalidCall(
                "record plaintext size out of range",
            ));
        }
        if parts.len() > MAX_PARTS {
            return Err(ProtoError::InvalidCall("too many parts in one record"));
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
        out: &mut impl Output,
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
        let inner = [inner_type];
        let mut plain: [&[u8]; MAX_PARTS + 1] = [&[]; MAX_PARTS + 1];
        plain[0] = &inner;
        plain[1..=parts.len()].copy_from_slice(parts);
        let start = out.len();
        let record = out.append(HEADER_LEN + plain_len + TAG_LEN);
        record[..HEADER_LEN].copy_from_slice(&aad);
        let (body, tag_out) = record[HEADER_LEN..].split_at_mut(plain_len);
        let sealed = p
            .aead
            .seal_into(&p.nonce(seq), &aad, &plain[..=parts.len()], body);
        #[cfg(test)]
        let sealed = if inject {
            Err(crate::crypto::CryptoError::MalformedKey(
                "AES-256-GCM seal failure injected by a test",
            ))
        } else {
            sealed
        };
        match sealed {
            Ok(tag) => {
                tag_out.copy_from_slice(&tag);
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
