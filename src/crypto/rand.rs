//! Randomness from OpenSSL's DRBG (`RAND_bytes`, NIST SP 800-90A).

use super::error::{backend, Result};
use super::secret::Secret;
use super::stats::{self, Op};

/// Fills `buf` from `RAND_bytes`.
///
/// # Errors
/// `CryptoError::Backend` when the DRBG cannot produce output (for example it
/// is not seeded); the error is never ignored and `buf` must not be used.
pub fn fill(buf: &mut [u8]) -> Result<()> {
    let result = openssl::rand::rand_bytes(buf).map_err(backend("RAND_bytes"));
    stats::record(Op::Random, buf.len(), result.is_ok());
    result
}

/// `N` random bytes (public values such as handshake randoms).
pub fn array<const N: usize>() -> Result<[u8; N]> {
    let mut out = [0u8; N];
    fill(&mut out)?;
    Ok(out)
}

/// `N` random secret bytes, written straight into a zeroizing holder.
pub fn secret<const N: usize>() -> Result<Secret<N>> {
    Secret::try_fill(|buf| fill(buf))
}
