//! `sft serve`: one mio `Poll` over the listener and every connection.
//!
//! Admission (connection cap, per-IP rate) is decided at accept, before any
//! connection state or crypto exists; a refused peer is closed at once.
//! File data is written as it arrives; the one slow step, fsync and rename
//! of a finished upload, runs on a committer thread so other connections
//! keep moving.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use log::{info, warn};
use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token, Waker};

use super::pump::{self, ReadEnd};
use crate::crypto::ed25519::Fingerprint;
use crate::fs::{FsError, ReceiveRoot, SourceFile, Staged};
use crate::proto::conn::{busy_record, ServerConnection, ServerEvent as Event, SEND_HIGH_WATER};
use crate::proto::handshake::server::ServerConfig;
use crate::proto::handshake::Ephemeral;
use crate::proto::limiter::{
    Admission, ClientKey, Decision, Limiter, RateLimit, MAX_UNAUTHENTICATED_PER_CLIENT,
};
use crate::proto::msgs::{ListEntry, Outcome, ResultCode};
use crate::proto::name::display_safe;
use crate::proto::timers::Timeouts;
use crate::proto::{ProtoError, CHUNK_LEN};

const LISTENER: Token = Token(0);
const WAKER: Token = Token(1);
const FIRST_PEER: usize = 2;

/// Longest sleep of the loop (1 s), so a shutdown signal delivered to
/// another thread is seen promptly.
const MAX_SLEEP: Duration = Duration::from_secs(1);

/// Bytes of an upload written between two background writebacks (64 MiB):
/// the disk works while data still arrives, instead of all at the final
/// fsync.
const WRITEBACK_EVERY: u64 = 64 << 20;

/// Everything `sft serve` needs to run.
pub struct ServeOptions {
    /// Address to listen on (port 0 picks a free port).
    pub listen: SocketAddr,
    /// Where uploads land and downloads come from.
    pub root: ReceiveRoot,
    /// Host identity, client policy and announced limits.
    pub config: Arc<ServerConfig>,
    /// Handshake and idle timeouts.
    pub timeouts: Timeouts,
    /// Per-client rate of connections and control requests.
    pub rate: RateLimit,
    /// Concurrent connection cap.
    pub max_connections: usize,
    /// Whether a client may replace an existing file (`--overwrite`).
    pub allow_overwrite: bool,
}

/// Stops a running [`Server`] from another thread.
#[derive(Clone)]
pub struct ShutdownHandle {
    flag: Arc<AtomicBool>,
    waker: Arc<Waker>,
}

impl ShutdownHandle {
    /// Asks the server loop to return; open connections are dropped.
    pub fn shutdown(&self) {
        self.flag.store(true, Ordering::SeqCst);
        let _ = self.waker.wake();
    }
}

struct Upload {
    staged: Staged,
    name: String,
    size: u64,
    started: Instant,
    error: Option<FsError>,
    /// Bytes written when the last background writeback was queued.
    written_back: u64,
}

struct Download {
    source: SourceFile,
    name: String,
    sent: u64,
    started: Instant,
}

struct Peer {
    conn: ServerConnection,
    sock: TcpStream,
    addr: SocketAddr,
    interest: Interest,
    since: Instant,
    /// Requests refused for the rate limit since the last admitted one.
    rate_refusals: u32,
    client: Option<Fingerprint>,
    upload: Option<Upload>,
    download: Option<Download>,
}

impl Peer {
    fn who(&self) -> String {
        match &self.client {
            Some(fp) => format!("{} ({fp})", self.addr),
            None => self.addr.to_string(),
        }
    }
}

/// Work for the committer thread, done in order.
enum Job {
    /// Push an upload's written data to disk (a duplicate handle).
    Writeback(std::fs::File),
    /// fsync, move into place and fsync the directory; answer the client.
    Commit { token: Token, upload: Box<Upload> },
}

/// The committer's answer.
struct CommitDone {
    token: Token,
    name: String,
    size: u64,
    started: Instant,
    result: Result<(), FsError>,
}

/// State shared by all connections' event handling.
struct Shared {
    root: Arc<ReceiveRoot>,
    admission: Admission,
    allow_overwrite: bool,
    max_file_size: u64,
    commits: mpsc::Sender<Job>,
    read_buf: Vec<u8>,
    refusals: RefusalLog,
}

