//! A deterministic session (fixed identities, ephemeral keys and randoms)
//! compared byte for byte with tests/vectors/protocol/session.txt, so any
//! change to the wire is deliberate. Regenerate after an intended change
//! with `SFT_REGENERATE_VECTORS=1 cargo test --release --test protocol_vectors`.
//!
//! Besides the handshake, a listing, a pipelined batch, a download and
//! refusals, it resumes an upload (the server holds a prefix the client
//! agrees with) and a download (the GET names the prefix the client holds).
//!
//! The session crosses no key update: a sender updates after
//! `KEY_UPDATE_AFTER` = 2^21 - 1 records under one key, and the public API
//! has no knob to lower that (the unit tests use a test-only one).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Instant;

use sft::crypto::ed25519::SigningKey;
use sft::crypto::hash::{sha256, Sha256};
use sft::crypto::secret::Secret;
use sft::crypto::x25519::EphemeralSecret;
use sft::proto::conn::{
    ClientConnection, ClientEvent, ConnectionCore, ListingStep, ServerConnection, ServerEvent,
    Ticket,
};
use sft::proto::evidence::{Receipt, Signed, Stored};
use sft::proto::handshake::client::{ClientConfig, ServerTrust};
use sft::proto::handshake::server::{ClientPolicy, ServerConfig, ServerEphemeral};
use sft::proto::handshake::Ephemeral;
use sft::proto::msgs::{EntryKind, ListEntry, Meta, Outcome, Prefix, ResultCode, SessionParams};
use sft::proto::timers::Timeouts;

const PATH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/vectors/protocol/session.txt"
);

fn secret(byte: u8) -> Secret<32> {
    Secret::from_slice(&[byte; 32]).unwrap()
}

fn ephemeral(scalar: u8, random: u8) -> Ephemeral {
    Ephemeral {
        random: [random; 32],
        key: EphemeralSecret::from_scalar(&secret(scalar)).unwrap(),
    }
}

fn drain(c: &mut ConnectionCore, now: Instant) -> Vec<u8> {
    let mut v = Vec::new();
    while c.wants_write() {
        c.write_tls(&mut v, now).unwrap();
    }
    v
}

/// The first bytes of a file one side holds: their count and SHA-256, and
/// a hash state that has absorbed exactly them.
fn held(bytes: &[u8]) -> (Prefix, Sha256) {
    let mut hash = Sha256::new().unwrap();
    hash.update(bytes).unwrap();
    let prefix = Prefix {
        offset: bytes.len() as u64,
        sha256: sha256(bytes).unwrap(),
    };
    (prefix, hash)
}

/// Delivers `bytes` to the client; returns how many events came out.
fn to_client(c: &mut ClientConnection, bytes: &[u8], now: Instant) -> usize {
    c.read_tls(&mut &bytes[..], now).unwrap();
    let mut n = 0;
    while let Some(ev) = c.next_event().unwrap() {
        if let ClientEvent::ServerKeyUnknown(_) = ev {
            panic!("key is pinned");
        }
        n += 1;
    }
    n
}

/// An answer the server owes: a MKDIR's, or an upload's with the
/// client's statement once the file arrived.
enum Owed {
    Mkdir(Ticket),
    Upload(Ticket, Option<Box<Signed>>),
}

