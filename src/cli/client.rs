//! `sft put`, `sft get`, `sft ls`: connect, establish trust, run.

use std::io::{BufRead, IsTerminal, Write};
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use sft::crypto::ed25519::{Fingerprint, VerifyingKey};
use sft::fs::{open_local_source, FsError, ReceiveRoot, SourceFile};
use sft::keys::{KnownHosts, PublicKeyLine};
use sft::net::client::{Canceller, ClientError, Report, ServerTrust, Session, SessionOptions};
use sft::proto::msgs::{Outcome, ResultCode};
use sft::proto::name::{self, display_safe};
use sft::proto::{AlertCode, ProtoError, PROTOCOL_VERSION};
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use super::error::{CliError, Exit};
use super::{home, TrustArgs};

/// Default server port.
pub const DEFAULT_PORT: u16 = 5555;

/// Files at least this large get a progress bar (on a terminal).
const PROGRESS_MIN_BYTES: u64 = 4 << 20;

#[derive(Debug, Args)]
pub struct PutArgs {
    /// Server, as HOST, HOST:PORT or [IPv6]:PORT (default port 5555)
    #[arg(value_name = "HOST[:PORT]")]
    server: String,
    /// Files to upload; each is stored under its base name
    #[arg(value_name = "FILE", required = true)]
    files: Vec<PathBuf>,
    /// Replace a file of the same name on the server (the server must allow it)
    #[arg(long)]
    overwrite: bool,
    #[command(flatten)]
    trust: TrustArgs,
}

#[derive(Debug, Args)]
pub struct GetArgs {
    /// Server, as HOST, HOST:PORT or [IPv6]:PORT (default port 5555)
    #[arg(value_name = "HOST[:PORT]")]
    server: String,
    /// Names of files on the server
    #[arg(value_name = "NAME", required = true)]
    names: Vec<String>,
    /// Directory to save into (never overwrites an existing file)
    #[arg(short = 'o', long = "output", value_name = "DIR", default_value = ".")]
    output: PathBuf,
    /// Refuse files larger than this, e.g. 10GiB [default: no limit but the free space in DIR]
    #[arg(long, value_name = "SIZE", value_parser = super::parse::max_file_size)]
    max_file_size: Option<u64>,
    #[command(flatten)]
    trust: TrustArgs,
}

#[derive(Debug, Args)]
pub struct LsArgs {
    /// Server, as HOST, HOST:PORT or [IPv6]:PORT (default port 5555)
    #[arg(value_name = "HOST[:PORT]")]
    server: String,
    #[command(flatten)]
    trust: TrustArgs,
}

/// Where to connect and how known_hosts names it.
struct Target {
    host: String,
    port: u16,
}

impl Target {
    fn parse(s: &str) -> Result<Target, CliError> {
        let bad = || {
            CliError::new(
                Exit::Usage,
                format!("{s:?} is not HOST, HOST:PORT or [IPv6]:PORT"),
            )
            .hint(
                "sft takes no user@ and no :path (files are separate arguments); \
                 write IPv6 with a port as [::1]:5555",
            )
        };
        if s.contains(['@', '/']) {
            return Err(bad());
        }
        let (host, port) = if let Some(rest) = s.strip_prefix('[') {
            let (host, after) = rest.split_once(']').ok_or_else(bad)?;
            match after.strip_prefix(':') {
                Some(p) => (host, Some(p)),
                None if after.is_empty() => (host, None),
                None => return Err(bad()),
            }
        } else if s.matches(':').count() > 1 {
            (s, None)
        } else {
            match s.split_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (s, None),
            }
        };
        let port = match port {
            Some(p) => p.parse().map_err(|_| bad())?,
            None => DEFAULT_PORT,
        };
        if host.is_empty() {
            return Err(bad());
        }
        Ok(Target {
            host: host.to_ascii_lowercase(),
            port,
        })
    }

    /// The known_hosts name: `host:port`, IPv6 in brackets.
    fn known_name(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    fn resolve(&self) -> Result<SocketAddr, CliError> {
        (self.host.as_str(), self.port)
            .to_socket_addrs()
            .map_err(|e| {
                CliError::new(
                    Exit::Connection,
                    format!("cannot resolve {}: {e}", self.host),
                )
            })?
            .next()
            .ok_or_else(|| CliError::new(Exit::Connection, format!("{} has no address", self.host)))
    }
}

