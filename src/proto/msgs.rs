//! Every message of the protocol: encoding and parsing. Parsers check
//! exact lengths and limits and never allocate by an untrusted length.
//! Layouts are in docs/PROTOCOL.md.

use crate::crypto::ed25519::{Signature, VerifyingKey, SIGNATURE_LEN};
use crate::crypto::hash::DIGEST_LEN;
use crate::crypto::x25519::PUBLIC_KEY_LEN;

use super::codec::{Reader, Writer};
use super::record::{CHALLENGE_LEN, HELLO_LEN};
use super::{ProtoError, TransferError, MAX_NAME_LEN, MAX_PLAINTEXT_LEN};

/// Inner message types of encrypted records (the first plaintext byte).
pub mod inner {
    /// Orderly end of the session (empty body).
    pub const CLOSE: u8 = 0x01;
    /// Fatal alert (1-byte code).
    pub const ALERT: u8 = 0x02;
    /// The sender's next records use its next key (empty body; handled by
    /// the record layer).
    pub const KEY_UPDATE: u8 = crate::proto::record::KEY_UPDATE;
    /// Client authentication and key confirmation.
    pub const RESPONSE: u8 = 0x20;
    /// Server key confirmation and session parameters.
    pub const SESSION_ESTABLISHED: u8 = 0x21;
    /// Offer of a file: upload from the client, or the answer to GET.
    pub const OFFER: u8 = 0x10;
    /// Request to download a file by name.
    pub const GET: u8 = 0x11;
    /// Request to list the receive root.
    pub const LIST: u8 = 0x12;
    /// Acceptance of an offer, with a start offset.
    pub const ACCEPT: u8 = 0x13;
    /// File data at an offset.
    pub const CHUNK: u8 = 0x14;
    /// End of file data, with the whole-file SHA-256.
    pub const END: u8 = 0x15;
    /// Outcome of a request or transfer.
    pub const RESULT: u8 = 0x16;
    /// Part of a listing.
    pub const LISTING: u8 = 0x17;
}

/// A name for an inner type, for error messages.
pub fn inner_name(t: u8) -> &'static str {
    match t {
        inner::CLOSE => "CLOSE",
        inner::ALERT => "ALERT",
        inner::KEY_UPDATE => "KEY_UPDATE",
        inner::RESPONSE => "RESPONSE",
        inner::SESSION_ESTABLISHED => "SESSION_ESTABLISHED",
        inner::OFFER => "OFFER",
        inner::GET => "GET",
        inner::LIST => "LIST",
        inner::ACCEPT => "ACCEPT",
        inner::CHUNK => "CHUNK",
        inner::END => "END",
        inner::RESULT => "RESULT",
        inner::LISTING => "LISTING",
        _ => "unknown",
    }
}

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

/// OFFER: a file the sender will send if accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Offer {
    /// Raw name bytes as sent (the receiver applies [`super::name::sanitize`]).
    pub name: Vec<u8>,
    /// Size in bytes.
    pub size: u64,
    /// Replace an existing file of that name (uploads only).
    pub overwrite: bool,
}

impl Offer {
    /// Encodes the body: name (u16 length + bytes), size u64, flags u8.
    pub fn encode(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(2 + self.name.len() + 9);
        v.put_vec16(&self.name);
        v.put_u64(self.size);
        v.put_u8(u8::from(self.overwrite));
        v
    }

    /// Parses a body.
    ///
    /// # Errors
    /// `MalformedMessage` on bad lengths, names over 255 bytes or unknown
    /// flag bits.
    pub fn parse(b: &[u8]) -> Result<Self, ProtoError> {
        let mut r = Reader::new(b, "OFFER");
        let name = r.vec16(MAX_NAME_LEN)?.to_vec();
        let size = r.u64()?;
        let flags = r.u8()?;
        r.finish()?;
        if flags > 1 {
            return Err(ProtoError::MalformedMessage("OFFER"));
        }
        Ok(Offer {
            name,
            size,
            overwrite: flags == 1,
        })
    }
}