/// Delivers `bytes` to the server; returns how many events came out.
/// A client that authenticates is admitted and every upload accepted at
/// once, one offered for resume with [`SERVER_HELD`] as the bytes the
/// server holds; what uploads and MKDIRs are owed goes to `tickets`.
fn to_server(
    s: &mut ServerConnection,
    bytes: &[u8],
    now: Instant,
    tickets: &mut Vec<Owed>,
) -> usize {
    s.read_tls(&mut &bytes[..], now).unwrap();
    let mut n = 0;
    loop {
        let (admit, accept) = match s.next_event().unwrap() {
            None => return n,
            Some(ServerEvent::Authenticated { .. }) => (true, None),
            Some(ServerEvent::UploadRequested { ticket, resume, .. }) => {
                tickets.push(Owed::Upload(ticket, None));
                (false, Some(resume))
            }
            Some(ServerEvent::MkdirRequested { ticket, .. }) => {
                tickets.push(Owed::Mkdir(ticket));
                (false, None)
            }
            Some(ServerEvent::ReceiveComplete { signed }) => {
                let upload = tickets.iter_mut().rev().find_map(|o| match o {
                    Owed::Upload(_, statement @ None) => Some(statement),
                    _ => None,
                });
                *upload.expect("an upload owed") = Some(signed);
                (false, None)
            }
            Some(_) => (false, None),
        };
        if admit {
            s.admit().unwrap();
        }
        match accept {
            Some(false) => s.accept().unwrap(),
            Some(true) => s.accept_resume(Some(held(SERVER_HELD))).unwrap(),
            None => {}
        }
        n += 1;
    }
}

/// The file uploaded with resume, and the first bytes of it the server
/// holds from an earlier, interrupted upload.
const RESUMED_UPLOAD: &[u8] = b"hello, again";
const SERVER_HELD: &[u8] = b"hello, ";

/// The mtime of every file and directory in the session.
const MTIME: i64 = 1_764_000_000;

/// The time in every statement (Unix seconds); receipts say stored one
/// second later.
const T0: u64 = 1_764_000_100;

/// Gives the answer owed: a MKDIR's Ok, an upload's receipt as the
/// server's audit entry `seq`.
fn answer(s: &mut ServerConnection, owed: Owed, key: &SigningKey, seq: u64) {
    match owed {
        Owed::Mkdir(ticket) => s.answer(ticket, Outcome::ok()).unwrap(),
        Owed::Upload(ticket, signed) => {
            let stored = Stored {
                commit_time: T0 + 1,
                audit_seq: seq,
            };
            let receipt = Receipt::sign(*signed.expect("arrived"), stored, key).unwrap();
            s.answer_stored(ticket, &receipt).unwrap();
        }
    }
}

