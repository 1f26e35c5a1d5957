//! Randomness from OpenSSL's DRBG (`RAND_bytes`, NIST SP 800-90A), with a
//! continuous health test on every draw.
//!
//! **Continuous test** (the CRNGT of FIPS 140-2 section 4.9.2, in the
//! spirit of NIST SP 800-90B section 4.4): [`fill`] fails with
//! `CryptoError::RandomRepeated` when a draw begins with the same
//! [`CONTINUOUS_TEST_LEN`] bytes as the previous checked draw in this
//! process, whatever the two draws' lengths. Earlier output is never kept:
//! only the first 16 bytes of SHA-256 over a draw's first 16 bytes, in a
//! process-wide mutex. Recovering those 16 secret bytes from that digest
//! means trying 2^128 candidates.
//!
//! - **False alarms.** For a working generator a draw's first 16 bytes
//!   equal the previous draw's with probability 2^-128, and two different
//!   prefixes share a stored digest with probability about 2^-128: about
//!   one false alarm in 2^127 draws.
//! - **Exempt.** Draws shorter than 16 bytes (for example the 8-byte
//!   temporary-name draws) are not checked and leave the stored digest as
//!   it was: a digest of 8 secret bytes could be inverted by trying 2^64
//!   candidates.
//! - **Cost.** One SHA-256 of 16 bytes and an uncontended lock, around a
//!   microsecond; `fill` runs a few times per handshake, never per record.
//! - **Scope.** Only draws through this module: OpenSSL draws the X25519
//!   and Ed25519 key-generation randomness itself.

use std::sync::{Mutex, PoisonError};

use openssl::hash::MessageDigest;

use super::ct;
use super::error::{backend, CryptoError, Result};
use super::hash::DIGEST_LEN;
use super::secret::Secret;
use super::stats::{self, Op};

/// Largest single draw, in bytes (1 GiB, inclusive): keeps the length
/// inside OpenSSL's `int` (the openssl crate panics beyond `i32::MAX`).
pub const MAX_FILL_LEN: usize = 1 << 30;

/// How many leading bytes of each draw the continuous test compares, and
/// the shortest draw it checks, in bytes (16).
pub const CONTINUOUS_TEST_LEN: usize = 16;

/// The first 16 bytes of SHA-256 over a draw's first 16 bytes.
type PrefixDigest = [u8; CONTINUOUS_TEST_LEN];

/// The previous checked draw's [`PrefixDigest`], process-wide.
static PREVIOUS: Mutex<Option<PrefixDigest>> = Mutex::new(None);