/// Encodes a GET body: the name (u16 length + bytes).
pub fn encode_get(name: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(2 + name.len());
    v.put_vec16(name);
    v
}

/// Parses an ACCEPT body: the start offset (u64).
///
/// # Errors
/// `MalformedMessage` unless exactly 8 bytes.
pub fn parse_accept(b: &[u8]) -> Result<u64, ProtoError> {
    let mut r = Reader::new(b, "ACCEPT");
    let offset = r.u64()?;
    r.finish()?;
    Ok(offset)
}

/// Parses a CHUNK body: the offset (u64) and the data (the rest, possibly
/// empty; the transfer rules bound its length).
///
/// # Errors
/// `MalformedMessage` when shorter than 8 bytes.
pub fn parse_chunk(b: &[u8]) -> Result<(u64, &[u8]), ProtoError> {
    let mut r = Reader::new(b, "CHUNK");
    let offset = r.u64()?;
    Ok((offset, r.rest()))
}

/// Parses an END body: the whole-file SHA-256 (32 bytes).
///
/// # Errors
/// `MalformedMessage` unless exactly 32 bytes.
pub fn parse_end(b: &[u8]) -> Result<[u8; DIGEST_LEN], ProtoError> {
    let mut r = Reader::new(b, "END");
    let hash = r.array()?;
    r.finish()?;
    Ok(hash)
}

/// Parses a GET body: the name (u16 length + at most 255 bytes).
///
/// # Errors
/// `MalformedMessage` on bad lengths.
pub fn parse_get(b: &[u8]) -> Result<Vec<u8>, ProtoError> {
    let mut r = Reader::new(b, "GET");
    let name = r.vec16(MAX_NAME_LEN)?.to_vec();
    r.finish()?;
    Ok(name)
}

/// Outcome codes carried in RESULT.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
#[non_exhaustive]
pub enum ResultCode {
    /// Done: the file was stored (or the request served).
    Ok = 0,
    /// A file of that name exists and overwriting was not asked for.
    Exists = 1,
    /// The name was refused by the name rule.
    BadName = 2,
    /// The file is larger than the peer accepts.
    TooLarge = 3,
    /// No such file.
    NotFound = 4,
    /// A local file-system error on the peer.
    IoError = 5,
    /// The whole-file SHA-256 did not match.
    HashMismatch = 6,
    /// Not allowed by the peer's policy (for example overwriting).
    NotAllowed = 7,
    /// Too many requests; try again after the RESULT's wait.
    RateLimited = 8,
}

impl ResultCode {
    fn from_u8(b: u8) -> Result<Self, ProtoError> {
        Ok(match b {
            0 => ResultCode::Ok,
            1 => ResultCode::Exists,
            2 => ResultCode::BadName,
            3 => ResultCode::TooLarge,
            4 => ResultCode::NotFound,
            5 => ResultCode::IoError,
            6 => ResultCode::HashMismatch,
            7 => ResultCode::NotAllowed,
            8 => ResultCode::RateLimited,
            _ => return Err(ProtoError::MalformedMessage("RESULT")),
        })
    }
}

/// Longest reason text in a RESULT, in bytes.
pub const MAX_REASON_LEN: usize = 255;

/// Longest wait a RESULT may ask for, in seconds (1 hour).
pub const MAX_RETRY_AFTER_SECS: u16 = 3600;

/// RESULT: an outcome code, how long to wait before asking again, and a
/// short human-readable reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// The outcome.
    pub code: ResultCode,
    /// Seconds to wait before the request may succeed: 1 to
    /// [`MAX_RETRY_AFTER_SECS`] with [`ResultCode::RateLimited`], 0 with
    /// every other code.
    pub retry_after_secs: u16,
    /// Short reason (UTF-8, at most 255 bytes; may be empty).
    pub reason: String,
}

