//! The running transcript hash: SHA-256 over every handshake byte, both
//! directions, in wire order (plaintext records with their headers;
//! encrypted handshake messages as their plaintext: inner type and body).

use crate::crypto::hash::{Sha256, DIGEST_LEN};

use crate::proto::ProtoError;

/// SHA-256 over the handshake so far.
pub struct Transcript(Sha256);

impl Transcript {
    /// An empty transcript.
    ///
    /// # Errors
    /// `Crypto` if the digest context cannot be created.
    pub fn new() -> Result<Self, ProtoError> {
        Ok(Transcript(Sha256::new()?))
    }

    /// Appends bytes.
    ///
    /// # Errors
    /// `Crypto` on an OpenSSL failure.
    pub fn add(&mut self, bytes: &[u8]) -> Result<(), ProtoError> {
        Ok(self.0.update(bytes)?)
    }

    /// The hash of everything added so far (32 bytes).
    ///
    /// # Errors
    /// `Crypto` on an OpenSSL failure.
    pub fn hash(&self) -> Result<[u8; DIGEST_LEN], ProtoError> {
        Ok(self.0.peek()?)
    }
}
