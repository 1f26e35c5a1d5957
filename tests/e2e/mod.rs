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
        Server::launch_with_env(home, root, client_pub, extra, &[])
    }

    /// [`Server::launch`] with extra environment variables (name, value).
    pub fn launch_with_env(
        home: TempDir,
        root: PathBuf,
        client_pub: Option<&Path>,
        extra: &[&str],
        env: &[(&str, &Path)],
    ) -> Server {
        let mut cmd = Command::new(SFT);
        cmd.env("SFT_HOME", home.path())
            .envs(env.iter().copied())
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

    /// The server's home: its host key and audit log.
    pub fn home(&self) -> &Path {
        self._home.path()
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
        self.log_count(needle) > 0
    }

    /// How many log lines so far contain `needle`.
    pub fn log_count(&self, needle: &str) -> usize {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.contains(needle))
            .count()
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

impl Server {
    /// The server's Ed25519 public host key: the owner a downloading
    /// client names its partial files after.
    pub fn host_key(&self) -> [u8; 32] {
        let key = sft::keys::load_identity(&self._home.path().join("host_identity")).unwrap();
        *key.verifying_key().as_bytes()
    }

    /// Kills the server with SIGKILL (no shutdown of any kind) and starts
    /// another on the same home (so the same host key) and root, with
    /// `client_pub` and `extra` as for [`Server::start`]. The new server
    /// listens on a new port and has a new log.
    pub fn kill_and_restart(mut self, client_pub: Option<&Path>, extra: &[&str]) -> Server {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
        let home = std::mem::replace(&mut self._home, TempDir::new().unwrap());
        let root = self.root.clone();
        drop(self);
        Server::launch(home, root, client_pub, extra)
    }

    /// Waits (bounded, 20 s) until a log line contains every one of
    /// `parts`, and returns the first such line.
    pub fn wait_line(&self, parts: &[&str]) -> Option<String> {
        let find = || {
            let log = self.log.lock().unwrap();
            log.iter()
                .find(|l| parts.iter().all(|p| l.contains(p)))
                .cloned()
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(line) = find() {
                return Some(line);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
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

impl Client {
    /// The client's Ed25519 public key: the owner a server names this
    /// client's partial uploads after.
    pub fn key(&self) -> [u8; 32] {
        *raw::identity(self.home.path()).verifying_key().as_bytes()
    }

    /// Starts `sft ARGS` as [`Client::sft`] runs it, with stdout and
    /// stderr piped, for a test that kills it or acts while it runs.
    pub fn spawn(&self, args: &[&str]) -> Child {
        Command::new(SFT)
            .env("SFT_HOME", self.home.path())
            .current_dir(self.home.path())
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
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

/// Runs `sft serve` with `home` as SFT_HOME and `auth` as its
/// authorized_keys, for a start that must fail: its output once it exits.
pub fn serve_once(home: &Path, auth: &Path) -> Output {
    Command::new(SFT)
        .env("SFT_HOME", home)
        .args(["serve", "--listen", "127.0.0.1:0", "--authorized-keys"])
        .arg(auth)
        .arg("--root")
        .arg(home.join("root"))
        .output()
        .unwrap()
}

/// Starts `client`'s upload of `name` (8 MiB) to `server` through a proxy
/// that holds it after 1 MiB: a transfer in flight, its session
/// established (and counted against the key's limits).
pub fn stalled_upload(server: &Server, client: &Client, name: &str) -> (proxy::Proxy, Child) {
    let file = random_file(client.dir(), name, 8 << 20);
    let relay = proxy::Proxy::start(server.addr, &[proxy::Fault::StallUp { after: 1 << 20 }]);
    let child = client.spawn(&[
        "put",
        &relay.addr.to_string(),
        "--server-key",
        &server.host_fp,
        file.to_str().unwrap(),
    ]);
    relay.wait_stalled();
    (relay, child)
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

// ---- partial files -----------------------------------------------------------------------

/// Where a receive root `dir` keeps the partial file of `path` received
/// from the peer whose public key is `owner`.
pub fn partial_path(dir: &Path, owner: &[u8; 32], path: &str) -> PathBuf {
    dir.join(sft::fs::partial_name(owner, path).unwrap())
}

/// The names in `dir` that are partial or temporary files (`.sft-part-`).
pub fn temp_names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".sft-part-"))
        .collect();
    v.sort();
    v
}

/// Sets the mtime of `path` to `age` before now.
pub fn set_age(path: &Path, age: Duration) {
    let file = std::fs::File::options().write(true).open(path).unwrap();
    file.set_modified(std::time::SystemTime::now() - age)
        .unwrap();
}

/// Flips the lowest bit of byte `at` of `path`, in place.
pub fn flip_byte(path: &Path, at: u64) {
    use std::os::unix::fs::FileExt;
    let file = std::fs::File::options()
        .read(true)
        .write(true)
        .open(path)
        .unwrap();
    let mut b = [0u8];
    file.read_exact_at(&mut b, at).unwrap();
    b[0] ^= 1;
    file.write_all_at(&b, at).unwrap();
}

/// Waits (bounded, 20 s: a hang guard, never an assertion on time) until
/// `done` holds; returns whether it did.
pub fn wait_until(done: impl Fn() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done() {
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    true
}

/// The length of the file at `path`, 0 when there is none.
pub fn len_or_zero(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

/// A small seeded generator (xorshift64*) for test choices that print
/// their seed: `SFT_TEST_SEED` when set, else one from the clock.
pub struct Rng(u64);

impl Rng {
    pub fn from_env_or_clock() -> (Rng, u64) {
        let seed = std::env::var("SFT_TEST_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                let t = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap();
                t.as_secs() ^ u64::from(t.subsec_nanos())
            });
        (Rng(seed | 1), seed)
    }

    /// A number in `lo..hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        lo + self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % (hi - lo)
    }
}