/// Refusal lines allowed into the log per second; the rest are counted and
/// summed up once a second, so a flood of refused attempts cannot fill the
/// disk with log.
const REFUSAL_LINES_PER_SEC: u32 = 20;

struct RefusalLog {
    second: Instant,
    lines: u32,
    suppressed: u64,
}

impl RefusalLog {
    fn new() -> Self {
        RefusalLog {
            second: Instant::now(),
            lines: 0,
            suppressed: 0,
        }
    }

    /// Whether a refusal at `now` may be logged.
    fn allow(&mut self, now: Instant) -> bool {
        if now.duration_since(self.second) >= Duration::from_secs(1) {
            if self.suppressed > 0 {
                warn!(
                    "{} more refusals in the last second were not logged",
                    self.suppressed
                );
            }
            *self = RefusalLog {
                second: now,
                lines: 0,
                suppressed: 0,
            };
        }
        if self.lines < REFUSAL_LINES_PER_SEC {
            self.lines += 1;
            true
        } else {
            self.suppressed += 1;
            false
        }
    }
}

/// Requests over the rate limit one connection may send in a row before it
/// is closed. An honest client waits as told between tries.
const MAX_RATE_REFUSALS_IN_A_ROW: u32 = 8;

/// The server: bound, not yet running.
pub struct Server {
    poll: Poll,
    listener: TcpListener,
    waker: Arc<Waker>,
    shutdown: Arc<AtomicBool>,
    peers: HashMap<Token, Peer>,
    /// Connections whose turn ended with work left.
    again: Vec<Token>,
    next_token: usize,
    config: Arc<ServerConfig>,
    timeouts: Timeouts,
    shared: Shared,
    done: mpsc::Receiver<CommitDone>,
}

impl Server {
    /// Binds the listener and starts the committer thread.
    ///
    /// # Errors
    /// The bind or poll setup error.
    pub fn bind(opts: ServeOptions) -> io::Result<Server> {
        let poll = Poll::new()?;
        let mut listener = TcpListener::bind(opts.listen)?;
        poll.registry()
            .register(&mut listener, LISTENER, Interest::READABLE)?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
        let root = Arc::new(opts.root);
        let (commits, done) = spawn_committer(waker.clone())?;
        let max_file_size = opts.config.params.max_file_size;
        Ok(Server {
            poll,
            listener,
            waker,
            shutdown: Arc::new(AtomicBool::new(false)),
            peers: HashMap::new(),
            again: Vec::new(),
            next_token: FIRST_PEER,
            config: opts.config,
            timeouts: opts.timeouts,
            shared: Shared {
                root,
                admission: Admission {
                    limiter: Limiter::new(opts.rate),
                    max_connections: opts.max_connections,
                },
                allow_overwrite: opts.allow_overwrite,
                max_file_size,
                commits,
                read_buf: vec![0u8; CHUNK_LEN],
                refusals: RefusalLog::new(),
            },
            done,
        })
    }

