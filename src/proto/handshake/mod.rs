//! The signed X25519 handshake (SIGMA family, as TLS 1.3 and IKEv2):
//!
//! ```text
//! client                                              server
//! HELLO        version, random, ephemeral       --->
//!                                               <---  CHALLENGE  random, ephemeral,
//!                                                     identity, Sig_s(transcript)
//! [RESPONSE    identity, Sig_c(transcript),
//!              finished_c]                      --->
//!                                               <---  [SESSION_ESTABLISHED  params, finished_s]
//! ```
//!
//! `[...]` is encrypted under handshake keys. Each state is its own type
//! and each transition consumes it; application keys can only be derived
//! with a [`PeerAuthenticated`] token, which only the code that verified
//! the peer's signature and key confirmation can create.

pub mod client;
pub mod key_schedule;
pub mod server;
pub mod transcript;

use crate::crypto::rand;
use crate::crypto::x25519::EphemeralSecret;
use crate::crypto::CryptoError;

/// Context prefixed to the transcript hash in the server's signature.
pub const SERVER_SIGNATURE_CONTEXT: &[u8] = b"sft/5 server CHALLENGE signature\0";
/// Context prefixed to the transcript hash in the client's signature.
pub const CLIENT_SIGNATURE_CONTEXT: &[u8] = b"sft/5 client RESPONSE signature\0";

/// One side's fresh handshake values: a 32-byte random and an ephemeral
/// X25519 key. Generated per connection (the server's only once a valid
/// HELLO has arrived: [`server::ServerEphemeral`]); fixed values only for
/// reproducible test transcripts.
pub struct Ephemeral {
    /// 32 random bytes sent in HELLO or CHALLENGE.
    pub random: [u8; 32],
    /// The ephemeral X25519 key, used once.
    pub key: EphemeralSecret,
}

impl Ephemeral {
    /// Fresh values from OpenSSL's DRBG.
    ///
    /// # Errors
    /// `CryptoError` if the DRBG or key generation fails.
    pub fn generate() -> Result<Self, CryptoError> {
        Ok(Ephemeral {
            random: rand::array()?,
            key: EphemeralSecret::generate()?,
        })
    }
}

/// Proof that the peer's signature and key confirmation verified. Only
/// this module's states construct it; the key schedule demands it before
/// it yields application keys.
pub struct PeerAuthenticated(());

/// The message a side signs: its context label then the transcript hash.
fn signed_message(context: &[u8], transcript_hash: &[u8; 32]) -> Vec<u8> {
    [context, transcript_hash.as_slice()].concat()
}
