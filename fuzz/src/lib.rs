//! The harness shared by the `server_session` and `client_session` fuzz
//! targets: one endpoint brought to the established state in memory with
//! fixed keys (the inputs of tests/vectors/protocol/session.txt, no
//! sockets), then driven by the fuzz input as its peer. The target picks the
//! endpoint type ([`ServerConnection`] or [`ClientConnection`]); each
//! implements [`Endpoint`], which holds the little that differs: how it is
//! made, its events and its own application calls.
//!
//! Input format, first byte `mode`, `mode % 4` choosing:
//!
//! - `0`: the rest goes, as raw bytes, to a fresh endpoint that has not
//!   done the handshake (HELLO / CHALLENGE parsing, plaintext alerts). With
//!   `mode & 4` a client does not pin the server key: it reports it, and the
//!   harness trusts it at once (the trust-on-first-use pause).
//! - `1`: the rest goes, as raw bytes, to an established endpoint.
//! - `2`, `3`: the rest is a list of operations on an established endpoint,
//!   each an opcode byte `op % 8`, then its arguments:
//!   - `0..=2` a record the peer seals correctly under its current
//!     application key (so the input gets past the AEAD): inner type u8,
//!     body length u16 (big-endian, cut to what is left), body;
//!   - `3` a KEY_UPDATE record (inner type 0x03) the peer seals: body length
//!     u8, body (well-formed when empty);
//!   - `4` a local application call: selector u8, argument u8 (see
//!     [`Driver::act`] and each role's [`Endpoint::call`]: the client's
//!     pipelined requests on a few paths, its upload data; the server's
//!     accept, refusals, and answers under the tickets it has seen, in any
//!     order). After each call the endpoint reads on;
//!   - `5` raw bytes from the peer: length u8, bytes;
//!   - `6` time passes: seconds u8, then `handle_timeout`;
//!   - `7` end of stream from the peer.
//!
//!   A sealed OFFER is remembered (its path and size); a sealed END whose
//!   body is 32 bytes is completed by the harness: 32 zero bytes become the
//!   abandon END (104 zero bytes), any other hash an END signed with the
//!   peer's fixture key over the statement of PROTOCOL.md §4.8 (this
//!   session's transcript hash, the last OFFER's path and size, time
//!   1764000100), so that inputs reach what follows a verified file. Any
//!   other END body is sealed as given.
//!
//!   The endpoint refuses every KEY_UPDATE the peer seals here (by opcode
//!   3, or 0..=2 with inner type 0x03): PROTOCOL.md §2.5 accepts one only
//!   after 2^21 − 1 records under a key, more than an input holds. So the
//!   peer never moves on to a next key.
//!
//! At the end, end of stream is delivered. Checked throughout:
//!
//! - no panic, and the receive buffer never stalls, unless the endpoint
//!   waits for its application: then the peer's bytes wait (as in TCP)
//!   until its next call, and while it waits it reads no record;
//! - the pipelining bounds (PROTOCOL.md §4.3): a client never has more than
//!   `MAX_IN_FLIGHT` requests pending; a server never owes more than
//!   `MAX_IN_FLIGHT` answers and never writes more RESULTs than requests
//!   it read;
//! - once any call returns a fatal error, every later call returns that
//!   same error, nothing more is written, `poll_timeout` is `None`, and
//!   `error()` always says what the calls returned (PROTOCOL.md §5.3);
//! - `handle_timeout` fails the connection exactly when `poll_timeout` had
//!   a deadline at or before the time given;
//! - after `shut_down()` the error is `ShuttingDown` (or the earlier one);
//! - a local refusal (`InvalidCall`, `Name`, or `Closed` once CLOSE was
//!   sent or received) changes nothing;
//! - everything an established endpoint writes opens under its own
//!   application key, in sequence: after its CLOSE only an ALERT may follow,
//!   a new failure (other than the peer's alert) writes exactly one ALERT
//!   with the error's code, and nothing follows an ALERT.
#![forbid(unsafe_code)]

use std::collections::HashSet;
use std::fmt::Debug;
use std::ops::DerefMut;
use std::sync::{Arc, Once, OnceLock};
use std::time::{Duration, Instant};

use sft::crypto::ed25519::{Fingerprint, SigningKey};
use sft::crypto::hkdf::{self, Prk};
use sft::crypto::secret::Secret;
use sft::crypto::x25519::EphemeralSecret;
use sft::proto::conn::{
    ClientConnection, ClientEvent, ConnectionCore, ServerConnection, ServerEvent, Ticket,
};
use sft::proto::evidence::{Direction, Receipt, Signed, Statement, Stored};
use sft::proto::handshake::client::{ClientConfig, ServerTrust};
use sft::proto::handshake::key_schedule::EXTRACT_SALT;
use sft::proto::handshake::server::{ClientPolicy, ServerConfig, ServerEphemeral};
use sft::proto::handshake::transcript::Transcript;
use sft::proto::handshake::Ephemeral;
use sft::proto::msgs::{
    inner, inner_name, End, EntryKind, ListEntry, Meta, Offer, Outcome, ResultCode, SessionParams,
    END_LEN,
};
use sft::proto::record::{
    DirectionKeys, Header, Opener, RecordType, Sealer, TrafficSecret, CHALLENGE_LEN, HEADER_LEN,
    HELLO_LEN, KEY_UPDATE,
};
use sft::proto::timers::Timeouts;
use sft::proto::{ProtoError, MAX_IN_FLIGHT};