fn session() -> Vec<(String, Vec<u8>)> {
    let now = Instant::now();
    let client_id = Arc::new(SigningKey::from_seed(&secret(0x11)).unwrap());
    let server_id = SigningKey::from_seed(&secret(0x22)).unwrap();
    let server_fp = server_id.verifying_key().fingerprint();
    assert_eq!(
        server_fp.to_string(),
        "SHA256:sijgBpZVy7erVIEPkg1iFzd6kBJm7+kWQS9wf+ge734",
        "the fingerprint PROTOCOL.md section 8 gives"
    );
    let mut lines = vec![
        (
            "client identity public key".to_string(),
            client_id.verifying_key().as_bytes().to_vec(),
        ),
        (
            "server identity public key".to_string(),
            server_id.verifying_key().as_bytes().to_vec(),
        ),
    ];
    let server_id = Arc::new(server_id);
    let config = Arc::new(ServerConfig {
        identity: server_id.clone(),
        clients: ClientPolicy::Authorized(Arc::new(HashSet::from([client_id.verifying_key()]))),
        params: SessionParams {
            max_file_size: 10 << 30,
            idle_timeout_secs: 60,
        },
    });
    let mut c = ClientConnection::new(
        ClientConfig {
            identity: client_id,
            trust: ServerTrust::Pinned(server_fp),
        },
        ephemeral(0x33, 0x55),
        Timeouts::default(),
        now,
    )
    .unwrap();
    let mut s = ServerConnection::new(
        config,
        ServerEphemeral::Fixed(ephemeral(0x44, 0x66)),
        Timeouts::default(),
        now,
    );
    let mut tickets = Vec::new();

    // One step: everything one side queued crosses the wire; `events` is
    // how many events the other side must report.
    let mut step = |label: &str,
                    from_client: bool,
                    events: usize,
                    c: &mut ClientConnection,
                    s: &mut ServerConnection,
                    tickets: &mut Vec<Owed>| {
        let (bytes, got) = if from_client {
            let bytes = drain(c, now);
            let got = to_server(s, &bytes, now, tickets);
            (bytes, got)
        } else {
            let bytes = drain(s, now);
            let got = to_client(c, &bytes, now);
            (bytes, got)
        };
        assert!(!bytes.is_empty(), "{label}: nothing sent");
        assert_eq!(got, events, "{label}: events");
        lines.push((label.to_string(), bytes));
    };
    let t = &mut tickets;
    step("c->s HELLO", true, 0, &mut c, &mut s, t);
    step("s->c CHALLENGE", false, 0, &mut c, &mut s, t);
    step("c->s RESPONSE", true, 1, &mut c, &mut s, t);
    step("s->c SESSION_ESTABLISHED", false, 1, &mut c, &mut s, t);
    assert!(c.is_established() && s.is_established());

    c.request_list("").unwrap();
    step("c->s LIST", true, 1, &mut c, &mut s, t);
    let listing = [
        ListEntry {
            kind: EntryKind::File,
            name: "notes.txt".into(),
            size: 5,
            mtime: MTIME,
            mode: 0o644,
        },
        ListEntry {
            kind: EntryKind::Dir,
            name: "docs".into(),
            size: 0,
            mtime: MTIME,
            mode: 0o755,
        },
    ];
    let page = s.send_listing_page(&mut listing.into_iter().map(Ok::<_, ()>));
    assert_eq!(page.unwrap(), ListingStep::Done { entries: 2 });
    step("s->c LISTING", false, 1, &mut c, &mut s, t);

    // One pipelined batch, sent before any answer: `put -p`'s MKDIR
    // without meta, the file with its meta, then the directory's meta.
    let file_meta = Meta {
        mode: 0o644,
        mtime: MTIME,
    };
    let dir_meta = Meta {
        mode: 0o755,
        mtime: MTIME,
    };
    c.request_mkdir("photos", None).unwrap();
    c.request_upload("photos/a.txt", 5, false, Some(file_meta), false, T0)
        .unwrap();
    c.send_data(b"hello").unwrap();
    c.request_mkdir("photos", Some(dir_meta)).unwrap();
    assert_eq!(c.in_flight(), 3);
    // MKDIR, OFFER (accepted), CHUNK, END, MKDIR.
    step(
        "c->s MKDIR, OFFER, CHUNK, END, MKDIR",
        true,
        5,
        &mut c,
        &mut s,
        t,
    );
    // Given last first: they still go out in request order.
    for owed in t.drain(..).rev() {
        answer(&mut s, owed, &server_id, 1);
    }
    step("s->c RESULT, RECEIPT, RESULT", false, 3, &mut c, &mut s, t);

    c.request_download("notes.txt", 10 << 30, None).unwrap();
    step("c->s GET", true, 1, &mut c, &mut s, t);
    s.offer_download(5, file_meta, None, T0).unwrap();
    s.send_data(b"notes").unwrap();
    // DownloadOffered, Data, ReceiveComplete; nothing goes back.
    step("s->c OFFER, CHUNK, END", false, 3, &mut c, &mut s, t);
    assert!(!c.wants_write());

    // An upload resumed: the server holds its first 7 bytes, the client's
    // agree, and only the last 5 cross.
    let size = RESUMED_UPLOAD.len() as u64;
    c.request_upload("photos/b.txt", size, false, None, true, T0)
        .unwrap();
    step("c->s OFFER (resume)", true, 1, &mut c, &mut s, t);
    // ResumeOffered.
    step("s->c RESUME", false, 1, &mut c, &mut s, t);
    let (prefix, hash) = held(&RESUMED_UPLOAD[..SERVER_HELD.len()]);
    let (from, end) = c.resume_upload(Some((prefix.sha256, hash))).unwrap();
    assert_eq!((from, end), (SERVER_HELD.len() as u64, None));
    c.send_data(&RESUMED_UPLOAD[SERVER_HELD.len()..]).unwrap();
    assert!(!c.wants_data());
    // ResumeAgreed, Data, ReceiveComplete.
    step("c->s RESUME, CHUNK, END", true, 3, &mut c, &mut s, t);
    let owed = t.pop().unwrap();
    answer(&mut s, owed, &server_id, 2);
    step("s->c RECEIPT (resumed upload)", false, 1, &mut c, &mut s, t);

    // A download resumed: the client holds "no" of "notes".
    c.request_download("notes.txt", 10 << 30, Some(held(b"no")))
        .unwrap();
    step("c->s GET (holding 2 bytes)", true, 1, &mut c, &mut s, t);
    s.offer_download(5, file_meta, Some(held(b"no").1), T0)
        .unwrap();
    s.send_data(b"tes").unwrap();
    // DownloadOffered (from 2), Data, ReceiveComplete.
    step(
        "s->c OFFER (resumed), CHUNK, END",
        false,
        3,
        &mut c,
        &mut s,
        t,
    );
    assert!(!c.wants_write());

    c.request_download("missing.txt", 10 << 30, None).unwrap();
    step("c->s GET (refused)", true, 1, &mut c, &mut s, t);
    s.refuse(&Outcome::new(ResultCode::NotFound, "no such file"))
        .unwrap();
    step("s->c RESULT NotFound", false, 1, &mut c, &mut s, t);
    c.request_list("").unwrap();
    step("c->s LIST (rate-limited)", true, 1, &mut c, &mut s, t);
    s.refuse(&Outcome::rate_limited(30, "rate limit reached"))
        .unwrap();
    step("s->c RESULT RateLimited 30 s", false, 1, &mut c, &mut s, t);
    c.close().unwrap();
    step("c->s CLOSE", true, 1, &mut c, &mut s, t);
    step("s->c CLOSE", false, 1, &mut c, &mut s, t);
    assert!(c.is_closed() && s.is_closed());
    lines
}

