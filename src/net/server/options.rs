//! What `sft serve` is told: the options a [`Server`](super::Server) is
//! bound with, and their defaults.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use super::{Limits, Timeouts};
use crate::audit::AuditLog;
use crate::authorized::table::AuthorizedTable;
use crate::crypto::ed25519::SigningKey;
use crate::fs::ReceiveRoot;

/// Everything `sft serve` needs to run. The server builds the protocol's
/// handshake configuration and admission rule from these.
pub struct ServeOptions {
    /// Address to listen on (port 0 picks a free port).
    pub listen: SocketAddr,
    /// Where uploads land and downloads come from.
    pub root: ReceiveRoot,
    /// The server's host identity key.
    pub identity: Arc<SigningKey>,
    /// The audit log, open with `identity`: an entry for every stored
    /// upload, served download and refused request, and signed heads
    /// ([`crate::audit`]).
    pub audit: AuditLog,
    /// Which client keys may connect, and with what options.
    pub clients: Clients,
    /// Largest upload accepted, in bytes (announced to clients).
    pub max_file_size: u64,
    /// Handshake and idle timeouts (the idle timeout is announced too).
    pub timeouts: Timeouts,
    /// Connection caps and rates, per source and per key.
    pub limits: Limits,
    /// Whether a client may replace an existing file (`--overwrite`).
    pub allow_overwrite: bool,
    /// Permission bits a client may set with `-p` (masked; at most 0o777).
    pub max_mode: u32,
    /// How long a resumable partial upload is kept after it was last
    /// written ([`DEFAULT_PARTIAL_TTL`]); older ones are swept at start and
    /// then every quarter of this (at least every second, at most every
    /// hour).
    pub partial_ttl: Duration,
    /// Event loops, each on its own thread (at least 1; `sft serve
    /// --threads`, by default the number of cores).
    pub threads: usize,
}

/// Which client keys a server accepts.
#[derive(Clone, Debug)]
pub enum Clients {
    /// Any key, with no options; the key seen is logged.
    Any,
    /// The keys of this table (which may change while the server runs),
    /// each with its options, captured when its session authenticates.
    Authorized(Arc<AuthorizedTable>),
}

/// How long a partial upload is kept for its client to resume unless the
/// server says otherwise (24 h).
pub const DEFAULT_PARTIAL_TTL: Duration = Duration::from_secs(24 * 60 * 60);

/// The permission bits a client may set with `-p` unless the server says
/// otherwise (`rwxr-xr-x`: nobody but the server's user can write what a
/// client stored).
pub const DEFAULT_MAX_MODE: u32 = 0o755;