/// One endpoint type as the harness drives it.
pub trait Endpoint: DerefMut<Target = ConnectionCore> + Sized {
    /// The fuzz target that drives this type (and its seed directory).
    const TARGET: &'static str;
    /// How many role calls [`Endpoint::call`] knows.
    const CALLS: u8;
    /// Which files the peer sends (and signs the statements of).
    const PEER_SENDS: Direction;
    /// What the application remembers between calls (the server's
    /// tickets).
    type App: Default;
    /// A new endpoint at `now` that has not seen a byte from its peer;
    /// `mode` is the input's first byte (see the crate docs).
    fn fresh(mode: u8, now: Instant) -> Self;
    /// What its peer sends in the handshake (recorded by the fixture).
    fn peer_handshake() -> &'static [u8];
    /// The first application traffic secret of the peer's direction.
    fn peer_secret() -> &'static Prk;
    /// The first application traffic secret of its own direction.
    fn own_secret() -> &'static Prk;
    /// Whether the handshake completed and the session is open.
    fn handshake_done(&self) -> bool;
    /// Whether it reads no further record until the application acts.
    fn waits(&self) -> bool;
    /// Checks the pipelining bounds of PROTOCOL.md §4.3 that this side
    /// keeps, given the events so far and the inner types it wrote.
    fn check_bounds(&self, events: &[String], written: &[u8]);
    /// `next_event`, the event reduced to its variant's name.
    fn next(&mut self, app: &mut Self::App) -> Result<Option<String>, ProtoError>;
    /// Role call number `which` (below [`Endpoint::CALLS`]), sized or
    /// varied by `arg`: its name and result, or `None` when the
    /// application has nothing to make it with (no ticket yet).
    fn call(&mut self, app: &mut Self::App, which: u8, arg: u8) -> Option<Call>;
    /// A call the application makes at once on the event `name`, if any.
    fn on_event(&mut self, _name: &str) -> Option<Call> {
        None
    }
}

/// An application call made: its name and result.
pub type Call = (&'static str, Result<(), ProtoError>);

/// The name of an event's variant (without formatting every data byte).
fn variant(ev: &impl Debug) -> String {
    let text = format!("{ev:?}");
    let end = text.find(['(', ' ', '{']).unwrap_or(text.len());
    text[..end].to_string()
}

/// A refusal chosen by `arg`: low two bits NotFound, RateLimited (waiting
/// `arg >> 2` seconds), Ok (which no refusal may carry) or NotAllowed.
fn refusal(arg: u8) -> Outcome {
    match arg & 3 {
        0 => Outcome::new(ResultCode::NotFound, "no such file"),
        1 => Outcome::rate_limited((arg >> 2).into(), "rate limit reached"),
        2 => Outcome::ok(),
        _ => Outcome::new(ResultCode::NotAllowed, "not allowed"),
    }
}

/// An answer for an upload or MKDIR: Ok for an even `arg`, else IoError.
fn result(arg: u8) -> Outcome {
    if arg & 1 == 0 {
        Outcome::ok()
    } else {
        Outcome::new(ResultCode::IoError, "disk full")
    }
}

fn data(arg: u8) -> Vec<u8> {
    vec![b'x'; usize::from(arg % 16) + 1]
}

/// The mode and mtime of every file and directory in the session.
/// The time statements and receipts carry (Unix seconds).
const T0: u64 = 1_764_000_100;

const META: Meta = Meta {
    mode: 0o644,
    mtime: 1_764_000_000,
};

/// A client path chosen by `arg >> 6`; the last one is refused locally by
/// the path rule (`Name`).
fn client_path(arg: u8) -> &'static str {
    ["hello.txt", "photos/a.txt", "photos", "../x"][usize::from(arg >> 6)]
}

/// The client's request calls, by `arg`: the path (bits 6-7), then for an
/// upload its size (bits 0-3), overwrite (bit 4) and meta (bit 5); for a
/// download its max_size (bits 0-3, or unlimited with bit 4); for a MKDIR
/// meta (bit 5); for a LIST the root when bits 6-7 are 0.
impl Endpoint for ClientConnection {
    const PEER_SENDS: Direction = Direction::Download;
    const TARGET: &'static str = "client_session";
    const CALLS: u8 = 9;
    type App = ();

    fn fresh(mode: u8, now: Instant) -> Self {
        let f = fixture();
        let trust = if mode & 4 == 0 {
            ServerTrust::Pinned(f.server_fingerprint)
        } else {
            ServerTrust::Ask
        };
        let config = ClientConfig {
            identity: f.client_identity.clone(),
            trust,
        };
        let eph = ephemeral(CLIENT_SCALAR, CLIENT_RANDOM);
        ClientConnection::new(config, eph, Timeouts::default(), now).expect("client connection")
    }

    fn peer_handshake() -> &'static [u8] {
        &fixture().server_handshake
    }

    fn peer_secret() -> &'static Prk {
        &fixture().server_secret
    }

    fn own_secret() -> &'static Prk {
        &fixture().client_secret
    }

    fn handshake_done(&self) -> bool {
        self.is_established()
    }

    fn waits(&self) -> bool {
        false
    }

    /// At most MAX_IN_FLIGHT requests pending.
    fn check_bounds(&self, _events: &[String], _written: &[u8]) {
        let n = self.in_flight();
        assert!(n <= MAX_IN_FLIGHT, "{n} in flight");
    }

    fn next(&mut self, _app: &mut ()) -> Result<Option<String>, ProtoError> {
        Ok(self.next_event()?.map(|ev| match ev {
            ClientEvent::Data(_) => "Data".into(),
            ev => variant(&ev),
        }))
    }

    fn call(&mut self, _app: &mut (), which: u8, arg: u8) -> Option<Call> {
        let path = client_path(arg);
        let meta = (arg & 32 != 0).then_some(META);
        Some(match which {
            0 => {
                let path = if arg >> 6 == 0 { "" } else { path };
                ("request_list", self.request_list(path))
            }
            1 => {
                let r =
                    self.request_upload(path, (arg & 15).into(), arg & 16 != 0, meta, false, T0);
                ("request_upload", r.map(drop))
            }
            2 => {
                let max = if arg & 16 != 0 {
                    u64::MAX
                } else {
                    (arg & 15).into()
                };
                ("request_download", self.request_download(path, max, None))
            }
            3 => ("request_mkdir", self.request_mkdir(path, meta)),
            4 => ("send_data", self.send_data(&data(arg)).map(drop)),
            5 => ("trust_server_key", self.trust_server_key()),
            // Starts again (no hash of its own): RESUME 0 and the data.
            6 => ("resume_upload", self.resume_upload(None).map(drop)),
            // An upload offered for resume: RESUME or a refusal comes next.
            7 => {
                let r = self.request_upload(path, (arg & 15).into(), arg & 16 != 0, meta, true, T0);
                ("request_upload", r.map(drop))
            }
            _ => ("abandon_send", self.abandon_send()),
        })
    }

    fn on_event(&mut self, name: &str) -> Option<Call> {
        (name == "ServerKeyUnknown").then(|| ("trust_server_key", self.trust_server_key()))
    }
}