/// Where the trusted server key came from, for the mismatch message.
enum Pin {
    Flag,
    KnownHosts(PathBuf),
    None,
}

/// What a client command knows after connecting.
struct Connected {
    session: Session,
    target: String,
}

/// Connects and authenticates. `max_download` bounds the size of a file
/// the session accepts from the server.
fn connect(server: &str, trust: TrustArgs, max_download: u64) -> Result<Connected, CliError> {
    let target = Target::parse(server)?;
    let name = target.known_name();
    let identity = match &trust.identity {
        // Only the default identity is created on first use; a path the user
        // names must exist, as with ssh -i.
        Some(path) if !path.exists() => {
            return Err(CliError::new(
                Exit::Usage,
                format!("no identity key at {}", path.display()),
            )
            .hint(format!(
                "create one with `sft keygen -o {}`",
                path.display()
            )))
        }
        Some(path) => sft::keys::load_identity(path)?,
        None => home::load_or_create_identity(&home::home_file(None, "identity")?, "client")?,
    };
    let identity_line = PublicKeyLine {
        key: identity.verifying_key(),
        comment: String::new(),
    }
    .to_string();
    let known_path = home::home_file(trust.known_hosts, "known_hosts")?;
    let (server_trust, pin) = match &trust.server_key {
        Some(text) => {
            let fp = Fingerprint::parse(text).map_err(|_| {
                CliError::new(Exit::Usage, format!("--server-key {text:?} is not a fingerprint"))
                    .hint("it looks like SHA256:… (43 base64 characters); the server's admin gets it with `sft fingerprint` on the host key")
            })?;
            (ServerTrust::Pinned(fp), Pin::Flag)
        }
        None => {
            let known = KnownHosts::load(&known_path)?;
            for line in &known.skipped {
                eprintln!(
                    "sft: warning: ignoring malformed line {line} of {}",
                    known_path.display()
                );
            }
            match known.lookup(&name) {
                Some(fp) => (ServerTrust::Pinned(fp), Pin::KnownHosts(known_path.clone())),
                None => (ServerTrust::Ask, Pin::None),
            }
        }
    };
    let addr = target.resolve()?;
    let mut opts = SessionOptions {
        identity: Arc::new(identity),
        trust: server_trust,
        handshake_timeout: trust.handshake_timeout,
        max_file_size: max_download,
    };
    let accepted = std::cell::Cell::new(None);
    let mut decide = |key: &VerifyingKey| {
        let yes = decide_unknown(&name, key, trust.accept_new, &known_path);
        if yes {
            accepted.set(Some(key.fingerprint()));
        }
        yes
    };
    let session = match (Session::connect(addr, &opts, &mut decide), accepted.get()) {
        // A slow answer at the prompt can outlast the handshake deadline;
        // the key is recorded now, so connect again with it pinned.
        (Err(e), Some(fp)) if is_cut(&e) => {
            opts.trust = ServerTrust::Pinned(fp);
            Session::connect(addr, &opts, &mut |_| false)
        }
        (result, _) => result,
    }
    .map_err(|e| connect_error(e, &name, &pin, &identity_line))?;
    Ok(Connected {
        session,
        target: name,
    })
}

fn is_cut(e: &ClientError) -> bool {
    matches!(
        e,
        ClientError::ServerClosed
            | ClientError::Proto(
                ProtoError::HandshakeTimeout
                    | ProtoError::Truncated
                    | ProtoError::PeerAlert(AlertCode::Timeout)
            )
    )
}

