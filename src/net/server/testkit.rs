//! In-memory pieces for the server's unit tests: a socket stand-in and a
//! session established over it with an in-memory client, so a turn can be
//! run and inspected without sockets or clocks.

use crate::aligned::AlignedBuf;
use std::io::{self, Read, Write};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Instant;

use mio::Token;
use tempfile::TempDir;

use super::admission::{Admission, Limits};
use super::committer::{Commit, Job};
use super::hasher::HashJob;
use super::peer::{DriveError, Session, Shared};
use super::refusal_log::RefusalLog;
use super::turn::{drive, Turn};
use super::upload_policy::UploadPolicy;
use crate::crypto::ed25519::SigningKey;
use crate::fs::ReceiveRoot;
use crate::proto::conn::{ClientConnection, ClientEvent, ServerConnection};
use crate::proto::evidence::{Receipt, Stored};
use crate::proto::handshake::client::{ClientConfig, ServerTrust};
use crate::proto::handshake::server::{ClientPolicy, ServerConfig, ServerEphemeral};
use crate::proto::handshake::Ephemeral;
use crate::proto::limiter::{Rate, DEFAULT_SOURCE_RATE};
use crate::proto::msgs::{Outcome, SessionParams};
use crate::proto::timers::Timeouts;
use crate::proto::{ProtoError, CHUNK_LEN};

/// A socket stand-in: reads what the client sent (then would block),
/// takes every write unless stalled.
#[derive(Default)]
pub(super) struct Pipe {
    input: Vec<u8>,
    pos: usize,
    output: Vec<u8>,
    /// Writes would block: a client that does not read, its socket
    /// buffers full.
    stalled: bool,
}