/// The tickets a server application holds: those of the uploads and
/// MKDIRs it has seen and not answered, and the last one it answered (to
/// answer twice).
#[derive(Default)]
pub struct Tickets {
    owed: Vec<Ticket>,
    spent: Option<Ticket>,
    /// The newest upload statement that arrived, for a receipt.
    arrived: Option<Signed>,
}

impl Tickets {
    /// The ticket number `sel` among the owed ones and the spent one.
    fn pick(&self, sel: u8) -> Option<Ticket> {
        let all: Vec<Ticket> = self.owed.iter().copied().chain(self.spent).collect();
        all.get(usize::from(sel) % all.len().max(1)).copied()
    }

    /// `ticket` was answered.
    fn answered(&mut self, ticket: Ticket) {
        self.owed.retain(|t| *t != ticket);
        self.spent = Some(ticket);
    }
}

/// Event names that are requests (or their refusal by the path rule).
const REQUESTS: [&str; 5] = [
    "UploadRequested",
    "MkdirRequested",
    "DownloadRequested",
    "ListRequested",
    "NameRefused",
];

impl Endpoint for ServerConnection {
    const PEER_SENDS: Direction = Direction::Upload;
    const TARGET: &'static str = "server_session";
    const CALLS: u8 = 9;
    type App = Tickets;

    fn fresh(_mode: u8, now: Instant) -> Self {
        let f = fixture();
        let eph = ephemeral(SERVER_SCALAR, SERVER_RANDOM);
        ServerConnection::new(
            f.server_config.clone(),
            ServerEphemeral::Fixed(eph),
            Timeouts::default(),
            now,
        )
    }

    fn peer_handshake() -> &'static [u8] {
        &fixture().client_handshake
    }

    fn peer_secret() -> &'static Prk {
        &fixture().client_secret
    }

    fn own_secret() -> &'static Prk {
        &fixture().server_secret
    }

    fn handshake_done(&self) -> bool {
        self.is_established()
    }

    fn waits(&self) -> bool {
        self.waits_for_app()
    }

    /// At most MAX_IN_FLIGHT answers owed (it stops reading there), and
    /// never more RESULTs written than requests read.
    fn check_bounds(&self, events: &[String], written: &[u8]) {
        assert!(
            self.answers_owed() <= MAX_IN_FLIGHT,
            "{} owed",
            self.answers_owed()
        );
        let requests = events
            .iter()
            .filter(|e| REQUESTS.contains(&e.as_str()))
            .count();
        let results = written
            .iter()
            .filter(|t| matches!(**t, inner::RESULT | inner::RECEIPT))
            .count();
        assert!(
            results <= requests,
            "{results} RESULTs for {requests} requests"
        );
    }

    /// A client that authenticates is admitted at once (reported as
    /// "Established", as the client reports it); tickets are kept.
    fn next(&mut self, app: &mut Tickets) -> Result<Option<String>, ProtoError> {
        let got = self.next_event()?.map(|ev| match ev {
            ServerEvent::Data(_) => "Data".into(),
            ServerEvent::Authenticated { .. } => "Established".into(),
            ServerEvent::UploadRequested { ticket, .. } => {
                app.owed.push(ticket);
                "UploadRequested".into()
            }
            ServerEvent::MkdirRequested { ticket, .. } => {
                app.owed.push(ticket);
                "MkdirRequested".into()
            }
            ServerEvent::ReceiveComplete { signed } => {
                app.arrived = Some(*signed);
                "ReceiveComplete".into()
            }
            ev => variant(&ev),
        });
        if got.as_deref() == Some("Established") {
            self.admit()?;
        }
        Ok(got)
    }

    /// The calls, by `arg`: `refuse_upload` the newest ticket (bit 7 clear)
    /// or a picked one, refusing with `refusal(arg & 127)`; `answer` the
    /// ticket picked by `arg >> 1` with `result(arg)`; `refuse` with
    /// `refusal(arg)`; `offer_download` of `arg` bytes; a listing page of
    /// one entry (even `arg`) or none; download data.
    fn call(&mut self, app: &mut Tickets, which: u8, arg: u8) -> Option<Call> {
        Some(match which {
            0 => ("accept", self.accept()),
            1 => {
                let newest = app.owed.last().copied();
                let picked = if arg & 128 == 0 {
                    newest
                } else {
                    app.pick(arg)
                };
                let ticket = picked?;
                let r = self.refuse_upload(ticket, refusal(arg & 127));
                if r.is_ok() {
                    app.answered(ticket);
                }
                ("refuse_upload", r)
            }
            2 => {
                let ticket = app.pick(arg >> 1)?;
                // Odd: a receipt over the newest statement, when one came.
                let receipt = app.arrived.clone().filter(|_| arg & 1 == 1).map(|signed| {
                    let stored = Stored {
                        commit_time: T0,
                        audit_seq: arg.into(),
                    };
                    Receipt::sign(signed, stored, &fixture().server_config.identity)
                        .expect("the server's key signs")
                });
                let r = match &receipt {
                    Some(receipt) => self.answer_stored(ticket, receipt),
                    None => self.answer(ticket, result(arg)),
                };
                if r.is_ok() {
                    app.answered(ticket);
                }
                ("answer", r)
            }
            3 => ("refuse", self.refuse(&refusal(arg))),
            4 => (
                "offer_download",
                self.offer_download(arg.into(), META, None, T0).map(|_| ()),
            ),
            5 => {
                let one = [ListEntry {
                    kind: EntryKind::File,
                    name: "notes.txt".into(),
                    size: 5,
                    mtime: META.mtime,
                    mode: META.mode,
                }];
                // An odd `arg` sends the empty listing.
                let entries = if arg & 1 == 0 { &one[..] } else { &[] };
                let mut items = entries.iter().cloned().map(Ok::<_, ()>);
                let page = self.send_listing_page(&mut items);
                ("send_listing_page", page.map(|_| ()))
            }
            6 => ("send_data", self.send_data(&data(arg)).map(drop)),
            // Holding nothing of an upload offered for resume: RESUME 0.
            7 => ("accept_resume", self.accept_resume(None)),
            _ => ("abandon_send", self.abandon_send()),
        })
    }
}