/// Trust on first use: `--accept-new`, or a yes at a terminal prompt.
fn decide_unknown(name: &str, key: &VerifyingKey, accept_new: bool, known: &Path) -> bool {
    let fp = key.fingerprint();
    let yes = accept_new
        || (std::io::stdin().is_terminal()
            && std::io::stderr().is_terminal()
            && ask(name, &fp, known));
    if !yes {
        return false;
    }
    match KnownHosts::append(known, name, &fp) {
        Ok(()) => eprintln!("sft: added {name} ({fp}) to {}", known.display()),
        Err(e) => eprintln!("sft: warning: could not record the key: {e}"),
    }
    true
}

fn ask(name: &str, fp: &Fingerprint, known: &Path) -> bool {
    eprintln!("The authenticity of server '{name}' can't be established.");
    eprintln!("Its key fingerprint is {fp}.");
    eprint!("Trust it and remember it in {}? (yes/no) ", known.display());
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    let read = std::io::stdin().lock().read_line(&mut answer);
    if !answer.ends_with('\n') {
        eprintln!();
    }
    read.is_ok() && matches!(answer.trim().to_ascii_lowercase().as_str(), "yes" | "y")
}

fn connect_error(e: ClientError, name: &str, pin: &Pin, identity_line: &str) -> CliError {
    match e {
        ClientError::Proto(ProtoError::ServerKeyMismatch { expected, seen }) => match pin {
            Pin::KnownHosts(file) => CliError::new(
                Exit::ServerUntrusted,
                format!(
                    "{bar}\n@ WARNING: THE SERVER KEY FOR {name} HAS CHANGED!\n{bar}\n\
                     Someone could be intercepting this connection (man in the middle),\n\
                     or the server's host key was replaced.\n\
                     known_hosts expects:   {expected}  ({})\n\
                     the server presented:  {seen}\n\
                     Nothing was sent.",
                    file.display(),
                    bar = "@".repeat(60),
                ),
            )
            .hint(format!(
                "if the change is expected, remove the line for {name} from {} and connect again",
                file.display()
            )),
            _ => CliError::new(
                Exit::ServerUntrusted,
                format!("server key mismatch for {name}: --server-key expects {expected}, the server presented {seen}; nothing was sent"),
            ),
        },
        ClientError::Untrusted(fp) => CliError::new(
            Exit::ServerUntrusted,
            format!("unknown server {name}, key {fp}; not trusted, nothing was sent"),
        )
        .hint(format!(
            "check the fingerprint with the server's admin, then re-run with --accept-new (remembers it) or --server-key {fp}"
        )),
        ClientError::Proto(
            ProtoError::UnsupportedVersion { .. }
            | ProtoError::PeerAlert(AlertCode::UnsupportedVersion),
        ) => {
            CliError::new(
                Exit::Connection,
                format!("{name} does not speak sft protocol version {PROTOCOL_VERSION} (another service on that port, or an older or newer sft?)"),
            )
            .hint("check the port; sft serve listens on 5555 unless told otherwise")
        }
        ClientError::Proto(ProtoError::PeerAlert(AlertCode::Busy)) => CliError::new(
            Exit::Connection,
            format!("the server {name} is busy (at its connection or rate limit); nothing was sent"),
        )
        .hint("try again later"),
        ClientError::Proto(ProtoError::PeerAlert(AlertCode::Unauthorized)) => {
            CliError::new(Exit::ClientRefused, format!("the server {name} refused this client's key"))
                .hint(format!("ask the server's admin to add this line to its authorized_keys:\n{identity_line}"))
        }
        other => session_error(other),
    }
}

