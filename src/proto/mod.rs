//! PROTOCOL LAYER, sans-IO: bytes in, bytes and events out. Nothing here
//! opens a socket or a file or reads the clock; time arrives as an argument
//! (`now: Instant`). The byte-level specification is docs/PROTOCOL.md.
//!
//! - [`codec`]: bounds-checked big-endian readers and writers.
//! - [`record`]: the record header, AEAD sealing/opening, sequence numbers.
//! - [`msgs`]: every handshake and application message, encoded and parsed.
//! - [`handshake`]: the signed X25519 handshake (transcript, key schedule,
//!   client and server state types).
//! - [`transfer`]: the Sender and the Receiver of one file (both roles).
//! - [`name`]: the receiver-side rule for remote file names.
//! - [`conn`]: [`conn::ClientConnection`] and [`conn::ServerConnection`]
//!   over a shared [`conn::ConnectionCore`].
//! - [`timers`], [`limiter`]: deadlines and the per-IP admission decision.

pub mod codec;
pub mod conn;
mod error;
pub mod evidence;
pub mod handshake;
pub mod limiter;
pub mod msgs;
pub mod name;
pub mod record;
pub mod timers;
pub mod transfer;

pub use error::{AlertCode, ProtoError, TransferError};

/// Protocol version carried in every record header and in HELLO.
pub const PROTOCOL_VERSION: u8 = 5;

/// Largest plaintext of one encrypted record, in bytes: 256 KiB of file data
/// plus room for the message type and the chunk's 8-byte offset (262,208).
/// Checked on the header, before any buffer grows or any decryption runs.
pub const MAX_PLAINTEXT_LEN: usize = CHUNK_LEN + 64;

/// File data carried by one full CHUNK record, in bytes (256 KiB).
pub const CHUNK_LEN: usize = 256 * 1024;

/// Longest remote file name (one path component), in bytes of UTF-8.
pub const MAX_NAME_LEN: usize = 255;

/// Longest remote path, in bytes of UTF-8 (PROTOCOL.md §4.5).
pub const MAX_PATH_LEN: usize = 4096;

/// Most components in a remote path (PROTOCOL.md §4.5).
pub const MAX_DEPTH: usize = 64;

/// Most requests a client keeps unanswered at once (PROTOCOL.md §4.3).
pub const MAX_IN_FLIGHT: usize = 64;