// The fixed inputs of tests/vectors/protocol/session.txt.
const CLIENT_SEED: u8 = 0x11;
const SERVER_SEED: u8 = 0x22;
const CLIENT_SCALAR: u8 = 0x33;
const SERVER_SCALAR: u8 = 0x44;
const CLIENT_RANDOM: u8 = 0x55;
const SERVER_RANDOM: u8 = 0x66;

/// Everything computed once per process: identities, the handshake bytes
/// each side sends (deterministic, so they can be replayed to a fresh
/// endpoint) and the first application traffic secret of both directions.
/// With the same inputs and parameters as session.txt, its recorded records
/// are valid input here too (the seed corpus uses them).
struct Fixture {
    now: Instant,
    client_identity: Arc<SigningKey>,
    server_config: Arc<ServerConfig>,
    server_fingerprint: Fingerprint,
    /// HELLO and RESPONSE, as the client sends them.
    client_handshake: Vec<u8>,
    /// CHALLENGE and SESSION_ESTABLISHED, as the server sends them.
    server_handshake: Vec<u8>,
    client_secret: Prk,
    server_secret: Prk,
}

fn secret(byte: u8) -> Secret<32> {
    Secret::from_slice(&[byte; 32]).expect("32 bytes")
}

fn copy(s: &Prk) -> Prk {
    Secret::from_slice(s.expose()).expect("32 bytes")
}

fn ephemeral(scalar: u8, random: u8) -> Ephemeral {
    Ephemeral {
        random: [random; 32],
        key: EphemeralSecret::from_scalar(&secret(scalar)).expect("X25519 key"),
    }
}

fn drain(conn: &mut ConnectionCore, now: Instant) -> Vec<u8> {
    let mut out = Vec::new();
    while conn.wants_write() {
        conn.write_tls(&mut out, now).expect("in memory");
    }
    out
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(build_fixture)
}

/// Runs the real handshake once between a client and a server, records
/// what each sent, and derives the application traffic secrets from those
/// bytes (PROTOCOL.md §3.2, §3.4) so records can be sealed and opened as
/// either side.
fn build_fixture() -> Fixture {
    let now = Instant::now();
    let client_identity = Arc::new(SigningKey::from_seed(&secret(CLIENT_SEED)).expect("seed"));
    let server_identity = Arc::new(SigningKey::from_seed(&secret(SERVER_SEED)).expect("seed"));
    let server_fingerprint = server_identity.verifying_key().fingerprint();
    let server_config = Arc::new(ServerConfig {
        identity: server_identity,
        clients: ClientPolicy::Authorized(Arc::new(HashSet::from([client_identity.verifying_key()]))),
        params: SessionParams {
            max_file_size: 10 << 30,
            idle_timeout_secs: 60,
        },
    });
    let mut c = ClientConnection::new(
        ClientConfig {
            identity: client_identity.clone(),
            trust: ServerTrust::Pinned(server_fingerprint),
        },
        ephemeral(CLIENT_SCALAR, CLIENT_RANDOM),
        Timeouts::default(),
        now,
    )
    .expect("client connection");
    let mut s = ServerConnection::new(
        server_config.clone(),
        ServerEphemeral::Fixed(ephemeral(SERVER_SCALAR, SERVER_RANDOM)),
        Timeouts::default(),
        now,
    );
    let (mut client_handshake, mut server_handshake) = (Vec::new(), Vec::new());
    for _ in 0..2 {
        let bytes = drain(&mut c, now);
        s.read_tls(&mut &bytes[..], now).expect("in memory");
        while let Some(ev) = s.next_event().expect("server handshake") {
            if matches!(ev, ServerEvent::Authenticated { .. }) {
                s.admit().expect("admit");
            }
        }
        client_handshake.extend(bytes);
        let bytes = drain(&mut s, now);
        c.read_tls(&mut &bytes[..], now).expect("in memory");
        while c.next_event().expect("client handshake").is_some() {}
        server_handshake.extend(bytes);
    }
    assert!(c.is_established() && s.is_established());
    let (client_secret, server_secret) = application_secrets(&client_handshake, &server_handshake);
    Fixture {
        now,
        client_identity,
        server_config,
        server_fingerprint,
        client_handshake,
        server_handshake,
        client_secret,
        server_secret,
    }
}