/// The exit code of a protocol failure. Exhaustive: a new error or alert
/// is a compile error here until someone decides what scripts see.
fn proto_exit(p: &ProtoError) -> Exit {
    match p {
        ProtoError::PeerAlert(code) => match code {
            AlertCode::Unauthorized => Exit::ClientRefused,
            AlertCode::Timeout
            | AlertCode::Busy
            | AlertCode::ShuttingDown
            | AlertCode::Internal
            | AlertCode::UnsupportedVersion => Exit::Connection,
            AlertCode::BadRecord | AlertCode::ProtocolError | AlertCode::HandshakeFailed => {
                Exit::Protocol
            }
        },
        ProtoError::HandshakeTimeout
        | ProtoError::IdleTimeout
        | ProtoError::Truncated
        | ProtoError::Closed
        | ProtoError::ShuttingDown
        | ProtoError::UnsupportedVersion { .. } => Exit::Connection,
        ProtoError::ServerKeyMismatch { .. } => Exit::ServerUntrusted,
        ProtoError::ClientNotAuthorized(_) => Exit::ClientRefused,
        ProtoError::MalformedRecord(_)
        | ProtoError::RecordTooLarge { .. }
        | ProtoError::OutOfSequence { .. }
        | ProtoError::BadRecord
        | ProtoError::MalformedMessage(_)
        | ProtoError::UnexpectedMessage { .. }
        | ProtoError::NonContributory
        | ProtoError::BadSignature(_)
        | ProtoError::BadFinished(_)
        | ProtoError::KeyLimit
        | ProtoError::Transfer(_)
        | ProtoError::Name(_)
        | ProtoError::InvalidCall(_)
        | ProtoError::Crypto(_) => Exit::Protocol,
    }
}

/// Maps a session failure to its exit code and hint. Exhaustive.
fn session_error(e: ClientError) -> CliError {
    let code = match &e {
        ClientError::Connect { .. } | ClientError::Socket(_) | ClientError::ServerClosed => {
            Exit::Connection
        }
        ClientError::Proto(p) => proto_exit(p),
        ClientError::Untrusted(_) => Exit::ServerUntrusted,
        ClientError::Local(_) | ClientError::Read { .. } => Exit::FileFailed,
        ClientError::Interrupted => Exit::Interrupted,
    };
    let err = CliError::new(code, e.to_string());
    match (&e, code) {
        (ClientError::Connect { .. }, _) => {
            err.hint("is `sft serve` running there, and is the port right (default 5555)?")
        }
        (
            ClientError::Proto(ProtoError::PeerAlert(AlertCode::Busy | AlertCode::ShuttingDown)),
            _,
        ) => err.hint("try again later"),
        (_, Exit::Protocol) => err.hint(
            "the connection was tampered with or the server is faulty; nothing unverified was kept",
        ),
        _ => err,
    }
}

