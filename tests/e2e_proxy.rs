//! The test relay (tests/e2e/proxy.rs) itself, in front of tiny upstream
//! servers: it counts both ways per connection, cuts and stalls at the
//! exact byte, releases, and applies a fault to its own connection only.

mod e2e;

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::mpsc::{channel, Receiver};
use std::thread;
use std::time::Duration;

use e2e::proxy::{Fault, Proxy};

/// A bound on waits, so a broken relay fails the test instead of hanging.
const PATIENCE: Duration = Duration::from_secs(20);

/// The bytes `0..n` of the stream the tests send.
fn data(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 % 251) as u8).collect()
}

/// An upstream on 127.0.0.1 that runs `serve` on each connection and
/// reports what it returns, once the connection ended.
fn upstream(serve: fn(TcpStream) -> Vec<u8>) -> (SocketAddr, Receiver<Vec<u8>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = channel();
    thread::spawn(move || {
        for sock in listener.incoming() {
            let tx = tx.clone();
            let sock = sock.unwrap();
            thread::spawn(move || tx.send(serve(sock)));
        }
    });
    (addr, rx)
}

/// Reads to the end (or an error); returns what it read.
fn sink(mut sock: TcpStream) -> Vec<u8> {
    let mut got = Vec::new();
    let _ = sock.read_to_end(&mut got);
    got
}

/// Sends back what it reads; returns what it read.
fn echo(mut sock: TcpStream) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n @ 1..) = sock.read(&mut buf) {
        sock.write_all(&buf[..n]).unwrap();
        got.extend_from_slice(&buf[..n]);
    }
    sock.shutdown(Shutdown::Write).unwrap();
    got
}

/// Sends `data(5000)`, then reads to the end; returns nothing.
fn source(sock: TcpStream) -> Vec<u8> {
    let _ = (&sock).write_all(&data(5000));
    sink(sock);
    Vec::new()
}

fn connect(proxy: &Proxy) -> TcpStream {
    let sock = TcpStream::connect(proxy.addr).unwrap();
    sock.set_read_timeout(Some(PATIENCE)).unwrap();
    sock
}

fn rest(sock: &mut TcpStream) -> Vec<u8> {
    let mut got = Vec::new();
    sock.read_to_end(&mut got).unwrap();
    got
}

#[test]
fn counts_both_ways_for_each_connection() {
    let (addr, seen) = upstream(echo);
    let proxy = Proxy::start(addr, &[]);
    for (i, n) in [(0, 300_000), (1, 3000)] {
        let mut sock = connect(&proxy);
        let mut writer = sock.try_clone().unwrap();
        let sent = data(n);
        let back = thread::scope(|s| {
            s.spawn(|| {
                writer.write_all(&sent).unwrap();
                writer.shutdown(Shutdown::Write).unwrap();
            });
            rest(&mut sock)
        });
        assert_eq!(back, sent, "connection {i} echoed");
        assert_eq!(seen.recv_timeout(PATIENCE).unwrap(), sent);
        let conn = proxy.conn(i);
        conn.wait_closed();
        assert_eq!((conn.up(), conn.down()), (n as u64, n as u64), "conn {i}");
    }
}

#[test]
fn cut_up_relays_exactly_after_bytes_then_ends_both_sides() {
    let (addr, seen) = upstream(sink);
    let proxy = Proxy::start(addr, &[Fault::CutUp { after: 1000 }]);
    let mut sock = connect(&proxy);
    // The relay may cut before the client wrote everything.
    let _ = sock.write_all(&data(5000));
    assert_eq!(seen.recv_timeout(PATIENCE).unwrap(), data(1000));
    assert!(
        !matches!(sock.read(&mut [0u8; 16]), Ok(1..)),
        "the client's side was closed too"
    );
    let conn = proxy.conn(0);
    conn.wait_closed();
    assert_eq!((conn.up(), conn.down()), (1000, 0));

    // The next connection through the same relay is faithful.
    let mut sock = connect(&proxy);
    sock.write_all(&data(5000)).unwrap();
    sock.shutdown(Shutdown::Write).unwrap();
    assert_eq!(seen.recv_timeout(PATIENCE).unwrap(), data(5000));
    let conn = proxy.conn(1);
    conn.wait_closed();
    assert_eq!((conn.up(), conn.down()), (5000, 0));
}

#[test]
fn cut_down_relays_exactly_after_bytes_then_ends_both_sides() {
    let (addr, seen) = upstream(source);
    let proxy = Proxy::start(addr, &[Fault::CutDown { after: 1000 }]);
    let mut sock = connect(&proxy);
    assert_eq!(rest(&mut sock), data(1000));
    seen.recv_timeout(PATIENCE)
        .expect("the server's side was closed too");
    let conn = proxy.conn(0);
    conn.wait_closed();
    assert_eq!((conn.up(), conn.down()), (0, 1000));
}

