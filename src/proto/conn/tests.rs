//! In-memory adversarial tests: a client and a server wired together, with
//! a hand on the wire between them and a clock we step. This module builds
//! the world; `wire` and `flows` hold the helpers, and the tests are
//! grouped by theme in the other modules.

mod buffer;
mod calls;
mod close;
mod evidence;
mod flows;
mod handshake;
mod key_update;
mod limits;
mod listing;
mod pipeline;
mod records;
mod refusals;
mod resume;
mod tampering;
mod timers;
mod transfer;
mod violations;
mod wire;

use std::collections::{HashSet, VecDeque};
use std::convert::Infallible;
use std::io::{self, Write};
use std::ops::DerefMut;
use std::sync::Arc;
use std::time::Instant;

use super::{
    ClientConnection, ClientEvent, ConnectionCore, ListingStep, ServerConnection, ServerEvent,
    Ticket,
};
use crate::crypto::aead::TAG_LEN;
use crate::crypto::ed25519::{Signature, SigningKey, VerifyingKey};
use crate::proto::evidence::{Receipt, Signed, Stored};
use crate::proto::handshake::client::{ClientConfig, ServerTrust};
use crate::proto::handshake::server::{ClientPolicy, ServerConfig, ServerEphemeral};
use crate::proto::handshake::Ephemeral;
use crate::proto::msgs::{inner, End, ListEntry, Meta, Outcome, SessionParams, END_LEN};
use crate::proto::name::NameError;
use crate::proto::record::{RecordType, HEADER_LEN};
use crate::proto::timers::Timeouts;
use crate::proto::{AlertCode, ProtoError, CHUNK_LEN, PROTOCOL_VERSION};
use flows::*;
use wire::*;

/// The time statements carry in these tests (Unix seconds).
const T0: u64 = 1_700_000_000;

/// An event with its data copied out, so tests can hold several. Both
/// roles' events, so one world helper serves both directions.
#[derive(Clone, Debug, PartialEq)]
enum Got {
    // client
    ServerKeyUnknown(VerifyingKey),
    /// A download offered: its size and meta.
    Offered(u64, Meta),
    /// A download offered resumed: its size, and the offset data starts at.
    Resumed(u64, u64),
    /// The server offers to resume an upload after this many bytes.
    ResumeOffered(u64),
    Listing(Vec<ListEntry>),
    Outcome(Outcome),
    // server
    /// An upload offered: path, size, overwrite, meta, ticket.
    Upload(String, u64, bool, Option<Meta>, Tk),
    /// A MKDIR: path, meta, ticket.
    Mkdir(String, Option<Meta>, Tk),
    /// An upload offered for resume: path, size, ticket.
    UploadResume(String, u64, Tk),
    /// The client's RESUME: its data starts at this offset.
    ResumeAgreed(u64),
    /// A GET: path, max_size.
    Download(String, u64),
    /// A GET holding a prefix: path, max_size, what it holds.
    DownloadHeld(String, u64, crate::proto::msgs::Prefix),
    /// A LIST: path.
    List(String),
    NameRefused(NameError),
    // both
    Established,
    Data(Vec<u8>),
    /// A file arrived whole: its SHA-256, and the signed statement.
    Complete([u8; 32], St),
    Corrupt,
    /// END of 32 zero bytes: the sender abandoned the file.
    Abandoned,
    Closed,
}

/// A signed statement that arrived with a file. Compares equal to any
/// other, so expected events need none; [`World::c2s`] keeps the server's
/// in [`World::statements`] for [`World::store`].
#[derive(Debug, Clone)]
struct St(Option<Box<Signed>>);

impl PartialEq for St {
    fn eq(&self, _: &St) -> bool {
        true
    }
}

/// The ticket of an upload or MKDIR event. Compares equal to any other,
/// so expected events need none; [`World::c2s`] queues the real ones in
/// [`World::tickets`], and answers in request order are checked by what
/// goes out, not by ticket values.
#[derive(Debug, Clone, Copy)]
struct Tk(Option<Ticket>);

impl PartialEq for Tk {
    fn eq(&self, _: &Tk) -> bool {
        true
    }
}

impl Got {
    /// A file that arrived whole with this SHA-256.
    fn complete(sha256: [u8; 32]) -> Got {
        Got::Complete(sha256, St(None))
    }
    fn arrived(signed: Signed) -> Got {
        Got::Complete(signed.statement.sha256, St(Some(Box::new(signed))))
    }
    /// An upload of `path`, `size` bytes, no overwrite, no meta.
    fn upload(path: &str, size: u64) -> Got {
        Got::Upload(path.into(), size, false, None, Tk(None))
    }
    /// A MKDIR of `path` without meta.
    fn mkdir(path: &str) -> Got {
        Got::Mkdir(path.into(), None, Tk(None))
    }
    /// The ticket an upload or MKDIR event carries.
    fn ticket(&self) -> Option<Ticket> {
        match self {
            Got::Upload(.., Tk(t)) | Got::Mkdir(.., Tk(t)) | Got::UploadResume(.., Tk(t)) => *t,
            _ => None,
        }
    }
}

