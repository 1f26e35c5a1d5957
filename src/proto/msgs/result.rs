//! RESULT: the outcome of a request or transfer, with its typed wait.

use crate::proto::codec::{Reader, Writer};
use crate::proto::ProtoError;

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

    /// The wait in seconds as it goes on the wire: `retry_after_secs`
    /// brought into 1 to [`MAX_RETRY_AFTER_SECS`] with RateLimited, 0 with
    /// every other code. For a parsed outcome it is `retry_after_secs`.
    pub fn wait_secs(&self) -> u16 {
        match self.code {
            ResultCode::RateLimited => self.retry_after_secs.clamp(1, MAX_RETRY_AFTER_SECS),
            _ => 0,
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
        let mut v = Vec::with_capacity(5 + end);
        v.put_u8(self.code as u8);
        v.put_u16(self.wait_secs());
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