/// The client's and the server's first application traffic secrets,
/// from the handshake bytes each sent (PROTOCOL.md §3.2, §3.4).
fn application_secrets(client: &[u8], server: &[u8]) -> (Prk, Prk) {
    let (hello, response) = client.split_at(HEADER_LEN + HELLO_LEN);
    let (challenge, established) = server.split_at(HEADER_LEN + CHALLENGE_LEN);
    let server_ephemeral: [u8; 32] = challenge[HEADER_LEN + 32..HEADER_LEN + 64]
        .try_into()
        .expect("32 bytes");
    let shared = EphemeralSecret::from_scalar(&secret(CLIENT_SCALAR))
        .and_then(|k| k.diffie_hellman(&server_ephemeral))
        .expect("X25519");
    let prk = hkdf::extract(EXTRACT_SALT, shared.expose()).expect("HKDF");
    let mut transcript = Transcript::new().expect("SHA-256");
    transcript.add(hello).expect("SHA-256");
    transcript.add(challenge).expect("SHA-256");
    let th_challenge = transcript.hash().expect("SHA-256");
    for (side, record) in [("c", response), ("s", established)] {
        let mut opener = Opener::new();
        let first = Header {
            kind: RecordType::Hello,
            len: HELLO_LEN,
            seq: 0,
        };
        opener.accept_plaintext(&first).expect("record 0");
        let keys = DirectionKeys {
            key: labelled(&prk, &format!("sft/5 {side} hs key"), &th_challenge),
            iv: labelled(&prk, &format!("sft/5 {side} hs iv"), &th_challenge),
        };
        opener.set_keys(&keys).expect("AEAD key");
        let header =
            Header::parse(record[..HEADER_LEN].try_into().expect("header")).expect("header");
        let mut payload = record[HEADER_LEN..].to_vec();
        let (inner_type, body) = opener
            .open(&header, &mut payload)
            .expect("handshake record")
            .expect("not a KEY_UPDATE");
        transcript.add(&[inner_type]).expect("SHA-256");
        transcript.add(body).expect("SHA-256");
    }
    let th_final = transcript.hash().expect("SHA-256");
    (
        labelled(&prk, "sft/5 c ap traffic", &th_final),
        labelled(&prk, "sft/5 s ap traffic", &th_final),
    )
}

/// HKDF-Expand(prk, label || TH, N): the key schedule's outputs (§3.4).
fn labelled<const N: usize>(prk: &Prk, label: &str, th: &[u8; 32]) -> Secret<N> {
    hkdf::expand(prk, &[label.as_bytes(), th].concat()).expect("HKDF")
}

/// The peer's sending side: seals records under its first application
/// key, numbering on from its two handshake records.
struct Peer {
    sealer: Sealer,
}

impl Peer {
    fn new(secret: &Prk) -> Self {
        let mut sealer = Sealer::new();
        let mut spent = Vec::new();
        // Record 0 (plaintext) and record 1 (handshake key) were the peer's
        // handshake; numbering carries on.
        sealer.plaintext(&mut spent, RecordType::Hello, &[]);
        sealer.plaintext(&mut spent, RecordType::Hello, &[]);
        sealer
            .set_traffic_secret(TrafficSecret(copy(secret)))
            .expect("AEAD key");
        Peer { sealer }
    }

    /// One sealed record.
    fn seal(&mut self, inner_type: u8, body: &[u8]) -> Vec<u8> {
        let mut wire = Vec::new();
        self.sealer
            .seal(&mut wire, inner_type, &[body])
            .expect("seal");
        wire
    }
}

/// Reads what an established endpoint writes, under its own application
/// key (and the next ones, after its KEY_UPDATEs), and checks the order.
struct Watch {
    opener: Opener,
    /// Inner types seen, KEY_UPDATE excepted.
    seen: Vec<u8>,
    close: bool,
    alert: bool,
}

impl Watch {
    fn new(secret: &Prk) -> Self {
        let mut opener = Opener::new();
        for seq in 0..2 {
            let h = Header {
                kind: RecordType::Hello,
                len: HELLO_LEN,
                seq,
            };
            opener.accept_plaintext(&h).expect("handshake record");
        }
        opener
            .set_traffic_secret(TrafficSecret(copy(secret)))
            .expect("AEAD key");
        Watch {
            opener,
            seen: Vec::new(),
            close: false,
            alert: false,
        }
    }

    /// Checks `out`, whole records just written; `failed` is the sticky
    /// error once there is one.
    fn check(&mut self, mut out: &[u8], failed: Option<&ProtoError>) {
        while !out.is_empty() {
            assert!(!self.alert, "a record written after the ALERT");
            let head = out.get(..HEADER_LEN).expect("a whole header");
            let header = Header::parse(head.try_into().expect("14 bytes")).expect("own header");
            let rest = &out[HEADER_LEN..];
            assert!(rest.len() >= header.len, "a partial record written");
            let mut payload = rest[..header.len].to_vec();
            out = &rest[header.len..];
            let opened = self.opener.open(&header, &mut payload);
            let Some((t, body)) = opened.expect("own record opens under its key") else {
                continue; // its KEY_UPDATE: the opener moved on
            };
            self.seen.push(t);
            match t {
                inner::ALERT => {
                    let e = failed.expect("an ALERT written with no failure");
                    assert!(!matches!(e, ProtoError::PeerAlert(_)), "answered {e:?}");
                    assert_eq!(body, [e.alert() as u8], "the ALERT's code for {e:?}");
                    self.alert = true;
                }
                inner::CLOSE => {
                    assert!(!self.close, "a second CLOSE written");
                    assert!(body.is_empty(), "CLOSE with a body");
                    self.close = true;
                }
                t => assert!(!self.close, "{} written after CLOSE", inner_name(t)),
            }
        }
    }
}

/// Proves the derived secrets are right: each side accepts records sealed
/// as its peer, and what it answers opens under its own key; a KEY_UPDATE
/// the peer seals opens too and is refused for its place (PROTOCOL.md
/// §2.5), not as a bad record. Without this a wrong key would only show as
/// every fuzz input ending in `BadRecord`.
fn self_check() {
    let mut d = Driver::<ServerConnection>::established();
    d.feed_sealed(inner::LIST, &[0, 0]);
    d.call(SERVER_SEND_LISTING, 0);
    d.feed_sealed(inner::CLOSE, &[]);
    assert_eq!(d.events, ["ListRequested", "Closed"]);
    assert!(d.failed.is_none(), "{:?}", d.failed);
    let seen = &d.watch.as_ref().expect("established").seen;
    assert_eq!(seen, &[inner::LISTING, inner::CLOSE]);

    let mut d = Driver::<ClientConnection>::established();
    d.call(CLIENT_REQUEST_LIST, 0);
    d.feed_sealed(inner::LISTING, &[0, 0, 0]);
    d.feed_sealed(KEY_UPDATE, &[]);
    assert_eq!(d.events, ["Listing"]);
    assert!(
        matches!(
            d.failed,
            Some(ProtoError::UnexpectedMessage {
                got: "KEY_UPDATE",
                ..
            })
        ),
        "{:?}",
        d.failed
    );
    let seen = &d.watch.as_ref().expect("established").seen;
    assert_eq!(seen, &[inner::LIST, inner::ALERT]);
}

