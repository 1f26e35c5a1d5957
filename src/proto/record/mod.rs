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

use crate::crypto::aead::TAG_LEN;

use super::{ProtoError, MAX_PLAINTEXT_LEN, PROTOCOL_VERSION};

mod keys;
mod opener;
mod output;
mod sealer;

pub use keys::{DirectionKeys, TrafficSecret};
pub use opener::Opener;
pub use output::{Output, SendBuffer};
pub use sealer::Sealer;

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

/// Records a sender seals under one key before it updates the key: one
/// less than [`MAX_RECORDS_PER_KEY`], so the KEY_UPDATE record itself is
/// still within the limit.
pub const KEY_UPDATE_AFTER: u64 = MAX_RECORDS_PER_KEY - 1;

/// Inner type of the KEY_UPDATE record (empty body): the sender's next
/// records use the next key of its direction (docs/PROTOCOL.md §2.5). The
/// record layer sends and consumes it; the application never sees it.
pub const KEY_UPDATE: u8 = 0x03;

#[cfg(test)]
mod tests;
