//! Small proxy servers for the tests, written from the specifications:
//! SOCKS5 (RFC 1928) with username/password (RFC 1929), SOCKS4 with its
//! 4A extension, and HTTP CONNECT (RFC 9110 §9.3.6) with Basic
//! credentials (RFC 7617). Threads and std::net; each counts the
//! connections it accepted and the tunnels it relayed, and records the
//! target each client asked for, so a test can assert that the traffic
//! really went through it (and that a refused setting reached nothing).
//!
//! They are test tools: a wrong credential is answered as the
//! specification says, and anything else malformed just closes.
#![allow(dead_code)] // each test binary uses a different part

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;

use base64::Engine;

/// Which protocol a test proxy speaks.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Kind {
    /// SOCKS5; with credentials it accepts only method 2 (RFC 1929).
    Socks5,
    /// SOCKS4 and SOCKS4a; with credentials the user id must match.
    Socks4,
    /// HTTP CONNECT; with credentials a Basic Proxy-Authorization must
    /// match, else 407.
    Http,
}

#[derive(Default)]
struct Counts {
    accepted: AtomicUsize,
    tunnels: AtomicUsize,
    bytes: AtomicUsize,
    targets: Mutex<Vec<String>>,
}

/// A proxy listening on 127.0.0.1, port chosen by the system.
pub struct TestProxy {
    pub addr: SocketAddr,
    counts: Arc<Counts>,
}

impl TestProxy {
    /// Starts a proxy of `kind` that demands `creds` (user, password;
    /// SOCKS4 checks the user only) when given.
    pub fn start(kind: Kind, creds: Option<(&str, &str)>) -> TestProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let counts = Arc::new(Counts::default());
        let creds = creds.map(|(u, p)| (u.to_string(), p.to_string()));
        let c = counts.clone();
        thread::spawn(move || {
            for sock in listener.incoming() {
                let Ok(sock) = sock else { continue };
                c.accepted.fetch_add(1, Ordering::SeqCst);
                let (c, creds) = (c.clone(), creds.clone());
                thread::spawn(move || {
                    let _ = serve(kind, sock, creds.as_ref(), &c);
                });
            }
        });
        TestProxy { addr, counts }
    }

    /// A URL for this proxy: `scheme://[userinfo@]127.0.0.1:port`.
    pub fn url(&self, scheme: &str, userinfo: Option<&str>) -> String {
        match userinfo {
            Some(u) => format!("{scheme}://{u}@{}", self.addr),
            None => format!("{scheme}://{}", self.addr),
        }
    }

    /// TCP connections accepted.
    pub fn accepted(&self) -> usize {
        self.counts.accepted.load(Ordering::SeqCst)
    }

    /// Tunnels opened to a target and relayed.
    pub fn tunnels(&self) -> usize {
        self.counts.tunnels.load(Ordering::SeqCst)
    }

    /// Bytes relayed through the tunnels, both ways, so far.
    pub fn bytes(&self) -> usize {
        self.counts.bytes.load(Ordering::SeqCst)
    }

    /// The targets clients asked for, as sent (`name:port` or `ip:port`).
    pub fn targets(&self) -> Vec<String> {
        self.counts.targets.lock().unwrap().clone()
    }
}

type Creds = (String, String);

fn serve(kind: Kind, mut c: TcpStream, creds: Option<&Creds>, n: &Counts) -> std::io::Result<()> {
    let target = match kind {
        Kind::Socks5 => socks5(&mut c, creds)?,
        Kind::Socks4 => socks4(&mut c, creds)?,
        Kind::Http => http(&mut c, creds)?,
    };
    let Some((target, up)) = target else {
        return Ok(());
    };
    n.targets.lock().unwrap().push(target);
    n.tunnels.fetch_add(1, Ordering::SeqCst);
    relay(c, up, n);
    Ok(())
}

fn byte(c: &mut TcpStream) -> std::io::Result<u8> {
    let mut b = [0u8; 1];
    c.read_exact(&mut b)?;
    Ok(b[0])
}

fn bytes(c: &mut TcpStream, n: usize) -> std::io::Result<Vec<u8>> {
    let mut v = vec![0u8; n];
    c.read_exact(&mut v)?;
    Ok(v)
}

fn until_nul(c: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let mut v = Vec::new();
    loop {
        match byte(c)? {
            0 => return Ok(v),
            b => v.push(b),
        }
    }
}

/// Connects to `host:port` (any of its addresses).
fn dial(host: &str, port: u16) -> Option<TcpStream> {
    (host, port)
        .to_socket_addrs()
        .ok()?
        .find_map(|a| TcpStream::connect(a).ok())
}

type Opened = Option<(String, TcpStream)>;

