//! Constant-time comparison (`CRYPTO_memcmp`).

/// True when `a` and `b` are equal.
///
/// Runs in time independent of the contents when the lengths are equal
/// (OpenSSL `CRYPTO_memcmp`); different lengths return `false` at once, since
/// lengths of MACs, hashes and fingerprints are public. Use this for every
/// comparison of MACs, hashes, tags and fingerprints.
pub fn eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && openssl::memcmp::eq(a, b)
}
