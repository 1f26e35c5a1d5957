//! The floods: `reconnect` (connect, HELLO, close, again) and `half`
//! (handshakes held open after the CHALLENGE).

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use sft::crypto::ed25519::SigningKey;
use sft::net::client::ServerTrust;
use sft::proto::conn::{ClientConnection, ClientEvent};

use super::{check_target, client, connect_from, flush, Run, Stop, TICK};

/// Longest wait for one flood connect (1 s: a dropped SYN is retried after
/// 1 s, and the next attempt may be admitted).
const FLOOD_CONNECT: Duration = Duration::from_secs(1);

/// Source address `i` of a flood: 127.0.0.2 + i (callers keep `i` below
/// 1,000,000, well inside 127.0.0.0/8).
fn source(i: u32) -> Ipv4Addr {
    Ipv4Addr::from(0x7f00_0002 + i)
}

/// Starts a scoped thread; on failure, stops the run (every thread started
/// so far ends at once) and says why.
fn spawn<'scope>(
    s: &'scope thread::Scope<'scope, '_>,
    stop: &Stop,
    f: impl FnOnce() + Send + 'scope,
) -> Result<(), String> {
    thread::Builder::new()
        .spawn_scoped(s, f)
        .map(drop)
        .map_err(|e| {
            stop.signal.store(true, Relaxed);
            format!("cannot start a thread: {e}")
        })
}

/// `sockets` threads connect from `source(0)`, `source(1)`... in turn (all
/// `sources`, round robin), send a HELLO and close, until the run stops;
/// prints the connects per second.
pub(crate) fn reconnect(run: &Run, sources: u32, sockets: u32) -> Result<(), String> {
    check_target(run.target, None)?;
    let hello = {
        let key = Arc::new(SigningKey::generate().map_err(|e| e.to_string())?);
        let mut conn = client(key, ServerTrust::Ask)?;
        let mut out = Vec::new();
        while conn.wants_write() {
            conn.write_tls(&mut out, Instant::now())
                .map_err(|e| e.to_string())?;
        }
        out
    };
    let stop = Stop::new(run)?;
    let started = Instant::now();
    let (next, connects, failed) = (AtomicU32::new(0), AtomicU64::new(0), AtomicU64::new(0));
    let first_error = Mutex::new(None::<String>);
    let spawned = thread::scope(|s| {
        (0..sockets).try_for_each(|_| {
            spawn(s, &stop, || {
                while !stop.done() {
                    let wait = stop.deadline.saturating_duration_since(Instant::now());
                    let src = source(next.fetch_add(1, Relaxed) % sources);
                    match connect_from(Some(src), run.target, wait.min(FLOOD_CONNECT), None) {
                        // A refused connection may be closed before the
                        // HELLO lands; that is the server's answer, not ours.
                        Ok(mut sock) => {
                            let _ = sock.write_all(&hello);
                            connects.fetch_add(1, Relaxed);
                        }
                        Err(e) => {
                            failed.fetch_add(1, Relaxed);
                            if let Ok(mut first) = first_error.lock() {
                                first.get_or_insert_with(|| e.to_string());
                            }
                        }
                    }
                }
            })
        })
    });
    spawned?;
    let secs = started.elapsed().as_secs_f64();
    let n = connects.load(Relaxed);
    let first = first_error.into_inner().ok().flatten().unwrap_or_default();
    println!(
        "reconnect: sources={sources} sockets={sockets} secs={secs:.1} connects={n} \
         connects_per_s={:.0} failed={} first_error={first:?}",
        n as f64 / secs,
        failed.load(Relaxed)
    );
    Ok(())
}

/// What became of one half-open connection.
enum HalfEnd {
    /// The CHALLENGE arrived (the server signed it).
    Challenged,
    /// The server closed it, or refused it, before a CHALLENGE.
    Refused,
    /// Time is up.
    Stopped,
}

/// Reads until the CHALLENGE arrives (the client connection reports the
/// unknown server key), the server closes, or the run stops.
fn await_challenge(conn: &mut ClientConnection, sock: &mut TcpStream, stop: &Stop) -> HalfEnd {
    while !stop.done() {
        match conn.read_tls(sock, Instant::now()) {
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return HalfEnd::Refused,
        }
        let eof = conn.saw_eof();
        match conn.next_event() {
            Ok(Some(ClientEvent::ServerKeyUnknown(_))) => return HalfEnd::Challenged,
            Ok(None) if !eof => {}
            _ => return HalfEnd::Refused,
        }
    }
    HalfEnd::Stopped
}

/// Reads and drops bytes until the server closes `sock` or the run stops;
/// true when the server closed it.
fn hold(sock: &mut TcpStream, stop: &Stop) -> bool {
    let mut scratch = [0u8; 4096];
    while !stop.done() {
        match sock.read(&mut scratch) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return true,
        }
    }
    false
}

/// `per_source` threads per source address each hold one connection that
/// got its CHALLENGE and never answers, reopening it as soon as the server
/// closes or refuses it, until the run stops; prints what happened to them.
pub(crate) fn half(run: &Run, sources: u32, per_source: u32) -> Result<(), String> {
    check_target(run.target, None)?;
    let key = Arc::new(SigningKey::generate().map_err(|e| e.to_string())?);
    let stop = Stop::new(run)?;
    let started = Instant::now();
    let (opened, challenged, refused, closed) = (
        AtomicU64::new(0),
        AtomicU64::new(0),
        AtomicU64::new(0),
        AtomicU64::new(0),
    );
    let failed = AtomicU64::new(0);
    let spawned = thread::scope(|s| {
        (0..sources * per_source).try_for_each(|i| {
            let key = key.clone();
            let (stop, opened, challenged, refused, closed, failed) =
                (&stop, &opened, &challenged, &refused, &closed, &failed);
            spawn(s, stop, move || {
                while !stop.done() {
                    let connected =
                        connect_from(Some(source(i % sources)), run.target, FLOOD_CONNECT, None)
                            .and_then(|sock| sock.set_read_timeout(Some(TICK)).map(|()| sock));
                    let (Ok(mut sock), Ok(mut conn)) =
                        (connected, client(key.clone(), ServerTrust::Ask))
                    else {
                        failed.fetch_add(1, Relaxed);
                        // Not a hot loop when the server is not there.
                        thread::sleep(TICK);
                        continue;
                    };
                    opened.fetch_add(1, Relaxed);
                    if flush(&mut conn, &mut sock).is_err() {
                        refused.fetch_add(1, Relaxed);
                        continue;
                    }
                    match await_challenge(&mut conn, &mut sock, stop) {
                        HalfEnd::Challenged => {
                            challenged.fetch_add(1, Relaxed);
                            if hold(&mut sock, stop) {
                                closed.fetch_add(1, Relaxed);
                            }
                        }
                        HalfEnd::Refused => {
                            refused.fetch_add(1, Relaxed);
                        }
                        HalfEnd::Stopped => {}
                    }
                }
            })
        })
    });
    spawned?;
    println!(
        "half: sources={sources} per_source={per_source} secs={:.1} opened={} challenged={} \
         refused_before_challenge={} closed_after_challenge={} connect_failed={}",
        started.elapsed().as_secs_f64(),
        opened.load(Relaxed),
        challenged.load(Relaxed),
        refused.load(Relaxed),
        closed.load(Relaxed),
        failed.load(Relaxed)
    );
    Ok(())
}