/// [`Driver::act`] selectors used by [`self_check`].
const SERVER_SEND_LISTING: u8 = 2 + 5;
const CLIENT_REQUEST_LIST: u8 = 2;

/// The whole body of both session targets.
pub fn run<E: Endpoint>(data: &[u8]) {
    drive::<E>(data);
}

/// Runs one input; returns the events seen and the first fatal error.
fn drive<E: Endpoint>(data: &[u8]) -> (Vec<String>, Option<ProtoError>) {
    static CHECKED: Once = Once::new();
    CHECKED.call_once(self_check);
    let Some((&mode, rest)) = data.split_first() else {
        return (Vec::new(), None);
    };
    let mut d = match mode % 4 {
        0 => Driver::<E>::fresh(mode),
        _ => Driver::established(),
    };
    if mode % 4 < 2 {
        d.feed(rest);
    } else {
        d.operations(rest);
    }
    d.feed_eof();
    d.check_sticky();
    (d.events, d.failed)
}

/// An endpoint under test, its application's memory, its peer's sealer
/// and a reader of its output (once established), the clock, the bytes
/// it has not read yet, the events seen (variant names) and the first
/// fatal error.
struct Driver<E: Endpoint> {
    conn: E,
    app: E::App,
    /// Bytes from the peer it stopped reading while waiting for the
    /// application (they wait in TCP): delivered after its next call.
    backlog: Vec<u8>,
    peer: Option<Peer>,
    watch: Option<Watch>,
    now: Instant,
    events: Vec<String>,
    failed: Option<ProtoError>,
    /// `close()` succeeded.
    closed_here: bool,
    /// The path and size of the last OFFER the peer sealed.
    offered: (String, u64),
}

/// Takes up to `n` bytes from the front of `input`.
fn take<'a>(input: &mut &'a [u8], n: usize) -> &'a [u8] {
    let (head, rest) = input.split_at(n.min(input.len()));
    *input = rest;
    head
}

fn byte(input: &mut &[u8]) -> u8 {
    take(input, 1).first().copied().unwrap_or(0)
}

fn same(a: &ProtoError, b: &ProtoError) -> bool {
    format!("{a:?}") == format!("{b:?}")
}

impl<E: Endpoint> Driver<E> {
    fn fresh(mode: u8) -> Self {
        let now = fixture().now;
        Driver {
            conn: E::fresh(mode, now),
            app: E::App::default(),
            backlog: Vec::new(),
            peer: None,
            watch: None,
            now,
            events: Vec::new(),
            failed: None,
            closed_here: false,
            offered: (String::new(), 0),
        }
    }

    /// An established endpoint, with the peer's sealer (next sequence
    /// number 2, the peer's first application key) and a reader of its
    /// output.
    fn established() -> Self {
        let mut d = Driver::<E>::fresh(0);
        drain(&mut d.conn, d.now);
        d.conn
            .read_tls(&mut E::peer_handshake(), d.now)
            .expect("in memory");
        let mut established = false;
        while let Some(ev) = d.conn.next(&mut d.app).expect("handshake") {
            established |= ev == "Established";
        }
        assert!(established && d.conn.handshake_done(), "handshake replay");
        drain(&mut d.conn, d.now);
        d.peer = Some(Peer::new(E::peer_secret()));
        d.watch = Some(Watch::new(E::own_secret()));
        d
    }

    /// Checks a call that fails the connection when it errs.
    fn fatal<T>(&mut self, what: &str, r: Result<T, ProtoError>) -> Option<T> {
        match (r, &self.failed) {
            (Ok(v), None) => Some(v),
            (Ok(_), Some(first)) => panic!("{what} succeeded after the fatal error {first:?}"),
            (Err(e), None) => {
                self.failed = Some(e);
                None
            }
            (Err(e), Some(first)) => {
                assert!(same(&e, first), "{what}: {e:?}, not the sticky {first:?}");
                None
            }
        }
    }

    /// Checks an application call: before any fatal error, `InvalidCall`
    /// and `Name` are local refusals that leave the session as it was, and
    /// so is `Closed` once CLOSE was sent or received.
    fn check_call(&mut self, what: &str, r: Result<(), ProtoError>) {
        if self.failed.is_none() {
            match &r {
                Err(ProtoError::InvalidCall(_) | ProtoError::Name(_)) => return,
                Err(ProtoError::Closed) => {
                    let closing = self.closed_here || self.conn.is_closed();
                    assert!(closing, "{what} returned Closed on an open session");
                    return;
                }
                _ => {}
            }
        }
        self.fatal(what, r);
    }

    /// Takes up a failure the connection recorded without a call returning
    /// it (`handle_timeout`, `shut_down`).
    fn adopt(&mut self) {
        if self.failed.is_none() {
            self.failed = self.conn.error().cloned();
        }
    }

    /// Pulls events until more bytes are needed, the connection waits for
    /// the application, or it fails. While it waits it reads nothing.
    fn pump(&mut self) {
        loop {
            let waits = self.conn.waits();
            let r = self.conn.next(&mut self.app);
            if waits {
                assert!(
                    !matches!(r, Ok(Some(_))),
                    "read a record while waiting: {r:?}"
                );
            }
            let Some(Some(name)) = self.fatal("next_event", r) else {
                return;
            };
            if let Some((what, r)) = self.conn.on_event(&name) {
                self.check_call(what, r);
            }
            self.events.push(name);
        }
    }

