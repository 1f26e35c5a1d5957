//! The state of one connection and what all connections share: the data
//! the other server modules work on, and how a connection's end is logged.

use crate::aligned::AlignedBuf;
use mio::Token;
use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::mpsc;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use log::{info, warn};
use mio::net::TcpStream;
use mio::Interest;

use super::admission::Admission;
use super::committer::Job;
use super::hasher::HashJob;
use super::options::Clients;
use super::refusal_log::RefusalLog;
use super::upload_policy::UploadPolicy;
use crate::authorized::KeyOptions;
use crate::crypto::ed25519::Fingerprint;
use crate::fs::{Lister, ReceiveRoot, SourceFile};
use crate::net::transfer::{Incoming, Outgoing};
use crate::proto::conn::{ServerConnection, Ticket};
use crate::proto::limiter::Buckets;
use crate::proto::limiter::ClientKey;
use crate::proto::msgs::Prefix;
use crate::proto::ProtoError;

/// An upload being received.
pub(super) struct Upload {
    pub file: Incoming,
    /// Its answer is owed under this ticket.
    pub ticket: Ticket,
    pub name: String,
    pub size: u64,
    pub started: Instant,
    /// Bytes written when the last background writeback was queued.
    pub written_back: u64,
    /// When its data last arrived (or it started).
    pub last_data: Instant,
}

/// What a session waits for from the hasher thread: the SHA-256 of a held
/// prefix, before it can answer the request being decided.
pub(super) enum Hashing {
    /// The `held` bytes of the partial of the upload being offered.
    Upload,
    /// The first bytes of a file asked for, which the client holds.
    Download(Box<HeldDownload>),
}

/// A download asked for with a held prefix, waiting for its hash.
pub(super) struct HeldDownload {
    pub source: SourceFile,
    pub name: String,
    /// What the client holds.
    pub held: Prefix,
}

/// A download being sent.
pub(super) struct Download {
    pub file: Outgoing,
    pub name: String,
    pub started: Instant,
}

/// One open connection: its socket and the session on it.
pub(super) struct Peer {
    pub sock: TcpStream,
    /// The interest `sock` is registered with.
    pub interest: Interest,
    /// When the connection was accepted.
    pub since: Instant,
    /// Its source, as admission counts it.
    pub source: ClientKey,
    pub session: Session,
}

/// What a turn works on: the protocol state and the files of one
/// connection (no socket, so a turn can be tested in memory).
pub(super) struct Session {
    pub conn: ServerConnection,
    pub addr: SocketAddr,
    /// The client's key, once authenticated.
    pub client: Option<Fingerprint>,
    /// The client's Ed25519 public key bytes, once authenticated: the
    /// owner of its partial files.
    pub key: Option<[u8; 32]>,
    /// The key's authorized_keys options, captured when it authenticated
    /// (a reload does not change them).
    pub options: KeyOptions,
    /// The sub-root its `root=` option confines it to, opened when it
    /// authenticated; `None`: the server's root.
    pub root: Option<Arc<ReceiveRoot>>,
    /// Requests refused for the rate limit since the last admitted one.
    pub rate_refusals: u32,
    /// When the last rate refusal said the key may ask again.
    pub retry_at: Option<Instant>,
    pub upload: Option<Upload>,
    pub download: Option<Download>,
    /// The files of a listing being sent, read page by page.
    pub listing: Option<Lister>,
    /// A prefix being hashed for the request being decided.
    pub hashing: Option<Hashing>,
    /// Just authenticated on the front loop, to move to the loop that
    /// will serve it before any request is handled (`--threads`).
    pub handoff_due: bool,
    /// The client has closed its side (an end of stream read, or the
    /// poller said so): a session waiting on the hasher for it ends.
    pub peer_gone: bool,
}

/// The sub-roots opened for sessions, by their path under the root.
pub(super) type SubRoots = Arc<Mutex<HashMap<String, Arc<ReceiveRoot>>>>;

