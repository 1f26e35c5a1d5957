//! The closing set on real loopback sockets, each limit at its value and one
//! past it. Time is passed in; nothing waits on the clock except hang guards.

use super::*;
use std::net::{TcpListener as StdListener, TcpStream as StdStream};
use std::thread;

use mio::{Events, Poll};

/// A hang guard for waits that a correct set always ends.
const GUARD: Duration = Duration::from_secs(60);

struct Rig {
    poll: Poll,
    events: Events,
    listener: StdListener,
    set: ClosingSet,
}

impl Rig {
    fn new() -> Rig {
        Rig {
            poll: Poll::new().unwrap(),
            events: Events::with_capacity(64),
            listener: StdListener::bind("127.0.0.1:0").unwrap(),
            set: ClosingSet::new(),
        }
    }

    /// A connection: our peer's side (blocking) and the server's side.
    fn pair(&self) -> (StdStream, std::net::TcpStream) {
        let client = StdStream::connect(self.listener.local_addr().unwrap()).unwrap();
        client.set_read_timeout(Some(GUARD)).unwrap();
        let (server, _) = self.listener.accept().unwrap();
        (client, server)
    }

    fn close(&mut self, token: usize, server: std::net::TcpStream, unsent: &[u8]) -> Close {
        self.close_at(token, server, unsent, Instant::now())
    }

    fn close_at(
        &mut self,
        token: usize,
        server: std::net::TcpStream,
        unsent: &[u8],
        now: Instant,
    ) -> Close {
        server.set_nonblocking(true).unwrap();
        let sock = TcpStream::from_std(server);
        let registry = self.poll.registry();
        self.set
            .close(registry, Token(token), sock, unsent.to_vec(), now)
    }

    fn service(&mut self, token: usize) -> Drain {
        self.set
            .service(self.poll.registry(), Token(token))
            .expect("in the set")
    }

    /// Serves `token` as its events come until it leaves the set.
    fn until_closed(&mut self, token: usize) -> Drain {
        loop {
            match self.service(token) {
                Drain::Open(Turn::MoreWork) => {}
                Drain::Open(Turn::Idle) => match self.poll.poll(&mut self.events, Some(GUARD)) {
                    Err(e) if e.kind() == ErrorKind::Interrupted => {}
                    r => {
                        r.unwrap();
                        assert!(!self.events.is_empty(), "hang guard: no event");
                    }
                },
                ended => return ended,
            }
        }
    }
}

/// Everything the peer receives up to the end of stream.
fn read_all(mut client: StdStream) -> io::Result<Vec<u8>> {
    let mut got = Vec::new();
    client.read_to_end(&mut got)?;
    Ok(got)
}

/// Waits until `n` bytes sent by the peer are queued at `server`.
fn wait_queued(server: &std::net::TcpStream, n: usize) {
    let mut buf = vec![0u8; n];
    loop {
        match server.peek(&mut buf) {
            Ok(queued) if queued >= n => return,
            Err(e) if e.kind() != ErrorKind::Interrupted => panic!("peek: {e}"),
            _ => {}
        }
    }
}

#[test]
fn the_set_holds_max_closing_sockets_and_closes_one_more_at_once() {
    let mut rig = Rig::new();
    let mut clients = Vec::new();
    for token in 0..MAX_CLOSING {
        let (client, server) = rig.pair();
        assert_eq!(rig.close(token, server, b"bye"), Close::Lingering);
        clients.push(client);
    }
    let (client, server) = rig.pair();
    assert_eq!(rig.close(MAX_CLOSING, server, b"bye"), Close::Immediate);
    clients.push(client);
    assert_eq!(rig.set.len(), MAX_CLOSING);
    assert!(!rig.set.contains(Token(MAX_CLOSING)));
    // Every peer, the one past the bound too, got the last words and a FIN.
    for client in clients {
        assert_eq!(read_all(client).unwrap(), b"bye");
    }
}

#[test]
fn unread_bytes_from_the_peer_do_not_reset_the_last_words() {
    let mut rig = Rig::new();
    let (mut client, server) = rig.pair();
    // The peer speaks first (a HELLO), and the server never reads it.
    client.write_all(&[0x5a; 1000]).unwrap();
    wait_queued(&server, 1000);
    assert_eq!(rig.close(7, server, b"busy"), Close::Lingering);
    let reader = thread::spawn(move || read_all(client));
    assert_eq!(rig.until_closed(7), Drain::Eof);
    assert_eq!(reader.join().unwrap().unwrap(), b"busy");
    assert!(rig.set.is_empty());
}