impl Outcome {
    /// A success with no reason.
    pub fn ok() -> Self {
        Outcome::new(ResultCode::Ok, "")
    }

    /// An outcome with no wait.
    pub fn new(code: ResultCode, reason: impl Into<String>) -> Self {
        Outcome {
            code,
            retry_after_secs: 0,
            reason: reason.into(),
        }
    }

    /// A rate-limit refusal asking the client to wait `secs` seconds
    /// (raised to 1 and cut to [`MAX_RETRY_AFTER_SECS`]).
    pub fn rate_limited(secs: u64, reason: impl Into<String>) -> Self {
        let max = u64::from(MAX_RETRY_AFTER_SECS);
        Outcome {
            code: ResultCode::RateLimited,
            retry_after_secs: secs.clamp(1, max) as u16,
            reason: reason.into(),
        }
    }

    /// Encodes the body: code u8, wait u16 (seconds), reason (u16 length +
    /// UTF-8), the reason cut at a character boundary to 255 bytes. The
    /// wait is brought into its range for the code (1 to
    /// [`MAX_RETRY_AFTER_SECS`] with RateLimited, 0 otherwise), so the
    /// peer never receives a RESULT it must refuse.
    pub fn encode(&self) -> Vec<u8> {
        let mut end = self.reason.len().min(MAX_REASON_LEN);
        while !self.reason.is_char_boundary(end) {
            end -= 1;
        }
        let wait = match self.code {
            ResultCode::RateLimited => self.retry_after_secs.clamp(1, MAX_RETRY_AFTER_SECS),
            _ => 0,
        };
        let mut v = Vec::with_capacity(5 + end);
        v.put_u8(self.code as u8);
        v.put_u16(wait);
        v.put_vec16(&self.reason.as_bytes()[..end]);
        v
    }

    /// Parses a body.
    ///
    /// # Errors
    /// `MalformedMessage` on unknown codes, a wait out of range (0 or over
    /// [`MAX_RETRY_AFTER_SECS`] with RateLimited, non-zero with any other
    /// code), bad lengths or non-UTF-8 text.
    pub fn parse(b: &[u8]) -> Result<Self, ProtoError> {
        let mut r = Reader::new(b, "RESULT");
        let code = ResultCode::from_u8(r.u8()?)?;
        let retry_after_secs = r.u16()?;
        let reason = r.vec16(MAX_REASON_LEN)?;
        r.finish()?;
        let wait_ok = match code {
            ResultCode::RateLimited => (1..=MAX_RETRY_AFTER_SECS).contains(&retry_after_secs),
            _ => retry_after_secs == 0,
        };
        if !wait_ok {
            return Err(ProtoError::MalformedMessage("RESULT"));
        }
        let reason = String::from_utf8(reason.to_vec())
            .map_err(|_| ProtoError::MalformedMessage("RESULT"))?;
        Ok(Outcome {
            code,
            retry_after_secs,
            reason,
        })
    }
}

/// One file in a listing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListEntry {
    /// Base name (the client applies the name rule to it).
    pub name: String,
    /// Size in bytes.
    pub size: u64,
    /// Modification time, seconds since the Unix epoch.
    pub mtime: i64,
}

impl ListEntry {
    fn encoded_len(&self) -> usize {
        2 + self.name.len() + 16
    }
}

