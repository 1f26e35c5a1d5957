//! END, which closes a file's data with its SHA-256 and its sender's
//! signed statement (or abandons the file), and RECEIPT, the server's
//! answer to a stored upload (PROTOCOL.md §4.1, §4.8).

use crate::crypto::ed25519::{Signature, SIGNATURE_LEN};
use crate::proto::codec::Reader;
use crate::proto::evidence::Stored;
use crate::proto::ProtoError;

/// Length of an END body: SHA-256 (32) || time u64 || signature (64).
pub const END_LEN: usize = 32 + 8 + SIGNATURE_LEN;

/// Length of a RECEIPT body: commit_time u64 || audit_seq u64 ||
/// signature (64).
pub const RECEIPT_LEN: usize = 8 + 8 + SIGNATURE_LEN;

/// An END body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    /// [`END_LEN`] zero bytes: the sender abandons the file (§4.4).
    Abandoned,
    /// The whole file's SHA-256, and the time and signature of the
    /// sender's statement (§4.8).
    Signed {
        sha256: [u8; 32],
        time: u64,
        signature: Signature,
    },
}

impl End {
    /// The body's bytes.
    pub fn encode(&self) -> [u8; END_LEN] {
        let mut out = [0u8; END_LEN];
        if let End::Signed {
            sha256,
            time,
            signature,
        } = self
        {
            out[..32].copy_from_slice(sha256);
            out[32..40].copy_from_slice(&time.to_be_bytes());
            out[40..].copy_from_slice(signature.as_bytes());
        }
        out
    }

    /// Parses an END body.
    ///
    /// # Errors
    /// `MalformedMessage` unless exactly [`END_LEN`] bytes, and when the
    /// hash is 32 zero bytes (abandon) but the rest is not zero.
    pub fn parse(b: &[u8]) -> Result<Self, ProtoError> {
        let mut r = Reader::new(b, "END");
        let sha256: [u8; 32] = r.array()?;
        let time = r.u64()?;
        let sig: [u8; SIGNATURE_LEN] = r.array()?;
        r.finish()?;
        if sha256 == [0; 32] {
            if time != 0 || sig != [0; SIGNATURE_LEN] {
                return Err(ProtoError::MalformedMessage("END"));
            }
            return Ok(End::Abandoned);
        }
        Ok(End::Signed {
            sha256,
            time,
            signature: Signature::from_bytes(&sig)?,
        })
    }
}

/// Encodes a RECEIPT body.
pub fn encode_receipt(stored: Stored, signature: &Signature) -> [u8; RECEIPT_LEN] {
    let mut out = [0u8; RECEIPT_LEN];
    out[..8].copy_from_slice(&stored.commit_time.to_be_bytes());
    out[8..16].copy_from_slice(&stored.audit_seq.to_be_bytes());
    out[16..].copy_from_slice(signature.as_bytes());
    out
}

/// Parses a RECEIPT body.
///
/// # Errors
/// `MalformedMessage` unless exactly [`RECEIPT_LEN`] bytes.
pub fn parse_receipt(b: &[u8]) -> Result<(Stored, Signature), ProtoError> {
    let mut r = Reader::new(b, "RECEIPT");
    let commit_time = r.u64()?;
    let audit_seq = r.u64()?;
    let sig: [u8; SIGNATURE_LEN] = r.array()?;
    r.finish()?;
    let stored = Stored {
        commit_time,
        audit_seq,
    };
    Ok((stored, Signature::from_bytes(&sig)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signed() -> End {
        End::Signed {
            sha256: [7; 32],
            time: 1_700_000_000,
            signature: Signature::from_bytes(&[9; 64]).unwrap(),
        }
    }

    #[test]
    fn end_round_trips_and_is_exactly_its_length() {
        for end in [End::Abandoned, signed()] {
            let body = end.encode();
            assert_eq!(End::parse(&body).unwrap(), end);
            assert!(End::parse(&body[..END_LEN - 1]).is_err());
            let mut long = body.to_vec();
            long.push(0);
            assert!(End::parse(&long).is_err());
        }
        assert!(End::parse(&[0; 32]).is_err(), "version 4's END");
    }

    #[test]
    fn an_abandon_end_is_all_zero() {
        for i in 32..END_LEN {
            let mut body = [0u8; END_LEN];
            body[i] = 1;
            assert!(
                matches!(End::parse(&body), Err(ProtoError::MalformedMessage("END"))),
                "byte {i}"
            );
        }
    }

    #[test]
    fn receipt_round_trips_and_is_exactly_its_length() {
        let stored = Stored {
            commit_time: 5,
            audit_seq: u64::MAX,
        };
        let sig = Signature::from_bytes(&[3; 64]).unwrap();
        let body = encode_receipt(stored, &sig);
        assert_eq!(parse_receipt(&body).unwrap(), (stored, sig));
        assert!(parse_receipt(&body[..RECEIPT_LEN - 1]).is_err());
        assert!(parse_receipt(&[body.as_slice(), &[0]].concat()).is_err());
    }
}
