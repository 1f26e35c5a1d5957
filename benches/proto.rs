//! The protocol core in memory: full handshakes per second, and record
//! seal + open at 64 KiB through a connected pair.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Instant;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sft::crypto::ed25519::SigningKey;
use sft::crypto::secret::Secret;
use sft::proto::conn::{
    ClientConnection, ClientEvent, ConnectionCore, ServerConnection, ServerEvent,
};
use sft::proto::handshake::client::{ClientConfig, ServerTrust};
use sft::proto::handshake::server::{ClientPolicy, ServerConfig, ServerEphemeral};
use sft::proto::handshake::Ephemeral;
use sft::proto::msgs::SessionParams;
use sft::proto::record::{DirectionKeys, Header, Opener, Sealer, HEADER_LEN};
use sft::proto::timers::Timeouts;

/// Writes all of `from`'s output into `buf`, for the peer to read.
fn take_output(from: &mut ConnectionCore, buf: &mut Vec<u8>, now: Instant) {
    buf.clear();
    while from.wants_write() {
        from.write_tls(buf, now).unwrap();
    }
}

/// Client to server; returns how many events the server saw.
fn c2s(
    from: &mut ClientConnection,
    to: &mut ServerConnection,
    buf: &mut Vec<u8>,
    now: Instant,
) -> usize {
    take_output(from, buf, now);
    let mut rd = &buf[..];
    let mut events = 0;
    while !rd.is_empty() {
        to.read_tls(&mut rd, now).unwrap();
        while let Some(ev) = to.next_event().unwrap() {
            let admit = matches!(ev, ServerEvent::Authenticated { .. });
            if let ServerEvent::Data(d) = ev {
                std::hint::black_box(d);
            }
            if admit {
                to.admit().unwrap();
            }
            events += 1;
        }
    }
    events
}

/// Server to client; returns how many events the client saw.
fn s2c(
    from: &mut ServerConnection,
    to: &mut ClientConnection,
    buf: &mut Vec<u8>,
    now: Instant,
) -> usize {
    take_output(from, buf, now);
    let mut rd = &buf[..];
    let mut events = 0;
    while !rd.is_empty() {
        to.read_tls(&mut rd, now).unwrap();
        while let Some(ev) = to.next_event().unwrap() {
            if let ClientEvent::Data(d) = ev {
                std::hint::black_box(d);
            }
            events += 1;
        }
    }
    events
}

struct Setup {
    client_key: Arc<SigningKey>,
    server: Arc<ServerConfig>,
}

fn setup() -> Setup {
    let client_key = Arc::new(SigningKey::generate().unwrap());
    let server = Arc::new(ServerConfig {
        identity: Arc::new(SigningKey::generate().unwrap()),
        clients: ClientPolicy::Authorized(Arc::new(HashSet::from([client_key.verifying_key()]))),
        params: SessionParams {
            max_file_size: u64::MAX,
            idle_timeout_secs: 60,
        },
    });
    Setup { client_key, server }
}

fn pair(s: &Setup, now: Instant, buf: &mut Vec<u8>) -> (ClientConnection, ServerConnection) {
    let mut c = ClientConnection::new(
        ClientConfig {
            identity: s.client_key.clone(),
            trust: ServerTrust::Pinned(s.server.identity.verifying_key().fingerprint()),
        },
        Ephemeral::generate().unwrap(),
        Timeouts::default(),
        now,
    )
    .unwrap();
    let mut sv = ServerConnection::new(
        s.server.clone(),
        ServerEphemeral::Fresh,
        Timeouts::default(),
        now,
    );
    c2s(&mut c, &mut sv, buf, now);
    s2c(&mut sv, &mut c, buf, now);
    c2s(&mut c, &mut sv, buf, now);
    s2c(&mut sv, &mut c, buf, now);
    assert!(c.is_established() && sv.is_established());
    (c, sv)
}

fn handshake(c: &mut Criterion) {
    let s = setup();
    let now = Instant::now();
    let mut buf = Vec::new();
    c.bench_function("handshake pair (client+server, in memory)", |b| {
        b.iter(|| pair(&s, now, &mut buf))
    });
}

fn records(c: &mut Criterion) {
    let s = setup();
    let now = Instant::now();
    let mut buf = Vec::new();
    let (mut client, mut server) = pair(&s, now, &mut buf);
    let chunk = vec![0x5au8; 64 * 1024];
    // One huge upload so the benchmark never runs out of announced bytes.
    client
        .request_upload("bench", u64::MAX / 2, false, None, false, 0)
        .unwrap();
    c2s(&mut client, &mut server, &mut buf, now);
    server.accept().unwrap();
    s2c(&mut server, &mut client, &mut buf, now);
    let mut group = c.benchmark_group("record");
    group.throughput(Throughput::Bytes(chunk.len() as u64));
    let keys = || DirectionKeys {
        key: Secret::from_slice(&[1; 32]).unwrap(),
        iv: Secret::from_slice(&[2; 12]).unwrap(),
    };
    let (mut sealer, mut opener) = (Sealer::new(), Opener::new());
    sealer.set_keys(&keys()).unwrap();
    opener.set_keys(&keys()).unwrap();
    let mut wire = Vec::with_capacity(HEADER_LEN + 1 + chunk.len() + 16);
    group.bench_function("record layer seal+open 64 KiB", |b| {
        b.iter(|| {
            wire.clear();
            sealer.seal(&mut wire, 0x14, &[&chunk]).unwrap();
            let header = Header::parse(wire[..HEADER_LEN].try_into().unwrap()).unwrap();
            let (_, body) = opener
                .open(&header, &mut wire[HEADER_LEN..])
                .unwrap()
                .unwrap();
            std::hint::black_box(body.len())
        })
    });
    group.bench_function("seal+open 64 KiB chunk (with SHA-256 both sides)", |b| {
        b.iter(|| {
            client.send_data(&chunk).unwrap();
            c2s(&mut client, &mut server, &mut buf, now)
        })
    });
    group.finish();
}

criterion_group!(benches, handshake, records);
criterion_main!(benches);