fn render(lines: &[(String, Vec<u8>)]) -> String {
    let mut out = String::from(
        "# sft protocol version 5: a deterministic session, regenerated by tests/protocol_vectors.rs\n\
         # (docs/PROTOCOL.md section 8). Inputs: client identity seed 11*32, server identity seed\n\
         # 22*32 (RFC 8032 seeds), client ephemeral scalar 33*32, server ephemeral scalar 44*32\n\
         # (RFC 7748), client random 55*32, server random 66*32, max_file_size 10 GiB, idle 60 s.\n\
         # Statements carry time 1764000100; receipts commit_time 1764000101, audit_seq 1 and 2.\n\
         # Resumed: the server holds \"hello, \" of photos/b.txt (\"hello, again\"), the client \"no\"\n\
         # of notes.txt (\"notes\").\n\
         # The two identity lines are public keys (hex). Every other line: label = hex of the bytes\n\
         # that crossed the wire, records with headers; a label naming several messages holds\n\
         # that many records back to back (split them by the length field).\n",
    );
    for (label, bytes) in lines {
        out.push_str(&format!("{label} = {}\n", hex::encode(bytes)));
    }
    out
}

#[test]
fn deterministic_session_matches_the_recorded_bytes() {
    let lines = session();
    let again = session();
    assert_eq!(
        render(&lines),
        render(&again),
        "the session is not deterministic"
    );
    let text = render(&lines);
    if std::env::var_os("SFT_REGENERATE_VECTORS").is_some() {
        std::fs::write(PATH, &text).unwrap();
    }
    let recorded = std::fs::read_to_string(PATH).expect("tests/vectors/protocol/session.txt");
    let (want, got): (Vec<&str>, Vec<&str>) = (recorded.lines().collect(), text.lines().collect());
    let compared = want.iter().filter(|l| !l.starts_with('#')).count();
    println!("protocol vectors: {compared} records compared");
    assert_eq!(compared, 24, "2 public keys and 22 wire steps");
    for (w, g) in want.iter().zip(&got) {
        assert_eq!(w, g, "wire bytes changed");
    }
    assert_eq!(want.len(), got.len());
}