#[test]
fn a_closing_socket_is_kept_close_linger_and_not_a_moment_longer() {
    let mut rig = Rig::new();
    let (_client, server) = rig.pair();
    let t0 = Instant::now();
    assert_eq!(rig.close_at(3, server, b"", t0), Close::Lingering);
    assert_eq!(rig.set.next_deadline(), Some(t0 + CLOSE_LINGER));
    let registry = rig.poll.registry();
    let just_before = t0 + CLOSE_LINGER - Duration::from_nanos(1);
    assert_eq!(rig.set.expire(registry, just_before), 0);
    assert_eq!(rig.set.expire(registry, t0 + CLOSE_LINGER), 1);
    assert!(rig.set.is_empty());
    assert_eq!(rig.set.next_deadline(), None);
}

#[test]
fn the_drain_budget_is_read_to_the_end_and_one_byte_more_closes() {
    for (sent, ending) in [
        (CLOSE_DRAIN_BUDGET, Drain::Eof),
        (CLOSE_DRAIN_BUDGET + 1, Drain::OverBudget),
    ] {
        let mut rig = Rig::new();
        let (mut client, server) = rig.pair();
        assert_eq!(rig.close(1, server, b""), Close::Lingering);
        let writer = thread::spawn(move || {
            let block = vec![1u8; 1 << 20];
            let mut left = sent;
            while left > 0 {
                let n = left.min(block.len() as u64) as usize;
                // Past the budget the server resets: the writer just stops.
                if client.write_all(&block[..n]).is_err() {
                    return;
                }
                left -= n as u64;
            }
            let _ = client.shutdown(Shutdown::Write);
            let _ = read_all(client);
        });
        assert_eq!(rig.until_closed(1), ending, "{sent} bytes");
        writer.join().unwrap();
    }
}

#[test]
fn one_turn_drains_at_most_drain_per_turn() {
    // At the limit one turn reads everything; one byte past, that byte
    // waits for the next turn.
    for sent in [DRAIN_PER_TURN, DRAIN_PER_TURN + 1] {
        let mut rig = Rig::new();
        let (mut client, server) = rig.pair();
        client.write_all(&vec![2u8; sent]).unwrap();
        wait_queued(&server, sent);
        assert_eq!(rig.close(1, server, b""), Close::Lingering);
        assert_eq!(rig.service(1), Drain::Open(Turn::MoreWork));
        assert_eq!(rig.set.drained(Token(1)), Some(DRAIN_PER_TURN as u64));
        assert_eq!(rig.service(1), Drain::Open(Turn::Idle));
        assert_eq!(rig.set.drained(Token(1)), Some(sent as u64));
    }
}

#[test]
fn unsent_output_up_to_max_close_unsent_is_delivered_before_the_fin() {
    for (len, delivered) in [(MAX_CLOSE_UNSENT, true), (MAX_CLOSE_UNSENT + 1, false)] {
        let mut rig = Rig::new();
        let (client, server) = rig.pair();
        let out: Vec<u8> = (0..len).map(|i| i as u8).collect();
        assert_eq!(rig.close(1, server, &out), Close::Lingering);
        let reader = thread::spawn(move || read_all(client));
        assert_eq!(rig.until_closed(1), Drain::Eof);
        let got = reader.join().unwrap().unwrap();
        assert_eq!(got == out, delivered, "{len} bytes");
        assert_eq!(got.is_empty(), !delivered, "{len} bytes");
    }
}

#[test]
fn at_shutdown_everything_pending_is_written_out_whatever_the_bounds() {
    let mut rig = Rig::new();
    rig.set.admit_all();
    let mut readers = Vec::new();
    // More output than the socket buffers hold, on more sockets than the
    // set normally keeps.
    let out: Vec<u8> = (0..(4 << 20)).map(|i: usize| (i % 251) as u8).collect();
    for token in 0..=MAX_CLOSING {
        let (client, server) = rig.pair();
        let small = token != 0;
        let unsent = if small { &b"alert"[..] } else { &out[..] };
        assert_eq!(rig.close(token, server, unsent), Close::Lingering);
        readers.push(thread::spawn(move || read_all(client)));
    }
    assert_eq!(rig.until_closed(0), Drain::Eof);
    for (token, reader) in readers.into_iter().enumerate() {
        let got = reader.join().unwrap().unwrap();
        if token == 0 {
            assert!(got == out, "{} of {} bytes", got.len(), out.len());
        } else {
            assert_eq!(got, b"alert");
        }
    }
}
