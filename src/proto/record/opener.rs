//! The receiving half of a direction: checks sequence numbers, opens
//! records in place, and follows the peer's key updates where §2.5 puts
//! them, and only there.

use crate::crypto::aead::TAG_LEN;
use crate::proto::ProtoError;

use super::keys::{Direction, DirectionKeys, Protection, TrafficSecret};
use super::{Header, RecordType, KEY_UPDATE, KEY_UPDATE_AFTER, MAX_RECORDS_PER_KEY};

/// The receiving half: checks sequence numbers and opens records in place.
/// Starts with no keys, expecting record 0. Accepts the peer's KEY_UPDATE
/// only as the record right after [`KEY_UPDATE_AFTER`] records under one
/// application key, where a sender puts it, so a peer cannot make it derive
/// keys at will.
pub struct Opener {
    pub(super) dir: Direction,
    /// Records the peer seals under one key before its KEY_UPDATE.
    pub(super) update_after: u64,
}

impl Default for Opener {
    fn default() -> Self {
        Opener {
            dir: Direction::default(),
            update_after: KEY_UPDATE_AFTER,
        }
    }
}

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

    /// Lowers the number of records the peer seals under one key before
    /// its KEY_UPDATE, to match a peer's [`super::Sealer`] lowered alike
    /// (tests cross many updates with a small transfer).
    #[cfg(test)]
    pub(crate) fn set_update_after(&mut self, records: u64) {
        self.update_after = records.clamp(1, KEY_UPDATE_AFTER);
    }

    /// Whether encrypted records are expected now.
    pub fn has_keys(&self) -> bool {
        self.dir.protection.is_some()
    }

    /// Accepts a plaintext record's header: it must carry the next number
    /// and no keys may exist yet (after keys, plaintext is refused).
    ///
    /// # Errors
    /// `BadRecord` when keys exist; `OutOfSequence` when the number is not
    /// the next one.
    pub fn accept_plaintext(&mut self, header: &Header) -> Result<(), ProtoError> {
        if self.dir.protection.is_some() {
            return Err(ProtoError::BadRecord);
        }
        if header.seq != self.dir.next_seq {
            return Err(ProtoError::OutOfSequence {
                expected: self.dir.next_seq,
                got: header.seq,
            });
        }
        self.dir.next_seq += 1;
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
    /// body; `UnexpectedMessage` for a KEY_UPDATE under handshake keys or
    /// anywhere but right after [`KEY_UPDATE_AFTER`] records under its key.
    pub fn open<'a>(
        &mut self,
        header: &Header,
        payload: &'a mut [u8],
    ) -> Result<Option<(u8, &'a mut [u8])>, ProtoError> {
        let p = self.dir.protection.as_mut().ok_or(ProtoError::BadRecord)?;
        if header.seq != self.dir.next_seq || header.kind != RecordType::Encrypted {
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
        self.dir.next_seq += 1;
        let (inner, body) = ct.split_first_mut().ok_or(ProtoError::BadRecord)?;
        if *inner == KEY_UPDATE {
            if !body.is_empty() {
                return Err(ProtoError::MalformedMessage("KEY_UPDATE"));
            }
            if p.used != self.update_after + 1 {
                return Err(ProtoError::UnexpectedMessage {
                    got: "KEY_UPDATE",
                    state: "not at the key's update point",
                });
            }
            let next = p.updated()?;
            self.dir.protection = Some(next);
            return Ok(None);
        }
        Ok(Some((*inner, body)))
    }
}