    /// Writes out what the endpoint queued and reads it back; after a fatal
    /// error nothing new may appear (the one alert went out with the
    /// failing call). Then `error()` and `poll_timeout` must agree with
    /// what the calls returned.
    fn flush(&mut self, failed_before: bool) {
        let out = drain(&mut self.conn, self.now);
        assert!(
            !failed_before || out.is_empty(),
            "{} bytes written after the fatal error {:?}",
            out.len(),
            self.failed
        );
        if let Some(w) = &mut self.watch {
            w.check(&out, self.failed.as_ref());
            self.conn.check_bounds(&self.events, &w.seen);
            if let Some(e) = &self.failed {
                if !failed_before && !matches!(e, ProtoError::PeerAlert(_)) {
                    assert!(w.alert, "{e:?} sent no ALERT");
                }
            }
        }
        let (got, want) = (self.conn.error(), self.failed.as_ref());
        let agree = match (got, want) {
            (Some(a), Some(b)) => same(a, b),
            (a, b) => a.is_none() && b.is_none(),
        };
        assert!(agree, "error() is {got:?}, the calls said {want:?}");
        if self.failed.is_some() {
            assert_eq!(self.conn.poll_timeout(), None, "deadline after failure");
        }
    }

    /// Delivers the backlog, then `bytes`, from the peer, pulling events as
    /// they come. What it does not read while it waits for the application
    /// stays in the backlog.
    fn feed(&mut self, bytes: &[u8]) {
        let failed_before = self.failed.is_some();
        let mut pending = std::mem::take(&mut self.backlog);
        pending.extend_from_slice(bytes);
        let mut rest = &pending[..];
        let mut stalled = 0;
        while !rest.is_empty() && self.failed.is_none() {
            let n = self.conn.read_tls(&mut rest, self.now).expect("in memory");
            self.pump();
            if n == 0 && self.conn.waits() {
                break;
            }
            stalled = if n == 0 { stalled + 1 } else { 0 };
            assert!(
                stalled < 2,
                "receive buffer full, but no record can complete"
            );
        }
        if self.failed.is_none() {
            self.backlog = rest.to_vec();
        } else if !rest.is_empty() {
            // Failed: the bytes may still be read, but change nothing.
            self.conn.read_tls(&mut rest, self.now).expect("in memory");
        }
        self.pump();
        self.flush(failed_before);
    }

    /// Delivers one record sealed by the peer.
    fn feed_sealed(&mut self, inner_type: u8, body: &[u8]) {
        let end;
        let body = match inner_type {
            inner::OFFER => {
                if let Ok(o) = Offer::parse(body) {
                    self.offered = (String::from_utf8_lossy(&o.path).into_owned(), o.size);
                }
                body
            }
            inner::END if body.len() == 32 => {
                end = self.completed_end(body);
                &end[..]
            }
            _ => body,
        };
        let wire = self
            .peer
            .as_mut()
            .expect("established")
            .seal(inner_type, body);
        self.feed(&wire);
    }

    /// The END a 32-byte END body stands for (the crate docs).
    fn completed_end(&self, sha: &[u8]) -> [u8; END_LEN] {
        let Ok(sha256) = <[u8; 32]>::try_from(sha) else {
            return [0; END_LEN];
        };
        if sha256 == [0; 32] {
            return End::Abandoned.encode();
        }
        let f = fixture();
        let (client, server) = (&f.client_identity, &f.server_config.identity);
        let statement = Statement {
            direction: E::PEER_SENDS,
            client: client.verifying_key(),
            server: server.verifying_key(),
            transcript_hash: self.conn.transcript_hash().unwrap_or([0; 32]),
            path: self.offered.0.clone(),
            size: self.offered.1,
            sha256,
            time: T0,
        };
        let key = match E::PEER_SENDS {
            Direction::Upload => client,
            Direction::Download => server,
        };
        let signed = statement.sign(key).expect("the fixture key signs");
        End::Signed {
            sha256,
            time: T0,
            signature: signed.signature,
        }
        .encode()
    }

    /// End of stream from the peer, after what of the backlog is read
    /// (the rest is lost, as when a peer's connection is cut).
    fn feed_eof(&mut self) {
        self.feed(&[]);
        self.backlog.clear();
        let failed_before = self.failed.is_some();
        let n = self
            .conn
            .read_tls(&mut &[][..], self.now)
            .expect("in memory");
        assert_eq!(n, 0);
        assert!(self.conn.saw_eof() || self.failed.is_some(), "EOF not seen");
        self.pump();
        self.flush(failed_before);
    }

    /// Makes local call number `which % (2 + E::CALLS)`: 0 `close`, 1
    /// `shut_down`, then the role's own calls. `arg` sizes or varies it.
    fn act(&mut self, which: u8, arg: u8) {
        match which % (2 + E::CALLS) {
            0 => {
                let r = self.conn.close();
                self.closed_here |= r.is_ok();
                self.check_call("close", r);
            }
            1 => {
                let first = self.failed.clone();
                self.conn.shut_down();
                self.adopt();
                match (self.conn.error(), &first) {
                    (Some(ProtoError::ShuttingDown), None) => {}
                    (Some(e), Some(first)) if same(e, first) => {}
                    (e, _) => panic!("after shut_down the error is {e:?}, first {first:?}"),
                }
                let r = self.conn.next(&mut self.app);
                assert!(r.is_err(), "shut_down left the connection usable");
                self.fatal("next_event after shut_down", r);
            }
            k => {
                if let Some((what, r)) = self.conn.call(&mut self.app, k - 2, arg) {
                    self.check_call(what, r);
                }
            }
        }
    }

    /// [`Driver::act`], then the output; then the endpoint reads on (what
    /// it held or left unread while it waited).
    fn call(&mut self, which: u8, arg: u8) {
        let failed_before = self.failed.is_some();
        self.act(which, arg);
        self.flush(failed_before);
        self.feed(&[]);
    }

