//! Lowered server limits end to end through the real `sft` binary: each
//! one refuses or closes the peer that reaches it while an honest client
//! completes.

mod e2e;

use std::io::Read;
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use e2e::*;

fn honest_ls_works(server: &Server, client: &Client) {
    let out = client.sft(&["ls", &server.target(), "--server-key", &server.host_fp]);
    assert_eq!(code(&out), 0, "honest client failed: {}", stderr(&out));
}

/// Waits until the server closes `sock` (read returns 0 or an error).
fn closed_by_server(sock: &mut TcpStream) -> bool {
    sock.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut buf = [0u8; 1024];
    loop {
        match sock.read(&mut buf) {
            Ok(0) | Err(_) => return true,
            Ok(_) => continue,
        }
    }
}

#[test]
fn connection_cap_refuses_while_honest_client_completes() {
    let client = Client::new();
    let server = Server::start(Some(&client.public_key()), &["--max-connections", "1"]);
    // An authenticated session holds the only slot: another client is
    // refused (after its retries).
    let a = raw::Raw::connect(server.addr, client.dir(), &server.host_fp);
    let out = client.sft(&["ls", &server.target(), "--server-key", &server.host_fp]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert!(stderr(&out).contains("is busy"), "{}", stderr(&out));
    assert!(server.wait_log("no free connection slot"));
    drop(a);
    // A slot held by a socket that never authenticates is given to the next
    // client instead: idle sockets cannot lock honest clients out. (Its
    // CHALLENGE proves it was admitted.)
    let mut silent = TcpStream::connect(server.addr).unwrap();
    raw::half_way(&mut silent);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let out = client.sft(&["ls", &server.target(), "--server-key", &server.host_fp]);
        if code(&out) == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "never admitted: {}",
            stderr(&out)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(server.wait_log("(not authenticated) to make room"));
    assert!(closed_by_server(&mut silent));
}

#[test]
fn the_source_rate_refuses_a_flooding_address_not_others() {
    let client = Client::new();
    let server = Server::start(Some(&client.public_key()), &["--source-rate", "5/60s"]);
    // Ten connections from 127.0.0.2: five are admitted (and wait for a
    // HELLO), the other five get the plaintext "busy" alert and are closed.
    let flood_from: SocketAddr = "127.0.0.2:0".parse().unwrap();
    let socks: Vec<TcpStream> = (0..10)
        .map(|_| {
            let s =
                socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
            s.bind(&flood_from.into()).unwrap();
            s.connect(&server.addr.into()).unwrap();
            s.into()
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(20);
    while server
        .log
        .lock()
        .unwrap()
        .iter()
        .filter(|l| l.contains("over the connection rate"))
        .count()
        < 5
    {
        assert!(Instant::now() < deadline, "five refusals never logged");
        std::thread::sleep(Duration::from_millis(20));
    }
    let busy = sft::proto::conn::busy_record();
    let (mut refused, mut waiting) = (0, 0);
    for mut sock in socks {
        sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut b = [0u8; 64];
        sock.set_nonblocking(true).unwrap();
        match sock.read(&mut b) {
            Ok(n) if b[..n] == busy[..] => refused += 1,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => waiting += 1,
            other => panic!("unexpected answer: {other:?}"),
        }
    }
    assert_eq!((refused, waiting), (5, 5));
    // An honest client from 127.0.0.1 is unaffected (one connection + one request).
    honest_ls_works(&server, &client);
}

#[test]
fn handshake_timeout_closes_a_silent_peer_while_honest_client_completes() {
    let client = Client::new();
    let server = Server::start(Some(&client.public_key()), &["--handshake-timeout", "1s"]);
    let mut silent = TcpStream::connect(server.addr).unwrap();
    honest_ls_works(&server, &client);
    assert!(closed_by_server(&mut silent));
    assert!(server.wait_log("handshake timed out"));
}

#[test]
fn idle_timeout_closes_an_idle_session_while_honest_client_completes() {
    let client = Client::new();
    let server = Server::start(Some(&client.public_key()), &["--idle-timeout", "1s"]);
    let mut idle = raw::Raw::connect(server.addr, client.dir(), &server.host_fp);
    honest_ls_works(&server, &client);
    // The idle session gets a timeout alert, then the socket closes.
    let err = loop {
        match idle.step() {
            Ok(_) => continue,
            Err(e) => break e,
        }
    };
    assert!(format!("{err:?}").contains("Timeout"), "{err:?}");
    assert!(server.wait_log("connection idle for too long"));
}

#[test]
fn a_put_over_its_key_rate_waits_and_completes() {
    let client = Client::new();
    // Two requests fit in the key's bucket; the third file waits.
    let server = Server::start(Some(&client.public_key()), &["--key-rate", "2/2s"]);
    let files: Vec<String> = (0..3)
        .map(|i| {
            random_file(client.dir(), &format!("r{i}"), 100)
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    let mut args = vec!["put", "--server-key", &server.host_fp];
    let t = server.target();
    args.push(&t);
    args.extend(files.iter().map(String::as_str));
    let out = client.sft(&args);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(stderr(&out).contains("waiting"), "{}", stderr(&out));
    assert_eq!(server.root_names(), vec!["r0", "r1", "r2"]);
}
