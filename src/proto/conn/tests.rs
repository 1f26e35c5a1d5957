//! In-memory adversarial tests: a client and a server wired together, with
//! a hand on the wire between them and a clock we step. This module builds
//! the world and the wire helpers; the tests are grouped by theme below.

mod buffer;
mod calls;
mod handshake;
mod key_update;
mod limits;
mod listing;
mod records;
mod tampering;
mod timers;
mod transfer;

use std::collections::HashSet;
use std::convert::Infallible;
use std::io::{self, Write};
use std::ops::DerefMut;
use std::sync::Arc;
use std::time::Instant;

use super::{
    ClientConnection, ClientEvent, ConnectionCore, ListingStep, ServerConnection, ServerEvent,
};
use crate::crypto::aead::TAG_LEN;
use crate::crypto::ed25519::{SigningKey, VerifyingKey};
use crate::proto::handshake::client::{ClientConfig, ServerTrust};
use crate::proto::handshake::server::{ClientPolicy, ServerConfig, ServerEphemeral};
use crate::proto::handshake::Ephemeral;
use crate::proto::msgs::{inner, ListEntry, Outcome, SessionParams};
use crate::proto::name::NameError;
use crate::proto::record::{RecordType, HEADER_LEN};
use crate::proto::timers::Timeouts;
use crate::proto::{AlertCode, ProtoError, CHUNK_LEN, PROTOCOL_VERSION};

/// An event with its data copied out, so tests can hold several. Both
/// roles' events, so one world helper serves both directions.
#[derive(Debug, PartialEq)]
enum Got {
    // client
    ServerKeyUnknown(VerifyingKey),
    Offered(u64),
    Listing(Vec<ListEntry>),
    // server
    Upload(String, u64, bool),
    Download(String),
    List,
    NameRefused(NameError),
    // both
    Established,
    Data(Vec<u8>),
    Complete,
    Corrupt,
    Outcome(Outcome),
    Closed,
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
            ClientEvent::DownloadOffered { size } => Got::Offered(size),
            ClientEvent::Data(d) => Got::Data(d.to_vec()),
            ClientEvent::ReceiveComplete => Got::Complete,
            ClientEvent::ReceiveCorrupt => Got::Corrupt,
            ClientEvent::Listing(l) => Got::Listing(l),
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
                name,
                size,
                overwrite,
            } => Got::Upload(name, size, overwrite),
            ServerEvent::DownloadRequested { name } => Got::Download(name),
            ServerEvent::ListRequested => Got::List,
            ServerEvent::NameRefused(e) => Got::NameRefused(e),
            ServerEvent::Data(d) => Got::Data(d.to_vec()),
            ServerEvent::ReceiveComplete => Got::Complete,
            ServerEvent::ReceiveCorrupt => Got::Corrupt,
            ServerEvent::Outcome(o) => Got::Outcome(o),
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
    /// Every byte that crossed the wire through `c2s` and `s2c`.
    wire_c2s: Vec<u8>,
    wire_s2c: Vec<u8>,
}

fn params() -> SessionParams {
    SessionParams {
        max_file_size: 1 << 30,
        idle_timeout_secs: 60,
    }
}

fn server(
    identity: SigningKey,
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
    let server_identity = SigningKey::generate().unwrap();
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
        server_identity,
        ClientPolicy::Authorized(HashSet::from([allowed])),
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
        wire_c2s: Vec::new(),
        wire_s2c: Vec::new(),
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

/// A writer that takes at most `n` more bytes.
struct Limited<'a>(&'a mut Vec<u8>, usize);

impl Write for Limited<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = buf.len().min(self.1);
        self.0.extend_from_slice(&buf[..n]);
        self.1 -= n;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Everything `c` has queued for the wire.
fn out(c: &mut ConnectionCore, now: Instant) -> Vec<u8> {
    let mut v = Vec::new();
    while c.wants_write() {
        c.write_tls(&mut v, now).unwrap();
    }
    v
}

