//! The key schedule: HKDF-SHA256 (RFC 5869) over the X25519 shared secret,
//! each output labelled with what it is for and bound to a transcript hash.
//!
//! ```text
//! PRK          = HKDF-Extract(salt = "sft/5 key schedule", IKM = X25519 shared secret)
//! Expand(PRK, label || TH, L) for:
//!   "sft/5 c hs key" / "sft/5 c hs iv"   client handshake key (32) / nonce base (12)   TH = TH_challenge
//!   "sft/5 s hs key" / "sft/5 s hs iv"   server handshake key / nonce base             TH = TH_challenge
//!   "sft/5 c finished" / "sft/5 s finished"   finished keys (32)                       TH = TH_challenge
//!   "sft/5 c ap traffic" / "sft/5 s ap traffic"   application traffic secrets (32)   TH = TH_final
//! each application traffic secret then yields its direction's key, nonce
//! base and key updates (record::TrafficSecret)
//! finished = HKDF-Expand(finished key, "sft/5 finished" || TH, 32)
//!          = HMAC-SHA256(finished key, "sft/5 finished" || TH || 0x01)
//! ```
//!
//! No password-based KDF: the handshake must stay cheap, since its cost is
//! a denial-of-service surface, and there is no password to stretch.

use crate::crypto::aead::{KEY_LEN, NONCE_LEN};
use crate::crypto::hkdf::{self, Prk};
use crate::crypto::secret::Secret;
use crate::crypto::x25519::SharedSecret;

use super::PeerAuthenticated;
use crate::proto::record::{DirectionKeys, TrafficSecret};
use crate::proto::ProtoError;

/// Salt of the extract step.
pub const EXTRACT_SALT: &[u8] = b"sft/5 key schedule";

/// Handshake keys of both directions.
pub struct TrafficKeys {
    /// Client-to-server key and nonce base.
    pub client: DirectionKeys,
    /// Server-to-client key and nonce base.
    pub server: DirectionKeys,
}

/// Application traffic secrets of both directions.
pub struct ApplicationSecrets {
    /// Client-to-server secret.
    pub client: TrafficSecret,
    /// Server-to-client secret.
    pub server: TrafficSecret,
}

/// The handshake's secret state after the key exchange.
pub struct KeySchedule {
    prk: Prk,
}

fn expand<const N: usize>(prk: &Prk, label: &[u8], th: &[u8; 32]) -> Result<Secret<N>, ProtoError> {
    Ok(hkdf::expand::<N>(prk, &[label, th.as_slice()].concat())?)
}

fn direction(
    prk: &Prk,
    key_label: &[u8],
    iv_label: &[u8],
    th: &[u8; 32],
) -> Result<DirectionKeys, ProtoError> {
    Ok(DirectionKeys {
        key: expand::<KEY_LEN>(prk, key_label, th)?,
        iv: expand::<NONCE_LEN>(prk, iv_label, th)?,
    })
}

impl KeySchedule {
    /// Extracts the PRK from the shared secret (consumed).
    ///
    /// # Errors
    /// `Crypto` on an OpenSSL failure.
    pub fn new(shared: SharedSecret) -> Result<Self, ProtoError> {
        Ok(KeySchedule {
            prk: hkdf::extract(EXTRACT_SALT, shared.expose())?,
        })
    }

    /// Handshake traffic keys, bound to the transcript through CHALLENGE.
    ///
    /// # Errors
    /// `Crypto` on an OpenSSL failure.
    pub fn handshake_keys(&self, th_challenge: &[u8; 32]) -> Result<TrafficKeys, ProtoError> {
        Ok(TrafficKeys {
            client: direction(&self.prk, b"sft/5 c hs key", b"sft/5 c hs iv", th_challenge)?,
            server: direction(&self.prk, b"sft/5 s hs key", b"sft/5 s hs iv", th_challenge)?,
        })
    }

    /// The client's and the server's finished keys (32 bytes each).
    ///
    /// # Errors
    /// `Crypto` on an OpenSSL failure.
    pub fn finished_keys(&self, th_challenge: &[u8; 32]) -> Result<(Prk, Prk), ProtoError> {
        Ok((
            expand(&self.prk, b"sft/5 c finished", th_challenge)?,
            expand(&self.prk, b"sft/5 s finished", th_challenge)?,
        ))
    }

    /// Application traffic secrets over the whole handshake transcript.
    /// Needs proof that the peer authenticated; consumes the schedule so the
    /// PRK is wiped once the session keys exist.
    ///
    /// # Errors
    /// `Crypto` on an OpenSSL failure.
    pub fn application_secrets(
        self,
        th_final: &[u8; 32],
        _proof: PeerAuthenticated,
    ) -> Result<ApplicationSecrets, ProtoError> {
        Ok(ApplicationSecrets {
            client: TrafficSecret(expand(&self.prk, b"sft/5 c ap traffic", th_final)?),
            server: TrafficSecret(expand(&self.prk, b"sft/5 s ap traffic", th_final)?),
        })
    }
}

/// The key-confirmation MAC over a transcript hash (32 bytes).
///
/// # Errors
/// `Crypto` on an OpenSSL failure.
pub fn finished_mac(finished_key: &Prk, th: &[u8; 32]) -> Result<[u8; 32], ProtoError> {
    let mac: Secret<32> = expand(finished_key, b"sft/5 finished", th)?;
    Ok(*mac.expose())
}
