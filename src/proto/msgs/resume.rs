//! Resume points: the held [`Prefix`] a GET names, and the RESUME message
//! that carries one in the upload exchange (PROTOCOL.md §4.7).

use crate::crypto::hash::DIGEST_LEN;
use crate::proto::codec::{Reader, Writer};
use crate::proto::ProtoError;

/// SHA-256 of the empty string (FIPS 180-4): the prefix hash of offset 0.
pub const EMPTY_SHA256: [u8; DIGEST_LEN] = [
    0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
    0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
];

/// Largest resume offset on the wire: 2^63 - 1 bytes. A larger one makes
/// the body malformed.
pub const MAX_OFFSET: u64 = i64::MAX as u64;

/// A resume point: the first `offset` bytes of a file, and their SHA-256
/// ([`EMPTY_SHA256`] for offset 0). Carried by GET and RESUME.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Prefix {
    /// Bytes held, at most [`MAX_OFFSET`].
    pub offset: u64,
    /// SHA-256 of those bytes.
    pub sha256: [u8; DIGEST_LEN],
}

impl Prefix {
    /// No bytes held: offset 0 and [`EMPTY_SHA256`].
    pub const NONE: Prefix = Prefix {
        offset: 0,
        sha256: EMPTY_SHA256,
    };

    pub(super) fn put(&self, v: &mut Vec<u8>) {
        v.put_u64(self.offset);
        v.extend_from_slice(&self.sha256);
    }

    pub(super) fn read(r: &mut Reader<'_>, what: &'static str) -> Result<Self, ProtoError> {
        let offset = r.u64()?;
        let sha256 = r.array()?;
        // One encoding per meaning: offset 0 carries the empty string's hash.
        if offset > MAX_OFFSET || offset == 0 && sha256 != EMPTY_SHA256 {
            return Err(ProtoError::MalformedMessage(what));
        }
        Ok(Prefix { offset, sha256 })
    }
}

/// Encodes a RESUME body: offset u64 || SHA-256 of the first offset bytes
/// (40 bytes).
pub fn encode_resume(prefix: &Prefix) -> Vec<u8> {
    let mut v = Vec::with_capacity(40);
    prefix.put(&mut v);
    v
}

/// Parses a RESUME body.
///
/// # Errors
/// `MalformedMessage` unless exactly 40 bytes, for an offset over
/// [`MAX_OFFSET`], or offset 0 with another hash than [`EMPTY_SHA256`].
pub fn parse_resume(b: &[u8]) -> Result<Prefix, ProtoError> {
    let mut r = Reader::new(b, "RESUME");
    let prefix = Prefix::read(&mut r, "RESUME")?;
    r.finish()?;
    Ok(prefix)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::msgs::Get;

    #[test]
    fn resume_offsets_hold_at_2_pow_63_minus_1_and_offset_0_has_one_encoding() {
        let at = Prefix {
            offset: MAX_OFFSET,
            sha256: [1; 32],
        };
        assert_eq!(parse_resume(&encode_resume(&at)).unwrap(), at);
        let past = Prefix {
            offset: MAX_OFFSET + 1,
            ..at
        };
        assert!(matches!(
            parse_resume(&encode_resume(&past)),
            Err(ProtoError::MalformedMessage("RESUME"))
        ));
        assert_eq!(
            parse_resume(&encode_resume(&Prefix::NONE)).unwrap(),
            Prefix::NONE
        );
        let zero_other = Prefix {
            offset: 0,
            sha256: [0; 32],
        };
        assert!(parse_resume(&encode_resume(&zero_other)).is_err());
        assert_eq!(
            crate::crypto::hash::sha256(b"").unwrap(),
            EMPTY_SHA256,
            "the constant is SHA-256 of the empty string"
        );

        // GET: the offset may equal max_size, not pass it.
        let mut get = Get {
            path: b"f".to_vec(),
            max_size: 10,
            held: Prefix {
                offset: 10,
                sha256: [2; 32],
            },
        };
        assert_eq!(Get::parse(&get.encode()).unwrap(), get);
        get.held.offset = 11;
        assert!(matches!(
            Get::parse(&get.encode()),
            Err(ProtoError::MalformedMessage("GET"))
        ));
        get.max_size = u64::MAX;
        get.held.offset = MAX_OFFSET + 1;
        assert!(Get::parse(&get.encode()).is_err());
    }
}
