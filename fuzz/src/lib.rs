//! The harness shared by the `server_session` and `client_session` fuzz
//! targets: one endpoint brought to the established state in memory with
//! fixed keys (the inputs of tests/vectors/protocol/session.txt, no
//! sockets), then driven by the fuzz input as its peer.
//!
//! Input format, first byte `mode % 4`:
//!
//! - `0`: the rest goes, as raw bytes, to a fresh endpoint that has not
//!   done the handshake (HELLO / CHALLENGE parsing, plaintext alerts).
//! - `1`: the rest goes, as raw bytes, to an established endpoint.
//! - `2`, `3`: the rest is a list of operations on an established endpoint,
//!   each an opcode byte `op % 8`, then its arguments:
//!   - `0..=3` a record the peer seals correctly under its application key
//!     (so the input gets past the AEAD): inner type u8, body length u16
//!     (big-endian, cut to what is left), body;
//!   - `4` a local application call: selector u8, argument u8 (see [`act`]);
//!   - `5` raw bytes from the peer: length u8, bytes;
//!   - `6` time passes: seconds u8, then `handle_timeout`;
//!   - `7` end of stream from the peer.
//!
//! At the end, end of stream is delivered. Checked throughout: no panic,
//! the receive buffer never stalls, and once any call returns a fatal
//! error every later call returns that same error and nothing more is
//! written (PROTOCOL.md §5.3).
//!
//! Only [`fresh`] and [`established`] (and [`act`], for the request
//! methods) know the `Connection` API's shape; port those when it changes.
#![forbid(unsafe_code)]

use std::collections::HashSet;
use std::sync::{Arc, Once, OnceLock};
use std::time::{Duration, Instant};

use sft::crypto::ed25519::{Fingerprint, SigningKey};
use sft::crypto::hkdf::{self, Prk};
use sft::crypto::secret::Secret;
use sft::crypto::x25519::EphemeralSecret;
use sft::proto::conn::{Connection, Event};
use sft::proto::handshake::client::{ClientConfig, ServerTrust};
use sft::proto::handshake::key_schedule::EXTRACT_SALT;
use sft::proto::handshake::server::{ClientPolicy, ServerConfig};
use sft::proto::handshake::transcript::Transcript;
use sft::proto::handshake::Ephemeral;
use sft::proto::msgs::{inner, ListEntry, Outcome, ResultCode, SessionParams};
use sft::proto::record::{
    DirectionKeys, Header, Opener, RecordType, Sealer, CHALLENGE_LEN, HEADER_LEN, HELLO_LEN,
};
use sft::proto::timers::Timeouts;
use sft::proto::ProtoError;

/// Which endpoint the fuzz input talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// A client connection; the input plays the server.
    Client,
    /// A server connection; the input plays the client.
    Server,
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
/// endpoint) and the application keys of both directions. With the same
/// inputs and parameters as session.txt, its recorded records are valid
/// input here too (the seed corpus uses them).
struct Fixture {
    now: Instant,
    client_identity: Arc<SigningKey>,
    server_config: Arc<ServerConfig>,
    server_fingerprint: Fingerprint,
    /// HELLO and RESPONSE, as the client sends them.
    client_handshake: Vec<u8>,
    /// CHALLENGE and SESSION_ESTABLISHED, as the server sends them.
    server_handshake: Vec<u8>,
    client_keys: DirectionKeys,
    server_keys: DirectionKeys,
}

fn secret(byte: u8) -> Secret<32> {
    Secret::from_slice(&[byte; 32]).expect("32 bytes")
}

fn ephemeral(scalar: u8, random: u8) -> Ephemeral {
    Ephemeral {
        random: [random; 32],
        key: EphemeralSecret::from_scalar(&secret(scalar)).expect("X25519 key"),
    }
}

