//! Parity surface with the original C accelerator (`crypto_accelerator.c`):
//! the same five functions, argument order and limits, as safe functions
//! returning `Result`. For checking results against the C module and for
//! callers porting from it; sft itself uses the typed API.
//!
//! Limits (all inclusive): key exactly 32 bytes, IV exactly 12, tag exactly
//! 16; plaintext, ciphertext, AAD and hash input at most [`MAX_DATA_LEN`]
//! (10 MiB); random output from 1 to [`MAX_DATA_LEN`] bytes. Empty plaintext
//! and empty AAD are valid, and empty AAD is the same as no AAD.

use super::aead::{AeadKey, Aes256Gcm, NONCE_LEN, TAG_LEN};
use super::error::CryptoError;
use super::{ct, hash, rand};

/// Largest plaintext, ciphertext, AAD, hash input or random output, in
/// bytes: 10 MiB = 10,485,760 (inclusive).
pub const MAX_DATA_LEN: usize = 10 * 1024 * 1024;

/// A violated limit of the parity surface, or a failure underneath.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CompatError {
    /// Key is not exactly 32 bytes.
    #[error("key must be exactly 32 bytes, got {0}")]
    KeyLength(usize),
    /// IV is not exactly 12 bytes.
    #[error("IV must be exactly 12 bytes, got {0}")]
    IvLength(usize),
    /// Tag is not exactly 16 bytes.
    #[error("tag must be exactly 16 bytes, got {0}")]
    TagLength(usize),
    /// Plaintext over 10 MiB.
    #[error("plaintext is {0} bytes, over the 10 MiB (10485760-byte) limit")]
    PlaintextTooLarge(usize),
    /// Ciphertext over 10 MiB.
    #[error("ciphertext is {0} bytes, over the 10 MiB (10485760-byte) limit")]
    CiphertextTooLarge(usize),
    /// AAD over 10 MiB.
    #[error("AAD is {0} bytes, over the 10 MiB (10485760-byte) limit")]
    AadTooLarge(usize),
    /// Hash input over 10 MiB.
    #[error("hash input is {0} bytes, over the 10 MiB (10485760-byte) limit")]
    HashInputTooLarge(usize),
    /// Zero random bytes requested.
    #[error("random length must be at least 1 byte")]
    RandomLengthZero,
    /// Random output over 10 MiB requested.
    #[error("random length {0} is over the 10 MiB (10485760-byte) limit")]
    RandomTooLarge(usize),
    /// Decryption failed: tag, key, IV, AAD or ciphertext changed.
    #[error("authentication failed")]
    AuthenticationFailed,
    /// OpenSSL failed underneath.
    #[error(transparent)]
    Crypto(CryptoError),
}

impl From<CryptoError> for CompatError {
    fn from(e: CryptoError) -> Self {
        match e {
            CryptoError::AuthenticationFailed => CompatError::AuthenticationFailed,
            other => CompatError::Crypto(other),
        }
    }
}

fn check_max(len: usize, err: fn(usize) -> CompatError) -> Result<(), CompatError> {
    if len > MAX_DATA_LEN {
        Err(err(len))
    } else {
        Ok(())
    }
}

fn gcm_inputs(
    key: &[u8],
    iv: &[u8],
    aad: &[u8],
) -> Result<(Aes256Gcm, [u8; NONCE_LEN]), CompatError> {
    let key = AeadKey::from_slice(key).ok_or(CompatError::KeyLength(key.len()))?;
    let iv: [u8; NONCE_LEN] = iv.try_into().map_err(|_| CompatError::IvLength(iv.len()))?;
    check_max(aad.len(), CompatError::AadTooLarge)?;
    Ok((Aes256Gcm::new(&key)?, iv))
}

/// AES-256-GCM encryption: returns `(ciphertext, tag)`, the ciphertext as
/// long as `plaintext` and the tag 16 bytes.
///
/// # Errors
/// `KeyLength`, `IvLength`, `PlaintextTooLarge`, `AadTooLarge` for the limits
/// above; `Crypto` if OpenSSL fails.
pub fn aes_gcm_encrypt(
    plaintext: &[u8],
    key: &[u8],
    iv: &[u8],
    aad: &[u8],
) -> Result<(Vec<u8>, [u8; TAG_LEN]), CompatError> {
    check_max(plaintext.len(), CompatError::PlaintextTooLarge)?;
    let (mut gcm, iv) = gcm_inputs(key, iv, aad)?;
    let mut buf = plaintext.to_vec();
    let tag = gcm.seal_in_place(&iv, aad, &mut buf)?;
    Ok((buf, tag))
}

/// AES-256-GCM decryption: returns the plaintext, as long as `ciphertext`.
///
/// # Errors
/// `KeyLength`, `IvLength`, `TagLength`, `CiphertextTooLarge`, `AadTooLarge`
/// for the limits above; `AuthenticationFailed` when the tag does not verify
/// (no plaintext is returned); `Crypto` if OpenSSL fails.
pub fn aes_gcm_decrypt(
    ciphertext: &[u8],
    key: &[u8],
    iv: &[u8],
    tag: &[u8],
    aad: &[u8],
) -> Result<Vec<u8>, CompatError> {
    check_max(ciphertext.len(), CompatError::CiphertextTooLarge)?;
    let tag: &[u8; TAG_LEN] = tag
        .try_into()
        .map_err(|_| CompatError::TagLength(tag.len()))?;
    let (mut gcm, iv) = gcm_inputs(key, iv, aad)?;
    let mut buf = ciphertext.to_vec();
    gcm.open_in_place(&iv, aad, &mut buf, tag)?;
    Ok(buf)
}

/// `n` bytes from `RAND_bytes`, `n` from 1 to 10 MiB.
///
/// # Errors
/// `RandomLengthZero`, `RandomTooLarge` for the limits; `Crypto` if the
/// DRBG fails.
pub fn generate_secure_random(n: usize) -> Result<Vec<u8>, CompatError> {
    if n == 0 {
        return Err(CompatError::RandomLengthZero);
    }
    check_max(n, CompatError::RandomTooLarge)?;
    let mut out = vec![0u8; n];
    rand::fill(&mut out)?;
    Ok(out)
}

/// SHA-256 of `data` (FIPS 180-4), at most 10 MiB.
///
/// # Errors
/// `HashInputTooLarge` over the limit; `Crypto` if OpenSSL fails.
pub fn sha256_hash(data: &[u8]) -> Result<[u8; 32], CompatError> {
    check_max(data.len(), CompatError::HashInputTooLarge)?;
    Ok(hash::sha256(data)?)
}

/// Whether `a` and `b` are equal: `false` (not an error) when the lengths
/// differ, and constant-time (`CRYPTO_memcmp`) when they are equal.
pub fn compare_digest(a: &[u8], b: &[u8]) -> bool {
    ct::eq(a, b)
}
