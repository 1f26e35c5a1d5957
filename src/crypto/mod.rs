//! CORE LAYER: every cryptographic operation sft performs, done by system
//! OpenSSL through the `openssl` crate. This is the only module that names
//! `openssl`; everything above it sees validated, typed functions.
//!
//! | module | primitive | source |
//! |---|---|---|
//! | [`aead`] | AES-256-GCM, per-key context, in place | NIST SP 800-38D, RFC 5116 |
//! | [`x25519`] | ephemeral Diffie-Hellman, non-contributory keys refused | RFC 7748 |
//! | [`ed25519`] | identity keys, signatures, fingerprints | RFC 8032, RFC 8410 |
//! | [`hkdf`] | HKDF-SHA256 extract and expand | RFC 5869 |
//! | [`hash`] | SHA-256, one-shot and streaming | FIPS 180-4 |
//! | [`rand`] | `RAND_bytes`, with a continuous test on every draw | NIST SP 800-90A; FIPS 140-2 4.9.2 |
//! | [`ct`] | constant-time equality, `CRYPTO_memcmp` | |
//! | [`secret`] | zeroizing, non-`Clone`, redacted holders | |
//! | [`compat`] | the original C module's five functions and limits | |
//! | [`stats`] | calls, bytes and failures per operation | |
//! | [`selftest`] | power-on self-tests, once per process | FIPS 140-3 style |

pub mod aead;
pub mod compat;
pub mod ct;
pub mod ed25519;
mod error;
pub mod hash;
pub mod hkdf;
pub mod rand;
pub mod secret;
pub mod selftest;
pub mod stats;
pub mod x25519;

pub use error::{CryptoError, Result};

/// The OpenSSL library this process runs on, as OpenSSL reports it
/// (for example `OpenSSL 3.0.19 27 Jan 2026`).
pub fn openssl_version() -> &'static str {
    openssl::version::version()
}