/// A new endpoint that has not seen a byte from its peer (a client has
/// its HELLO queued). Returns it and the fixture's start time.
pub fn fresh(role: Role) -> (Connection, Instant) {
    let f = fixture();
    let conn = match role {
        Role::Client => Connection::client(
            ClientConfig {
                identity: f.client_identity.clone(),
                trust: ServerTrust::Pinned(f.server_fingerprint),
            },
            ephemeral(CLIENT_SCALAR, CLIENT_RANDOM),
            Timeouts::default(),
            f.now,
        )
        .expect("client connection"),
        Role::Server => Connection::server(
            f.server_config.clone(),
            ephemeral(SERVER_SCALAR, SERVER_RANDOM),
            Timeouts::default(),
            f.now,
        ),
    };
    (conn, f.now)
}

/// An established endpoint, and a sealer that writes records as its peer
/// would (next sequence number 2, the peer's application key).
pub fn established(role: Role) -> (Connection, Sealer, Instant) {
    let f = fixture();
    let (mut conn, now) = fresh(role);
    drain(&mut conn, now);
    let (from_peer, peer_keys) = match role {
        Role::Client => (&f.server_handshake, &f.server_keys),
        Role::Server => (&f.client_handshake, &f.client_keys),
    };
    conn.read_tls(&mut &from_peer[..], now).expect("in memory");
    let mut established = false;
    while let Some(ev) = conn.next_event().expect("handshake") {
        established |= matches!(ev, Event::Established { .. });
    }
    assert!(established && conn.is_established(), "handshake replay");
    drain(&mut conn, now);
    (conn, peer_sealer(peer_keys), now)
}

fn peer_sealer(keys: &DirectionKeys) -> Sealer {
    let mut sealer = Sealer::new();
    let mut spent = Vec::new();
    // Record 0 (plaintext) and record 1 (handshake key) were the peer's
    // handshake; numbering carries on.
    sealer.plaintext(&mut spent, RecordType::Hello, &[]);
    sealer.plaintext(&mut spent, RecordType::Hello, &[]);
    sealer.set_keys(keys).expect("AEAD key");
    sealer
}

fn drain(conn: &mut Connection, now: Instant) -> Vec<u8> {
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
/// what each sent, and derives the application keys from those bytes
/// (PROTOCOL.md §3.2, §3.4) so records can be sealed as either peer.
fn build_fixture() -> Fixture {
    let now = Instant::now();
    let client_identity = Arc::new(SigningKey::from_seed(&secret(CLIENT_SEED)).expect("seed"));
    let server_identity = SigningKey::from_seed(&secret(SERVER_SEED)).expect("seed");
    let server_fingerprint = server_identity.verifying_key().fingerprint();
    let server_config = Arc::new(ServerConfig {
        identity: server_identity,
        clients: ClientPolicy::Authorized(HashSet::from([client_identity.verifying_key()])),
        params: SessionParams {
            max_file_size: 10 << 30,
            idle_timeout_secs: 60,
        },
    });
    let mut c = Connection::client(
        ClientConfig {
            identity: client_identity.clone(),
            trust: ServerTrust::Pinned(server_fingerprint),
        },
        ephemeral(CLIENT_SCALAR, CLIENT_RANDOM),
        Timeouts::default(),
        now,
    )
    .expect("client connection");
    let mut s = Connection::server(
        server_config.clone(),
        ephemeral(SERVER_SCALAR, SERVER_RANDOM),
        Timeouts::default(),
        now,
    );
    let (mut client_handshake, mut server_handshake) = (Vec::new(), Vec::new());
    for _ in 0..2 {
        let bytes = drain(&mut c, now);
        s.read_tls(&mut &bytes[..], now).expect("in memory");
        while s.next_event().expect("server handshake").is_some() {}
        client_handshake.extend(bytes);
        let bytes = drain(&mut s, now);
        c.read_tls(&mut &bytes[..], now).expect("in memory");
        while c.next_event().expect("client handshake").is_some() {}
        server_handshake.extend(bytes);
    }
    assert!(c.is_established() && s.is_established());
    let (client_keys, server_keys) = application_keys(&client_handshake, &server_handshake);
    Fixture {
        now,
        client_identity,
        server_config,
        server_fingerprint,
        client_handshake,
        server_handshake,
        client_keys,
        server_keys,
    }
}

fn application_keys(client: &[u8], server: &[u8]) -> (DirectionKeys, DirectionKeys) {
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
        opener
            .set_keys(&direction(&prk, side, "hs", &th_challenge))
            .expect("AEAD key");
        let header =
            Header::parse(record[..HEADER_LEN].try_into().expect("header")).expect("header");
        let mut payload = record[HEADER_LEN..].to_vec();
        let (inner_type, body) = opener
            .open(&header, &mut payload)
            .expect("handshake record");
        transcript.add(&[inner_type]).expect("SHA-256");
        transcript.add(body).expect("SHA-256");
    }
    let th_final = transcript.hash().expect("SHA-256");
    (
        direction(&prk, "c", "ap", &th_final),
        direction(&prk, "s", "ap", &th_final),
    )
}