fn progress_bar(size: u64, label: &str) -> ProgressBar {
    if size < PROGRESS_MIN_BYTES || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(size);
    bar.set_style(
        ProgressStyle::with_template(
            "{msg:20!} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta}",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    bar.set_message(label.to_string());
    bar
}

fn rate(r: &Report) -> String {
    let secs = r.elapsed.as_secs_f64();
    if secs < 0.05 {
        return format!("{} bytes", r.bytes);
    }
    let mib_s = r.bytes as f64 / (1 << 20) as f64 / secs;
    format!("{} bytes in {secs:.2}s, {mib_s:.1} MiB/s", r.bytes)
}

/// What went wrong across a multi-file command.
#[derive(Default)]
struct Tally {
    /// Files that failed for any reason.
    failed: usize,
    /// Of those, files whose whole-file SHA-256 did not match.
    corrupt: usize,
}

impl Tally {
    /// Counts a file that did not arrive, saying why on stderr.
    fn fail(&mut self, name: &str, why: &str) {
        eprintln!("sft: {name}: {why}");
        self.failed += 1;
    }

    /// Counts a refused or failed transfer by its outcome.
    fn outcome(&mut self, name: &str, o: &Outcome) {
        if o.code == ResultCode::HashMismatch {
            self.corrupt += 1;
        }
        self.fail(name, &display_safe(&o.reason));
    }

    /// The final status: exit 6 if any file failed its integrity check,
    /// else 1 if any file failed, else 0.
    fn finish(self, total: usize) -> Result<(), CliError> {
        let Tally { failed, corrupt } = self;
        if corrupt > 0 {
            return Err(CliError::new(
                Exit::Protocol,
                format!("{corrupt} of {total} file(s) failed the end-to-end SHA-256 check; {failed} failed in all"),
            )
            .hint("the data was altered between the two files (or a peer is faulty); nothing unverified was kept"));
        }
        if failed > 0 {
            return Err(CliError::new(
                Exit::FileFailed,
                format!("{failed} of {total} file(s) failed"),
            ));
        }
        Ok(())
    }
}

/// Checks a name the user gave: it must pass the file-name rule
/// unchanged. The error says which part of the rule failed.
fn plain_name(n: &str) -> Result<(), String> {
    match name::sanitize(n.as_bytes()) {
        Ok(clean) if clean == n => Ok(()),
        Ok(_) => Err("not a plain file name (no directory parts)".into()),
        Err(e) => Err(e.to_string()),
    }
}

/// Ctrl-C or SIGTERM during a transfer stops it cleanly (a partial download
/// is removed), waking the session if it is waiting; a second Ctrl-C ends
/// the process at once.
fn cancel_on_signals(session: &Session) -> Canceller {
    let seen = Arc::new(AtomicBool::new(false));
    for sig in [SIGINT, SIGTERM] {
        let _ = signal_hook::flag::register_conditional_shutdown(
            sig,
            i32::from(Exit::Interrupted.code()),
            seen.clone(),
        );
        let _ = signal_hook::flag::register(sig, seen.clone());
    }
    let canceller = session.canceller();
    if let Ok(mut signals) = Signals::new([SIGINT, SIGTERM]) {
        let c = canceller.clone();
        std::thread::spawn(move || {
            for _ in signals.forever() {
                c.cancel();
            }
        });
    }
    canceller
}

/// Longest total wait sft accepts from a rate-limited server for one file.
const MAX_RATE_WAIT_SECS: u64 = 120;
/// Tries per file against a rate-limited server.
const MAX_RATE_ATTEMPTS: u32 = 5;

/// How long to wait before trying again, given the server's answer, the
/// attempt it answered (from 1) and the seconds already waited for this
/// file: the wait a RateLimited answer asks for, while the tries and the
/// total stay within [`MAX_RATE_ATTEMPTS`] and [`MAX_RATE_WAIT_SECS`].
fn rate_wait(outcome: &Outcome, attempt: u32, waited: u64) -> Option<u64> {
    let secs = u64::from(outcome.retry_after_secs);
    let within = attempt < MAX_RATE_ATTEMPTS && waited.saturating_add(secs) <= MAX_RATE_WAIT_SECS;
    (outcome.code == ResultCode::RateLimited && within).then_some(secs)
}

/// Runs one transfer, again after the wait a rate-limited server asks for
/// (RESULT 8), so `sft put host *.log` gets through a busy server slowly
/// instead of failing half its files.
fn with_rate_retry(
    name: &str,
    cancel: &Canceller,
    mut op: impl FnMut() -> Result<Report, ClientError>,
) -> Result<Report, ClientError> {
    let (mut waited, mut attempt) = (0, 0);
    loop {
        attempt += 1;
        let report = op()?;
        let Some(wait) = rate_wait(&report.outcome, attempt, waited) else {
            return Ok(report);
        };
        eprintln!("sft: {name}: the server's rate limit is reached; waiting {wait}s as it asks");
        waited += wait;
        // Sleep in short steps so Ctrl-C is not held up by the wait.
        for _ in 0..wait * 10 {
            if cancel.is_cancelled() {
                return Err(ClientError::Interrupted);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// A session failure in the middle of a multi-file command: name the file
/// and count what was left undone.
fn aborted(e: ClientError, name: &str, left: usize) -> CliError {
    session_error(e)
        .context(name)
        .outcome(format!("{left} file(s) not transferred"))
}

/// Checks a local path for upload: its base name and that it is a regular file.
fn check_upload(path: &Path) -> Result<(String, SourceFile), String> {
    let n = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or("not a file name sft can send (names must be UTF-8)")?;
    plain_name(n)?;
    if path.is_dir() {
        return Err("is a directory (sft sends files; there is no recursive mode)".into());
    }
    let source = open_local_source(path).map_err(|e| match e {
        FsError::Io { source, .. } => source.to_string(),
        other => other.to_string(),
    })?;
    Ok((n.to_string(), source))
}

pub fn put(args: PutArgs) -> Result<(), CliError> {
    // Check every local file before connecting, so a typo costs no handshake.
    let mut jobs = Vec::new();
    let mut tally = Tally::default();
    for path in &args.files {
        match check_upload(path) {
            Ok((n, source)) => jobs.push((path.clone(), n, source)),
            Err(msg) => tally.fail(&display_safe(&path.display().to_string()), &msg),
        }
    }
    if jobs.is_empty() {
        return tally.finish(args.files.len());
    }
    let mut c = connect(&args.server, args.trust, u64::MAX)?;
    let cancel = cancel_on_signals(&c.session);
    let total = jobs.len();
    for (i, (path, n, source)) in jobs.into_iter().enumerate() {
        if source.size > c.session.params.max_file_size {
            let why = format!(
                "{} bytes is over the server's limit of {} bytes",
                source.size, c.session.params.max_file_size
            );
            tally.fail(&n, &why);
            continue;
        }
        let mut source = Some(source);
        let report = with_rate_retry(&n, &cancel, || {
            let file = match source.take() {
                Some(f) => f,
                None => open_local_source(&path)?,
            };
            let bar = progress_bar(file.size, &n);
            let result = c
                .session
                .put(file, path.clone(), &n, args.overwrite, &mut |done| {
                    bar.set_position(done)
                });
            bar.finish_and_clear();
            result
        });
        match report {
            Ok(r) if r.outcome.code == ResultCode::Ok => {
                println!("{n} -> {}: {}", c.target, rate(&r))
            }
            Ok(r) => tally.outcome(&n, &r.outcome),
            Err(e) => return Err(aborted(e, &n, total - i)),
        }
    }
    let _ = c.session.close();
    tally.finish(args.files.len())
}

pub fn get(args: GetArgs) -> Result<(), CliError> {
    if !args.output.is_dir() {
        return Err(CliError::new(
            Exit::Usage,
            format!("{} is not a directory", args.output.display()),
        )
        .hint("create it first, or choose another -o DIR"));
    }
    let root = ReceiveRoot::open_or_create(&args.output)?;
    let mut tally = Tally::default();
    let mut wanted = Vec::new();
    for n in &args.names {
        match plain_name(n) {
            Ok(()) => wanted.push(n.clone()),
            Err(why) => tally.fail(&display_safe(n), &why),
        }
    }
    if wanted.is_empty() {
        return tally.finish(args.names.len());
    }
    let max_download = args.max_file_size.unwrap_or(u64::MAX);
    let mut c = connect(&args.server, args.trust, max_download)?;
    let cancel = cancel_on_signals(&c.session);
    let total = wanted.len();
    for (i, n) in wanted.into_iter().enumerate() {
        let local = root.path().join(&n);
        let report = with_rate_retry(&n, &cancel, || {
            let mut bar: Option<ProgressBar> = None;
            let result = c.session.get(&n, &root, &mut |done, size| {
                bar.get_or_insert_with(|| progress_bar(size, &n))
                    .set_position(done)
            });
            if let Some(b) = bar {
                b.finish_and_clear();
            }
            result
        });
        match report {
            Ok(r) if r.outcome.code == ResultCode::Ok => {
                println!("{}:{n} -> {}: {}", c.target, local.display(), rate(&r))
            }
            Ok(r) => tally.outcome(&n, &r.outcome),
            Err(ClientError::Local(FsError::Exists(_))) => {
                let why = format!("{} already exists; not overwriting it", local.display());
                tally.fail(&n, &why);
            }
            Err(ClientError::Local(e)) => tally.fail(&n, &e.to_string()),
            Err(e) => return Err(aborted(e, &n, total - i)),
        }
    }
    let _ = c.session.close();
    tally.finish(args.names.len())
}

/// An mtime as RFC 3339, or plain seconds outside years 1970-9999 (a
/// server may send any i64).
fn rfc3339(mtime: i64) -> String {
    const YEAR_10000: i64 = 253_402_300_800;
    match u64::try_from(mtime) {
        Ok(secs) if mtime < YEAR_10000 => {
            humantime::format_rfc3339_seconds(std::time::UNIX_EPOCH + Duration::from_secs(secs))
                .to_string()
        }
        _ => format!("@{mtime}"),
    }
}

pub fn ls(args: LsArgs) -> Result<(), CliError> {
    let mut c = connect(&args.server, args.trust, u64::MAX)?;
    let listing = c.session.list().map_err(session_error)?;
    let _ = c.session.close();
    match listing {
        Ok(entries) => {
            for e in entries {
                let when = rfc3339(e.mtime);
                println!("{:>14}  {when}  {}", e.size, e.name);
            }
            Ok(())
        }
        Err(o) => Err(CliError::new(
            Exit::FileFailed,
            format!("listing refused: {}", display_safe(&o.reason)),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limited(secs: u64) -> Outcome {
        Outcome::rate_limited(secs, "rate limit reached")
    }

    #[test]
    fn rate_wait_obeys_the_server_within_the_total_cap() {
        assert_eq!(rate_wait(&limited(30), 1, 0), Some(30));
        // At the cap exactly, and one second past it.
        assert_eq!(
            rate_wait(&limited(30), 1, MAX_RATE_WAIT_SECS - 30),
            Some(30)
        );
        assert_eq!(rate_wait(&limited(31), 1, MAX_RATE_WAIT_SECS - 30), None);
        // The largest wait a server may send does not wrap the sum.
        assert_eq!(rate_wait(&limited(3600), 1, u64::MAX - 10), None);
    }

    #[test]
    fn rate_wait_stops_after_the_last_attempt() {
        assert_eq!(rate_wait(&limited(1), MAX_RATE_ATTEMPTS - 1, 0), Some(1));
        assert_eq!(rate_wait(&limited(1), MAX_RATE_ATTEMPTS, 0), None);
    }

    /// Defect 15: a file whose whole-file SHA-256 did not match makes the
    /// command exit 6 (integrity), not 1, even among ordinary failures.
    #[test]
    fn a_hash_mismatch_exits_6_and_other_failures_1() {
        let mut t = Tally::default();
        t.outcome("a", &Outcome::new(ResultCode::Exists, "exists"));
        assert_eq!(t.finish(3).unwrap_err().exit(), Exit::FileFailed);
        let mut t = Tally::default();
        t.outcome("a", &Outcome::new(ResultCode::Exists, "exists"));
        t.outcome("b", &Outcome::new(ResultCode::HashMismatch, "mismatch"));
        assert_eq!(t.finish(3).unwrap_err().exit(), Exit::Protocol);
        assert!(Tally::default().finish(3).is_ok());
    }

    #[test]
    fn only_a_rate_limit_answer_is_waited_for() {
        let exists = Outcome::new(ResultCode::Exists, "already exists");
        assert_eq!(rate_wait(&exists, 1, 0), None);
        assert_eq!(rate_wait(&Outcome::ok(), 1, 0), None);
    }
}