/// Fills `buf` from `RAND_bytes` and runs the continuous test on it.
///
/// # Errors
/// `RandomRepeated` when the draw's first 16 bytes repeat the previous
/// draw's (then `buf` has been zeroed); `TooLarge` over [`MAX_FILL_LEN`];
/// `Backend` when the DRBG cannot produce output (for example it is not
/// seeded). An error is never ignored and `buf` must not be used.
pub fn fill(buf: &mut [u8]) -> Result<()> {
    let result = if buf.len() > MAX_FILL_LEN {
        Err(CryptoError::TooLarge {
            what: "random draw",
            limit: MAX_FILL_LEN,
            got: buf.len(),
        })
    } else {
        fill_checked(buf, rand_bytes, &PREVIOUS)
    };
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

fn rand_bytes(buf: &mut [u8]) -> Result<()> {
    openssl::rand::rand_bytes(buf).map_err(backend("RAND_bytes"))
}

/// Fills `buf` with `generate`, then compares the draw's prefix digest
/// with the one in `previous` and stores it there.
fn fill_checked(
    buf: &mut [u8],
    generate: impl FnOnce(&mut [u8]) -> Result<()>,
    previous: &Mutex<Option<PrefixDigest>>,
) -> Result<()> {
    generate(buf)?;
    let Some(prefix) = buf.get(..CONTINUOUS_TEST_LEN) else {
        return Ok(());
    };
    let full = openssl::hash::hash(MessageDigest::sha256(), prefix)
        .map_err(backend("SHA-256 (random continuous test)"))?;
    let digest: PrefixDigest = full
        .get(..CONTINUOUS_TEST_LEN)
        .and_then(|d| d.try_into().ok())
        .ok_or(CryptoError::InvalidLength {
            what: "SHA-256 digest from OpenSSL",
            expected: DIGEST_LEN,
            got: full.len(),
        })?;
    let mut last = previous.lock().unwrap_or_else(PoisonError::into_inner);
    if last.as_ref().is_some_and(|d| ct::eq(d, &digest)) {
        buf.fill(0);
        return Err(CryptoError::RandomRepeated);
    }
    *last = Some(digest);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A broken generator: every draw is the same bytes.
    fn stuck(buf: &mut [u8]) -> Result<()> {
        buf.fill(0x5a);
        Ok(())
    }

    #[test]
    fn a_generator_that_repeats_is_refused_on_its_second_draw() {
        let previous = Mutex::new(None);
        let mut buf = [0u8; 32];
        fill_checked(&mut buf, stuck, &previous).unwrap();
        assert_eq!(buf, [0x5a; 32]);
        let r = fill_checked(&mut buf, stuck, &previous);
        assert!(matches!(r, Err(CryptoError::RandomRepeated)), "{r:?}");
        assert_eq!(buf, [0; 32], "a repeated draw must not be released");
        // Still stuck, still refused.
        let r = fill_checked(&mut buf, stuck, &previous);
        assert!(matches!(r, Err(CryptoError::RandomRepeated)), "{r:?}");
    }

    #[test]
    fn a_repeated_prefix_is_refused_whatever_the_lengths_and_tails() {
        let previous = Mutex::new(None);
        fill_checked(&mut [0u8; 16], stuck, &previous).unwrap();
        let r = fill_checked(&mut [0u8; 64], stuck, &previous);
        assert!(matches!(r, Err(CryptoError::RandomRepeated)), "{r:?}");
        // Same first 16 bytes, different tail: refused.
        let previous = Mutex::new(None);
        let tail = |t: u8| {
            move |buf: &mut [u8]| -> Result<()> {
                buf.fill(0x5a);
                buf[CONTINUOUS_TEST_LEN..].fill(t);
                Ok(())
            }
        };
        fill_checked(&mut [0u8; 32], tail(1), &previous).unwrap();
        let r = fill_checked(&mut [0u8; 32], tail(2), &previous);
        assert!(matches!(r, Err(CryptoError::RandomRepeated)), "{r:?}");
        // A different first byte: accepted.
        let other = |buf: &mut [u8]| -> Result<()> {
            buf.fill(0x5a);
            buf[0] = 0;
            Ok(())
        };
        fill_checked(&mut [0u8; 32], other, &previous).unwrap();
    }

    #[test]
    fn draws_under_sixteen_bytes_are_exempt_and_keep_the_stored_digest() {
        let previous = Mutex::new(None);
        fill_checked(&mut [0u8; 32], stuck, &previous).unwrap();
        for _ in 0..3 {
            fill_checked(&mut [0u8; CONTINUOUS_TEST_LEN - 1], stuck, &previous).unwrap();
        }
        let r = fill_checked(&mut [0u8; 32], stuck, &previous);
        assert!(matches!(r, Err(CryptoError::RandomRepeated)), "{r:?}");
    }

    #[test]
    fn the_real_generator_passes_the_continuous_test() {
        let previous = Mutex::new(None);
        let mut buf = [0u8; 32];
        for _ in 0..1000 {
            fill_checked(&mut buf, rand_bytes, &previous).unwrap();
        }
        assert!(previous.lock().unwrap().is_some());
        let a: [u8; 32] = array().unwrap();
        let b: [u8; 32] = array().unwrap();
        assert_ne!(a, b);
    }
}
