//! The two sides of one file in flight, as pure state machines used by
//! both roles: the [`Sender`] (the client for an upload, the server for a
//! download) and the [`Receiver`] (the other side), with the byte
//! accounting and running hash they share ([`Progress`]).
//!
//! ```text
//! upload:    client OFFER CHUNK(offset, data)... END(sha256) -> server RESULT
//! download:  client GET -> server OFFER CHUNK... END | RESULT(refusal)
//! ```
//!
//! The sender does not wait for the receiver between OFFER and END: a
//! receiver that refuses a file skips its data up to END.
//! Chunks must arrive in order
//! (each carries its offset, which must be the next byte expected); a chunk
//! past the announced size, data after END and an END with bytes missing
//! are protocol errors. The whole-file SHA-256 is computed while the bytes
//! stream on both sides and compared in constant time at END. A resumed
//! file starts at an offset both sides hold, with a hash state that has
//! absorbed the bytes before it; an END of zero bytes, at any point,
//! abandons the file ([`crate::proto::msgs::End::Abandoned`]).

use crate::crypto::ct;
use crate::crypto::hash::{Sha256, DIGEST_LEN};

use super::{ProtoError, TransferError};

mod beside;
mod receiver;
mod sender;

use beside::StreamHash;
pub use beside::BESIDE_MIN;

pub use receiver::{Chunk, Receiver};
pub use sender::Sender;

/// Byte accounting and running hash of one file in flight (hashed beside
/// the stream when large and a core is spare: see [`BESIDE_MIN`]).
pub struct Progress {
    size: u64,
    next: u64,
    hash: StreamHash,
}

impl Progress {
    /// Starts a file of `size` bytes at offset 0.
    ///
    /// # Errors
    /// `Crypto` if the hash cannot be created.
    pub fn new(size: u64) -> Result<Self, ProtoError> {
        Ok(Progress {
            size,
            next: 0,
            hash: StreamHash::new(Sha256::new()?, size),
        })
    }

    /// Goes on with a file of `size` bytes whose first `offset` bytes both
    /// sides already hold: `hash` has absorbed exactly those bytes, so END
    /// still carries the whole file's SHA-256.
    ///
    /// # Errors
    /// `InvalidCall` when `offset` is past `size`.
    pub fn resumed(size: u64, offset: u64, hash: Sha256) -> Result<Self, ProtoError> {
        if offset > size {
            return Err(ProtoError::InvalidCall("resume offset past the size"));
        }
        Ok(Progress {
            size,
            next: offset,
            hash: StreamHash::new(hash, size - offset),
        })
    }

    /// Announced size in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Bytes moved so far (the next offset).
    pub fn done(&self) -> u64 {
        self.next
    }

    /// Whether every byte has moved.
    pub fn complete(&self) -> bool {
        self.next == self.size
    }

    /// Accounts for `data` at `offset` (received or sent).
    ///
    /// # Errors
    /// `Transfer` when `offset` is not the next byte or the data runs past
    /// the announced size.
    pub fn add(&mut self, offset: u64, data: &[u8]) -> Result<(), ProtoError> {
        if offset != self.next {
            return Err(ProtoError::Transfer(TransferError::ChunkOffset));
        }
        let end = offset
            .checked_add(data.len() as u64)
            .filter(|&end| end <= self.size)
            .ok_or(ProtoError::Transfer(TransferError::PastSize))?;
        self.hash.update(data)?;
        self.next = end;
        Ok(())
    }

    /// The whole-file SHA-256, once every byte has moved.
    ///
    /// # Errors
    /// `Transfer` when bytes are missing.
    pub fn finish(self) -> Result<[u8; DIGEST_LEN], ProtoError> {
        if !self.complete() {
            return Err(ProtoError::Transfer(TransferError::EndEarly));
        }
        Ok(self.hash.finish()?)
    }

    /// Checks the sender's hash at END: `Ok(true)` when it matches
    /// (constant-time compare), `Ok(false)` when it does not.
    ///
    /// # Errors
    /// `Transfer` when bytes are missing.
    pub fn verify(self, sent: &[u8; DIGEST_LEN]) -> Result<bool, ProtoError> {
        Ok(ct::eq(&self.finish()?, sent))
    }
}