impl Read for Pipe {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.pos == self.input.len() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let n = buf.len().min(self.input.len() - self.pos);
        buf[..n].copy_from_slice(&self.input[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

impl Write for Pipe {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.stalled {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        self.output.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A client and a server session joined by a [`Pipe`].
pub(super) struct Bench {
    pub client: ClientConnection,
    pub session: Session,
    pub shared: Shared,
    pipe: Pipe,
    /// The committer's queue: nothing runs it unless a test does
    /// ([`Bench::commit_all`]), so upload answers stay owed until then.
    jobs: mpsc::Receiver<Job>,
    /// The hasher's queue, kept open: nothing runs it (the resume tests
    /// run a real server, tests/net_resume.rs).
    _hash_jobs: mpsc::Receiver<HashJob>,
    /// The host key, which signs the receipts [`Bench::commit_all`] gives.
    host: Arc<SigningKey>,
    _dir: TempDir,
}

impl Bench {
    /// An established session; the server's root holds `files` (name,
    /// size in bytes) and allows each key `key_rate` requests.
    pub fn established(key_rate: Rate, files: &[(&str, usize)]) -> Bench {
        let dir = TempDir::new().unwrap();
        let root = ReceiveRoot::open_or_create(&dir.path().join("root")).unwrap();
        for (name, size) in files {
            std::fs::write(root.path().join(name), vec![9u8; *size]).unwrap();
        }
        let host = Arc::new(SigningKey::generate().unwrap());
        let host_fp = host.verifying_key().fingerprint();
        let config = Arc::new(ServerConfig {
            identity: host.clone(),
            clients: ClientPolicy::AnyClient,
            params: SessionParams {
                max_file_size: u64::MAX,
                idle_timeout_secs: 60,
            },
        });
        let now = Instant::now();
        let conn = ServerConnection::new(config, ServerEphemeral::Fresh, Timeouts::default(), now);
        let client = ClientConnection::new(
            ClientConfig {
                identity: Arc::new(SigningKey::generate().unwrap()),
                trust: ServerTrust::Pinned(host_fp),
            },
            Ephemeral::generate().unwrap(),
            Timeouts::default(),
            now,
        )
        .unwrap();
        let (commits, jobs) = mpsc::channel();
        let (hasher, hash_jobs) = mpsc::channel();
        let mut bench = Bench {
            client,
            session: Session::new(conn, "192.0.2.1:5555".parse().unwrap()),
            shared: Shared {
                root: Arc::new(root),
                admission: Arc::new(Mutex::new(Admission::new(
                    Limits {
                        max_connections: 10,
                        max_pending_per_source: 10,
                        source_rate: DEFAULT_SOURCE_RATE,
                        key_rate,
                    },
                    true,
                ))),
                clients: super::options::Clients::Any,
                sub_roots: Default::default(),
                upload_policy: UploadPolicy {
                    max_file_size: u64::MAX,
                    allow_overwrite: false,
                    max_mode: 0o777,
                },
                commits,
                hasher,
                read_buf: AlignedBuf::new(CHUNK_LEN),
                refusals: RefusalLog::new(now),
                audited_refusals: Arc::new(Mutex::new(crate::proto::limiter::Buckets::new(
                    super::requests::AUDITED_REFUSAL_RATE,
                ))),
                superseded: Vec::new(),
                handoff: false,
            },
            pipe: Pipe::default(),
            jobs,
            _hash_jobs: hash_jobs,
            host,
            _dir: dir,
        };
        while !bench.client.is_established() {
            bench.send();
            bench.turn().unwrap();
            bench.receive().unwrap();
        }
        bench
    }

    /// Moves the client's output to the server's side of the pipe.
    pub fn send(&mut self) {
        while self.client.wants_write() {
            self.client
                .write_tls(&mut self.pipe.input, Instant::now())
                .unwrap();
        }
    }

    /// Makes the client stop reading (`true`) or read again.
    pub fn stall(&mut self, stalled: bool) {
        self.pipe.stalled = stalled;
    }

    /// One server turn.
    pub fn turn(&mut self) -> Result<Turn, DriveError> {
        drive(
            &mut self.session,
            &mut self.pipe,
            Token(2),
            &mut self.shared,
        )
    }

    /// Takes the committer's queue and counts the refusals it would record
    /// in the audit log.
    pub fn audited_refusals(&mut self) -> usize {
        self.jobs
            .try_iter()
            .filter(
                |j| matches!(j, Job::Audit(e) if matches!(**e, crate::audit::Entry::Refusal(_))),
            )
            .count()
    }

    /// Does the committer's queued work, as its thread would (without an
    /// audit log), and gives each answer (a receipt, Ok, or the failure as
    /// a refusal).
    pub fn commit_all(&mut self) {
        for (seq, job) in (1..).zip(self.jobs.try_iter()) {
            let (ticket, done) = match job {
                Job::Writeback(_) | Job::Audit(_) => continue,
                Job::Commit { commit, .. } => {
                    let Commit {
                        staged,
                        ticket,
                        signed,
                        ..
                    } = *commit;
                    let stored = Stored {
                        commit_time: 0,
                        audit_seq: seq,
                    };
                    match staged.commit() {
                        Ok(_) => {
                            let receipt = Receipt::sign(signed, stored, &self.host).unwrap();
                            self.session.conn.answer_stored(ticket, &receipt).unwrap();
                            continue;
                        }
                        Err(e) => (ticket, Err(e)),
                    }
                }
                Job::DirMeta {
                    ticket,
                    root,
                    path,
                    meta,
                    ..
                } => (ticket, root.make_dir(&path, Some(meta))),
            };
            let outcome =
                done.map_or_else(|e| super::outcomes::refusal_for(&e), |()| Outcome::ok());
            self.session.conn.answer(ticket, outcome).unwrap();
        }
    }

    /// Hands the server's output to the client; returns the client's
    /// events in words.
    pub fn receive(&mut self) -> Result<Vec<String>, ProtoError> {
        let out = std::mem::take(&mut self.pipe.output);
        let mut bytes = &out[..];
        let mut events = Vec::new();
        loop {
            while let Some(ev) = self.client.next_event()? {
                events.push(match ev {
                    ClientEvent::Data(_) => "data".to_string(),
                    other => format!("{other:?}"),
                });
            }
            if bytes.is_empty() {
                return Ok(events);
            }
            self.client.read_tls(&mut bytes, Instant::now()).unwrap();
        }
    }
}
