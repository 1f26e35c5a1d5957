//! A TCP relay on 127.0.0.1 between clients and an upstream server that
//! counts what it relays, both ways and per connection, and misbehaves on
//! cue: it flips a bit, cuts the connection after a given byte, or holds
//! (stalls) at a given byte until the test releases it. It accepts any
//! number of connections in sequence (a re-run connects again); each gets
//! its own fault from the list, later ones are relayed faithfully.
//!
//! No crate we found does byte-level tampering without an async runtime or
//! an external server, and this is a test tool only: std threads copying
//! bytes, and one mutex and condvar the test waits on (never a sleep).

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::Duration;

/// How long a test waits on the relay before it fails instead of hanging.
const PATIENCE: Duration = Duration::from_secs(20);

/// What the relay does wrong on one connection. Byte positions count the
/// TCP stream of one direction from 0 (TLS records included).
#[derive(Clone, Copy, Debug)]
pub enum Fault {
    /// Flip the lowest bit of client→server byte number `at`.
    FlipUp { at: u64 },
    /// Relay exactly `after` bytes client→server, then close both sockets
    /// (a FIN to each side): a connection cut mid-upload.
    CutUp { after: u64 },
    /// Relay exactly `after` bytes server→client, then close both
    /// sockets: a connection cut mid-download.
    CutDown { after: u64 },
    /// Relay exactly `after` bytes client→server, then hold: the sockets
    /// stay open and nothing more is read that way (the sender blocks once
    /// the socket buffers fill) until [`Proxy::release`]. The other
    /// direction goes on.
    StallUp { after: u64 },
    /// [`Fault::StallUp`] server→client.
    StallDown { after: u64 },
}

#[derive(Clone, Copy, PartialEq)]
enum Way {
    Up,
    Down,
}

#[derive(Clone, Copy)]
enum Stop {
    Cut,
    Stall,
}

/// What one direction of one connection does: flip byte `flip`, and stop
/// (cut or stall) when `stop.0` bytes have been relayed.
#[derive(Clone, Copy, Default)]
struct Plan {
    flip: Option<u64>,
    stop: Option<(u64, Stop)>,
}

impl Fault {
    fn plan(self, way: Way) -> Plan {
        let (faulty, plan) = match self {
            Fault::FlipUp { at } => (
                Way::Up,
                Plan {
                    flip: Some(at),
                    stop: None,
                },
            ),
            Fault::CutUp { after } => (Way::Up, Plan::stop(after, Stop::Cut)),
            Fault::CutDown { after } => (Way::Down, Plan::stop(after, Stop::Cut)),
            Fault::StallUp { after } => (Way::Up, Plan::stop(after, Stop::Stall)),
            Fault::StallDown { after } => (Way::Down, Plan::stop(after, Stop::Stall)),
        };
        if faulty == way {
            plan
        } else {
            Plan::default()
        }
    }
}

impl Plan {
    fn stop(after: u64, how: Stop) -> Plan {
        Plan {
            flip: None,
            stop: Some((after, how)),
        }
    }
}

/// A running relay; `addr` is where clients connect. Dropping it cuts
/// every open connection (as [`Proxy::cut`]) and stops accepting.
pub struct Proxy {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
}

/// One relayed connection, from [`Proxy::conn`].
pub struct Conn<'a> {
    shared: &'a Shared,
    i: usize,
}

struct Shared {
    state: Mutex<State>,
    changed: Condvar,
}

#[derive(Default)]
struct State {
    /// In accept order.
    conns: Vec<ConnState>,
    /// Directions holding at their stall point now, not yet released.
    holding: usize,
    /// How many times `release` was called.
    releases: u64,
    /// The proxy was dropped: accept nothing more.
    closed: bool,
}

#[derive(Default)]
struct ConnState {
    up: u64,
    down: u64,
    /// Directions that finished, 0..=2.
    ended: u8,
    cut: bool,
    /// The client and the upstream socket (clones), to cut them.
    sockets: Vec<TcpStream>,
}

impl ConnState {
    fn cut(&mut self) {
        self.cut = true;
        for s in &self.sockets {
            let _ = s.shutdown(Shutdown::Both);
        }
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits, at most `PATIENCE`, until `done` holds; panics naming `what`
    /// if it never does.
    fn wait_for(&self, what: &str, done: impl Fn(&State) -> bool) -> MutexGuard<'_, State> {
        let (state, timeout) = self
            .changed
            .wait_timeout_while(self.lock(), PATIENCE, |s| !done(s))
            .unwrap_or_else(PoisonError::into_inner);
        if timeout.timed_out() {
            drop(state);
            panic!("the relay never got to: {what}");
        }
        state
    }

    /// Holds connection `i` at a stall point until a release (true) or a
    /// cut (false).
    fn hold(&self, i: usize) -> bool {
        let mut state = self.lock();
        let seen = state.releases;
        state.holding += 1;
        self.changed.notify_all();
        let mut state = self
            .changed
            .wait_while(state, |s| s.releases == seen && !s.conns[i].cut)
            .unwrap_or_else(PoisonError::into_inner);
        let released = state.releases != seen;
        if !released {
            state.holding -= 1;
        }
        released && !state.conns[i].cut
    }
}

