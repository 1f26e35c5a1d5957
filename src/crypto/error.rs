//! The one error type of the core layer.

use openssl::error::ErrorStack;

/// Why a core-layer operation failed.
///
/// `AuthenticationFailed` is deliberately uninformative: an AEAD open that
/// fails says nothing about whether the tag, key, nonce, AAD or ciphertext was
/// wrong (RFC 5116 section 2.2).
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CryptoError {
    /// AEAD open failed: tag, key, nonce, AAD or ciphertext changed.
    #[error("authentication failed")]
    AuthenticationFailed,
    /// An Ed25519 signature did not verify under the given public key.
    #[error("signature verification failed")]
    BadSignature,
    /// X25519 produced the all-zero shared secret: the peer's public key is a
    /// low-order point (RFC 7748 section 6.1).
    #[error("peer X25519 key is non-contributory (all-zero shared secret)")]
    NonContributory,
    /// An input had the wrong fixed length.
    #[error("{what} must be {expected} bytes, got {got}")]
    InvalidLength {
        what: &'static str,
        expected: usize,
        got: usize,
    },
    /// An input exceeded a size limit.
    #[error("{what} is {got} bytes, over the limit of {limit} bytes")]
    TooLarge {
        what: &'static str,
        limit: usize,
        got: usize,
    },
    /// A random draw began with the same bytes as the previous draw: the
    /// generator is stuck or broken (continuous test, see [`crate::crypto::rand`]).
    #[error("random generator repeated its previous output (continuous health test failed)")]
    RandomRepeated,
    /// Key material could not be parsed (PEM, PKCS#8, raw encoding).
    #[error("malformed key: {0}")]
    MalformedKey(&'static str),
    /// OpenSSL reported an error we did not expect (allocation, provider,
    /// RNG failure). The text is OpenSSL's error queue.
    #[error("OpenSSL {operation} failed: {stack}")]
    Backend {
        operation: &'static str,
        stack: ErrorStack,
    },
    /// A hash running on a helper thread lost its thread before giving a
    /// digest (it panicked or was never given its state).
    #[error("the SHA-256 helper thread ended without a digest")]
    HelperLost,
    /// A signer outside OpenSSL (an ssh-agent) did not give a signature.
    #[error("{0}")]
    Signer(String),
}

/// Short alias used throughout the core layer.
pub type Result<T> = std::result::Result<T, CryptoError>;

/// Wraps an OpenSSL error with the name of the operation that raised it.
pub(crate) fn backend(operation: &'static str) -> impl FnOnce(ErrorStack) -> CryptoError {
    move |stack| CryptoError::Backend { operation, stack }
}