/// Either role, as the helpers drive it.
trait Endpoint: DerefMut<Target = ConnectionCore> {
    fn next_got(&mut self) -> Result<Option<Got>, ProtoError>;
}

impl Endpoint for ClientConnection {
    fn next_got(&mut self) -> Result<Option<Got>, ProtoError> {
        Ok(self.next_event()?.map(|ev| match ev {
            ClientEvent::ServerKeyUnknown(k) => Got::ServerKeyUnknown(k),
            ClientEvent::Established { .. } => Got::Established,
            ClientEvent::DownloadOffered {
                size,
                meta,
                from: 0,
            } => Got::Offered(size, meta),
            ClientEvent::DownloadOffered { size, from, .. } => Got::Resumed(size, from),
            ClientEvent::ResumeOffered { offset } => Got::ResumeOffered(offset),
            ClientEvent::Data(d) => Got::Data(d.to_vec()),
            ClientEvent::ReceiveComplete { signed } => Got::arrived(signed),
            ClientEvent::ReceiveCorrupt => Got::Corrupt,
            ClientEvent::ReceiveAbandoned => Got::Abandoned,
            ClientEvent::Listing(l) => Got::Listing(l),
            // Verified by the connection: the tests see it as stored.
            ClientEvent::Stored(_) => Got::Outcome(Outcome::ok()),
            ClientEvent::Outcome(o) => Got::Outcome(o),
            ClientEvent::Closed => Got::Closed,
        }))
    }
}

impl Endpoint for ServerConnection {
    /// A client that authenticates is admitted at once.
    fn next_got(&mut self) -> Result<Option<Got>, ProtoError> {
        let got = self.next_event()?.map(|ev| match ev {
            ServerEvent::Authenticated { .. } => Got::Established,
            ServerEvent::UploadRequested {
                path,
                size,
                resume: true,
                ticket,
                ..
            } => Got::UploadResume(path, size, Tk(Some(ticket))),
            ServerEvent::UploadRequested {
                path,
                size,
                overwrite,
                meta,
                ticket,
                ..
            } => Got::Upload(path, size, overwrite, meta, Tk(Some(ticket))),
            ServerEvent::ResumeAgreed { offset } => Got::ResumeAgreed(offset),
            ServerEvent::MkdirRequested { path, meta, ticket } => {
                Got::Mkdir(path, meta, Tk(Some(ticket)))
            }
            ServerEvent::DownloadRequested {
                path,
                max_size,
                held: None,
            } => Got::Download(path, max_size),
            ServerEvent::DownloadRequested {
                path,
                max_size,
                held: Some(held),
            } => Got::DownloadHeld(path, max_size, held),
            ServerEvent::ListRequested { path } => Got::List(path),
            ServerEvent::NameRefused(e) => Got::NameRefused(e),
            ServerEvent::Data(d) => Got::Data(d.to_vec()),
            ServerEvent::ReceiveComplete { signed } => Got::arrived(*signed),
            ServerEvent::ReceiveCorrupt => Got::Corrupt,
            ServerEvent::ReceiveAbandoned => Got::Abandoned,
            ServerEvent::Closed => Got::Closed,
        });
        if got == Some(Got::Established) {
            self.admit()?;
        }
        Ok(got)
    }
}

struct World {
    client: ClientConnection,
    server: ServerConnection,
    now: Instant,
    client_key: Arc<SigningKey>,
    server_key: VerifyingKey,
    server_identity: Arc<SigningKey>,
    /// Every byte that crossed the wire through `c2s` and `s2c`.
    wire_c2s: Vec<u8>,
    wire_s2c: Vec<u8>,
    /// Bytes sent and not yet read by the other side (it stopped reading:
    /// its buffer is full while it waits for the application).
    to_server: Vec<u8>,
    to_client: Vec<u8>,
    /// Tickets of the upload and MKDIR events `c2s` returned, oldest first.
    tickets: VecDeque<Ticket>,
    /// The client statements of the uploads `c2s` saw arrive, oldest
    /// first, for [`World::store`].
    statements: VecDeque<Signed>,
}

fn params() -> SessionParams {
    SessionParams {
        max_file_size: 1 << 30,
        idle_timeout_secs: 60,
    }
}

fn server(
    identity: Arc<SigningKey>,
    clients: ClientPolicy,
    params: SessionParams,
    timeouts: Timeouts,
    now: Instant,
) -> ServerConnection {
    let config = Arc::new(ServerConfig {
        identity,
        clients,
        params,
    });
    ServerConnection::new(config, ServerEphemeral::Fresh, timeouts, now)
}

