//! In-memory adversarial tests: a client and a server wired together, with
//! a hand on the wire between them and a clock we step.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::*;
use crate::crypto::ed25519::SigningKey;
use crate::proto::handshake::client::ServerTrust;
use crate::proto::handshake::server::ClientPolicy;
use crate::proto::msgs::SessionParams;

/// An event with its data copied out, so tests can hold several.
#[derive(Debug, PartialEq)]
enum Got {
    ServerKeyUnknown,
    Established,
    Upload(String, u64, bool),
    Download(String),
    List,
    NameRefused,
    Offered(String, u64),
    Listing(Vec<ListEntry>),
    SendReady,
    Data(Vec<u8>),
    Complete,
    Corrupt,
    Outcome(ResultCode),
    Closed,
}

fn own(ev: Event<'_>) -> Got {
    match ev {
        Event::ServerKeyUnknown(_) => Got::ServerKeyUnknown,
        Event::Established { .. } => Got::Established,
        Event::UploadRequested {
            name,
            size,
            overwrite,
        } => Got::Upload(name, size, overwrite),
        Event::DownloadRequested { name } => Got::Download(name),
        Event::ListRequested => Got::List,
        Event::NameRefused(_) => Got::NameRefused,
        Event::DownloadOffered { name, size } => Got::Offered(name, size),
        Event::Listing(l) => Got::Listing(l),
        Event::SendReady => Got::SendReady,
        Event::Data(d) => Got::Data(d.to_vec()),
        Event::ReceiveComplete => Got::Complete,
        Event::ReceiveCorrupt => Got::Corrupt,
        Event::Outcome(o) => Got::Outcome(o.code),
        Event::Closed => Got::Closed,
    }
}

struct World {
    client: Connection,
    server: Connection,
    now: Instant,
    client_key: Arc<SigningKey>,
    server_key: SigningKey,
}

fn server_config(identity: SigningKey, clients: ClientPolicy) -> Arc<ServerConfig> {
    Arc::new(ServerConfig {
        identity,
        clients,
        params: SessionParams {
            max_file_size: 1 << 30,
            idle_timeout_secs: 60,
        },
    })
}

fn world_with(trust: Option<ServerTrust>, authorize_client: bool) -> World {
    let now = Instant::now();
    let client_key = Arc::new(SigningKey::generate().unwrap());
    let server_key = SigningKey::generate().unwrap();
    let server_copy = SigningKey::from_pkcs8_pem(&server_key.to_pkcs8_pem().unwrap()).unwrap();
    let trust = trust.unwrap_or(ServerTrust::Pinned(
        server_key.verifying_key().fingerprint(),
    ));
    let clients = if authorize_client {
        ClientPolicy::Authorized(HashSet::from([client_key.verifying_key()]))
    } else {
        ClientPolicy::Authorized(HashSet::from([SigningKey::generate()
            .unwrap()
            .verifying_key()]))
    };
    let client = Connection::client(
        ClientConfig {
            identity: client_key.clone(),
            trust,
        },
        Ephemeral::generate().unwrap(),
        Timeouts::default(),
        now,
    )
    .unwrap();
    let server = Connection::server(
        server_config(server_copy, clients),
        Ephemeral::generate().unwrap(),
        Timeouts::default(),
        now,
    );
    World {
        client,
        server,
        now,
        client_key,
        server_key,
    }
}

fn world() -> World {
    world_with(None, true)
}

/// Everything `c` has queued for the wire.
fn out(c: &mut Connection, now: Instant) -> Vec<u8> {
    let mut v = Vec::new();
    while c.wants_write() {
        c.write_tls(&mut v, now).unwrap();
    }
    v
}

/// Feeds `bytes` to `c` and collects the events.
fn feed(c: &mut Connection, bytes: &[u8], now: Instant) -> Result<Vec<Got>, ProtoError> {
    let mut rd = bytes;
    let mut got = Vec::new();
    loop {
        if !rd.is_empty() {
            c.read_tls(&mut rd, now).unwrap();
        }
        while let Some(ev) = c.next_event()? {
            got.push(own(ev));
        }
        if rd.is_empty() {
            return Ok(got);
        }
    }
}

