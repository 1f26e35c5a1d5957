//! A one-connection TCP relay on 127.0.0.1 that sits between a client and
//! an upstream server and misbehaves on cue: it flips one bit of the
//! client's stream at a given byte, or stops relaying the server's stream
//! after a given byte (the connection stays open and silent). No crate we
//! found does byte-level tampering without an async runtime or an external
//! server, and this is a test tool only: two threads copying bytes.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;

/// What the relay does wrong.
#[derive(Clone, Copy, Debug)]
pub enum Fault {
    /// Flip the lowest bit of client→server byte number `at` (from 0).
    FlipUp { at: u64 },
    /// Relay at most `after` bytes server→client, then hold the rest.
    StallDown { after: u64 },
}

/// A running relay; `addr` is where the client connects.
pub struct Proxy {
    pub addr: SocketAddr,
    /// Bytes relayed server→client so far.
    pub down: Arc<AtomicU64>,
}

impl Proxy {
    /// Listens on an ephemeral port; relays the first connection to
    /// `upstream` with `fault`.
    pub fn start(upstream: SocketAddr, fault: Fault) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let down = Arc::new(AtomicU64::new(0));
        let counter = down.clone();
        thread::spawn(move || {
            let Ok((client, _)) = listener.accept() else {
                return;
            };
            let Ok(server) = TcpStream::connect(upstream) else {
                return;
            };
            let (c2, s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
            let flip = match fault {
                Fault::FlipUp { at } => Some(at),
                Fault::StallDown { .. } => None,
            };
            let limit = match fault {
                Fault::StallDown { after } => after,
                Fault::FlipUp { .. } => u64::MAX,
            };
            let up = thread::spawn(move || relay(client, server, flip, u64::MAX, None));
            relay(s2, c2, None, limit, Some(counter));
            let _ = up.join();
        });
        Proxy { addr, down }
    }
}

/// Copies `from` to `to` until either side ends, flipping byte `flip`
/// and stopping (holding the connection open) after `limit` bytes.
fn relay(
    mut from: TcpStream,
    mut to: TcpStream,
    flip: Option<u64>,
    limit: u64,
    counter: Option<Arc<AtomicU64>>,
) {
    let mut buf = [0u8; 16 * 1024];
    let mut done: u64 = 0;
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let n = n.min(usize::try_from(limit - done).unwrap_or(usize::MAX));
        if let Some(at) = flip {
            if (done..done + n as u64).contains(&at) {
                buf[(at - done) as usize] ^= 1;
            }
        }
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
        done += n as u64;
        if let Some(c) = &counter {
            c.store(done, Ordering::SeqCst);
        }
        if done == limit {
            // Hold: keep the sockets open, relay nothing more.
            let _ = from.read_to_end(&mut Vec::new());
            return;
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}