/// One direction's key and nonce base: labels "sft/1 {c|s} {hs|ap} key|iv".
fn direction(prk: &Prk, side: &str, phase: &str, th: &[u8; 32]) -> DirectionKeys {
    let info = |what: &str| [format!("sft/1 {side} {phase} {what}").as_bytes(), th].concat();
    DirectionKeys {
        key: hkdf::expand(prk, &info("key")).expect("HKDF"),
        iv: hkdf::expand(prk, &info("iv")).expect("HKDF"),
    }
}

/// Proves the derived keys are right: each side accepts one record sealed
/// as its peer. Without this a wrong key would only show as every fuzz
/// input ending in `BadRecord`.
fn self_check() {
    let (mut server, mut peer, now) = established(Role::Server);
    let mut wire = Vec::new();
    peer.seal(&mut wire, inner::LIST, &[]).expect("seal");
    server.read_tls(&mut &wire[..], now).expect("in memory");
    let ev = server.next_event().expect("LIST from the client");
    assert!(matches!(ev, Some(Event::ListRequested)), "{ev:?}");

    let (mut client, mut peer, now) = established(Role::Client);
    client.request_list().expect("request_list");
    let mut wire = Vec::new();
    peer.seal(&mut wire, inner::LISTING, &[&[0, 0, 0]])
        .expect("seal");
    client.read_tls(&mut &wire[..], now).expect("in memory");
    let ev = client.next_event().expect("LISTING from the server");
    assert!(
        matches!(ev, Some(Event::Listing(ref l)) if l.is_empty()),
        "{ev:?}"
    );
}

/// The whole body of both session targets.
pub fn run(role: Role, data: &[u8]) {
    drive(role, data);
}

