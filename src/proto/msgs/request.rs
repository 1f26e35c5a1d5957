//! Requests and file data: OFFER, GET, ACCEPT, CHUNK and END.

use crate::crypto::hash::DIGEST_LEN;
use crate::proto::codec::{Reader, Writer};
use crate::proto::{ProtoError, MAX_NAME_LEN};

/// OFFER: a file the sender will send if accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Offer {
    /// Raw name bytes as sent (the receiver applies [`super::name::sanitize`]).
    pub name: Vec<u8>,
    /// Size in bytes.
    pub size: u64,
    /// Replace an existing file of that name (uploads only).
    pub overwrite: bool,
}

impl Offer {
    /// Encodes the body: name (u16 length + bytes), size u64, flags u8.
    pub fn encode(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(2 + self.name.len() + 9);
        v.put_vec16(&self.name);
        v.put_u64(self.size);
        v.put_u8(u8::from(self.overwrite));
        v
    }

    /// Parses a body.
    ///
    /// # Errors
    /// `MalformedMessage` on bad lengths, names over 255 bytes or unknown
    /// flag bits.
    pub fn parse(b: &[u8]) -> Result<Self, ProtoError> {
        let mut r = Reader::new(b, "OFFER");
        let name = r.vec16(MAX_NAME_LEN)?.to_vec();
        let size = r.u64()?;
        let flags = r.u8()?;
        r.finish()?;
        if flags > 1 {
            return Err(ProtoError::MalformedMessage("OFFER"));
        }
        Ok(Offer {
            name,
            size,
            overwrite: flags == 1,
        })
    }
}

/// Encodes a GET body: the name (u16 length + bytes).
pub fn encode_get(name: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(2 + name.len());
    v.put_vec16(name);
    v
}

/// Parses an ACCEPT body: the start offset (u64).
///
/// # Errors
/// `MalformedMessage` unless exactly 8 bytes.
pub fn parse_accept(b: &[u8]) -> Result<u64, ProtoError> {
    let mut r = Reader::new(b, "ACCEPT");
    let offset = r.u64()?;
    r.finish()?;
    Ok(offset)
}

/// Parses a CHUNK body: the offset (u64) and the data (the rest, possibly
/// empty; the transfer rules bound its length).
///
/// # Errors
/// `MalformedMessage` when shorter than 8 bytes.
pub fn parse_chunk(b: &[u8]) -> Result<(u64, &[u8]), ProtoError> {
    let mut r = Reader::new(b, "CHUNK");
    let offset = r.u64()?;
    Ok((offset, r.rest()))
}

/// Parses an END body: the whole-file SHA-256 (32 bytes).
///
/// # Errors
/// `MalformedMessage` unless exactly 32 bytes.
pub fn parse_end(b: &[u8]) -> Result<[u8; DIGEST_LEN], ProtoError> {
    let mut r = Reader::new(b, "END");
    let hash = r.array()?;
    r.finish()?;
    Ok(hash)
}

/// Parses a GET body: the name (u16 length + at most 255 bytes).
///
/// # Errors
/// `MalformedMessage` on bad lengths.
pub fn parse_get(b: &[u8]) -> Result<Vec<u8>, ProtoError> {
    let mut r = Reader::new(b, "GET");
    let name = r.vec16(MAX_NAME_LEN)?.to_vec();
    r.finish()?;
    Ok(name)
}