fn socks5(c: &mut TcpStream, creds: Option<&Creds>) -> std::io::Result<Opened> {
    let head = bytes(c, 2)?;
    assert_eq!(head[0], 5);
    let methods = bytes(c, head[1] as usize)?;
    let want = if creds.is_some() { 2 } else { 0 };
    if !methods.contains(&want) {
        c.write_all(&[5, 0xFF])?;
        return Ok(None);
    }
    c.write_all(&[5, want])?;
    if let Some((user, pass)) = creds {
        assert_eq!(byte(c)?, 1, "RFC 1929 version");
        let ulen = byte(c)? as usize;
        let u = bytes(c, ulen)?;
        let plen = byte(c)? as usize;
        let p = bytes(c, plen)?;
        if u != user.as_bytes() || p != pass.as_bytes() {
            c.write_all(&[1, 1])?;
            return Ok(None);
        }
        c.write_all(&[1, 0])?;
    }
    let req = bytes(c, 4)?;
    assert_eq!(&req[..3], [5, 1, 0], "CONNECT");
    let host = match req[3] {
        1 => {
            let a = bytes(c, 4)?;
            format!("{}.{}.{}.{}", a[0], a[1], a[2], a[3])
        }
        3 => {
            let len = byte(c)? as usize;
            String::from_utf8(bytes(c, len)?).unwrap()
        }
        4 => {
            let a: [u8; 16] = bytes(c, 16)?.try_into().unwrap();
            std::net::Ipv6Addr::from(a).to_string()
        }
        other => panic!("address type {other}"),
    };
    let port = u16::from_be_bytes(bytes(c, 2)?.try_into().unwrap());
    match dial(&host, port) {
        Some(up) => {
            c.write_all(&[5, 0, 0, 1, 127, 0, 0, 1, 0, 0])?;
            Ok(Some((format!("{host}:{port}"), up)))
        }
        None => {
            c.write_all(&[5, 5, 0, 1, 0, 0, 0, 0, 0, 0])?;
            Ok(None)
        }
    }
}

fn socks4(c: &mut TcpStream, creds: Option<&Creds>) -> std::io::Result<Opened> {
    let head = bytes(c, 8)?;
    assert_eq!(&head[..2], [4, 1], "SOCKS4 CONNECT");
    let port = u16::from_be_bytes([head[2], head[3]]);
    let user = until_nul(c)?;
    let host = if head[4..7] == [0, 0, 0] && head[7] != 0 {
        String::from_utf8(until_nul(c)?).unwrap()
    } else {
        format!("{}.{}.{}.{}", head[4], head[5], head[6], head[7])
    };
    let reply = |cd: u8| [0, cd, 0, 0, 0, 0, 0, 0];
    if creds.is_some_and(|(u, _)| u.as_bytes() != user) {
        c.write_all(&reply(93))?;
        return Ok(None);
    }
    match dial(&host, port) {
        Some(up) => {
            c.write_all(&reply(90))?;
            Ok(Some((format!("{host}:{port}"), up)))
        }
        None => {
            c.write_all(&reply(91))?;
            Ok(None)
        }
    }
}

fn http(c: &mut TcpStream, creds: Option<&Creds>) -> std::io::Result<Opened> {
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        head.push(byte(c)?);
    }
    let head = String::from_utf8(head).unwrap();
    let mut lines = head.split("\r\n");
    let request = lines.next().unwrap();
    let authority = request
        .strip_prefix("CONNECT ")
        .and_then(|r| r.strip_suffix(" HTTP/1.1"))
        .expect("a CONNECT request line");
    if let Some((user, pass)) = creds {
        let want = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
        let given = lines.find_map(|l| l.strip_prefix("Proxy-Authorization: Basic "));
        if given != Some(want.as_str()) {
            c.write_all(
                b"HTTP/1.1 407 Proxy Authentication Required\r\n\
                  Proxy-Authenticate: Basic realm=\"test\"\r\nContent-Length: 0\r\n\r\n",
            )?;
            return Ok(None);
        }
    }
    let (host, port) = authority.rsplit_once(':').unwrap();
    let host = host.trim_start_matches('[').trim_end_matches(']');
    match dial(host, port.parse().unwrap()) {
        Some(up) => {
            c.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")?;
            Ok(Some((authority.to_string(), up)))
        }
        None => {
            c.write_all(b"HTTP/1.1 502 Bad Gateway\r\n\r\n")?;
            Ok(None)
        }
    }
}

/// Copies both ways until each side ends, counting the bytes.
fn relay(client: TcpStream, server: TcpStream, n: &Counts) {
    let copy = |mut from: TcpStream, mut to: TcpStream, n: &Counts| {
        let mut buf = [0u8; 64 * 1024];
        while let Ok(k @ 1..) = from.read(&mut buf) {
            if to.write_all(&buf[..k]).is_err() {
                break;
            }
            n.bytes.fetch_add(k, Ordering::SeqCst);
        }
        let _ = to.shutdown(Shutdown::Write);
    };
    let (c2, s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
    thread::scope(|s| {
        s.spawn(|| copy(client, server, n));
        s.spawn(|| copy(s2, c2, n));
    });
}