impl Session {
    /// The root this session's requests work in: its key's sub-root, or
    /// the server's.
    pub fn root<'a>(&'a self, shared: &'a Shared) -> &'a Arc<ReceiveRoot> {
        self.root.as_ref().unwrap_or(&shared.root)
    }

    /// A fresh, unauthenticated session from `addr`.
    pub fn new(conn: ServerConnection, addr: SocketAddr) -> Self {
        Session {
            conn,
            addr,
            client: None,
            key: None,
            options: KeyOptions::default(),
            root: None,
            peer_gone: false,
            rate_refusals: 0,
            retry_at: None,
            upload: None,
            download: None,
            listing: None,
            hashing: None,
            handoff_due: false,
        }
    }

    /// The peer for the log: address, and key once authenticated.
    pub fn who(&self) -> String {
        match &self.client {
            Some(fp) => format!("{} ({fp})", self.addr),
            None => self.addr.to_string(),
        }
    }
}

/// State shared by all connections' event handling.
pub(super) struct Shared {
    pub root: Arc<ReceiveRoot>,
    /// One for the whole server, whichever loop asks.
    pub admission: Arc<Mutex<Admission>>,
    pub upload_policy: UploadPolicy,
    /// Which keys may connect, and their options.
    pub clients: Clients,
    /// The sub-roots keys were confined to, by path, for the partial
    /// sweeper.
    pub sub_roots: SubRoots,
    pub commits: mpsc::Sender<Job>,
    pub hasher: mpsc::Sender<HashJob>,
    /// Scratch buffer for download data.
    pub read_buf: AlignedBuf,
    pub refusals: RefusalLog,
    /// Each client key's budget of refusals recorded in the audit log
    /// ([`super::requests::AUDITED_REFUSAL_RATE`]).
    pub audited_refusals: Arc<Mutex<Buckets<[u8; 32]>>>,
    /// Resumable partials another session of the same key still holds
    /// when a new session asks to resume them: (the asking connection,
    /// the key, the path). The server ends those older sessions after the
    /// turn ([`super::Server::end_superseded`]).
    pub superseded: Vec<(Token, [u8; 32], String)>,
    /// Whether sessions move to another loop once authenticated: only on
    /// the front loop of a server with more than one (`--threads`).
    pub handoff: bool,
}

impl Shared {
    /// The server's admission state (a poisoned lock is taken as it is:
    /// every update leaves it consistent).
    pub fn admission(&self) -> MutexGuard<'_, Admission> {
        self.admission.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Why a connection ended, for the log.
#[derive(Debug)]
pub(super) enum DriveError {
    Proto(ProtoError),
    Io(io::Error),
    /// The client kept sending requests that had to be refused.
    Abuse(&'static str),
    /// The connection was refused as busy after authenticating (why).
    Busy(String),
}

impl From<ProtoError> for DriveError {
    fn from(e: ProtoError) -> Self {
        DriveError::Proto(e)
    }
}

/// One log line saying why `session` ended. Before authentication the
/// line is within `budget` (a flood of connections cannot flood the log).
pub(super) fn log_end(session: &Session, e: &DriveError, budget: &mut RefusalLog, now: Instant) {
    if session.client.is_none() && !budget.allow(now) {
        return;
    }
    match e {
        DriveError::Proto(ProtoError::PeerAlert(code)) => {
            info!("{} aborted: {code}", session.who())
        }
        DriveError::Proto(ProtoError::Truncated) if session.client.is_none() => {
            info!("{} left before authenticating", session.who())
        }
        DriveError::Proto(e) => warn!("{}: {e}", session.who()),
        DriveError::Io(e) => warn!("{}: socket: {e}", session.who()),
        DriveError::Abuse(why) => warn!("closed {}: {why}", session.who()),
        DriveError::Busy(why) => info!("refused {} as busy: {why}", session.addr),
    }
}
