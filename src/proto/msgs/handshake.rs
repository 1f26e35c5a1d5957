//! The handshake's messages: HELLO, CHALLENGE, RESPONSE and
//! SESSION_ESTABLISHED with the session parameters.

use crate::crypto::ed25519::{Signature, VerifyingKey, SIGNATURE_LEN};
use crate::crypto::hash::DIGEST_LEN;
use crate::crypto::x25519::PUBLIC_KEY_LEN;
use crate::proto::codec::{Reader, Writer};
use crate::proto::record::{CHALLENGE_LEN, HELLO_LEN};
use crate::proto::ProtoError;

/// HELLO, client to server (plaintext, 65 bytes).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hello {
    /// Protocol version the client speaks.
    pub version: u8,
    /// 32 fresh random bytes.
    pub random: [u8; 32],
    /// Client ephemeral X25519 public key (RFC 7748), 32 bytes.
    pub ephemeral: [u8; PUBLIC_KEY_LEN],
}

impl Hello {
    /// Encodes the 65-byte body.
    pub fn encode(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(HELLO_LEN);
        v.put_u8(self.version);
        v.extend_from_slice(&self.random);
        v.extend_from_slice(&self.ephemeral);
        v
    }

    /// Parses a body; the version is checked by the caller.
    ///
    /// # Errors
    /// `MalformedMessage` unless exactly 65 bytes.
    pub fn parse(b: &[u8]) -> Result<Self, ProtoError> {
        let mut r = Reader::new(b, "HELLO");
        let m = Hello {
            version: r.u8()?,
            random: r.array()?,
            ephemeral: r.array()?,
        };
        r.finish()?;
        Ok(m)
    }
}

/// CHALLENGE, server to client (plaintext, 160 bytes).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Challenge {
    /// 32 fresh random bytes.
    pub random: [u8; 32],
    /// Server ephemeral X25519 public key, 32 bytes.
    pub ephemeral: [u8; PUBLIC_KEY_LEN],
    /// Server Ed25519 identity public key (RFC 8032), 32 bytes.
    pub identity: VerifyingKey,
    /// Server signature over the transcript hash (64 bytes).
    pub signature: Signature,
}

/// Bytes of a CHALLENGE body before the signature (what the signature's
/// transcript covers of it).
pub const CHALLENGE_SIGNED_LEN: usize = CHALLENGE_LEN - SIGNATURE_LEN;

impl Challenge {
    /// Encodes the first 96 bytes (everything but the signature).
    pub fn encode_unsigned(
        random: &[u8; 32],
        ephemeral: &[u8; 32],
        identity: &VerifyingKey,
    ) -> Vec<u8> {
        let mut v = Vec::with_capacity(CHALLENGE_LEN);
        v.extend_from_slice(random);
        v.extend_from_slice(ephemeral);
        v.extend_from_slice(identity.as_bytes());
        v
    }

    /// Parses a body.
    ///
    /// # Errors
    /// `MalformedMessage` unless exactly 160 bytes.
    pub fn parse(b: &[u8]) -> Result<Self, ProtoError> {
        let mut r = Reader::new(b, "CHALLENGE");
        let random = r.array()?;
        let ephemeral = r.array()?;
        let identity = VerifyingKey::from_bytes(r.bytes(32)?)
            .map_err(|_| ProtoError::MalformedMessage("CHALLENGE"))?;
        let signature = Signature::from_bytes(r.bytes(SIGNATURE_LEN)?)
            .map_err(|_| ProtoError::MalformedMessage("CHALLENGE"))?;
        r.finish()?;
        Ok(Challenge {
            random,
            ephemeral,
            identity,
            signature,
        })
    }
}

/// RESPONSE, client to server (encrypted under handshake keys).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    /// Client Ed25519 identity public key, 32 bytes.
    pub identity: VerifyingKey,
    /// Client signature over the transcript hash, 64 bytes.
    pub signature: Signature,
    /// Client key-confirmation MAC, 32 bytes.
    pub finished: [u8; DIGEST_LEN],
}

impl Response {
    /// Parses a body (128 bytes).
    ///
    /// # Errors
    /// `MalformedMessage` on any other length.
    pub fn parse(b: &[u8]) -> Result<Self, ProtoError> {
        let mut r = Reader::new(b, "RESPONSE");
        let identity = VerifyingKey::from_bytes(r.bytes(32)?)
            .map_err(|_| ProtoError::MalformedMessage("RESPONSE"))?;
        let signature = Signature::from_bytes(r.bytes(SIGNATURE_LEN)?)
            .map_err(|_| ProtoError::MalformedMessage("RESPONSE"))?;
        let finished = r.array()?;
        r.finish()?;
        Ok(Response {
            identity,
            signature,
            finished,
        })
    }
}

/// Limits the server announces in SESSION_ESTABLISHED, which the client
/// must respect.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionParams {
    /// Largest file the server accepts, in bytes.
    pub max_file_size: u64,
    /// Idle timeout the server enforces, in seconds.
    pub idle_timeout_secs: u32,
}

impl SessionParams {
    /// Encoded length in bytes.
    pub const LEN: usize = 12;

    /// Appends the 12 bytes.
    pub fn encode_into(&self, v: &mut Vec<u8>) {
        v.put_u64(self.max_file_size);
        v.put_u32(self.idle_timeout_secs);
    }

    fn read(r: &mut Reader<'_>) -> Result<Self, ProtoError> {
        Ok(SessionParams {
            max_file_size: r.u64()?,
            idle_timeout_secs: r.u32()?,
        })
    }
}

/// SESSION_ESTABLISHED, server to client (encrypted under handshake keys):
/// session parameters (12 bytes) then the server's key-confirmation MAC
/// (32 bytes), which covers the parameters through the transcript.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Established {
    /// Session limits.
    pub params: SessionParams,
    /// Server key-confirmation MAC, 32 bytes.
    pub finished: [u8; DIGEST_LEN],
}

/// Length of a SESSION_ESTABLISHED body in bytes.
pub const ESTABLISHED_LEN: usize = SessionParams::LEN + DIGEST_LEN;

impl Established {
    /// Parses a body.
    ///
    /// # Errors
    /// `MalformedMessage` unless exactly 44 bytes.
    pub fn parse(b: &[u8]) -> Result<Self, ProtoError> {
        let mut r = Reader::new(b, "SESSION_ESTABLISHED");
        let m = Established {
            params: SessionParams::read(&mut r)?,
            finished: r.array()?,
        };
        r.finish()?;
        Ok(m)
    }
}
