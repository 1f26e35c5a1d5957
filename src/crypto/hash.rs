//! SHA-256 (FIPS 180-4) through OpenSSL EVP.

use openssl::hash::{DigestBytes, Hasher, MessageDigest};

use super::error::{backend, CryptoError, Result};
use super::stats::{self, Op};

/// Digest length in bytes (FIPS 180-4 section 6.2).
pub const DIGEST_LEN: usize = 32;

/// Most bytes a [`Sha256`] can have absorbed and still answer
/// [`Sha256::peek`]: 64 KiB (65,536 bytes, inclusive). A handshake
/// transcript, the only reader of running values, is under 1 KiB.
pub const PEEK_LIMIT: usize = 64 * 1024;

/// SHA-256 of `data`.
///
/// # Errors
/// `CryptoError::Backend` if OpenSSL fails (allocation or provider error).
pub fn sha256(data: &[u8]) -> Result<[u8; DIGEST_LEN]> {
    let mut h = Sha256::new()?;
    h.update(data)?;
    h.finish()
}

/// Streaming SHA-256, for whole-file hashes computed while the bytes flow
/// and for the running handshake transcript hash. Keeps a copy of its input
/// until that passes [`PEEK_LIMIT`] bytes (see [`Sha256::peek`]).
pub struct Sha256 {
    hasher: Hasher,
    /// Bytes absorbed in all (saturating).
    len: usize,
    /// Everything absorbed so far, kept for [`Sha256::peek`] while it is at
    /// most [`PEEK_LIMIT`] bytes; `None` once more was absorbed. (The
    /// openssl crate's only copy of a digest context, `Hasher::clone`,
    /// panics when OpenSSL fails, so `peek` rehashes these bytes instead.)
    absorbed: Option<Vec<u8>>,
}

impl Sha256 {
    /// A fresh hash state.
    ///
    /// # Errors
    /// `CryptoError::Backend` if OpenSSL cannot create the digest context.
    pub fn new() -> Result<Self> {
        let hasher = Hasher::new(MessageDigest::sha256()).map_err(backend("EVP_DigestInit_ex"))?;
        Ok(Sha256 {
            hasher,
            len: 0,
            absorbed: Some(Vec::new()),
        })
    }

    /// Absorbs `data` (any length, including zero).
    ///
    /// # Errors
    /// `CryptoError::Backend` on an OpenSSL failure.
    pub fn update(&mut self, data: &[u8]) -> Result<()> {
        let result = self
            .hasher
            .update(data)
            .map_err(backend("EVP_DigestUpdate"));
        stats::record(Op::Sha256, data.len(), result.is_ok());
        result?;
        self.len = self.len.saturating_add(data.len());
        if let Some(absorbed) = &mut self.absorbed {
            if self.len <= PEEK_LIMIT {
                absorbed.extend_from_slice(data);
            } else {
                self.absorbed = None;
            }
        }
        Ok(())
    }

    /// The 32-byte digest of everything absorbed.
    ///
    /// # Errors
    /// `CryptoError::Backend` on an OpenSSL failure.
    pub fn finish(mut self) -> Result<[u8; DIGEST_LEN]> {
        to_array(
            self.hasher
                .finish()
                .map_err(backend("EVP_DigestFinal_ex"))?,
        )
    }

    /// The digest of everything absorbed so far, leaving the state usable
    /// (a running transcript hash reads its value at several points).
    ///
    /// # Errors
    /// `TooLarge` once more than [`PEEK_LIMIT`] bytes have been absorbed;
    /// `Backend` on an OpenSSL failure.
    pub fn peek(&self) -> Result<[u8; DIGEST_LEN]> {
        let absorbed = self.absorbed.as_deref().ok_or(CryptoError::TooLarge {
            what: "SHA-256 input read with peek",
            limit: PEEK_LIMIT,
            got: self.len,
        })?;
        rehash(absorbed)
    }

    /// The digest of everything absorbed so far, of any length, leaving
    /// the state usable (a file's prefix hash, then the rest of the file).
    /// Up to [`PEEK_LIMIT`] bytes it rehashes the kept copy, as
    /// [`peek`](Sha256::peek) does; past that it finishes a copy of the
    /// digest context (`Hasher::clone`, which in the openssl crate panics
    /// only when OpenSSL cannot allocate or copy a context, that is when the
    /// process is out of memory).
    ///
    /// # Errors
    /// `CryptoError::Backend` on an OpenSSL failure.
    pub fn digest_so_far(&self) -> Result<[u8; DIGEST_LEN]> {
        match self.absorbed.as_deref() {
            Some(absorbed) => rehash(absorbed),
            None => to_array(
                self.hasher
                    .clone()
                    .finish()
                    .map_err(backend("EVP_DigestFinal_ex"))?,
            ),
        }
    }
}

/// SHA-256 of `data` in a new context (not counted in the statistics: the
/// bytes were counted when absorbed).
fn rehash(data: &[u8]) -> Result<[u8; DIGEST_LEN]> {
    let mut copy = Hasher::new(MessageDigest::sha256()).map_err(backend("EVP_DigestInit_ex"))?;
    copy.update(data).map_err(backend("EVP_DigestUpdate"))?;
    to_array(copy.finish().map_err(backend("EVP_DigestFinal_ex"))?)
}

fn to_array(digest: DigestBytes) -> Result<[u8; DIGEST_LEN]> {
    digest
        .as_ref()
        .try_into()
        .map_err(|_| CryptoError::InvalidLength {
            what: "SHA-256 digest from OpenSSL",
            expected: DIGEST_LEN,
            got: digest.len(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `digest_so_far` after `n` bytes equals the one-shot digest, and the
    /// state goes on to the right whole digest.
    fn check_digest_so_far_at(n: usize) {
        let data: Vec<u8> = (0..n + 100).map(|i| (i % 251) as u8).collect();
        let mut h = Sha256::new().unwrap();
        h.update(&data[..n]).unwrap();
        assert_eq!(h.digest_so_far().unwrap(), sha256(&data[..n]).unwrap());
        h.update(&data[n..]).unwrap();
        assert_eq!(h.digest_so_far().unwrap(), sha256(&data).unwrap());
        assert_eq!(h.finish().unwrap(), sha256(&data).unwrap());
    }

    #[test]
    fn digest_so_far_is_right_with_the_kept_copy_and_past_it() {
        check_digest_so_far_at(0);
        // The last length `peek` answers (the kept copy is rehashed)...
        check_digest_so_far_at(PEEK_LIMIT);
        // ...and one past it (the context is copied).
        check_digest_so_far_at(PEEK_LIMIT + 1);
        let mut h = Sha256::new().unwrap();
        h.update(&[0; PEEK_LIMIT + 1]).unwrap();
        assert!(h.peek().is_err(), "the test covers the copy path");
        assert_eq!(
            h.digest_so_far().unwrap(),
            sha256(&[0; PEEK_LIMIT + 1]).unwrap()
        );
    }
}
