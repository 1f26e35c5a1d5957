//! SHA-256 (FIPS 180-4) through OpenSSL EVP.

use openssl::hash::{Hasher, MessageDigest};

use super::error::{backend, Result};
use super::stats::{self, Op};

/// Digest length in bytes (FIPS 180-4 section 6.2).
pub const DIGEST_LEN: usize = 32;

/// SHA-256 of `data`.
///
/// # Errors
/// `CryptoError::Backend` if OpenSSL fails (allocation or provider error).
pub fn sha256(data: &[u8]) -> Result<[u8; DIGEST_LEN]> {
    let mut h = Sha256::new()?;
    h.update(data)?;
    h.finish()
}

/// Streaming SHA-256, for whole-file hashes computed while the bytes flow.
pub struct Sha256(Hasher);

impl Sha256 {
    /// A fresh hash state.
    ///
    /// # Errors
    /// `CryptoError::Backend` if OpenSSL cannot create the digest context.
    pub fn new() -> Result<Self> {
        Hasher::new(MessageDigest::sha256())
            .map(Sha256)
            .map_err(backend("EVP_DigestInit_ex"))
    }

    /// Absorbs `data` (any length, including zero).
    ///
    /// # Errors
    /// `CryptoError::Backend` on an OpenSSL failure.
    pub fn update(&mut self, data: &[u8]) -> Result<()> {
        let result = self.0.update(data).map_err(backend("EVP_DigestUpdate"));
        stats::record(Op::Sha256, data.len(), result.is_ok());
        result
    }

    /// The 32-byte digest of everything absorbed.
    ///
    /// # Errors
    /// `CryptoError::Backend` on an OpenSSL failure.
    pub fn finish(mut self) -> Result<[u8; DIGEST_LEN]> {
        let digest = self.0.finish().map_err(backend("EVP_DigestFinal_ex"))?;
        let mut out = [0u8; DIGEST_LEN];
        out.copy_from_slice(&digest);
        Ok(out)
    }

    /// The digest of everything absorbed so far, leaving the state usable
    /// (a running transcript hash reads its value at several points).
    ///
    /// # Errors
    /// `CryptoError::Backend` on an OpenSSL failure.
    pub fn peek(&self) -> Result<[u8; DIGEST_LEN]> {
        let mut copy = self.0.clone();
        let digest = copy.finish().map_err(backend("EVP_DigestFinal_ex"))?;
        let mut out = [0u8; DIGEST_LEN];
        out.copy_from_slice(&digest);
        Ok(out)
    }
}
