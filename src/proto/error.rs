//! Protocol errors (what the peer or the session did) and wire alert codes.

use crate::crypto::ed25519::Fingerprint;
use crate::crypto::CryptoError;

use super::name::NameError;

/// Why a connection failed. Fatal: once a connection returns one, every
/// later call returns the same error.
#[derive(Clone, Debug, thiserror::Error)]
pub enum ProtoError {
    /// The peer speaks another protocol version.
    #[error(
        "peer uses protocol version {got}, this sft speaks version {}",
        super::PROTOCOL_VERSION
    )]
    UnsupportedVersion { got: u8 },
    /// A record header is invalid (unknown type, bad length for its type).
    #[error("malformed record: {0}")]
    MalformedRecord(&'static str),
    /// A record announced more bytes than the limit; nothing was allocated.
    #[error("record of {len} bytes exceeds the limit of {max}")]
    RecordTooLarge { len: usize, max: usize },
    /// A plaintext handshake record carried the wrong sequence number.
    #[error("handshake record out of sequence: expected number {expected}, got {got}")]
    OutOfSequence { expected: u64, got: u64 },
    /// A record did not authenticate (tampered, replayed, reordered,
    /// reflected or dropped), or a plaintext record came after keys exist.
    #[error("record authentication failed (tampered, replayed, reordered or dropped data)")]
    BadRecord,
    /// A message body does not parse.
    #[error("malformed {0} message")]
    MalformedMessage(&'static str),
    /// A message arrived that the current state does not allow.
    #[error("unexpected {got} message while {state}")]
    UnexpectedMessage {
        got: &'static str,
        state: &'static str,
    },
    /// The peer's X25519 key is a small-order point.
    #[error("peer ephemeral key is non-contributory (small-order point)")]
    NonContributory,
    /// The server's identity key is not the one the caller trusts.
    #[error("server key mismatch: expected {expected}, server presented {seen}")]
    ServerKeyMismatch {
        expected: Fingerprint,
        seen: Fingerprint,
    },
    /// The client's identity key is not authorized on this server.
    #[error("client key {0} is not authorized")]
    ClientNotAuthorized(Fingerprint),
    /// A signature did not verify: the peer's handshake signature, or a
    /// signed statement or receipt (PROTOCOL.md §4.8).
    #[error("{0} signature did not verify")]
    BadSignature(&'static str),
    /// A key-confirmation (finished) MAC did not verify.
    #[error("{0} key confirmation failed")]
    BadFinished(&'static str),
    /// The peer ended the session with an alert.
    #[error("peer aborted: {0}")]
    PeerAlert(AlertCode),
    /// The handshake did not complete in time.
    #[error("handshake timed out")]
    HandshakeTimeout,
    /// Nothing moved for longer than the idle timeout.
    #[error("connection idle for too long")]
    IdleTimeout,
    /// The byte stream ended without an authenticated close record.
    #[error("connection cut before an authenticated close (truncated)")]
    Truncated,
    /// The per-key record limit was reached; the session must end.
    #[error("per-key record limit reached; the session must be restarted")]
    KeyLimit,
    /// A transfer rule was broken (offset, size, data after end...).
    #[error("transfer protocol violation: {0}")]
    Transfer(TransferError),
    /// A file name was refused.
    #[error(transparent)]
    Name(#[from] NameError),
    /// The listing has more entries than this client takes (`max`, a
    /// guard on its own memory: `MAX_LISTING_ENTRIES`). No rule of the
    /// server's was broken; the client ends the session (alert Internal).
    #[error("the listing has more than {} entries, this client's limit", thousands(*max))]
    ListingTooLong { max: usize },
    /// The local application called a method the state does not allow.
    #[error("not allowed now: {0}")]
    InvalidCall(&'static str),
    /// The session is closed.
    #[error("connection closed")]
    Closed,
    /// This side is shutting down and ends the session (the peer hears
    /// alert [`AlertCode::ShuttingDown`]).
    #[error("shutting down")]
    ShuttingDown,
    /// This side refuses the connection for lack of room (the peer hears
    /// alert [`AlertCode::Busy`]): a server evicting an unauthenticated
    /// connection, or refusing a key over its session cap.
    #[error("refused as busy")]
    Busy,
    /// The crypto core failed locally.
    #[error(transparent)]
    Crypto(CryptoError),
}

impl From<CryptoError> for ProtoError {
    /// A small-order peer key is the peer's doing, not a local failure.
    fn from(e: CryptoError) -> Self {
        match e {
            CryptoError::NonContributory => ProtoError::NonContributory,
            other => ProtoError::Crypto(other),
        }
    }
}

impl ProtoError {
    /// The alert this error sends to the peer, when keys exist. Decryption
    /// failures all map to one code, so the peer never learns which check
    /// failed. Exhaustive: a new error is a compile error here until it is
    /// given its alert.
    pub fn alert(&self) -> AlertCode {
        match self {
            ProtoError::BadRecord => AlertCode::BadRecord,
            ProtoError::ClientNotAuthorized(_) => AlertCode::Unauthorized,
            ProtoError::BadSignature(_)
            | ProtoError::BadFinished(_)
            | ProtoError::NonContributory => AlertCode::HandshakeFailed,
            ProtoError::HandshakeTimeout | ProtoError::IdleTimeout => AlertCode::Timeout,
            ProtoError::UnsupportedVersion { .. } => AlertCode::UnsupportedVersion,
            ProtoError::ShuttingDown => AlertCode::ShuttingDown,
            ProtoError::Busy => AlertCode::Busy,
            ProtoError::Crypto(_)
            | ProtoError::KeyLimit
            | ProtoError::ListingTooLong { .. }
            | ProtoError::InvalidCall(_)
            | ProtoError::Closed => AlertCode::Internal,
            ProtoError::MalformedRecord(_)
            | ProtoError::RecordTooLarge { .. }
            | ProtoError::OutOfSequence { .. }
            | ProtoError::MalformedMessage(_)
            | ProtoError::UnexpectedMessage { .. }
            | ProtoError::ServerKeyMismatch { .. }
            | ProtoError::PeerAlert(_)
            | ProtoError::Truncated
            | ProtoError::Transfer(_)
            | ProtoError::Name(_) => AlertCode::ProtocolError,
        }
    }
}

/// `n` with a comma between groups of three digits: 10,000,000.
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(d);
    }
    out
}

/// Which transfer rule the peer broke (docs/PROTOCOL.md §4.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TransferError {
    /// A CHUNK's offset is not the next byte expected.
    #[error("chunk offset is not the next byte")]
    ChunkOffset,
    /// A CHUNK runs past the size announced in OFFER.
    #[error("chunk runs past the announced size")]
    PastSize,
    /// A CHUNK carries no data or more than `CHUNK_LEN` bytes.
    #[error("chunk is empty or larger than CHUNK_LEN")]
    ChunkLength,
    /// END arrived before every announced byte.
    #[error("END before all announced bytes")]
    EndEarly,
    /// RESULT Ok arrived before the operation had finished.
    #[error("RESULT ok before the operation finished")]
    OkEarly,
    /// A download OFFER names another file than the one asked for (or
    /// sets a flag).
    #[error("the server offered a different file than the one requested")]
    OfferedOtherName,
    /// A download OFFER announces more bytes than the GET's max_size.
    #[error("the server offered a file larger than the size asked for")]
    OfferTooLarge,
    /// A resume the rules do not allow: an offset past the file's size, a
    /// client RESUME that neither takes the server's offset with its hash
    /// nor starts again at 0, or a download resumed that was not asked to.
    #[error("the peer's resume point is not one the rules allow")]
    BadResume,
    /// RESULT 0 answered an upload, which only a signed RECEIPT may
    /// answer once stored (§4.8).
    #[error("the server answered an upload Ok without a signed receipt")]
    UnsignedOk,
}

/// One-byte alert code sent in an ALERT message (docs/PROTOCOL.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum AlertCode {
    /// A record failed to authenticate or arrived out of sequence.
    BadRecord = 1,
    /// A message was malformed or not allowed in the current state.
    ProtocolError = 2,
    /// The client key is not authorized.
    Unauthorized = 3,
    /// A signature, key confirmation or key exchange failed.
    HandshakeFailed = 4,
    /// A deadline passed.
    Timeout = 5,
    /// The peer hit an internal error.
    Internal = 6,
    /// The protocol version is not supported.
    UnsupportedVersion = 7,
    /// The server refused the connection at admission (connection cap or
    /// rate limit); sent in plaintext just before it closes.
    Busy = 8,
    /// The server is shutting down and ends the session; try again later.
    ShuttingDown = 9,
}

impl AlertCode {
    /// Decodes a wire byte; unknown codes read as `ProtocolError`.
    pub fn from_u8(b: u8) -> Self {
        match b {
            1 => AlertCode::BadRecord,
            3 => AlertCode::Unauthorized,
            4 => AlertCode::HandshakeFailed,
            5 => AlertCode::Timeout,
            6 => AlertCode::Internal,
            7 => AlertCode::UnsupportedVersion,
            8 => AlertCode::Busy,
            9 => AlertCode::ShuttingDown,
            _ => AlertCode::ProtocolError,
        }
    }
}

impl std::fmt::Display for AlertCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            AlertCode::BadRecord => "bad record",
            AlertCode::ProtocolError => "protocol error",
            AlertCode::Unauthorized => "client key not authorized",
            AlertCode::HandshakeFailed => "handshake failed",
            AlertCode::Timeout => "timeout",
            AlertCode::Internal => "internal error",
            AlertCode::UnsupportedVersion => "unsupported protocol version",
            AlertCode::Busy => "the server is busy (at its connection or rate limit)",
            AlertCode::ShuttingDown => "the server is shutting down",
        })
    }
}
