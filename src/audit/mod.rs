//! The server's audit log (docs/AUDIT.md): an append-only file of JSON
//! lines, one entry per stored upload, served download and refused
//! request, each holding the hash of the line before it, with a head
//! signed by the host key after every group of entries. Editing, deleting,
//! reordering or inserting an entry breaks the chain or a signature;
//! cutting the tail leaves entries no head covers (or, cut exactly at a
//! head, entries a client's receipt names and the log lacks).
//!
//! - [`AuditLog`] (log.rs): the server's writer.
//! - [`verify`] (verify.rs): checks every link and signature offline.
//! - [`entry`]: one line's fields, written and read.
//!
//! The log holds public keys, hashes, signatures, paths and refusal
//! reasons: never file contents or key material.

mod entry;
mod log;
mod verify;

pub use entry::{Body, Entry, Line, Refusal, AUDIT_HEAD_CONTEXT, MAX_LINE};
pub use log::AuditLog;
pub use verify::{read_line, verify, verify_reader, Failure, Report};

/// Why the audit log cannot be opened or written.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// Opening, reading, writing or syncing the file failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// Another process (a second server) holds the log.
    #[error("another process holds it (is a second server running with the same log?)")]
    Locked,
    /// The last line has no newline: a write was cut (a crash).
    #[error(
        "its last line is cut short (a crash while writing?); nothing is appended after a \
         damaged entry: move the file aside (keep it: it is evidence) and start again"
    )]
    Torn,
    /// The last line is not an entry sft wrote.
    #[error("its last line is not an audit entry ({0}); move the file aside and start again")]
    NotAnEntry(String),
    /// An earlier write failed: the state of the chain on disk is unknown,
    /// so nothing more is appended until the server starts again.
    #[error("an earlier write failed; restart the server to go on")]
    Failed,
    /// Signing failed (an OpenSSL failure).
    #[error("signing failed: {0}")]
    Sign(String),
}