    /// The address actually bound (useful with port 0).
    ///
    /// # Errors
    /// From the socket.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Stops the server on SIGINT or SIGTERM, the way [`ShutdownHandle`]
    /// does: open connections are dropped and their partial uploads removed.
    ///
    /// # Errors
    /// When the handlers cannot be installed.
    pub fn stop_on_signals(&self) -> io::Result<()> {
        for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
            signal_hook::flag::register(sig, self.shutdown.clone())?;
        }
        Ok(())
    }

    /// A handle that stops [`Server::run`] from another thread.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle {
            flag: self.shutdown.clone(),
            waker: self.waker.clone(),
        }
    }

    /// Serves until shut down. On shutdown every open connection is dropped
    /// and its partial upload removed.
    ///
    /// # Errors
    /// Only errors of the poll itself; per-connection errors close that
    /// connection and are logged.
    pub fn run(mut self) -> io::Result<()> {
        let mut events = Events::with_capacity(256);
        let mut last_prune = Instant::now();
        loop {
            let timeout = if self.again.is_empty() {
                self.next_timeout(Instant::now())
                    .map_or(MAX_SLEEP, |t| t.min(MAX_SLEEP))
            } else {
                Duration::ZERO
            };
            match self.poll.poll(&mut events, Some(timeout)) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => events.clear(),
                Err(e) => return Err(e),
                Ok(()) => {}
            }
            if self.shutdown.load(Ordering::SeqCst) {
                let open = self.peers.len();
                let partial = self.peers.values().filter(|p| p.upload.is_some()).count();
                self.peers.clear();
                info!("shutting down: closed {open} connection(s), removed {partial} partial upload(s)");
                return Ok(());
            }
            for event in events.iter() {
                match event.token() {
                    LISTENER => self.accept(),
                    WAKER => self.finish_commits(),
                    token => self.service(token),
                }
            }
            for token in std::mem::take(&mut self.again) {
                self.service(token);
            }
            let now = Instant::now();
            self.expire(now);
            if now.duration_since(last_prune) > Duration::from_secs(60) {
                self.shared.admission.limiter.prune(now);
                last_prune = now;
            }
        }
    }

    fn next_timeout(&self, now: Instant) -> Option<Duration> {
        self.peers
            .values()
            .filter_map(|p| p.conn.poll_timeout())
            .min()
            .map(|d| d.saturating_duration_since(now) + Duration::from_millis(1))
    }

    fn accept(&mut self) {
        loop {
            let (mut sock, addr) = match self.listener.accept() {
                Ok(pair) => pair,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) => {
                    warn!("accept failed: {e}");
                    return;
                }
            };
            let now = Instant::now();
            let client = ClientKey::from(addr.ip());
            let pending_here = self
                .peers
                .values()
                .filter(|p| p.client.is_none() && ClientKey::from(p.addr.ip()) == client)
                .count();
            if pending_here >= MAX_UNAUTHENTICATED_PER_CLIENT {
                refuse_at_accept(sock);
                if self.shared.refusals.allow(now) {
                    warn!("refused {addr}: too many unauthenticated connections from this address");
                }
                continue;
            }
            // When full, a connection that has not authenticated makes room:
            // idle sockets cannot lock honest clients out.
            let evictable = self.eviction_candidate();
            let open = self.peers.len() - usize::from(evictable.is_some());
            match self.shared.admission.decide(addr.ip(), now, open) {
                Decision::Admit => {}
                refusal => {
                    refuse_at_accept(sock);
                    if self.shared.refusals.allow(now) {
                        warn!("refused {addr}: {}", describe(refusal));
                    }
                    continue;
                }
            }
            if let Some(old) =
                evictable.filter(|_| self.peers.len() >= self.shared.admission.max_connections)
            {
                if let Some(p) = self.peers.get(&old) {
                    info!(
                        "closed {} (not authenticated) to make room for {addr}",
                        p.addr
                    );
                }
                self.drop_peer(old);
            }
            let eph = match Ephemeral::generate() {
                Ok(e) => e,
                Err(e) => {
                    warn!("refused {addr}: {e}");
                    continue;
                }
            };
            let token = Token(self.next_token);
            self.next_token += 1;
            if let Err(e) = self
                .poll
                .registry()
                .register(&mut sock, token, Interest::READABLE)
            {
                warn!("refused {addr}: register: {e}");
                continue;
            }
            let _ = sock.set_nodelay(true);
            let conn = ServerConnection::new(self.config.clone(), eph, self.timeouts, now);
            info!("connection from {addr}");
            self.peers.insert(
                token,
                Peer {
                    conn,
                    sock,
                    addr,
                    interest: Interest::READABLE,
                    since: now,
                    rate_refusals: 0,
                    client: None,
                    upload: None,
                    download: None,
                },
            );
        }
    }

    fn service(&mut self, token: Token) {
        let Some(peer) = self.peers.get_mut(&token) else {
            return;
        };
        let outcome = drive(peer, token, &mut self.shared);
        let registry = self.poll.registry();
        let keep = match outcome {
            Ok(turn) if !peer.conn.is_closed() => {
                if turn == Turn::MoreWork && !self.again.contains(&token) {
                    self.again.push(token);
                }
                let wanted = pump::interest(&peer.conn);
                pump::update_interest(registry, &mut peer.sock, token, &mut peer.interest, wanted)
                    .is_ok()
            }
            Ok(_) => {
                info!("{} closed the session", peer.who());
                false
            }
            Err(e) => {
                log_end(peer, &e);
                false
            }
        };
        if !keep {
            self.drop_peer(token);
        }
    }

    /// The unauthenticated connection to close when the server is full:
    /// one from the address holding the most unauthenticated connections,
    /// the oldest of those. An honest client holds one, so an attacker must
    /// spread over as many addresses as there are slots to evict it.
    fn eviction_candidate(&self) -> Option<Token> {
        let pending = || self.peers.iter().filter(|(_, p)| p.client.is_none());
        let mut per_client: HashMap<ClientKey, usize> = HashMap::new();
        for (_, p) in pending() {
            *per_client.entry(ClientKey::from(p.addr.ip())).or_default() += 1;
        }
        pending()
            .max_by(|(_, a), (_, b)| {
                let count = |p: &Peer| per_client[&ClientKey::from(p.addr.ip())];
                count(a).cmp(&count(b)).then(b.since.cmp(&a.since))
            })
            .map(|(t, _)| *t)
    }

    fn drop_peer(&mut self, token: Token) {
        if let Some(mut peer) = self.peers.remove(&token) {
            // Best effort: one write for a final alert or close record.
            let _ = pump::write(&mut peer.conn, &mut peer.sock, Instant::now());
            let _ = self.poll.registry().deregister(&mut peer.sock);
            if let Some(dl) = &peer.download {
                info!(
                    "download {:?} to {} abandoned after {} of {} bytes",
                    dl.name, peer.addr, dl.sent, dl.source.size
                );
            }
            if let Some(up) = peer.upload {
                info!(
                    "upload {:?} from {} abandoned after {} of {} bytes",
                    up.name,
                    peer.addr,
                    up.staged.written(),
                    up.size
                );
            }
        }
    }

    fn expire(&mut self, now: Instant) {
        let expired: Vec<Token> = self
            .peers
            .iter()
            .filter(|(_, p)| p.conn.poll_timeout().is_some_and(|d| d <= now))
            .map(|(t, _)| *t)
            .collect();
        for token in expired {
            if let Some(peer) = self.peers.get_mut(&token) {
                peer.conn.handle_timeout(now);
                if let Some(e) = peer.conn.error() {
                    log_end(peer, &DriveError::Proto(e.clone()));
                    self.drop_peer(token);
                }
            }
        }
    }

    fn finish_commits(&mut self) {
        while let Ok(done) = self.done.try_recv() {
            let Some(peer) = self.peers.get_mut(&done.token) else {
                match done.result {
                    Ok(()) => info!(
                        "stored {:?} ({} bytes); its client left before the answer",
                        done.name, done.size
                    ),
                    Err(e) => warn!("upload {:?} failed after its client left: {e}", done.name),
                }
                continue;
            };
            let outcome = match done.result {
                Ok(()) => {
                    let secs = done.started.elapsed().as_secs_f64();
                    info!(
                        "stored {:?} from {}: {} bytes, {:.1} MiB/s",
                        done.name,
                        peer.who(),
                        done.size,
                        done.size as f64 / (1 << 20) as f64 / secs.max(1e-9)
                    );
                    Outcome::ok()
                }
                Err(e) => {
                    warn!("upload {:?} from {} failed: {e}", done.name, peer.who());
                    refusal_for(&e)
                }
            };
            if peer.conn.send_result(&outcome).is_ok() {
                self.service(done.token);
            }
        }
    }
}

