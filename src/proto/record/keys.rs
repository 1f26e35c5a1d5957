//! Keys of one direction: handshake keys as they come from the key
//! schedule, application traffic secrets with their key updates, and the
//! AEAD state built from either.

use crate::crypto::aead::{AeadKey, Aes256Gcm, NONCE_LEN};
use crate::crypto::hkdf::{self, Prk};
use crate::crypto::secret::Secret;
use crate::proto::ProtoError;

/// Traffic key and nonce base of one direction (HKDF output, wiped on drop).
pub struct DirectionKeys {
    /// AES-256-GCM key, 32 bytes.
    pub key: AeadKey,
    /// Nonce base, 12 bytes.
    pub iv: Secret<NONCE_LEN>,
}

/// An application traffic secret of one direction (32 bytes, wiped on
/// drop). Its key and nonce base, and the next secret of a key update, are
/// HKDF-Expand outputs of it (docs/PROTOCOL.md §2.5, as TLS 1.3's
/// RFC 8446 §7.2):
///
/// ```text
/// key  = HKDF-Expand(secret, "sft/5 key", 32)
/// iv   = HKDF-Expand(secret, "sft/5 iv", 12)
/// next = HKDF-Expand(secret, "sft/5 key update", 32)
/// ```
pub struct TrafficSecret(pub Prk);

impl TrafficSecret {
    pub(super) fn keys(&self) -> Result<DirectionKeys, ProtoError> {
        Ok(DirectionKeys {
            key: hkdf::expand(&self.0, b"sft/5 key")?,
            iv: hkdf::expand(&self.0, b"sft/5 iv")?,
        })
    }

    pub(super) fn next(&self) -> Result<TrafficSecret, ProtoError> {
        Ok(TrafficSecret(hkdf::expand(&self.0, b"sft/5 key update")?))
    }
}

/// Per-direction AEAD state: the key's context, nonce base, the count of
/// records used under this key, and (for application keys) the traffic
/// secret a key update derives the next key from.
pub(super) struct Protection {
    pub(super) aead: Aes256Gcm,
    pub(super) iv: Secret<NONCE_LEN>,
    pub(super) used: u64,
    pub(super) secret: Option<TrafficSecret>,
}

impl Protection {
    pub(super) fn new(
        keys: &DirectionKeys,
        secret: Option<TrafficSecret>,
    ) -> Result<Self, ProtoError> {
        Ok(Protection {
            aead: Aes256Gcm::new(&keys.key)?,
            iv: Secret::from_slice(keys.iv.expose())
                .ok_or(ProtoError::InvalidCall("nonce base of the wrong length"))?,
            used: 0,
            secret,
        })
    }

    pub(super) fn from_secret(secret: TrafficSecret) -> Result<Self, ProtoError> {
        Protection::new(&secret.keys()?, Some(secret))
    }

    /// The protection after a key update: keys from the next secret, the
    /// count restarted.
    pub(super) fn updated(&self) -> Result<Self, ProtoError> {
        let secret = self
            .secret
            .as_ref()
            .ok_or(ProtoError::UnexpectedMessage {
                got: "KEY_UPDATE",
                state: "under handshake keys",
            })?
            .next()?;
        Protection::from_secret(secret)
    }

    pub(super) fn nonce(&self, seq: u64) -> [u8; NONCE_LEN] {
        let mut n = *self.iv.expose();
        for (b, s) in n[4..].iter_mut().zip(seq.to_be_bytes()) {
            *b ^= s;
        }
        n
    }
}

/// One direction's state: the next sequence number and, once keys exist,
/// their AEAD state. Numbering continues across key changes.
#[derive(Default)]
pub(super) struct Direction {
    pub(super) next_seq: u64,
    pub(super) protection: Option<Protection>,
}