impl Proxy {
    /// Listens on an ephemeral port of 127.0.0.1 and relays each
    /// connection to `upstream`: connection `i` (in accept order, from 0)
    /// with `faults[i]`, connections past the list faithfully. A client
    /// whose upstream connect fails is closed (its connection still
    /// counts, with nothing relayed).
    pub fn start(upstream: SocketAddr, faults: &[Fault]) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            changed: Condvar::new(),
        });
        let faults = faults.to_vec();
        let sh = shared.clone();
        thread::spawn(move || accept_loop(&listener, upstream, &faults, &sh));
        Proxy { addr, shared }
    }

    /// Connection `i` (from 0, in accept order); waits (at most 20 s, then
    /// panics) until it has been accepted.
    pub fn conn(&self, i: usize) -> Conn<'_> {
        drop(
            self.shared
                .wait_for(&format!("connection {i}"), |s| s.conns.len() > i),
        );
        Conn {
            shared: &self.shared,
            i,
        }
    }

    /// Waits (at most 20 s, then panics) until some direction holds at its
    /// stall point: it has relayed exactly its `after` bytes, and relays
    /// nothing more until [`Proxy::release`].
    pub fn wait_stalled(&self) {
        drop(self.shared.wait_for("a stall point", |s| s.holding > 0));
    }

    /// Lets every direction holding now go on relaying (faithfully).
    /// Panics if none holds: release after [`Proxy::wait_stalled`].
    pub fn release(&self) {
        let mut state = self.shared.lock();
        assert!(state.holding > 0, "release: nothing is stalled");
        state.holding = 0;
        state.releases += 1;
        self.shared.changed.notify_all();
    }

    /// Cuts every connection open now: closes both its sockets, relaying
    /// nothing more, not even what a stall holds. For a test that killed
    /// the client during a stall and needs the server to see the end.
    /// Later connections are relayed as usual.
    pub fn cut(&self) {
        self.cut_all(false);
    }

    /// Cuts every open connection and, if `close`, accepts no more (in one
    /// step, so no connection slips in between).
    fn cut_all(&self, close: bool) {
        let mut state = self.shared.lock();
        state.closed |= close;
        for c in &mut state.conns {
            c.cut();
        }
        self.shared.changed.notify_all();
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.cut_all(true);
        // Wake the acceptor so it sees `closed` and closes the listener.
        let _ = TcpStream::connect(self.addr);
    }
}

impl Conn<'_> {
    /// Bytes relayed client→server so far.
    pub fn up(&self) -> u64 {
        self.shared.lock().conns[self.i].up
    }

    /// Bytes relayed server→client so far.
    pub fn down(&self) -> u64 {
        self.shared.lock().conns[self.i].down
    }

    /// Waits (at most 20 s, then panics) until both directions have
    /// ended, so `up` and `down` are final.
    pub fn wait_closed(&self) {
        let i = self.i;
        drop(
            self.shared
                .wait_for(&format!("the end of connection {i}"), |s| {
                    s.conns[i].ended == 2
                }),
        );
    }
}

fn accept_loop(
    listener: &TcpListener,
    upstream: SocketAddr,
    faults: &[Fault],
    shared: &Arc<Shared>,
) {
    loop {
        let Ok((client, _)) = listener.accept() else {
            return;
        };
        if shared.lock().closed {
            return;
        }
        let server = TcpStream::connect(upstream).ok();
        let mut state = shared.lock();
        if state.closed {
            return;
        }
        let i = state.conns.len();
        let Some(server) = server else {
            state.conns.push(ConnState {
                ended: 2,
                ..ConnState::default()
            });
            shared.changed.notify_all();
            continue;
        };
        let sockets = vec![client.try_clone().unwrap(), server.try_clone().unwrap()];
        state.conns.push(ConnState {
            sockets,
            ..ConnState::default()
        });
        shared.changed.notify_all();
        drop(state);
        let fault = faults.get(i).copied();
        let plan = |way| fault.map_or(Plan::default(), |f| f.plan(way));
        for (way, from, to) in [
            (
                Way::Up,
                client.try_clone().unwrap(),
                server.try_clone().unwrap(),
            ),
            (
                Way::Down,
                server.try_clone().unwrap(),
                client.try_clone().unwrap(),
            ),
        ] {
            let (shared, plan) = (shared.clone(), plan(way));
            thread::spawn(move || relay(&shared, i, way, from, to, plan));
        }
    }
}

/// Copies `from` to `to` for direction `way` of connection `i` along
/// `plan`, counting; at the end of `from` passes the end on to `to`.
fn relay(shared: &Shared, i: usize, way: Way, mut from: TcpStream, mut to: TcpStream, plan: Plan) {
    let mut buf = [0u8; 16 * 1024];
    let mut done: u64 = 0;
    let mut stop = plan.stop;
    loop {
        if let Some((_, how)) = stop.filter(|&(at, _)| at == done) {
            match how {
                Stop::Cut => {
                    shared.lock().conns[i].cut();
                    break;
                }
                Stop::Stall => {
                    if !shared.hold(i) {
                        break;
                    }
                    stop = None;
                }
            }
        }
        // Never read past the stop: what is not read stays with the sender.
        let room = stop.map_or(buf.len(), |(at, _)| {
            buf.len()
                .min(usize::try_from(at - done).unwrap_or(usize::MAX))
        });
        let n = match from.read(&mut buf[..room]) {
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Ok(0) | Err(_) => {
                let _ = to.shutdown(Shutdown::Write);
                break;
            }
            Ok(n) => n,
        };
        if let Some(at) = plan.flip {
            if (done..done + n as u64).contains(&at) {
                buf[(at - done) as usize] ^= 1;
            }
        }
        if to.write_all(&buf[..n]).is_err() {
            // The receiver is gone: end the connection both ways.
            shared.lock().conns[i].cut();
            break;
        }
        done += n as u64;
        let conn = &mut shared.lock().conns[i];
        match way {
            Way::Up => conn.up = done,
            Way::Down => conn.down = done,
        }
    }
    shared.lock().conns[i].ended += 1;
    shared.changed.notify_all();
}