#[test]
fn stall_up_holds_at_after_bytes_until_released() {
    let (addr, seen) = upstream(sink);
    let proxy = Proxy::start(addr, &[Fault::StallUp { after: 1000 }]);
    let mut sock = connect(&proxy);
    sock.write_all(&data(5000)).unwrap();
    proxy.wait_stalled();
    assert_eq!(proxy.conn(0).up(), 1000, "held at the stall point");
    proxy.release();
    sock.shutdown(Shutdown::Write).unwrap();
    assert_eq!(seen.recv_timeout(PATIENCE).unwrap(), data(5000));
    let conn = proxy.conn(0);
    conn.wait_closed();
    assert_eq!((conn.up(), conn.down()), (5000, 0));
}

#[test]
fn stall_down_holds_at_after_bytes_until_released() {
    let (addr, _seen) = upstream(source);
    let proxy = Proxy::start(addr, &[Fault::StallDown { after: 1000 }]);
    let mut sock = connect(&proxy);
    proxy.wait_stalled();
    let mut first = vec![0u8; 1000];
    sock.read_exact(&mut first).unwrap();
    assert_eq!(first, data(1000));
    assert_eq!(proxy.conn(0).down(), 1000, "held at the stall point");
    proxy.release();
    // The source ends after the client does.
    sock.shutdown(Shutdown::Write).unwrap();
    assert_eq!(rest(&mut sock), data(5000)[1000..]);
    let conn = proxy.conn(0);
    conn.wait_closed();
    assert_eq!((conn.up(), conn.down()), (0, 5000));
}

#[test]
fn cut_ends_a_stalled_connection_and_later_ones_relay() {
    let (addr, seen) = upstream(source);
    let proxy = Proxy::start(addr, &[Fault::StallDown { after: 1000 }]);
    let mut sock = connect(&proxy);
    proxy.wait_stalled();
    proxy.cut();
    assert_eq!(rest(&mut sock), data(1000), "nothing held is relayed");
    seen.recv_timeout(PATIENCE)
        .expect("the server's side was closed too");
    proxy.conn(0).wait_closed();

    let mut sock = connect(&proxy);
    sock.shutdown(Shutdown::Write).unwrap();
    assert_eq!(rest(&mut sock), data(5000));
    let conn = proxy.conn(1);
    conn.wait_closed();
    assert_eq!((conn.up(), conn.down()), (0, 5000));
}

#[test]
fn each_connection_stalls_at_its_own_fault_after_a_release() {
    let (addr, seen) = upstream(sink);
    let faults = [
        Fault::StallUp { after: 1000 },
        Fault::StallUp { after: 500 },
    ];
    let proxy = Proxy::start(addr, &faults);
    for (i, after) in [(0, 1000), (1, 500)] {
        let sock = connect(&proxy);
        (&sock).write_all(&data(5000)).unwrap();
        // Right after the previous release, this waits for the new stall.
        proxy.wait_stalled();
        assert_eq!(proxy.conn(i).up(), after, "conn {i} held at its point");
        proxy.release();
        sock.shutdown(Shutdown::Write).unwrap();
        assert_eq!(seen.recv_timeout(PATIENCE).unwrap(), data(5000));
    }
}

#[test]
fn dropping_the_proxy_cuts_a_stalled_connection() {
    let (addr, seen) = upstream(sink);
    let proxy = Proxy::start(addr, &[Fault::StallUp { after: 1000 }]);
    let sock = connect(&proxy);
    (&sock).write_all(&data(5000)).unwrap();
    proxy.wait_stalled();
    drop(proxy);
    assert_eq!(seen.recv_timeout(PATIENCE).unwrap(), data(1000));
}

#[test]
fn stall_at_zero_holds_before_the_first_byte() {
    let (addr, seen) = upstream(sink);
    let proxy = Proxy::start(addr, &[Fault::StallUp { after: 0 }]);
    let sock = connect(&proxy);
    (&sock).write_all(&data(10)).unwrap();
    proxy.wait_stalled();
    assert_eq!(proxy.conn(0).up(), 0);
    proxy.release();
    sock.shutdown(Shutdown::Write).unwrap();
    assert_eq!(seen.recv_timeout(PATIENCE).unwrap(), data(10));
}

#[test]
fn flip_up_flips_one_bit_of_one_byte() {
    let (addr, seen) = upstream(sink);
    let proxy = Proxy::start(addr, &[Fault::FlipUp { at: 10 }]);
    let sock = connect(&proxy);
    (&sock).write_all(&data(100)).unwrap();
    sock.shutdown(Shutdown::Write).unwrap();
    let mut want = data(100);
    want[10] ^= 1;
    assert_eq!(seen.recv_timeout(PATIENCE).unwrap(), want);
}

#[test]
#[should_panic(expected = "nothing is stalled")]
fn release_without_a_stall_is_a_test_bug() {
    let (addr, _seen) = upstream(sink);
    Proxy::start(addr, &[]).release();
}