/// Feeds `bytes` to `c` and collects the events.
fn feed(c: &mut impl Endpoint, bytes: &[u8], now: Instant) -> Result<Vec<Got>, ProtoError> {
    let mut rd = bytes;
    let mut got = Vec::new();
    loop {
        if !rd.is_empty() {
            c.read_tls(&mut rd, now).unwrap();
        }
        while let Some(ev) = c.next_got()? {
            got.push(ev);
        }
        if rd.is_empty() {
            return Ok(got);
        }
    }
}

/// Feeds `bytes` and then the end of the stream; returns the error the
/// connection must report (a length changed upward only shows at the end).
fn must_fail(c: &mut impl Endpoint, bytes: &[u8], now: Instant) -> ProtoError {
    if let Err(e) = feed(c, bytes, now) {
        return e;
    }
    c.read_tls(&mut &[][..], now).unwrap();
    match c.next_got() {
        Err(e) => e,
        Ok(ev) => panic!("tampered bytes were accepted: {ev:?}"),
    }
}

/// Splits a byte stream into whole records.
fn records(bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut v = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        let len = u32::from_be_bytes(rest[2..6].try_into().unwrap()) as usize;
        v.push(rest[..HEADER_LEN + len].to_vec());
        rest = &rest[HEADER_LEN + len..];
    }
    v
}

/// A record's sequence number, from its header.
fn seq_of(record: &[u8]) -> u64 {
    u64::from_be_bytes(record[6..14].try_into().unwrap())
}

/// A record's payload length, from its header.
fn len_of(record: &[u8]) -> usize {
    u32::from_be_bytes(record[2..6].try_into().unwrap()) as usize
}

/// The exact bytes of a plaintext alert (docs/PROTOCOL.md §5.2): record
/// type 3, length 1, sequence number 0, the code.
fn plain_alert(code: AlertCode) -> Vec<u8> {
    let mut v = vec![PROTOCOL_VERSION, 3, 0, 0, 0, 1];
    v.extend_from_slice(&[0; 8]);
    v.push(code as u8);
    v
}

/// Checks that `bytes` is exactly one encrypted ALERT record numbered
/// `seq`, opened with the sealing side's own key (so it also works when
/// the peer cannot read it), and returns its code.
fn sole_alert(side: &mut ConnectionCore, bytes: &[u8], seq: u64) -> AlertCode {
    let recs = records(bytes);
    assert_eq!(recs.len(), 1, "exactly one record: {bytes:02x?}");
    let rec = &recs[0];
    assert_eq!(rec[1], RecordType::Encrypted as u8);
    assert_eq!(seq_of(rec), seq, "alert number");
    assert_eq!(len_of(rec), 2 + TAG_LEN, "inner type, code, tag");
    let (t, body) = side.sealer.open_own(rec).unwrap();
    assert_eq!(t, inner::ALERT);
    AlertCode::from_u8(body[0])
}

/// Opens every record in `bytes` with the sealing side's own key; returns
/// inner types and bodies.
fn open_own(side: &mut ConnectionCore, bytes: &[u8]) -> Vec<(u8, Vec<u8>)> {
    records(bytes)
        .iter()
        .map(|r| side.sealer.open_own(r).unwrap())
        .collect()
}

/// The shared core of either role, to send what a hostile peer would.
fn core(c: &mut impl Endpoint) -> &mut ConnectionCore {
    c
}

/// Makes `c` send a raw application message, bypassing its own state
/// checks, as a hostile peer would.
fn send_raw(c: &mut impl Endpoint, t: u8, body: &[u8]) {
    core(c).send(t, &[body]).unwrap();
}

/// Sends the whole listing `entries` at once, page after page whatever
/// room the output has; returns how many entries went out.
fn send_listing(server: &mut ServerConnection, entries: &[ListEntry]) -> Result<usize, ProtoError> {
    let mut items = entries.iter().cloned().map(Ok::<_, Infallible>);
    loop {
        match server.send_listing_page(&mut items)? {
            ListingStep::More => {}
            ListingStep::Done { entries } => return Ok(entries),
            ListingStep::SourceFailed(never) => match never {},
        }
    }
}