/// Encodes `entries` as LISTING bodies, each fitting one record: more u8
/// (1 if another LISTING follows), count u16, then per entry name (u16
/// length + bytes), size u64, mtime i64. An empty listing is one body with
/// count 0. Names the receiver's name rule would refuse (too long, control
/// characters, not a base name) are skipped, so one odd file on disk cannot
/// break listings. Returns the bodies and how many entries they carry.
pub fn encode_listing(entries: &[ListEntry]) -> (Vec<Vec<u8>>, usize) {
    let budget = MAX_PLAINTEXT_LEN - 1 - 3;
    let mut bodies = Vec::new();
    let mut current: Vec<&ListEntry> = Vec::new();
    let (mut used, mut sent) = (0, 0);
    let valid = entries
        .iter()
        .filter(|e| super::name::sanitize(e.name.as_bytes()).is_ok_and(|n| n == e.name));
    for e in valid {
        if used + e.encoded_len() > budget || current.len() == u16::MAX as usize {
            bodies.push(std::mem::take(&mut current));
            used = 0;
        }
        used += e.encoded_len();
        sent += 1;
        current.push(e);
    }
    bodies.push(current);
    let last = bodies.len() - 1;
    let encoded = bodies
        .into_iter()
        .enumerate()
        .map(|(i, part)| {
            let mut v = Vec::new();
            v.put_u8(u8::from(i != last));
            v.put_u16(part.len() as u16);
            for e in part {
                v.put_vec16(e.name.as_bytes());
                v.put_u64(e.size);
                v.put_i64(e.mtime);
            }
            v
        })
        .collect();
    (encoded, sent)
}

/// Parses one LISTING body into `out`; returns whether more follow.
/// Entries with names that break the name rule are refused, and so is a
/// body that would take `out` past `max_total` entries (checked from the
/// count, before any entry is parsed).
///
/// # Errors
/// `MalformedMessage` on bad lengths; `Name` for a refused name;
/// `Transfer(TooManyEntries)` past `max_total`.
pub fn parse_listing(
    b: &[u8],
    out: &mut Vec<ListEntry>,
    max_total: usize,
) -> Result<bool, ProtoError> {
    let mut r = Reader::new(b, "LISTING");
    let more = match r.u8()? {
        0 => false,
        1 => true,
        _ => return Err(ProtoError::MalformedMessage("LISTING")),
    };
    let count = r.u16()?;
    if out.len() + usize::from(count) > max_total {
        return Err(ProtoError::Transfer(TransferError::TooManyEntries));
    }
    for _ in 0..count {
        let raw = r.vec16(MAX_NAME_LEN)?;
        let name = super::name::sanitize(raw)?;
        if name.as_bytes() != raw {
            return Err(ProtoError::MalformedMessage("LISTING"));
        }
        let size = r.u64()?;
        let mtime = r.i64()?;
        out.push(ListEntry { name, size, mtime });
    }
    r.finish()?;
    Ok(more)
}

#[cfg(test)]
mod tests {
    //! Message limits at their value and one past.

    use super::*;

    fn result_body(code: u8, wait: u16, reason: &[u8]) -> Vec<u8> {
        let mut v = vec![code];
        v.put_u16(wait);
        v.put_u16(reason.len() as u16);
        v.extend_from_slice(reason);
        v
    }

    #[test]
    fn reason_of_max_len_round_trips_and_a_longer_one_is_cut_at_a_char_boundary() {
        let at = Outcome::new(ResultCode::NotFound, "r".repeat(MAX_REASON_LEN));
        assert_eq!(Outcome::parse(&at.encode()).unwrap(), at);

        let over = Outcome::new(ResultCode::NotFound, "r".repeat(MAX_REASON_LEN + 1));
        assert_eq!(over.encode().len(), 5 + MAX_REASON_LEN);
        assert_eq!(Outcome::parse(&over.encode()).unwrap(), at);

        // "é" is 2 bytes: byte 255 would split the 128th, so 254 are sent.
        // Fails on an encoder that cuts at 255 regardless (invalid UTF-8,
        // refused by the peer) or panics slicing mid-character.
        let wide = Outcome::new(ResultCode::IoError, "é".repeat(128));
        let parsed = Outcome::parse(&wide.encode()).unwrap();
        assert_eq!(parsed.reason, "é".repeat(127));
        // A 4-byte character straddling the limit.
        let emoji = Outcome::new(ResultCode::IoError, format!("{}🦀", "x".repeat(253)));
        assert_eq!(
            Outcome::parse(&emoji.encode()).unwrap().reason,
            "x".repeat(253)
        );
    }