/// Why a connection ended, for the log.
enum DriveError {
    Proto(ProtoError),
    Io(io::Error),
    /// The client kept sending requests that had to be refused.
    Abuse(&'static str),
}

impl From<ProtoError> for DriveError {
    fn from(e: ProtoError) -> Self {
        DriveError::Proto(e)
    }
}

fn log_end(peer: &Peer, e: &DriveError) {
    match e {
        DriveError::Proto(ProtoError::PeerAlert(code)) => info!("{} aborted: {code}", peer.who()),
        DriveError::Proto(ProtoError::Truncated) if peer.client.is_none() => {
            info!("{} left before authenticating", peer.who())
        }
        DriveError::Proto(e) => warn!("{}: {e}", peer.who()),
        DriveError::Io(e) => warn!("{}: socket: {e}", peer.who()),
        DriveError::Abuse(why) => warn!("closed {}: {why}", peer.who()),
    }
}

/// Reads, handles events, produces download data and writes, until the
/// socket would block.
/// Rounds one connection may run per wake-up before the others get a turn
/// (each round moves at most a receive buffer in and a send high-water mark
/// out, so about 12 MiB in all).
const ROUNDS_PER_TURN: usize = 8;

/// Whether a connection stopped because it was done for now, or because
/// its turn ended with work left (it must be serviced again without
/// waiting for a new readiness event, which edge-triggered polling would
/// not deliver).
#[derive(PartialEq, Eq)]
enum Turn {
    Idle,
    MoreWork,
}

/// Events one connection may handle per turn: bounds the work a flood of
/// tiny records can make before the others get a turn.
const EVENTS_PER_TURN: usize = 1024;

/// Reads, handles events, produces download data and writes, until the
/// socket would block or the turn ends.
fn drive(peer: &mut Peer, token: Token, shared: &mut Shared) -> Result<Turn, DriveError> {
    let mut budget = EVENTS_PER_TURN;
    for _ in 0..ROUNDS_PER_TURN {
        let now = Instant::now();
        // Backpressure: while the peer does not take our output, read none
        // of its input, so answers to a request flood cannot pile up. The
        // writable event brings us back here.
        if pump::write(&mut peer.conn, &mut peer.sock, now).map_err(DriveError::Io)?
            && peer.conn.pending_output() >= SEND_HIGH_WATER
        {
            return Ok(Turn::Idle);
        }
        let end = pump::read(&mut peer.conn, &mut peer.sock, now).map_err(DriveError::Io)?;
        let held_back = handle_events(peer, token, shared, now, &mut budget)?;
        produce(peer, &mut shared.read_buf)?;
        let blocked = pump::write(&mut peer.conn, &mut peer.sock, now).map_err(DriveError::Io)?;
        if budget == 0 {
            return Ok(Turn::MoreWork);
        }
        if held_back && blocked {
            // Requests wait in the receive buffer until the peer reads our
            // answers; the writable event resumes here.
            return Ok(Turn::Idle);
        }
        let more_in = end == ReadEnd::BufferFull || held_back;
        let more_out = peer.conn.wants_data() && !blocked;
        if !more_in && !more_out {
            return Ok(Turn::Idle);
        }
    }
    Ok(Turn::MoreWork)
}

fn produce(peer: &mut Peer, buf: &mut [u8]) -> Result<(), DriveError> {
    let Some(dl) = &mut peer.download else {
        return Ok(());
    };
    while peer.conn.wants_data() {
        let want = (dl.source.size - dl.sent).min(CHUNK_LEN as u64) as usize;
        // A file that shrank since it was offered ends the connection: the
        // client sees a truncated transfer and keeps nothing.
        dl.source
            .file
            .read_exact(&mut buf[..want])
            .map_err(DriveError::Io)?;
        peer.conn.send_data(&buf[..want])?;
        dl.sent += want as u64;
    }
    Ok(())
}

/// Tells a refused peer why in one small plaintext alert (a single
/// non-blocking write that may not happen), then closes the socket.
fn refuse_at_accept(mut sock: TcpStream) {
    let _ = sock.write(&busy_record());
}

fn describe(d: Decision) -> String {
    match d {
        Decision::Admit => "admitted".into(),
        Decision::RateLimited { retry_after } => format!(
            "rate limit reached, retry in {}s",
            retry_after.as_secs() + 1
        ),
        Decision::Full => "connection limit reached".into(),
        Decision::TooManyClients => "too many clients tracked".into(),
    }
}

fn refusal(code: ResultCode, reason: impl Into<String>) -> Outcome {
    Outcome::new(code, reason)
}

/// The answer to a client for a file-system failure. Server paths stay in
/// the server's log; the client hears the kind of failure (it knows the name).
fn refusal_for(e: &FsError) -> Outcome {
    match e {
        FsError::Exists(_) => refusal(
            ResultCode::Exists,
            "already exists on the server (ask with --overwrite)",
        ),
        FsError::NotRegular(_) => refusal(
            ResultCode::NotAllowed,
            "is a symlink, directory or special file on the server; refusing",
        ),
        FsError::BadName(_) => refusal(ResultCode::BadName, "is not an acceptable file name"),
        FsError::Io { source, .. } if source.kind() == io::ErrorKind::NotFound => {
            refusal(ResultCode::NotFound, "no such file on the server")
        }
        _ => refusal(ResultCode::IoError, "server I/O error"),
    }
}

/// Counts a control request against the client's rate: `Ok(None)` to go
/// ahead, `Ok(Some(refusal))` when over the rate, and `Err` when this
/// connection keeps asking while over it (`streak` counts such refusals).
fn charge(
    streak: &mut u32,
    shared: &mut Shared,
    ip: IpAddr,
    now: Instant,
) -> Result<Option<Outcome>, DriveError> {
    match shared.admission.limiter.check(ip, now) {
        Decision::Admit => {
            *streak = 0;
            Ok(None)
        }
        d => {
            *streak += 1;
            if *streak > MAX_RATE_REFUSALS_IN_A_ROW {
                return Err(DriveError::Abuse(
                    "kept sending requests over the rate limit",
                ));
            }
            let wait = match d {
                Decision::RateLimited { retry_after } => retry_after.as_secs() + 1,
                _ => 1,
            };
            Ok(Some(Outcome::rate_limited(wait, describe(d))))
        }
    }
}

/// Refuses the pending request with `outcome`, with one log line (within
/// the refusal log's budget) saying who asked for `what` and why.
fn refuse(
    peer: &mut Peer,
    shared: &mut Shared,
    now: Instant,
    what: &str,
    outcome: &Outcome,
) -> Result<(), DriveError> {
    if shared.refusals.allow(now) {
        info!("refused {what} for {}: {}", peer.who(), outcome.reason);
    }
    Ok(peer.conn.refuse(outcome)?)
}

fn decide_upload(
    shared: &Shared,
    name: &str,
    size: u64,
    overwrite: bool,
) -> Result<Staged, Outcome> {
    if size > shared.max_file_size {
        return Err(refusal(
            ResultCode::TooLarge,
            format!(
                "{size} bytes is over this server's limit of {} bytes",
                shared.max_file_size
            ),
        ));
    }
    if overwrite && !shared.allow_overwrite {
        return Err(refusal(
            ResultCode::NotAllowed,
            "this server does not allow overwriting (its admin can start it with --allow-overwrite)",
        ));
    }
    shared
        .root
        .begin(name, size, overwrite)
        .map_err(|e| match e {
            FsError::Exists(_) if !shared.allow_overwrite => refusal(
                ResultCode::Exists,
                "already exists on the server (and this server does not allow overwriting)",
            ),
            e => refusal_for(&e),
        })
}

/// Handles buffered events until none is left, `budget` is spent, or the
/// unsent output reaches the high-water mark (then answers wait until the
/// peer reads; a flood of requests cannot pile answers up). Returns whether
/// it stopped for the output.
fn handle_events(
    peer: &mut Peer,
    token: Token,
    shared: &mut Shared,
    now: Instant,
    budget: &mut usize,
) -> Result<bool, DriveError> {
    let ip = peer.addr.ip();
    while *budget > 0 {
        if peer.conn.pending_output() >= SEND_HIGH_WATER {
            return Ok(true);
        }
        let Some(ev) = peer.conn.next_event()? else {
            break;
        };
        *budget -= 1;
        match ev {
            Event::Established { client: key } => {
                let fp = key.fingerprint();
                info!("{} authenticated as {fp}", peer.addr);
                peer.client = Some(fp);
            }
            Event::UploadRequested {
                name,
                size,
                overwrite,
            } => {
                let decision = match charge(&mut peer.rate_refusals, shared, ip, now)? {
                    Some(r) => Err(r),
                    None => decide_upload(shared, &name, size, overwrite),
                };
                match decision {
                    Ok(staged) => {
                        peer.conn.accept()?;
                        info!("upload {name:?} ({size} bytes) from {} started", peer.who());
                        peer.upload = Some(Upload {
                            staged,
                            name,
                            size,
                            started: now,
                            error: None,
                            written_back: 0,
                        });
                    }
                    Err(outcome) => {
                        refuse(peer, shared, now, &format!("upload {name:?}"), &outcome)?
                    }
                }
            }
            Event::Data(data) => {
                if let Some(up) = &mut peer.upload {
                    if up.error.is_none() {
                        up.error = up.staged.write_all(data).err();
                    }
                    if up.staged.written() - up.written_back >= WRITEBACK_EVERY {
                        up.written_back = up.staged.written();
                        if let Ok(file) = up.staged.writeback_handle() {
                            let _ = shared.commits.send(Job::Writeback(file));
                        }
                    }
                }
            }
            Event::ReceiveComplete => {
                let Some(mut upload) = peer.upload.take() else {
                    return Err(ProtoError::InvalidCall("file data without an upload").into());
                };
                match upload.error.take() {
                    Some(e) => {
                        warn!("upload {:?} from {} failed: {e}", upload.name, peer.who());
                        peer.conn.send_result(&refusal_for(&e))?;
                    }
                    // The committer answers through the waker; the client
                    // waits for RESULT and sends nothing meanwhile.
                    None => {
                        let _ = shared.commits.send(Job::Commit {
                            token,
                            upload: Box::new(upload),
                        });
                    }
                }
            }
            Event::ReceiveCorrupt => {
                if let Some(up) = peer.upload.take() {
                    warn!(
                        "upload {:?} from {} discarded: SHA-256 mismatch",
                        up.name,
                        peer.who()
                    );
                }
            }
            Event::DownloadRequested { name } => {
                let offer = match charge(&mut peer.rate_refusals, shared, ip, now)? {
                    Some(r) => Err(r),
                    None => shared.root.open_source(&name).map_err(|e| refusal_for(&e)),
                };
                match offer {
                    Ok(source) => {
                        peer.conn.offer_download(source.size)?;
                        info!(
                            "download {name:?} ({} bytes) to {} offered",
                            source.size,
                            peer.who()
                        );
                        peer.download = Some(Download {
                            source,
                            name,
                            sent: 0,
                            started: now,
                        });
                    }
                    Err(outcome) => {
                        refuse(peer, shared, now, &format!("download {name:?}"), &outcome)?
                    }
                }
            }
            Event::ListRequested => {
                let listing = match charge(&mut peer.rate_refusals, shared, ip, now)? {
                    Some(r) => Err(r),
                    None => shared.root.list().map_err(|e| {
                        warn!("listing for {} failed: {e}", peer.who());
                        refusal(ResultCode::IoError, "server I/O error while listing")
                    }),
                };
                match listing {
                    Ok(entries) => {
                        let entries: Vec<ListEntry> = entries
                            .into_iter()
                            .map(|e| ListEntry {
                                name: e.name,
                                size: e.size,
                                mtime: e.mtime,
                            })
                            .collect();
                        let sent = peer.conn.send_listing(&entries)?;
                        info!("listing ({sent} files) to {}", peer.who());
                    }
                    Err(outcome) => refuse(peer, shared, now, "listing", &outcome)?,
                }
            }
            Event::Outcome(outcome) => {
                if let Some(dl) = peer.download.take() {
                    let secs = dl.started.elapsed().as_secs_f64();
                    match outcome.code {
                        ResultCode::Ok => info!(
                            "sent {:?} to {}: {} bytes, {:.1} MiB/s",
                            dl.name,
                            peer.who(),
                            dl.sent,
                            dl.sent as f64 / (1 << 20) as f64 / secs.max(1e-9)
                        ),
                        _ => info!(
                            "download {:?} by {} ended: {}",
                            dl.name,
                            peer.who(),
                            display_safe(&outcome.reason)
                        ),
                    }
                }
            }
            Event::NameRefused(e) => {
                // Refused requests count against the rate like any other, and
                // a client past its rate with them is cut off: a flood of bad
                // names must cost it more than it costs the server.
                if shared.refusals.allow(now) {
                    info!("refused request from {}: {e}", peer.who());
                }
                if charge(&mut peer.rate_refusals, shared, ip, now)?.is_some() {
                    return Err(DriveError::Abuse("too many refused requests"));
                }
            }
            Event::Closed => {}
        }
    }
    Ok(false)
}

fn spawn_committer(
    waker: Arc<Waker>,
) -> io::Result<(mpsc::Sender<Job>, mpsc::Receiver<CommitDone>)> {
    let (job_tx, job_rx) = mpsc::channel::<Job>();
    let (done_tx, done_rx) = mpsc::channel();
    thread::Builder::new()
        .name("sft-commit".into())
        .spawn(move || {
            for job in job_rx {
                let (token, upload) = match job {
                    Job::Writeback(file) => {
                        // A failure here resurfaces at the commit's own fsync.
                        let _ = file.sync_data();
                        continue;
                    }
                    Job::Commit { token, upload } => (token, upload),
                };
                let Upload {
                    staged,
                    name,
                    size,
                    started,
                    ..
                } = *upload;
                let result = staged.commit().map(|_| ());
                let done = CommitDone {
                    token,
                    name,
                    size,
                    started,
                    result,
                };
                if done_tx.send(done).is_err() {
                    return;
                }
                let _ = waker.wake();
            }
        })?;
    Ok((job_tx, done_rx))
}