    /// Lets `secs` pass: the connection fails exactly when a deadline it
    /// reported has come.
    fn wait(&mut self, secs: u8) {
        let failed_before = self.failed.is_some();
        self.now += Duration::from_secs(secs.into());
        let deadline = self.conn.poll_timeout();
        self.conn.handle_timeout(self.now);
        self.adopt();
        if !failed_before {
            let due = deadline.is_some_and(|d| d <= self.now);
            let timed_out = matches!(
                self.failed,
                Some(ProtoError::HandshakeTimeout | ProtoError::IdleTimeout)
            );
            assert!(
                due == self.failed.is_some() && due == timed_out,
                "deadline {deadline:?} at {:?}: the connection ended with {:?}",
                self.now,
                self.failed
            );
        }
        self.flush(failed_before);
    }

    fn operations(&mut self, mut input: &[u8]) {
        while !input.is_empty() {
            match byte(&mut input) % 8 {
                0..=2 => {
                    let inner_type = byte(&mut input);
                    let len = u16::from_be_bytes([byte(&mut input), byte(&mut input)]);
                    let body = take(&mut input, len.into());
                    self.feed_sealed(inner_type, body);
                }
                3 => {
                    let len = byte(&mut input);
                    let body = take(&mut input, len.into());
                    self.feed_sealed(KEY_UPDATE, body);
                }
                4 => {
                    let (which, arg) = (byte(&mut input), byte(&mut input));
                    self.call(which, arg);
                }
                5 => {
                    let n = byte(&mut input);
                    self.feed(take(&mut input, n.into()));
                }
                6 => {
                    let secs = byte(&mut input);
                    self.wait(secs);
                }
                _ => self.feed_eof(),
            }
        }
    }

    /// Once failed, every call answers with the first error, and time
    /// passing changes nothing.
    fn check_sticky(&mut self) {
        if self.failed.is_none() {
            return;
        }
        let r = self.conn.next(&mut self.app).map(|ev| ev.is_some());
        self.fatal("next_event", r);
        self.conn
            .handle_timeout(self.now + Duration::from_secs(3600));
        for which in 0..2 + E::CALLS {
            self.act(which, 1);
        }
        self.flush(true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seed(target: &str, name: &str) -> Vec<u8> {
        let path = format!("{}/corpus/{target}/seed-{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    /// Each session seed of `E`'s target gets as far as it was written to
    /// (so the harness seals, numbers, updates keys and drives correctly),
    /// and fails only where meant to; every seed file is listed.
    /// `cases`: seed, events in order, how it ends ("" for no error).
    fn seeds_reach_their_states<E: Endpoint>(cases: &[(&str, &str, &str)]) {
        let target = E::TARGET;
        for (name, events, error) in cases {
            let (got, failed) = drive::<E>(&seed(target, name));
            assert_eq!(got.join(" "), *events, "{target}/{name}");
            let failed = failed.map(|e| format!("{e:?}")).unwrap_or_default();
            assert!(
                failed.starts_with(error) && (failed.is_empty() == error.is_empty()),
                "{target}/{name}: ended with {failed:?}, expected {error:?}"
            );
        }
        let dir = format!("{}/corpus/{target}", env!("CARGO_MANIFEST_DIR"));
        for file in std::fs::read_dir(dir).unwrap() {
            let file = file.unwrap().file_name().into_string().unwrap();
            if let Some(name) = file.strip_prefix("seed-") {
                let listed = cases.iter().any(|c| c.0 == name);
                assert!(listed, "{target}/{file} is not checked here");
            }
        }
    }

    #[test]
    fn server_seeds_reach_their_states() {
        seeds_reach_their_states::<ServerConnection>(&[
            // It reads nothing after the LIST it has not answered.
            ("raw-handshake", "Established ListRequested", ""),
            ("raw-list", "ListRequested", ""),
            ("raw-tampered", "", "BadRecord"),
            ("list", "ListRequested Closed", ""),
            ("upload", "UploadRequested Data ReceiveComplete Closed", ""),
            (
                "pipelined",
                "MkdirRequested UploadRequested Data ReceiveComplete MkdirRequested \
                 DownloadRequested Closed",
                "",
            ),
            (
                "resume",
                "UploadRequested ResumeAgreed Data ReceiveComplete DownloadRequested Closed",
                "",
            ),
            ("skip", "UploadRequested MkdirRequested", "Truncated"),
            // The server closed first: end of stream is no truncation.
            ("download", "DownloadRequested", ""),
            ("refuse", "DownloadRequested", "PeerAlert(ProtocolError)"),
            // The peer's KEY_UPDATE is refused anywhere an input can reach.
            ("key-update", "ListRequested", "UnexpectedMessage"),
            ("key-update-body", "", "MalformedMessage(\"KEY_UPDATE\")"),
            ("shut-down", "DownloadRequested", "ShuttingDown"),
            ("close-crossing", "Closed", ""),
        ]);
    }

    #[test]
    fn client_seeds_reach_their_states() {
        seeds_reach_their_states::<ClientConnection>(&[
            ("raw-handshake", "Established", "Truncated"),
            (
                "raw-handshake-ask",
                "ServerKeyUnknown Established",
                "Truncated",
            ),
            ("raw-listing", "", "UnexpectedMessage"),
            ("list", "Listing Closed", ""),
            ("upload", "Outcome", "Truncated"),
            ("resume", "ResumeOffered Outcome Outcome Closed", ""),
            (
                "pipelined",
                "Outcome Outcome Outcome DownloadOffered Data ReceiveComplete Closed",
                "",
            ),
            ("cut", "Outcome", "Truncated"),
            (
                "download",
                "DownloadOffered Data ReceiveComplete",
                "Truncated",
            ),
            ("refused", "Outcome", "IdleTimeout"),
            ("key-update", "Outcome", "UnexpectedMessage"),
            ("shut-down", "", "ShuttingDown"),
            ("close-crossing", "Outcome Closed", ""),
        ]);
    }
}