    #[test]
    fn reason_over_max_len_or_not_utf8_is_malformed() {
        let code = ResultCode::NotFound as u8;
        assert!(Outcome::parse(&result_body(code, 0, &[b'r'; MAX_REASON_LEN])).is_ok());
        assert!(matches!(
            Outcome::parse(&result_body(code, 0, &[b'r'; MAX_REASON_LEN + 1])),
            Err(ProtoError::MalformedMessage("RESULT"))
        ));
        assert!(matches!(
            Outcome::parse(&result_body(code, 0, b"\xff")),
            Err(ProtoError::MalformedMessage("RESULT"))
        ));
        let mut trailing = result_body(code, 0, b"ok");
        trailing.push(0);
        assert!(matches!(
            Outcome::parse(&trailing),
            Err(ProtoError::MalformedMessage("RESULT"))
        ));
    }

    #[test]
    fn retry_after_bounds() {
        let limited = ResultCode::RateLimited as u8;
        for ok in [1, 60, MAX_RETRY_AFTER_SECS] {
            let o = Outcome::parse(&result_body(limited, ok, b"")).unwrap();
            assert_eq!((o.code, o.retry_after_secs), (ResultCode::RateLimited, ok));
        }
        for bad in [0, MAX_RETRY_AFTER_SECS + 1, u16::MAX] {
            assert!(
                matches!(
                    Outcome::parse(&result_body(limited, bad, b"")),
                    Err(ProtoError::MalformedMessage("RESULT"))
                ),
                "{bad}"
            );
        }
        for code in [0u8, 1, 2, 3, 4, 5, 6, 7] {
            assert!(Outcome::parse(&result_body(code, 0, b"")).is_ok());
            for bad in [1, MAX_RETRY_AFTER_SECS] {
                assert!(
                    matches!(
                        Outcome::parse(&result_body(code, bad, b"")),
                        Err(ProtoError::MalformedMessage("RESULT"))
                    ),
                    "code {code} wait {bad}"
                );
            }
        }
        // Code 9 (Unsupported in version 1) is gone.
        assert!(Outcome::parse(&result_body(9, 0, b"")).is_err());
        // The constructor keeps a wait in range.
        assert_eq!(Outcome::rate_limited(0, "").retry_after_secs, 1);
        assert_eq!(
            Outcome::rate_limited(3601, "").retry_after_secs,
            MAX_RETRY_AFTER_SECS
        );
        assert_eq!(
            Outcome::rate_limited(u64::MAX, "").retry_after_secs,
            MAX_RETRY_AFTER_SECS
        );
        let o = Outcome::rate_limited(3600, "wait");
        assert_eq!(Outcome::parse(&o.encode()).unwrap(), o);
    }

    #[test]
    fn listing_count_is_checked_before_entries_are_parsed() {
        let mut out = Vec::new();
        // Count 2 with room for one: refused from the count, though the
        // body carries no entry at all.
        assert!(matches!(
            parse_listing(&[0, 0, 2], &mut out, 1),
            Err(ProtoError::Transfer(TransferError::TooManyEntries))
        ));
        assert!(out.is_empty());
        // With room, the missing entries make it malformed.
        assert!(matches!(
            parse_listing(&[0, 0, 2], &mut out, 2),
            Err(ProtoError::MalformedMessage("LISTING"))
        ));
        let (bodies, n) = encode_listing(&[ListEntry {
            name: "a".into(),
            size: 1,
            mtime: -1,
        }]);
        assert_eq!((bodies.len(), n), (1, 1));
        let mut out = Vec::new();
        assert!(!parse_listing(&bodies[0], &mut out, 1).unwrap());
        assert_eq!(out[0].mtime, -1);
        assert!(matches!(
            parse_listing(&bodies[0], &mut out, 1),
            Err(ProtoError::Transfer(TransferError::TooManyEntries))
        ));
    }
}
