//! X25519 Diffie-Hellman (RFC 7748) through OpenSSL `EVP_PKEY`.

use openssl::derive::Deriver;
use openssl::pkey::{Id, PKey, Private};

use super::ct;
use super::error::{backend, CryptoError, Result};
use super::secret::Secret;
use super::stats::{self, Op};

/// Public key (u-coordinate) length in bytes (RFC 7748 section 5).
pub const PUBLIC_KEY_LEN: usize = 32;
/// Scalar and shared-secret length in bytes (RFC 7748 section 5).
pub const SECRET_LEN: usize = 32;

/// An X25519 shared secret (32 bytes), wiped on drop.
pub type SharedSecret = Secret<SECRET_LEN>;

/// An ephemeral X25519 private key. Using it consumes it, so one key
/// produces at most one shared secret (forward secrecy).
pub struct EphemeralSecret {
    pkey: PKey<Private>,
    public: [u8; PUBLIC_KEY_LEN],
}

impl std::fmt::Debug for EphemeralSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EphemeralSecret([redacted])")
    }
}

impl EphemeralSecret {
    /// A fresh key from OpenSSL's DRBG.
    ///
    /// # Errors
    /// `CryptoError::Backend` if key generation fails.
    pub fn generate() -> Result<Self> {
        let result = PKey::generate_x25519()
            .map_err(backend("X25519 keygen"))
            .and_then(Self::from_pkey);
        stats::record(Op::X25519Keygen, 0, result.is_ok());
        result
    }

    /// The key with the given 32-byte scalar (clamped as RFC 7748 section 5
    /// says). For known-answer tests and reproducible transcripts only.
    ///
    /// # Errors
    /// `CryptoError::Backend` if OpenSSL refuses the key.
    pub fn from_scalar(scalar: &Secret<SECRET_LEN>) -> Result<Self> {
        PKey::private_key_from_raw_bytes(scalar.expose(), Id::X25519)
            .map_err(backend("X25519 import"))
            .and_then(Self::from_pkey)
    }

    fn from_pkey(pkey: PKey<Private>) -> Result<Self> {
        let raw = pkey
            .raw_public_key()
            .map_err(backend("X25519 public key"))?;
        let public = raw
            .as_slice()
            .try_into()
            .map_err(|_| CryptoError::MalformedKey("X25519 public key length"))?;
        Ok(EphemeralSecret { pkey, public })
    }

    /// The public key to send to the peer (32 bytes).
    pub fn public_key(&self) -> &[u8; PUBLIC_KEY_LEN] {
        &self.public
    }

    /// X25519(k, u) with the peer's public key `peer` (32 bytes).
    ///
    /// # Errors
    /// `NonContributory` when the result is all zero, which happens exactly
    /// when `peer` is a point of small order (0, 1, p-1, the two points of
    /// order 8) in any encoding, canonical or not (RFC 7748 section 6.1).
    /// `Backend` on any other OpenSSL failure.
    pub fn diffie_hellman(self, peer: &[u8; PUBLIC_KEY_LEN]) -> Result<SharedSecret> {
        let result = self.derive(peer);
        stats::record(Op::X25519Derive, SECRET_LEN, result.is_ok());
        result
    }

    fn derive(self, peer: &[u8; PUBLIC_KEY_LEN]) -> Result<SharedSecret> {
        let peer = PKey::public_key_from_raw_bytes(peer, Id::X25519)
            .map_err(|_| CryptoError::MalformedKey("X25519 public key"))?;
        let mut deriver = Deriver::new(&self.pkey).map_err(backend("X25519 derive init"))?;
        deriver
            .set_peer(&peer)
            .map_err(backend("X25519 set peer"))?;
        // OpenSSL itself refuses an all-zero result (its only derive failure
        // for well-formed keys); the explicit check below keeps that property
        // whatever the library version.
        let secret = Secret::try_fill(|out: &mut [u8; SECRET_LEN]| match deriver.derive(out) {
            Ok(SECRET_LEN) => Ok(()),
            _ => Err(CryptoError::NonContributory),
        })?;
        if ct::eq(secret.expose(), &[0u8; SECRET_LEN]) {
            return Err(CryptoError::NonContributory);
        }
        Ok(secret)
    }
}
