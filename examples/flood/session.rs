//! The authenticated tools: `measure` (LIST latency) and `listhold`
//! (listings requested and never read).

use std::io::{self, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sft::keys;
use sft::net::client::ServerTrust;
use sft::proto::conn::{ClientConnection, ClientEvent};
use sft::proto::msgs::{Outcome, ResultCode};

use super::{check_target, client, connect_from, flush, Auth, Run, Stop};

/// Longest wait for an authenticated tool's connect (10 s, as `sft`'s).
const TOOL_CONNECT: Duration = Duration::from_secs(10);

fn pct(sorted_ms: &[f64], q: f64) -> f64 {
    let rank = (q * sorted_ms.len() as f64).ceil() as usize;
    sorted_ms[rank.clamp(1, sorted_ms.len()) - 1]
}
/// What the tools wait for.
enum Answer {
    Established,
    Listing(usize),
    Refused(Outcome),
}

/// Blocks until `conn` yields an answer, writing what it queues (a
/// request, the handshake's RESPONSE) before each read.
fn answer(conn: &mut ClientConnection, sock: &mut TcpStream) -> Result<Answer, String> {
    loop {
        let eof = conn.saw_eof();
        match conn.next_event().map_err(|e| e.to_string())? {
            Some(ClientEvent::Established { .. }) => return Ok(Answer::Established),
            Some(ClientEvent::Listing(entries)) => return Ok(Answer::Listing(entries.len())),
            Some(ClientEvent::Outcome(o)) => return Ok(Answer::Refused(o)),
            Some(other) => return Err(format!("unexpected event {other:?}")),
            None if eof => return Err("the server closed the connection".into()),
            None => {}
        }
        flush(conn, sock).map_err(|e| format!("write: {e}"))?;
        conn.read_tls(sock, Instant::now())
            .map_err(|e| format!("read: {e}"))?;
    }
}

/// An authenticated session on a blocking socket: the tools need a source
/// address and a socket they can stop reading, which `Session` does not
/// offer.
fn establish(
    auth: &Auth,
    target: SocketAddr,
    rcvbuf: Option<usize>,
) -> Result<(ClientConnection, TcpStream), String> {
    let identity = keys::load_identity(&auth.identity).map_err(|e| e.to_string())?;
    let pin = keys::fingerprint_of_file(&auth.server_key).map_err(|e| e.to_string())?;
    let mut sock = connect_from(auth.source, target, TOOL_CONNECT, rcvbuf)
        .map_err(|e| format!("connect to {target}: {e}"))?;
    let mut conn = client(Arc::new(identity), ServerTrust::Pinned(pin))?;
    match answer(&mut conn, &mut sock)? {
        Answer::Established => Ok((conn, sock)),
        _ => Err("no session".into()),
    }
}

/// One session (from `auth.source`) sends LIST every `every` until the run
/// stops, waiting as told when refused over the rate limit; prints the
/// answers' count and latency (p50, p99, max in ms), LISTINGs and refusals
/// alike, and the error that ended the session early, if one did.
pub(crate) fn measure(run: &Run, auth: &Auth, every: Duration) -> Result<(), String> {
    check_target(run.target, auth.source)?;
    let (mut conn, mut sock) = establish(auth, run.target, None)?;
    println!("measure: established");
    let _ = io::stdout().flush();
    let stop = Stop::new(run)?;
    let (mut ms, mut ok, mut refused, mut error) = (Vec::new(), 0u64, 0u64, None);
    let mut entries = 0;
    let mut next = Instant::now();
    while !stop.done() {
        stop.sleep_until(next);
        if stop.done() {
            break;
        }
        let t0 = Instant::now();
        let got = conn
            .request_list("")
            .map_err(|e| e.to_string())
            .and_then(|()| answer(&mut conn, &mut sock));
        let took_ms = t0.elapsed().as_secs_f64() * 1e3;
        next = (next + every).max(Instant::now());
        match got {
            Ok(Answer::Listing(n)) => {
                ms.push(took_ms);
                ok += 1;
                entries = n;
            }
            // Refused (the rate limit, say): wait as told, as a client must
            // (a client that keeps asking is cut off).
            Ok(Answer::Refused(o)) => {
                ms.push(took_ms);
                refused += 1;
                if o.code == ResultCode::RateLimited {
                    next = next.max(t0 + Duration::from_secs(o.retry_after_secs.into()));
                }
            }
            Ok(Answer::Established) => {
                error = Some("a second SESSION_ESTABLISHED".into());
                break;
            }
            Err(e) => {
                error = Some(e);
                break;
            }
        }
    }
    ms.sort_by(f64::total_cmp);
    let figures = match ms.len() {
        0 => "p50_ms=- p99_ms=- max_ms=-".to_string(),
        _ => format!(
            "p50_ms={:.1} p99_ms={:.1} max_ms={:.1}",
            pct(&ms, 0.5),
            pct(&ms, 0.99),
            pct(&ms, 1.0)
        ),
    };
    println!(
        "measure: answers={} listed={ok} entries={entries} refused={refused} {figures} error={:?}",
        ms.len(),
        error.unwrap_or_default()
    );
    Ok(())
}

/// `clients` sessions each send LIST and never read, held until the run
/// stops; prints `holding=` once all have asked (the caller samples the
/// server's memory then) and `released=` at the end.
pub(crate) fn listhold(run: &Run, auth: &Auth, clients: u32) -> Result<(), String> {
    check_target(run.target, auth.source)?;
    let stop = Stop::new(run)?;
    let mut held = Vec::new();
    for _ in 0..clients {
        let (mut conn, mut sock) = establish(auth, run.target, Some(4096))?;
        conn.request_list("").map_err(|e| e.to_string())?;
        flush(&mut conn, &mut sock).map_err(|e| format!("write: {e}"))?;
        held.push((conn, sock));
    }
    println!("listhold: holding={}", held.len());
    let _ = io::stdout().flush();
    stop.sleep_until(stop.deadline);
    println!("listhold: released={}", held.len());
    Ok(())
}
