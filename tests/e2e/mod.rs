//! The end-to-end harness: a real `sft serve` child with its own home and
//! root, client homes that run the `sft` binary, and a hand-driven client
//! for cuts and stalls. Shared by the tests/cli_*.rs files.
#![allow(dead_code)] // each test binary uses a different part

pub mod proxy;

use std::io::{BufRead, BufReader, Read};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tempfile::TempDir;

pub const SFT: &str = env!("CARGO_BIN_EXE_sft");
pub const CHUNK: usize = 256 * 1024;

/// A running `sft serve` with its own home and root.
pub struct Server {
    pub child: Child,
    pub addr: SocketAddr,
    pub root: PathBuf,
    pub host_fp: String,
    pub log: Arc<Mutex<Vec<String>>>,
    _home: TempDir,
}

impl Server {
    pub fn start(client_pub: Option<&Path>, extra: &[&str]) -> Server {
        let home = TempDir::new().unwrap();
        let root = home.path().join("root");
        Server::launch(home, root, client_pub, extra)
    }

    /// Starts a server whose root already holds `files` (name, content).
    pub fn start_with_root(client_pub: &Path, files: &[(&str, &[u8])]) -> Server {
        let home = TempDir::new().unwrap();
        let root = home.path().join("root");
        std::fs::create_dir(&root).unwrap();
        for (name, content) in files {
            std::fs::write(root.join(name), content).unwrap();
        }
        Server::launch(home, root, Some(client_pub), &[])
    }

    pub fn launch(
        home: TempDir,
        root: PathBuf,
        client_pub: Option<&Path>,
        extra: &[&str],
    ) -> Server {
        let mut cmd = Command::new(SFT);
        cmd.env("SFT_HOME", home.path())
            .env("RUST_LOG", "info")
            .args(["serve", "--listen", "127.0.0.1:0", "--root"])
            .arg(&root)
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        match client_pub {
            Some(p) => {
                let auth = home.path().join("authorized_keys");
                std::fs::copy(p, &auth).unwrap();
                cmd.arg("--authorized-keys").arg(auth);
            }
            None => {
                cmd.arg("--allow-any-client");
            }
        }
        let mut child = cmd.spawn().unwrap();
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let mut seen = Vec::new();
        let (addr, host_fp) = loop {
            let line = lines
                .next()
                .expect("server exited before listening")
                .unwrap();
            if let Some(rest) = line.split("listening on ").nth(1) {
                let addr = rest.split(',').next().unwrap().parse().unwrap();
                let fp = rest
                    .split("host key ")
                    .nth(1)
                    .unwrap()
                    .split(',')
                    .next()
                    .unwrap()
                    .to_string();
                break (addr, fp);
            }
            seen.push(line);
        };
        let log = Arc::new(Mutex::new(seen));
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        Server {
            child,
            addr,
            root,
            host_fp,
            log,
            _home: home,
        }
    }

    pub fn target(&self) -> String {
        self.addr.to_string()
    }

