//! The receiving half of a direction: checks sequence numbers, opens
//! records in place, and follows the peer's key updates.

use crate::crypto::aead::TAG_LEN;
use crate::proto::ProtoError;

use super::keys::{Direction, DirectionKeys, Protection, TrafficSecret};
use super::{Header, RecordType, KEY_UPDATE, MAX_RECORDS_PER_KEY};

/// The receiving half: checks sequence numbers and opens records in place.
/// Starts with no keys, expecting record 0.
#[derive(Default)]
pub struct Opener(pub(super) Direction);

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