/// Feeds `bytes` and then the end of the stream; returns the error the
/// connection must report (a length changed upward only shows at the end).
fn must_fail(c: &mut Connection, bytes: &[u8], now: Instant) -> ProtoError {
    if let Err(e) = feed(c, bytes, now) {
        return e;
    }
    c.read_tls(&mut &[][..], now).unwrap();
    c.next_event().expect_err("tampered bytes were accepted")
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

impl World {
    fn c2s(&mut self) -> Result<Vec<Got>, ProtoError> {
        let b = out(&mut self.client, self.now);
        feed(&mut self.server, &b, self.now)
    }
    fn s2c(&mut self) -> Result<Vec<Got>, ProtoError> {
        let b = out(&mut self.server, self.now);
        feed(&mut self.client, &b, self.now)
    }
    fn handshake(&mut self) {
        assert_eq!(self.c2s().unwrap(), vec![]);
        assert_eq!(self.s2c().unwrap(), vec![]);
        assert_eq!(self.c2s().unwrap(), vec![Got::Established]);
        assert_eq!(self.s2c().unwrap(), vec![Got::Established]);
        assert!(self.client.is_established() && self.server.is_established());
    }
    /// HELLO, CHALLENGE and RESPONSE records as sent.
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

fn upload(w: &mut World, name: &str, content: &[u8]) -> Vec<u8> {
    w.client
        .request_upload(name, content.len() as u64, false)
        .unwrap();
    assert_eq!(
        w.c2s().unwrap(),
        vec![Got::Upload(name.into(), content.len() as u64, false)]
    );
    w.server.accept().unwrap();
    assert_eq!(w.s2c().unwrap(), vec![Got::SendReady]);
    let mut received = Vec::new();
    let mut sent = 0;
    loop {
        while w.client.wants_data() {
            let n = (content.len() - sent).min(CHUNK_LEN);
            w.client.send_data(&content[sent..sent + n]).unwrap();
            sent += n;
        }
        let evs = w.c2s().unwrap();
        let done = evs.contains(&Got::Complete);
        for e in evs {
            if let Got::Data(d) = e {
                received.extend_from_slice(&d);
            }
        }
        if done {
            break;
        }
    }
    w.server.send_result(&Outcome::ok()).unwrap();
    assert_eq!(w.s2c().unwrap(), vec![Got::Outcome(ResultCode::Ok)]);
    received
}

// ---- happy paths ---------------------------------------------------------

#[test]
fn handshake_then_multi_chunk_upload_download_list_and_close() {
    let mut w = world();
    w.handshake();
    assert_eq!(w.server.peer_key(), Some(w.client_key.verifying_key()));
    assert_eq!(w.client.peer_key(), Some(w.server_key.verifying_key()));

    let content = data(3 * CHUNK_LEN + 12345);
    assert_eq!(upload(&mut w, "big.bin", &content), content);
    assert_eq!(upload(&mut w, "empty", &[]), Vec::<u8>::new());

    // Download.
    w.client.request_download("big.bin").unwrap();
    assert_eq!(w.c2s().unwrap(), vec![Got::Download("big.bin".into())]);
    w.server
        .offer_download("big.bin", content.len() as u64)
        .unwrap();
    assert_eq!(
        w.s2c().unwrap(),
        vec![Got::Offered("big.bin".into(), content.len() as u64)]
    );
    w.client.accept().unwrap();
    assert_eq!(w.c2s().unwrap(), vec![Got::SendReady]);
    let mut sent = 0;
    let mut got = Vec::new();
    let mut complete = false;
    while !complete {
        while w.server.wants_data() {
            let n = (content.len() - sent).min(CHUNK_LEN);
            w.server.send_data(&content[sent..sent + n]).unwrap();
            sent += n;
        }
        for e in w.s2c().unwrap() {
            match e {
                Got::Data(d) => got.extend_from_slice(&d),
                Got::Complete => complete = true,
                other => panic!("{other:?}"),
            }
        }
    }
    assert_eq!(got, content);
    w.client.send_result(&Outcome::ok()).unwrap();
    assert_eq!(w.c2s().unwrap(), vec![Got::Outcome(ResultCode::Ok)]);

    // Listing across several LISTING records.
    let entries: Vec<ListEntry> = (0..3000)
        .map(|i| ListEntry {
            name: format!("file-{i:05}-{}", "x".repeat(100)),
            size: i,
            mtime: 1_700_000_000 + i as i64,
        })
        .collect();
    w.client.request_list().unwrap();
    assert_eq!(w.c2s().unwrap(), vec![Got::List]);
    w.server.send_listing(&entries).unwrap();
    let bytes = out(&mut w.server, w.now);
    assert!(records(&bytes).len() > 1);
    assert_eq!(
        feed(&mut w.client, &bytes, w.now).unwrap(),
        vec![Got::Listing(entries)]
    );

    // Orderly close both ways.
    w.client.close().unwrap();
    assert_eq!(w.c2s().unwrap(), vec![Got::Closed]);
    assert_eq!(w.s2c().unwrap(), vec![Got::Closed]);
    assert!(w.client.is_closed() && w.server.is_closed());
    // A cut after the close is not a truncation.
    assert_eq!(w.client.read_tls(&mut &[][..], w.now).unwrap(), 0);
    assert!(w.client.next_event().unwrap().is_none());
}

#[test]
fn unknown_server_key_stops_until_the_application_trusts_it() {
    let mut w = world_with(Some(ServerTrust::Ask), true);
    w.c2s().unwrap();
    assert_eq!(w.s2c().unwrap(), vec![Got::ServerKeyUnknown]);
    assert!(!w.client.wants_write(), "no RESPONSE before the decision");
    w.client.trust_server_key().unwrap();
    assert_eq!(w.c2s().unwrap(), vec![Got::Established]);
    assert_eq!(w.s2c().unwrap(), vec![Got::Established]);
}

// ---- identities ------------------------------------------------------------

#[test]
fn wrong_pinned_key_is_refused_naming_the_key_seen() {
    let other = SigningKey::generate()
        .unwrap()
        .verifying_key()
        .fingerprint();
    let mut w = world_with(Some(ServerTrust::Pinned(other)), true);
    w.c2s().unwrap();
    let err = w.s2c().unwrap_err();
    match err {
        ProtoError::ServerKeyMismatch { expected, seen } => {
            assert_eq!(expected, other);
            assert_eq!(seen, w.server_key.verifying_key().fingerprint());
        }
        e => panic!("{e:?}"),
    }
    assert!(!w.client.wants_write(), "nothing sent to an impostor");
}

#[test]
fn unauthorized_client_is_refused_and_told() {
    let mut w = world_with(None, false);
    w.c2s().unwrap();
    w.s2c().unwrap();
    match w.c2s().unwrap_err() {
        ProtoError::ClientNotAuthorized(fp) => {
            assert_eq!(fp, w.client_key.verifying_key().fingerprint())
        }
        e => panic!("{e:?}"),
    }
    assert!(matches!(
        w.s2c(),
        Err(ProtoError::PeerAlert(AlertCode::Unauthorized))
    ));
}

#[test]
fn any_client_policy_accepts_an_unknown_key() {
    let mut w = world_with(None, false);
    let fresh = Connection::server(
        server_config(
            SigningKey::from_pkcs8_pem(&w.server_key.to_pkcs8_pem().unwrap()).unwrap(),
            ClientPolicy::AnyClient,
        ),
        Ephemeral::generate().unwrap(),
        Timeouts::default(),
        w.now,
    );
    w.server = fresh;
    w.handshake();
    assert_eq!(w.server.peer_key(), Some(w.client_key.verifying_key()));
}

// ---- handshake tampering -----------------------------------------------------

/// Flips one bit at `at` of `bytes`.
fn flip(bytes: &[u8], at: usize) -> Vec<u8> {
    let mut v = bytes.to_vec();
    v[at] ^= 0x01;
    v
}

#[test]
fn hello_tampering_each_field() {
    // Header: version, type, length, sequence number.
    type Check = fn(&ProtoError) -> bool;
    let cases: [(usize, Check); 4] = [
        (0, |e| {
            matches!(e, ProtoError::UnsupportedVersion { got: 0 })
        }),
        (1, |e| matches!(e, ProtoError::MalformedRecord(_))),
        (5, |e| matches!(e, ProtoError::MalformedRecord(_))),
        (13, |e| matches!(e, ProtoError::BadRecord)),
    ];
    for (at, expect) in cases {
        let mut w = world();
        let hello = out(&mut w.client, w.now);
        let err = feed(&mut w.server, &flip(&hello, at), w.now).unwrap_err();
        assert!(expect(&err), "byte {at}: {err:?}");
        assert!(
            out(&mut w.server, w.now).len() <= HEADER_LEN + 1,
            "no CHALLENGE after a bad HELLO"
        );
    }
    // Body version: refused with a plaintext alert the client understands.
    let mut w = world();
    let hello = out(&mut w.client, w.now);
    let err = feed(&mut w.server, &flip(&hello, HEADER_LEN), w.now).unwrap_err();
    assert!(matches!(err, ProtoError::UnsupportedVersion { got: 0 }));
    let alert = out(&mut w.server, w.now);
    assert_eq!(alert.len(), HEADER_LEN + 1);
    assert!(matches!(
        feed(&mut w.client, &alert, w.now),
        Err(ProtoError::PeerAlert(AlertCode::UnsupportedVersion))
    ));
    // Random and ephemeral key: the server signs what it saw, so the
    // client's transcript differs and the server signature fails.
    for at in [
        HEADER_LEN + 1,
        HEADER_LEN + 20,
        HEADER_LEN + 33,
        HEADER_LEN + 64,
    ] {
        let mut w = world();
        let hello = out(&mut w.client, w.now);
        feed(&mut w.server, &flip(&hello, at), w.now).unwrap();
        let err = w.s2c().unwrap_err();
        assert!(
            matches!(err, ProtoError::BadSignature("server")),
            "byte {at}: {err:?}"
        );
    }
}

#[test]
fn non_contributory_client_key_costs_the_server_no_signature() {
    for low in [[0u8; 32], {
        let mut one = [0u8; 32];
        one[0] = 1;
        one
    }] {
        let mut w = world();
        let mut hello = out(&mut w.client, w.now);
        hello[HEADER_LEN + 33..HEADER_LEN + 65].copy_from_slice(&low);
        let err = feed(&mut w.server, &hello, w.now).unwrap_err();
        assert!(matches!(err, ProtoError::NonContributory), "{err:?}");
        assert!(
            out(&mut w.server, w.now).is_empty(),
            "no CHALLENGE, no alert without keys"
        );
    }
}

#[test]
fn challenge_tampering_each_field() {
    // identity -> pinned mismatch; random, ephemeral, signature -> bad signature.
    let fields = [
        (HEADER_LEN + 5, "random"),
        (HEADER_LEN + 40, "ephemeral"),
        (HEADER_LEN + 70, "identity"),
        (HEADER_LEN + 100, "signature"),
        (HEADER_LEN + 159, "signature end"),
    ];
    for (at, what) in fields {
        let mut w = world();
        w.c2s().unwrap();
        let ch = out(&mut w.server, w.now);
        let err = feed(&mut w.client, &flip(&ch, at), w.now).unwrap_err();
        let ok = if what == "identity" {
            matches!(err, ProtoError::ServerKeyMismatch { .. })
        } else {
            matches!(err, ProtoError::BadSignature("server"))
        };
        assert!(ok, "{what}: {err:?}");
        assert!(!w.client.wants_write(), "{what}: client sent nothing");
    }
    // Header fields.
    for (at, what) in [(0, "version"), (1, "type"), (4, "length"), (13, "seq")] {
        let mut w = world();
        w.c2s().unwrap();
        let ch = out(&mut w.server, w.now);
        let err = feed(&mut w.client, &flip(&ch, at), w.now).unwrap_err();
        let ok = match what {
            "version" => matches!(err, ProtoError::UnsupportedVersion { .. }),
            "seq" => matches!(err, ProtoError::BadRecord),
            _ => matches!(err, ProtoError::MalformedRecord(_)),
        };
        assert!(ok, "{what}: {err:?}");
    }
}

#[test]
fn server_signature_cannot_pass_for_a_client_one() {
    // Contexts differ, so the same transcript hash signed by the server
    // does not verify as a client signature.
    use crate::proto::handshake::{CLIENT_SIGNATURE_CONTEXT, SERVER_SIGNATURE_CONTEXT};
    let key = SigningKey::generate().unwrap();
    let th = [7u8; 32];
    let sig = key.sign(&[SERVER_SIGNATURE_CONTEXT, &th].concat()).unwrap();
    assert!(key
        .verifying_key()
        .verify(&[SERVER_SIGNATURE_CONTEXT, &th].concat(), &sig)
        .is_ok());
    assert!(key
        .verifying_key()
        .verify(&[CLIENT_SIGNATURE_CONTEXT, &th].concat(), &sig)
        .is_err());
}

#[test]
fn response_and_established_tampering() {
    // Any bit of the encrypted RESPONSE (header or payload) breaks it.
    let mut w = world();
    let (_, _, response) = w.handshake_records();
    for at in [
        0,
        1,
        4,
        9,
        13,
        HEADER_LEN,
        HEADER_LEN + 50,
        response.len() - 1,
    ] {
        let mut w2 = world();
        let (_, _, r2) = w2.handshake_records();
        let err = must_fail(&mut w2.server, &flip(&r2, at), w2.now);
        assert!(
            matches!(
                err,
                ProtoError::BadRecord
                    | ProtoError::UnsupportedVersion { .. }
                    | ProtoError::MalformedRecord(_)
                    | ProtoError::Truncated
            ),
            "byte {at}: {err:?}"
        );
        assert!(!w2.server.is_established());
    }
    feed(&mut w.server, &response, w.now).unwrap();
    let est = out(&mut w.server, w.now);
    for at in [13, HEADER_LEN + 3, est.len() - 2] {
        let mut w2 = world();
        let (_, _, r2) = w2.handshake_records();
        feed(&mut w2.server, &r2, w2.now).unwrap();
        let e2 = out(&mut w2.server, w2.now);
        let err = feed(&mut w2.client, &flip(&e2, at), w2.now).unwrap_err();
        assert!(matches!(err, ProtoError::BadRecord), "byte {at}: {err:?}");
    }
}

#[test]
fn handshake_messages_out_of_order_duplicated_or_truncated() {
    // Duplicated HELLO.
    let mut w = world();
    let hello = out(&mut w.client, w.now);
    feed(&mut w.server, &hello, w.now).unwrap();
    assert!(matches!(
        feed(&mut w.server, &hello, w.now),
        Err(ProtoError::BadRecord)
    ));

    // CHALLENGE sent to a server, HELLO sent to a client.
    let mut w = world();
    let hello = out(&mut w.client, w.now);
    feed(&mut w.server, &hello, w.now).unwrap();
    let ch = out(&mut w.server, w.now);
    let mut w2 = world();
    let err = feed(&mut w2.server, &ch, w2.now).unwrap_err();
    assert!(
        matches!(
            err,
            ProtoError::UnexpectedMessage {
                got: "CHALLENGE",
                ..
            }
        ),
        "{err:?}"
    );
    let err = feed(&mut w2.client, &hello, w2.now).unwrap_err();
    assert!(
        matches!(err, ProtoError::UnexpectedMessage { got: "HELLO", .. }),
        "{err:?}"
    );

    // Duplicated CHALLENGE: after it the client expects only encrypted records.
    feed(&mut w.client, &ch, w.now).unwrap();
    assert!(matches!(
        feed(&mut w.client, &ch, w.now),
        Err(ProtoError::BadRecord)
    ));

    // Duplicated RESPONSE.
    let mut w = world();
    let (_, _, response) = w.handshake_records();
    assert_eq!(
        feed(&mut w.server, &response, w.now).unwrap(),
        vec![Got::Established]
    );
    assert!(matches!(
        feed(&mut w.server, &response, w.now),
        Err(ProtoError::BadRecord)
    ));

    // Truncated HELLO then end of stream.
    let mut w = world();
    let hello = out(&mut w.client, w.now);
    assert_eq!(feed(&mut w.server, &hello[..30], w.now).unwrap(), vec![]);
    w.server.read_tls(&mut &[][..], w.now).unwrap();
    assert!(matches!(w.server.next_event(), Err(ProtoError::Truncated)));
}

// ---- record layer -------------------------------------------------------------

fn established() -> World {
    let mut w = world();
    w.handshake();
    w
}

/// Two consecutive application records from the client: an OFFER, then a LIST.
fn two_client_records(w: &mut World) -> (Vec<u8>, Vec<u8>) {
    w.client.request_upload("a", 10, false).unwrap();
    let first = out(&mut w.client, w.now);
    // Make a second record: the upload is refused by the test, so craft a
    // second request after resetting the client's transfer state.
    w.client.transfer = Transfer::Idle;
    w.client.request_list().unwrap();
    let second = out(&mut w.client, w.now);
    (first, second)
}

#[test]
fn records_bit_flipped_replayed_dropped_reordered_reflected() {
    // Bit flips in header and payload.
    for at in [0usize, 1, 3, 6, 13, 14, 15, 20] {
        let mut w = established();
        let (rec, _) = two_client_records(&mut w);
        let at = at.min(rec.len() - 1);
        let err = must_fail(&mut w.server, &flip(&rec, at), w.now);
        assert!(
            matches!(
                err,
                ProtoError::BadRecord
                    | ProtoError::UnsupportedVersion { .. }
                    | ProtoError::MalformedRecord(_)
                    | ProtoError::Truncated
            ),
            "byte {at}: {err:?}"
        );
        // One alert goes back, then the server is dead with the same error.
        let alert = out(&mut w.server, w.now);
        assert!(alert.is_empty() || records(&alert).len() == 1);
        assert_eq!(
            format!("{:?}", w.server.next_event().unwrap_err()),
            format!("{err:?}")
        );
    }
    let last_byte = {
        let mut w = established();
        let (rec, _) = two_client_records(&mut w);
        feed(&mut w.server, &flip(&rec, rec.len() - 1), w.now).unwrap_err()
    };
    assert!(matches!(last_byte, ProtoError::BadRecord));

    // Replay.
    let mut w = established();
    let (first, _) = two_client_records(&mut w);
    feed(&mut w.server, &first, w.now).unwrap();
    assert!(matches!(
        feed(&mut w.server, &first, w.now),
        Err(ProtoError::BadRecord)
    ));

    // Drop.
    let mut w = established();
    let (_, second) = two_client_records(&mut w);
    assert!(matches!(
        feed(&mut w.server, &second, w.now),
        Err(ProtoError::BadRecord)
    ));

    // Reorder.
    let mut w = established();
    let (first, second) = two_client_records(&mut w);
    let swapped = [second, first].concat();
    assert!(matches!(
        feed(&mut w.server, &swapped, w.now),
        Err(ProtoError::BadRecord)
    ));

    // Reflection: the client's own record sent back to it.
    let mut w = established();
    let (first, _) = two_client_records(&mut w);
    assert!(matches!(
        feed(&mut w.client, &first, w.now),
        Err(ProtoError::BadRecord)
    ));
}

#[test]
fn oversize_length_is_refused_from_the_header_alone() {
    let mut w = established();
    let mut header = [0u8; HEADER_LEN];
    header[0] = crate::proto::PROTOCOL_VERSION;
    header[1] = RecordType::Encrypted as u8;
    header[2..6].copy_from_slice(&u32::MAX.to_be_bytes());
    header[6..].copy_from_slice(&2u64.to_be_bytes());
    let err = feed(&mut w.server, &header, w.now).unwrap_err();
    assert!(
        matches!(err, ProtoError::RecordTooLarge { len, .. } if len == u32::MAX as usize),
        "{err:?}"
    );
    assert_eq!(
        w.server.inbuf.len(),
        RECV_BUFFER_LEN,
        "receive buffer never grows"
    );
}

#[test]
fn cut_connection_mid_transfer_is_truncation_not_an_end() {
    let mut w = established();
    w.client.request_upload("f", 100, false).unwrap();
    w.c2s().unwrap();
    w.server.accept().unwrap();
    w.s2c().unwrap();
    w.client.send_data(&[1u8; 50]).unwrap();
    assert_eq!(w.c2s().unwrap(), vec![Got::Data(vec![1u8; 50])]);
    w.server.read_tls(&mut &[][..], w.now).unwrap();
    assert!(matches!(w.server.next_event(), Err(ProtoError::Truncated)));
}

// ---- transfer rules -------------------------------------------------------------

/// Makes `w.client` send a raw application message, bypassing its own
/// checks, as a hostile peer would.
fn client_sends_raw(w: &mut World, t: u8, body: &[u8]) -> Result<Vec<Got>, ProtoError> {
    w.client.sealer.seal(&mut w.client.out, t, &[body]).unwrap();
    w.c2s()
}

fn receiving_upload(size: u64) -> World {
    let mut w = established();
    w.client.request_upload("f", size, false).unwrap();
    w.c2s().unwrap();
    w.server.accept().unwrap();
    w.s2c().unwrap();
    w
}

fn chunk(offset: u64, data: &[u8]) -> Vec<u8> {
    [offset.to_be_bytes().as_slice(), data].concat()
}

#[test]
fn transfer_violations_are_protocol_errors() {
    // Chunk at the wrong offset.
    let mut w = receiving_upload(100);
    let err = client_sends_raw(&mut w, inner::CHUNK, &chunk(10, &[0; 10])).unwrap_err();
    assert!(
        matches!(err, ProtoError::Transfer(m) if m.contains("offset")),
        "{err:?}"
    );

    // Chunk past the announced size.
    let mut w = receiving_upload(100);
    let err = client_sends_raw(&mut w, inner::CHUNK, &chunk(0, &[0; 101])).unwrap_err();
    assert!(
        matches!(err, ProtoError::Transfer(m) if m.contains("past")),
        "{err:?}"
    );

    // END with bytes missing.
    let mut w = receiving_upload(100);
    client_sends_raw(&mut w, inner::CHUNK, &chunk(0, &[0; 60])).unwrap();
    let err = client_sends_raw(&mut w, inner::END, &[0; 32]).unwrap_err();
    assert!(
        matches!(err, ProtoError::Transfer(m) if m.contains("END")),
        "{err:?}"
    );

    // Data after END.
    let mut w = receiving_upload(3);
    let hash = crate::crypto::hash::sha256(b"abc").unwrap();
    client_sends_raw(&mut w, inner::CHUNK, &chunk(0, b"abc")).unwrap();
    assert_eq!(
        client_sends_raw(&mut w, inner::END, &hash).unwrap(),
        vec![Got::Complete]
    );
    let err = client_sends_raw(&mut w, inner::CHUNK, &chunk(3, b"d")).unwrap_err();
    assert!(
        matches!(err, ProtoError::UnexpectedMessage { got: "CHUNK", .. }),
        "{err:?}"
    );

    // A chunk with no transfer at all.
    let mut w = established();
    let err = client_sends_raw(&mut w, inner::CHUNK, &chunk(0, b"x")).unwrap_err();
    assert!(
        matches!(
            err,
            ProtoError::UnexpectedMessage {
                got: "CHUNK",
                state: "idle"
            }
        ),
        "{err:?}"
    );

    // Wrong hash: not fatal; the receiver answers HashMismatch.
    let mut w = receiving_upload(3);
    client_sends_raw(&mut w, inner::CHUNK, &chunk(0, b"abc")).unwrap();
    assert_eq!(
        client_sends_raw(&mut w, inner::END, &[0; 32]).unwrap(),
        vec![Got::Corrupt]
    );
    w.client.transfer = Transfer::AwaitResult;
    assert_eq!(
        w.s2c().unwrap(),
        vec![Got::Outcome(ResultCode::HashMismatch)]
    );
}

#[test]
fn hostile_names_are_refused_with_a_result_and_the_session_goes_on() {
    let mut w = established();
    for raw in [
        &b""[..],
        b".",
        b"..",
        b"a/..",
        b"x\0y",
        b"bell\x07",
        b"\xff\xfe",
        &[b'a'; 256][..],
    ] {
        let offer = Offer {
            name: raw.to_vec(),
            size: 1,
            overwrite: false,
        };
        let mut body = offer.encode();
        if raw.len() > 255 {
            // The parser refuses over-long names as malformed: the wire allows at most 255.
            body = [
                &(raw.len() as u16).to_be_bytes()[..],
                raw,
                &1u64.to_be_bytes(),
                &[0],
            ]
            .concat();
            let mut w2 = established();
            let err = client_sends_raw(&mut w2, inner::OFFER, &body).unwrap_err();
            assert!(
                matches!(err, ProtoError::MalformedMessage("OFFER")),
                "{err:?}"
            );
            continue;
        }
        assert_eq!(
            client_sends_raw(&mut w, inner::OFFER, &body).unwrap(),
            vec![Got::NameRefused],
            "{raw:?}"
        );
        // The raw OFFER bypassed the client's own state; put it where a real offer leaves it.
        w.client.transfer = Transfer::AwaitAccept { size: 1 };
        assert_eq!(w.s2c().unwrap(), vec![Got::Outcome(ResultCode::BadName)]);
    }
    // Traversal is reduced to the base name.
    let offer = Offer {
        name: b"../../etc/passwd".to_vec(),
        size: 1,
        overwrite: false,
    };
    assert_eq!(
        client_sends_raw(&mut w, inner::OFFER, &offer.encode()).unwrap(),
        vec![Got::Upload("passwd".into(), 1, false)]
    );
}

#[test]
fn application_misuse_is_refused_locally() {
    let mut w = established();
    assert!(matches!(
        w.client.send_data(b"x"),
        Err(ProtoError::InvalidCall(_))
    ));
    assert!(matches!(
        w.client.request_upload("a/b", 1, false),
        Err(ProtoError::Name(_))
    ));
    w.client.request_upload("a", 2, false).unwrap();
    assert!(matches!(
        w.client.request_list(),
        Err(ProtoError::InvalidCall(_))
    ));
    w.c2s().unwrap();
    w.server.accept().unwrap();
    w.s2c().unwrap();
    assert!(
        matches!(w.client.send_data(b"abc"), Err(ProtoError::InvalidCall(_))),
        "past size"
    );
    w.client.send_data(b"ab").unwrap();
    // Still usable after refused calls.
    assert_eq!(
        w.c2s().unwrap(),
        vec![Got::Data(b"ab".to_vec()), Got::Complete]
    );
}

// ---- timers -------------------------------------------------------------------

#[test]
fn handshake_deadline_by_stepping_the_clock() {
    let mut w = world();
    w.c2s().unwrap();
    let deadline = w.server.poll_timeout().unwrap();
    assert_eq!(deadline, w.now + Duration::from_secs(10));
    w.server
        .handle_timeout(deadline - Duration::from_millis(1))
        .unwrap();
    let err = w.server.handle_timeout(deadline).unwrap_err();
    assert!(matches!(err, ProtoError::HandshakeTimeout));
    assert!(w.server.poll_timeout().is_none());
    // Keys existed (CHALLENGE sent), so one alert is queued.
    let alert = out(&mut w.server, w.now);
    assert_eq!(records(&alert).len(), 2, "CHALLENGE then the alert");
}

#[test]
fn idle_deadline_moves_with_activity() {
    let mut w = established();
    let t0 = w.now;
    assert_eq!(
        w.server.poll_timeout().unwrap(),
        t0 + Duration::from_secs(60)
    );
    w.now = t0 + Duration::from_secs(50);
    w.client.request_list().unwrap();
    w.c2s().unwrap();
    assert_eq!(
        w.server.poll_timeout().unwrap(),
        w.now + Duration::from_secs(60)
    );
    w.server
        .handle_timeout(t0 + Duration::from_secs(100))
        .unwrap();
    let err = w
        .server
        .handle_timeout(w.now + Duration::from_secs(60))
        .unwrap_err();
    assert!(matches!(err, ProtoError::IdleTimeout));
    assert!(matches!(
        w.s2c(),
        Err(ProtoError::PeerAlert(AlertCode::Timeout))
    ));
}

#[test]
fn listing_leaves_out_names_the_client_would_refuse() {
    let mut w = established();
    let entry = |name: &str| ListEntry {
        name: name.into(),
        size: 1,
        mtime: 0,
    };
    let entries = [
        entry("ok.txt"),
        entry("\u{202E}txt.exe"),
        entry("bad\nname"),
        entry("two.txt"),
    ];
    w.client.request_list().unwrap();
    w.c2s().unwrap();
    assert_eq!(w.server.send_listing(&entries).unwrap(), 2);
    assert_eq!(
        w.s2c().unwrap(),
        vec![Got::Listing(vec![entry("ok.txt"), entry("two.txt")])]
    );
}