    /// Names in the root, temporary files included.
    pub fn root_names(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(&self.root)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    pub fn log_contains(&self, needle: &str) -> bool {
        self.log.lock().unwrap().iter().any(|l| l.contains(needle))
    }

    /// Waits (bounded) until the log shows `needle`.
    pub fn wait_log(&self, needle: &str) -> bool {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if self.log_contains(needle) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A client home with an identity.
pub struct Client {
    pub home: TempDir,
}

impl Client {
    pub fn new() -> Client {
        let home = TempDir::new().unwrap();
        let out = Command::new(SFT)
            .env("SFT_HOME", home.path())
            .arg("keygen")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        Client { home }
    }

    pub fn public_key(&self) -> PathBuf {
        self.home.path().join("identity.pub")
    }

    pub fn sft(&self, args: &[&str]) -> Output {
        Command::new(SFT)
            .env("SFT_HOME", self.home.path())
            .current_dir(self.home.path())
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    pub fn dir(&self) -> &Path {
        self.home.path()
    }
}

pub fn code(out: &Output) -> i32 {
    out.status.code().expect("exited normally")
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub fn random_file(dir: &Path, name: &str, len: usize) -> PathBuf {
    let mut data = vec![0u8; len];
    let mut x: u64 = 0x9e3779b97f4a7c15 ^ len as u64;
    for b in data.iter_mut() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = x as u8;
    }
    let p = dir.join(name);
    std::fs::write(&p, data).unwrap();
    p
}

pub fn pair() -> (Server, Client) {
    let client = Client::new();
    let server = Server::start(Some(&client.public_key()), &[]);
    (server, client)
}

// ---- a hand-driven client for cuts and stalls ------------------------------------------

pub mod raw {
    use super::*;
    use sft::crypto::ed25519::{Fingerprint, SigningKey};
    use sft::proto::conn::{ClientConnection, ClientEvent};
    use sft::proto::handshake::client::{ClientConfig, ServerTrust};
    use sft::proto::handshake::Ephemeral;
    use sft::proto::timers::Timeouts;
    use sft::proto::ProtoError;

    pub struct Raw {
        pub conn: ClientConnection,
        pub sock: TcpStream,
    }

    impl Raw {
        /// Handshakes as the client whose key is at `home/identity`.
        pub fn connect(addr: SocketAddr, home: &Path, server_fp: &str) -> Raw {
            let key = sft::keys::load_identity(&home.join("identity")).unwrap();
            let mut raw = Raw {
                conn: ClientConnection::new(
                    ClientConfig {
                        identity: Arc::new(key),
                        trust: ServerTrust::Pinned(Fingerprint::parse(server_fp).unwrap()),
                    },
                    Ephemeral::generate().unwrap(),
                    Timeouts::default(),
                    Instant::now(),
                )
                .unwrap(),
                sock: TcpStream::connect(addr).unwrap(),
            };
            raw.sock
                .set_read_timeout(Some(Duration::from_secs(20)))
                .unwrap();
            while !raw.conn.is_established() {
                raw.step().unwrap();
            }
            raw
        }

        /// Writes everything pending, then reads once and drains events.
        pub fn step(&mut self) -> Result<Vec<String>, ProtoError> {
            let now = Instant::now();
            while self.conn.wants_write() {
                self.conn.write_tls(&mut self.sock, now).unwrap();
            }
            let mut buf = [0u8; 65536];
            // A read interrupted by a signal is not the end of the stream.
            let n = loop {
                match self.sock.read(&mut buf) {
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    r => break r.unwrap_or(0),
                }
            };
            self.conn.read_tls(&mut &buf[..n], now).unwrap();
            let mut evs = Vec::new();
            while let Some(ev) = self.conn.next_event()? {
                evs.push(match ev {
                    ClientEvent::Data(_) => "data".to_string(),
                    other => format!("{other:?}"),
                });
            }
            Ok(evs)
        }
    }

    /// Sends a HELLO on `sock` and reads the start of the server's answer:
    /// proof that the server admitted the connection, which stays
    /// unauthenticated (no RESPONSE follows).
    pub fn half_way(sock: &mut TcpStream) {
        let mut conn = ClientConnection::new(
            ClientConfig {
                identity: Arc::new(SigningKey::generate().unwrap()),
                trust: ServerTrust::Ask,
            },
            Ephemeral::generate().unwrap(),
            Timeouts::default(),
            Instant::now(),
        )
        .unwrap();
        conn.write_tls(sock, Instant::now()).unwrap();
        let mut head = [0u8; 2];
        sock.read_exact(&mut head).unwrap();
        assert_ne!(head[1], 3, "a CHALLENGE, not a plaintext alert");
    }

    pub fn identity(home: &Path) -> SigningKey {
        sft::keys::load_identity(&home.join("identity")).unwrap()
    }
}
