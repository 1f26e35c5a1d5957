//! How a server starts: the listener bound, the loops built around one
//! admission state and one audit log, each with its committer and hasher
//! threads, and run on their own threads.

use std::collections::HashMap;
use std::io;
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use mio::{Interest, Poll, Waker};

use super::admission::Admission;
use super::closing::ClosingSet;
use super::committer::spawn_committer;
use super::hasher::{spawn_hasher, sweep_every, HashJob};
use super::iteration::{Again, HandshakeBudget};
use super::loops::{Command, Link, Loops};
use super::peer::Shared;
use super::refusal_log::RefusalLog;
use super::upload_policy::UploadPolicy;
use super::{accept, requests, ClientPolicy, Clients, ServeOptions, Server, Timeouts};
use super::{FIRST_PEER, LISTENER, WAKER};
use crate::aligned::AlignedBuf;
use crate::proto::handshake::server::ServerConfig;
use crate::proto::msgs::SessionParams;
use crate::proto::CHUNK_LEN;

/// What every loop of one server is built from.
struct Common {
    root: Arc<crate::fs::ReceiveRoot>,
    admission: Arc<Mutex<Admission>>,
    clients: Clients,
    sub_roots: super::peer::SubRoots,
    audited_refusals: Arc<Mutex<crate::proto::limiter::Buckets<[u8; 32]>>>,
    audit: Arc<Mutex<crate::audit::AuditLog>>,
    upload_policy: UploadPolicy,
    config: Arc<ServerConfig>,
    timeouts: Timeouts,
    partial_ttl: Duration,
}

impl Server {
    /// Binds the listener and sets up `opts.threads` loops (at least one),
    /// each with its committer and hasher threads; the front has the
    /// hasher sweep the partials older than `partial_ttl` before any other
    /// job.
    ///
    /// # Errors
    /// The bind or poll setup error.
    pub fn bind(opts: ServeOptions) -> io::Result<Server> {
        let mut listener = accept::listen(opts.listen)?;
        let threads = opts.threads.max(1);
        let mut polls = Vec::with_capacity(threads);
        let mut links = Vec::with_capacity(threads);
        for _ in 0..threads {
            let poll = Poll::new()?;
            let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
            let (tx, rx) = mpsc::channel();
            links.push(Link::new(tx, waker.clone()));
            polls.push((poll, waker, rx));
        }
        let loops = Arc::new(Loops::new(links, FIRST_PEER));
        let upload_policy = UploadPolicy {
            max_file_size: opts.max_file_size,
            allow_overwrite: opts.allow_overwrite,
            max_mode: opts.max_mode,
        };
        let config = Arc::new(ServerConfig {
            identity: opts.identity,
            clients: match &opts.clients {
                Clients::Any => ClientPolicy::AnyClient,
                Clients::Authorized(table) => ClientPolicy::Authorized(table.clone()),
            },
            params: SessionParams {
                max_file_size: opts.max_file_size,
                idle_timeout_secs: opts.timeouts.idle.as_secs().try_into().unwrap_or(u32::MAX),
            },
        });
        // With any key accepted, anyone can authenticate: no source is
        // proven then.
        let proving = matches!(config.clients, ClientPolicy::Authorized(_));
        let common = Common {
            root: Arc::new(opts.root),
            admission: Arc::new(Mutex::new(Admission::new(opts.limits, proving))),
            clients: opts.clients,
            sub_roots: Default::default(),
            audited_refusals: Arc::new(Mutex::new(crate::proto::limiter::Buckets::new(
                requests::AUDITED_REFUSAL_RATE,
            ))),
            audit: Arc::new(Mutex::new(opts.audit)),
            upload_policy,
            config,
            timeouts: opts.timeouts,
            partial_ttl: opts.partial_ttl,
        };
        let mut servers = Vec::with_capacity(threads);
        for (id, (poll, waker, commands)) in polls.into_iter().enumerate() {
            servers.push(Server::one_loop(
                id, &loops, poll, waker, commands, &common,
            )?);
        }
        let mut front = servers.remove(0);
        front
            .poll
            .registry()
            .register(&mut listener, LISTENER, Interest::READABLE)?;
        front.listener = Some(listener);
        front.workers = servers;
        let _ = front.shared.hasher.send(HashJob::Sweep {
            root: common.root.clone(),
            max_age: opts.partial_ttl,
        });
        Ok(front)
    }

    /// Loop `id`: its committer and hasher threads and its state.
    fn one_loop(
        id: usize,
        loops: &Arc<Loops>,
        poll: Poll,
        waker: Arc<Waker>,
        commands: mpsc::Receiver<Command>,
        common: &Common,
    ) -> io::Result<Server> {
        let (commits, done) = spawn_committer(waker.clone(), common.audit.clone())?;
        let (hasher, hashed) = spawn_hasher(waker)?;
        let now = Instant::now();
        Ok(Server {
            id,
            loops: loops.clone(),
            commands,
            workers: Vec::new(),
            poll,
            listener: None,
            peers: HashMap::new(),
            again: Again::default(),
            handshakes: HandshakeBudget::new(),
            config: common.config.clone(),
            timeouts: common.timeouts,
            shared: Shared {
                root: common.root.clone(),
                admission: common.admission.clone(),
                upload_policy: common.upload_policy,
                clients: common.clients.clone(),
                sub_roots: common.sub_roots.clone(),
                commits,
                hasher,
                read_buf: AlignedBuf::new(CHUNK_LEN),
                refusals: RefusalLog::new(now),
                audited_refusals: common.audited_refusals.clone(),
                superseded: Vec::new(),
                handoff: id == 0 && loops.len() > 1,
            },
            done,
            hashed,
            closing: ClosingSet::new(),
            last_prune: now,
            partial_ttl: common.partial_ttl,
            next_sweep: now + sweep_every(common.partial_ttl),
        })
    }

    /// Serves until shut down, each loop on its own thread (named
    /// `sft-loop-N`; the front on the caller's). On shutdown every open
    /// session hears alert 9 (ShuttingDown), partial uploads are removed,
    /// and every socket is closed gracefully within [`CLOSE_LINGER`].
    ///
    /// # Errors
    /// Only errors of a poll itself (or a loop's thread not starting);
    /// per-connection errors close that connection and are logged.
    pub fn run(mut self) -> io::Result<()> {
        let loops = self.loops.clone();
        let mut threads = Vec::new();
        for worker in std::mem::take(&mut self.workers) {
            let name = format!("sft-loop-{}", worker.id);
            match thread::Builder::new()
                .name(name)
                .spawn(move || worker.run_loop())
            {
                Ok(t) => threads.push(t),
                Err(e) => {
                    loops.shut_down_all();
                    return Err(e);
                }
            }
        }
        let mut result = self.run_loop();
        // Whichever way the front ended, the others end too.
        loops.shut_down_all();
        for t in threads {
            let worker = t
                .join()
                .unwrap_or_else(|_| Err(io::Error::other("a loop panicked")));
            result = result.and(worker);
        }
        result
    }
}