/// A client and a server. `trust` defaults to the server's pinned key;
/// `authorize_client` false authorizes some other key only.
fn world_with(trust: Option<ServerTrust>, authorize_client: bool) -> World {
    world_full(trust, authorize_client, params(), Timeouts::default())
}

/// Both sides get `timeouts`; the server announces `params`.
fn world_full(
    trust: Option<ServerTrust>,
    authorize_client: bool,
    params: SessionParams,
    timeouts: Timeouts,
) -> World {
    let now = Instant::now();
    let client_key = Arc::new(SigningKey::generate().unwrap());
    let server_identity = Arc::new(SigningKey::generate().unwrap());
    let server_key = server_identity.verifying_key();
    let trust = trust.unwrap_or(ServerTrust::Pinned(server_key.fingerprint()));
    let allowed = if authorize_client {
        client_key.verifying_key()
    } else {
        SigningKey::generate().unwrap().verifying_key()
    };
    let client = ClientConnection::new(
        ClientConfig {
            identity: client_key.clone(),
            trust,
        },
        Ephemeral::generate().unwrap(),
        timeouts,
        now,
    )
    .unwrap();
    let server = server(
        server_identity.clone(),
        ClientPolicy::Authorized(Arc::new(HashSet::from([allowed]))),
        params,
        timeouts,
        now,
    );
    World {
        client,
        server,
        now,
        client_key,
        server_key,
        server_identity,
        wire_c2s: Vec::new(),
        wire_s2c: Vec::new(),
        to_server: Vec::new(),
        to_client: Vec::new(),
        tickets: VecDeque::new(),
        statements: VecDeque::new(),
    }
}

fn world() -> World {
    world_with(None, true)
}

fn established() -> World {
    let mut w = world();
    w.handshake();
    w
}

impl World {
    /// Moves the client's output to the server, which reads what it will
    /// (the rest waits for the next call); returns the server's events and
    /// queues their tickets.
    fn c2s(&mut self) -> Result<Vec<Got>, ProtoError> {
        let b = out(&mut self.client, self.now);
        self.wire_c2s.extend_from_slice(&b);
        self.to_server.extend_from_slice(&b);
        let got = pump(&mut self.server, &mut self.to_server, self.now)?;
        self.tickets.extend(got.iter().filter_map(Got::ticket));
        self.keep_statements(&got);
        Ok(got)
    }
    /// Keeps the upload statements among the server's events `got`, for
    /// [`World::store`].
    fn keep_statements(&mut self, got: &[Got]) {
        self.statements.extend(got.iter().filter_map(|g| match g {
            Got::Complete(_, St(Some(signed))) => Some((**signed).clone()),
            _ => None,
        }));
    }
    /// Answers the upload under `ticket` as stored: the server's receipt
    /// over the oldest upload statement `c2s` saw and no test took yet.
    fn store(&mut self, ticket: Ticket) -> Result<(), ProtoError> {
        let signed = self.statements.pop_front().expect("an upload statement");
        let stored = Stored {
            commit_time: T0 + 1,
            audit_seq: 7,
        };
        let receipt = Receipt::sign(signed, stored, &self.server_identity).unwrap();
        self.server.answer_stored(ticket, &receipt)
    }
    /// The same from the server to the client.
    fn s2c(&mut self) -> Result<Vec<Got>, ProtoError> {
        let b = out(&mut self.server, self.now);
        self.wire_s2c.extend_from_slice(&b);
        self.to_client.extend_from_slice(&b);
        pump(&mut self.client, &mut self.to_client, self.now)
    }
    /// The oldest ticket `c2s` returned and no test took yet.
    fn ticket(&mut self) -> Ticket {
        self.tickets.pop_front().expect("a ticket")
    }
    fn handshake(&mut self) {
        assert_eq!(self.c2s().unwrap(), vec![]);
        assert_eq!(self.s2c().unwrap(), vec![]);
        assert_eq!(self.c2s().unwrap(), vec![Got::Established]);
        assert_eq!(self.s2c().unwrap(), vec![Got::Established]);
        assert!(self.client.is_established() && self.server.is_established());
    }
    /// HELLO, CHALLENGE and RESPONSE records as sent (CHALLENGE delivered
    /// to the client, RESPONSE not yet to the server).
    fn handshake_records(&mut self) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
        let hello = out(&mut self.client, self.now);
        feed(&mut self.server, &hello, self.now).unwrap();
        let challenge = out(&mut self.server, self.now);
        feed(&mut self.client, &challenge, self.now).unwrap();
        let response = out(&mut self.client, self.now);
        (hello, challenge, response)
    }
}