/// Runs one input; returns the events seen and the first fatal error.
fn drive(role: Role, data: &[u8]) -> (Vec<String>, Option<String>) {
    static CHECKED: Once = Once::new();
    CHECKED.call_once(self_check);
    let Some((&mode, rest)) = data.split_first() else {
        return (Vec::new(), None);
    };
    let mut d = match mode % 4 {
        0 => {
            let (conn, now) = fresh(role);
            Driver::new(conn, None, now)
        }
        _ => {
            let (conn, peer, now) = established(role);
            Driver::new(conn, Some(peer), now)
        }
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

/// An endpoint under test, its peer's sealer, the clock, the events seen
/// (variant names) and the first fatal error (as its `Debug` text).
struct Driver {
    conn: Connection,
    peer: Option<Sealer>,
    now: Instant,
    events: Vec<String>,
    failed: Option<String>,
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

impl Driver {
    fn new(conn: Connection, peer: Option<Sealer>, now: Instant) -> Self {
        Driver {
            conn,
            peer,
            now,
            events: Vec::new(),
            failed: None,
        }
    }

    /// Checks a call that fails the connection when it errs.
    fn fatal<T>(&mut self, what: &str, r: Result<T, ProtoError>) -> Option<T> {
        match (r, &self.failed) {
            (Ok(v), None) => Some(v),
            (Ok(_), Some(first)) => panic!("{what} succeeded after the fatal error {first}"),
            (Err(e), None) => {
                self.failed = Some(format!("{e:?}"));
                None
            }
            (Err(e), Some(first)) => {
                assert_eq!(&format!("{e:?}"), first, "{what}: the error is not sticky");
                None
            }
        }
    }

    /// Checks an application call: before any fatal error, `InvalidCall`
    /// and `Name` are local refusals that leave the session as it was.
    fn call(&mut self, what: &str, r: Result<(), ProtoError>) {
        if self.failed.is_none()
            && matches!(r, Err(ProtoError::InvalidCall(_) | ProtoError::Name(_)))
        {
            return;
        }
        self.fatal(what, r);
    }

    /// Pulls events until more bytes are needed or the connection fails.
    fn pump(&mut self) {
        loop {
            let r = self.conn.next_event().map(|ev| ev.map(|ev| variant(&ev)));
            match self.fatal("next_event", r) {
                Some(Some(name)) => self.events.push(name),
                _ => return,
            }
        }
    }

    /// Writes out what the endpoint queued; after a fatal error nothing new
    /// may appear (the one alert went out with the failing call).
    fn flush(&mut self, failed_before: bool) {
        let out = drain(&mut self.conn, self.now);
        assert!(
            !failed_before || out.is_empty(),
            "{} bytes written after the fatal error {:?}",
            out.len(),
            self.failed
        );
    }

    /// Delivers `bytes` from the peer, pulling events as they come.
    fn feed(&mut self, mut bytes: &[u8]) {
        let failed_before = self.failed.is_some();
        let mut stalled = 0;
        while !bytes.is_empty() && self.failed.is_none() {
            let n = self.conn.read_tls(&mut bytes, self.now).expect("in memory");
            self.pump();
            stalled = if n == 0 { stalled + 1 } else { 0 };
            assert!(
                stalled < 2,
                "receive buffer full, but no record can complete"
            );
        }
        if !bytes.is_empty() {
            // Failed: the bytes may still be read, but change nothing.
            self.conn.read_tls(&mut bytes, self.now).expect("in memory");
        }
        self.pump();
        self.flush(failed_before);
    }

    fn feed_eof(&mut self) {
        let failed_before = self.failed.is_some();
        let n = self
            .conn
            .read_tls(&mut &[][..], self.now)
            .expect("in memory");
        assert!(n == 0 && self.conn.saw_eof());
        self.pump();
        self.flush(failed_before);
    }

    fn operations(&mut self, mut input: &[u8]) {
        while !input.is_empty() {
            match byte(&mut input) % 8 {
                0..=3 => {
                    let inner_type = byte(&mut input);
                    let len = u16::from_be_bytes([byte(&mut input), byte(&mut input)]);
                    let body = take(&mut input, len.into());
                    let mut wire = Vec::new();
                    let peer = self.peer.as_mut().expect("established");
                    peer.seal(&mut wire, inner_type, &[body]).expect("seal");
                    self.feed(&wire);
                }
                4 => {
                    let (which, arg) = (byte(&mut input), byte(&mut input));
                    let failed_before = self.failed.is_some();
                    act(self, which, arg);
                    self.flush(failed_before);
                }
                5 => {
                    let n = byte(&mut input);
                    self.feed(take(&mut input, n.into()));
                }
                6 => {
                    let failed_before = self.failed.is_some();
                    self.now += Duration::from_secs(byte(&mut input).into());
                    let r = self.conn.handle_timeout(self.now);
                    self.fatal("handle_timeout", r);
                    self.flush(failed_before);
                }
                _ => self.feed_eof(),
            }
        }
    }

    /// Once failed, every call answers with the first error.
    fn check_sticky(&mut self) {
        if self.failed.is_none() {
            return;
        }
        let r = self.conn.next_event().map(|ev| ev.is_some());
        self.fatal("next_event", r);
        let r = self
            .conn
            .handle_timeout(self.now + Duration::from_secs(3600));
        self.fatal("handle_timeout", r);
        assert_eq!(self.conn.poll_timeout(), None, "deadline after failure");
        for which in 0..ACTIONS {
            act(self, which, 1);
        }
        self.flush(true);
    }
}

fn variant(ev: &Event<'_>) -> String {
    if let Event::Data(_) = ev {
        return "Data".into(); // without formatting every byte
    }
    let text = format!("{ev:?}");
    let end = text.find(['(', ' ', '{']).unwrap_or(text.len());
    text[..end].to_string()
}

/// How many application calls [`act`] knows.
const ACTIONS: u8 = 12;

/// Makes local application call number `which % ACTIONS`; `arg` sizes it.
/// Today's `Connection` offers every call to both roles (the wrong role
/// gets `InvalidCall`), so both targets use the same list.
fn act(d: &mut Driver, which: u8, arg: u8) {
    let c = &mut d.conn;
    let refusal = Outcome {
        code: ResultCode::NotFound,
        reason: "no such file".into(),
    };
    let (what, r) = match which % ACTIONS {
        0 => ("accept", c.accept()),
        1 => ("refuse", c.refuse(&refusal)),
        2 => ("close", c.close()),
        3 => {
            c.shut_down();
            let r = c.next_event().map(|ev| ev.is_some());
            assert!(r.is_err(), "shut_down left the connection usable");
            d.fatal("next_event after shut_down", r);
            return;
        }
        4 => ("request_list", c.request_list()),
        5 => (
            "request_upload",
            c.request_upload("hello.txt", arg.into(), arg & 1 == 1),
        ),
        6 => ("request_download", c.request_download("hello.txt")),
        7 => ("offer_download", c.offer_download("hello.txt", arg.into())),
        8 => {
            let entries = [ListEntry {
                name: "notes.txt".into(),
                size: 42,
                mtime: 1_764_000_000,
            }];
            ("send_listing", c.send_listing(&entries).map(|_| ()))
        }
        9 => (
            "send_data",
            c.send_data(&vec![b'x'; usize::from(arg % 16) + 1]),
        ),
        10 => ("send_result", c.send_result(&Outcome::ok())),
        _ => ("trust_server_key", c.trust_server_key()),
    };
    d.call(what, r);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seed(target: &str, name: &str) -> Vec<u8> {
        let path = format!("{}/corpus/{target}/seed-{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    /// Each session seed gets as far as it was written to (so the harness
    /// seals, numbers and drives correctly), and fails only where meant to.
    #[test]
    fn seeds_reach_their_states() {
        use Role::{Client, Server};
        // role, seed, events in order, how it ends ("" for no error).
        let cases = [
            (
                Server,
                "raw-handshake",
                "Established ListRequested",
                "UnexpectedMessage",
            ),
            (Server, "raw-list", "ListRequested", "Truncated"),
            (Server, "raw-tampered", "", "BadRecord"),
            (Server, "list", "ListRequested Closed", ""),
            (
                Server,
                "upload",
                "UploadRequested Data ReceiveComplete Closed",
                "",
            ),
            (
                Server,
                "download",
                "DownloadRequested SendReady Outcome",
                "", // the server closed first: end of stream is no truncation
            ),
            (
                Server,
                "refuse",
                "DownloadRequested",
                "PeerAlert(ProtocolError)",
            ),
            (Client, "raw-handshake", "Established", "Truncated"),
            (Client, "raw-listing", "", "UnexpectedMessage"),
            (Client, "list", "Listing Closed", ""),
            (Client, "upload", "SendReady Outcome", "Truncated"),
            (
                Client,
                "download",
                "DownloadOffered Data ReceiveComplete",
                "Truncated",
            ),
            (Client, "refused", "Outcome", "IdleTimeout"),
        ];
        for (role, name, events, error) in cases {
            let target = match role {
                Client => "client_session",
                Server => "server_session",
            };
            let (got, failed) = drive(role, &seed(target, name));
            assert_eq!(got.join(" "), events, "{target}/{name}");
            let failed = failed.unwrap_or_default();
            assert!(
                failed.starts_with(error) && (failed.is_empty() == error.is_empty()),
                "{target}/{name}: ended with {failed:?}, expected {error:?}"
            );
        }
        for target in ["client_session", "server_session"] {
            let dir = format!("{}/corpus/{target}", env!("CARGO_MANIFEST_DIR"));
            for file in std::fs::read_dir(dir).unwrap() {
                let file = file.unwrap().file_name().into_string().unwrap();
                if let Some(name) = file.strip_prefix("seed-") {
                    let listed = cases.iter().any(|c| {
                        c.1 == name && target.starts_with(&format!("{:?}", c.0).to_lowercase())
                    });
                    assert!(listed, "{target}/{file} is not checked here");
                }
            }
        }
    }
}