impl World {
    fn c2s(&mut self) -> Result<Vec<Got>, ProtoError> {
        let b = out(&mut self.client, self.now);
        self.wire_c2s.extend_from_slice(&b);
        feed(&mut self.server, &b, self.now)
    }
    fn s2c(&mut self) -> Result<Vec<Got>, ProtoError> {
        let b = out(&mut self.server, self.now);
        self.wire_s2c.extend_from_slice(&b);
        feed(&mut self.client, &b, self.now)
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

fn data(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 + i / 251) as u8).collect()
}

/// Uploads `content` in pieces of at most `piece` bytes; returns what the
/// server received.
fn upload(w: &mut World, name: &str, content: &[u8], piece: usize) -> Vec<u8> {
    let size = content.len() as u64;
    w.client.request_upload(name, size, false).unwrap();
    assert_eq!(
        w.c2s().unwrap(),
        vec![Got::Upload(name.into(), size, false)]
    );
    w.server.accept().unwrap();
    assert_eq!(w.s2c().unwrap(), vec![]);
    let mut received = Vec::new();
    let mut sent = 0;
    loop {
        while w.client.wants_data() {
            let n = (content.len() - sent).min(piece);
            w.client.send_data(&content[sent..sent + n]).unwrap();
            sent += n;
        }
        let mut done = false;
        for e in w.c2s().unwrap() {
            match e {
                Got::Data(d) => received.extend_from_slice(&d),
                Got::Complete => done = true,
                other => panic!("{other:?}"),
            }
        }
        if done {
            break;
        }
    }
    w.server.send_result(&Outcome::ok()).unwrap();
    assert_eq!(w.s2c().unwrap(), vec![Got::Outcome(Outcome::ok())]);
    received
}

/// Downloads `content` (which the server sends in pieces of at most
/// `piece` bytes); returns what the client received.
fn download(w: &mut World, name: &str, content: &[u8], piece: usize) -> Vec<u8> {
    let size = content.len() as u64;
    w.client.request_download(name).unwrap();
    assert_eq!(w.c2s().unwrap(), vec![Got::Download(name.into())]);
    w.server.offer_download(size).unwrap();
    assert_eq!(w.s2c().unwrap(), vec![Got::Offered(size)]);
    w.client.accept().unwrap();
    assert_eq!(w.c2s().unwrap(), vec![]);
    let mut received = Vec::new();
    let mut sent = 0;
    loop {
        while w.server.wants_data() {
            let n = (content.len() - sent).min(piece);
            w.server.send_data(&content[sent..sent + n]).unwrap();
            sent += n;
        }
        let mut done = false;
        for e in w.s2c().unwrap() {
            match e {
                Got::Data(d) => received.extend_from_slice(&d),
                Got::Complete => done = true,
                other => panic!("{other:?}"),
            }
        }
        if done {
            break;
        }
    }
    w.client.send_result(&Outcome::ok()).unwrap();
    assert_eq!(w.c2s().unwrap(), vec![Got::Outcome(Outcome::ok())]);
    received
}

/// An established world whose server is receiving an upload of `size`.
fn receiving_upload(size: u64) -> World {
    let mut w = established();
    w.client.request_upload("f", size, false).unwrap();
    w.c2s().unwrap();
    w.server.accept().unwrap();
    w.s2c().unwrap();
    w
}

/// An established world whose client is receiving a download of `size`.
fn receiving_download(size: u64) -> World {
    let mut w = established();
    w.client.request_download("f").unwrap();
    w.c2s().unwrap();
    w.server.offer_download(size).unwrap();
    w.s2c().unwrap();
    w.client.accept().unwrap();
    w.c2s().unwrap();
    w
}

fn chunk(offset: u64, data: &[u8]) -> Vec<u8> {
    [offset.to_be_bytes().as_slice(), data].concat()
}

/// Flips one bit at `at` of `bytes`.
fn flip(bytes: &[u8], at: usize) -> Vec<u8> {
    let mut v = bytes.to_vec();
    v[at] ^= 0x01;
    v
}
