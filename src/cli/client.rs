//! `sft put`, `sft get`, `sft ls`: connect, establish trust, run.

use std::io::{BufRead, IsTerminal, Write};
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use sft::crypto::ed25519::{Fingerprint, VerifyingKey};
use sft::fs::{open_local_source, ReceiveRoot};
use sft::keys::{KnownHosts, PublicKeyLine};
use sft::net::client::{ClientError, Report, Session};
use sft::proto::handshake::client::{ClientConfig, ServerTrust};
use sft::proto::msgs::ResultCode;
use sft::proto::name;
use sft::proto::timers::Timeouts;
use sft::proto::{AlertCode, ProtoError};

use super::error::{
    CliError, CLIENT_REFUSED, CONNECTION, FILE_FAILED, PROTOCOL, SERVER_UNTRUSTED, USAGE,
};
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
                USAGE,
                format!("{s:?} is not HOST, HOST:PORT or [IPv6]:PORT"),
            )
        };
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
            .map_err(|e| CliError::new(CONNECTION, format!("cannot resolve {}: {e}", self.host)))?
            .next()
            .ok_or_else(|| CliError::new(CONNECTION, format!("{} has no address", self.host)))
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

fn connect(server: &str, trust: TrustArgs) -> Result<Connected, CliError> {
    let target = Target::parse(server)?;
    let name = target.known_name();
    let identity_path = home::home_file(trust.identity, "identity")?;
    let identity = home::load_or_create_identity(&identity_path, "client")?;
    let identity_line = PublicKeyLine {
        key: identity.verifying_key(),
        comment: String::new(),
    }
    .to_string();
    let known_path = home::home_file(trust.known_hosts, "known_hosts")?;
    let (server_trust, pin) = match &trust.server_key {
        Some(text) => {
            let fp = Fingerprint::parse(text).map_err(|_| {
                CliError::new(USAGE, format!("--server-key {text:?} is not a fingerprint"))
                    .hint("it looks like SHA256:… (43 base64 characters); the server's admin gets it with `sft fingerprint` on the host key")
            })?;
            (ServerTrust::Pinned(fp), Pin::Flag)
        }
        None => match KnownHosts::load(&known_path)?.lookup(&name) {
            Some(fp) => (ServerTrust::Pinned(fp), Pin::KnownHosts(known_path.clone())),
            None => (ServerTrust::Ask, Pin::None),
        },
    };
    let addr = target.resolve()?;
    let identity = Arc::new(identity);
    let timeouts = Timeouts {
        handshake: trust.handshake_timeout,
        ..Timeouts::default()
    };
    let accepted = std::cell::Cell::new(None);
    let mut decide = |key: &VerifyingKey| {
        let yes = decide_unknown(&name, key, trust.accept_new, &known_path);
        if yes {
            accepted.set(Some(key.fingerprint()));
        }
        yes
    };
    let config = ClientConfig {
        identity: identity.clone(),
        trust: server_trust,
    };
    let session = match (
        Session::connect(addr, config, timeouts, &mut decide),
        accepted.get(),
    ) {
        // A slow answer at the prompt can outlast the handshake deadline;
        // the key is recorded now, so connect again with it pinned.
        (Err(e), Some(fp)) if is_cut(&e) => {
            let config = ClientConfig {
                identity,
                trust: ServerTrust::Pinned(fp),
            };
            Session::connect(addr, config, timeouts, &mut |_| false)
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
    if std::io::stdin().lock().read_line(&mut answer).is_err() {
        return false;
    }
    matches!(answer.trim().to_ascii_lowercase().as_str(), "yes" | "y")
}

fn connect_error(e: ClientError, name: &str, pin: &Pin, identity_line: &str) -> CliError {
    match e {
        ClientError::Proto(ProtoError::ServerKeyMismatch { expected, seen }) => match pin {
            Pin::KnownHosts(file) => CliError::new(
                SERVER_UNTRUSTED,
                format!(
                    "@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\n\
                     @    WARNING: THE SERVER KEY FOR {name} HAS CHANGED!    @\n\
                     @@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\n\
                     Someone could be intercepting this connection (man in the middle),\n\
                     or the server's host key was replaced.\n\
                     known_hosts ({}) expects: {expected}\n\
                     the server presented:    {seen}\n\
                     Nothing was sent.",
                    file.display()
                ),
            )
            .hint(format!(
                "if the change is expected, remove the line for {name} from {} and connect again",
                file.display()
            )),
            _ => CliError::new(
                SERVER_UNTRUSTED,
                format!("server key mismatch for {name}: --server-key expects {expected}, the server presented {seen}; nothing was sent"),
            ),
        },
        ClientError::Untrusted(fp) => CliError::new(
            SERVER_UNTRUSTED,
            format!("unknown server {name}, key {fp}; not trusted, nothing was sent"),
        )
        .hint(format!(
            "check the fingerprint with the server's admin, then re-run with --accept-new (remembers it) or --server-key {fp}"
        )),
        ClientError::Proto(ProtoError::PeerAlert(AlertCode::Unauthorized)) => {
            CliError::new(CLIENT_REFUSED, format!("the server {name} refused this client's key"))
                .hint(format!("ask the server's admin to add this line to its authorized_keys:\n{identity_line}"))
        }
        other => session_error(other),
    }
}

/// Maps a session failure to its exit code.
fn session_error(e: ClientError) -> CliError {
    let code = match &e {
        ClientError::Connect { .. } | ClientError::Socket(_) | ClientError::ServerClosed => {
            CONNECTION
        }
        ClientError::Proto(p) => match p {
            ProtoError::HandshakeTimeout
            | ProtoError::IdleTimeout
            | ProtoError::Truncated
            | ProtoError::PeerAlert(AlertCode::Timeout) => CONNECTION,
            ProtoError::PeerAlert(AlertCode::Unauthorized) => CLIENT_REFUSED,
            ProtoError::ServerKeyMismatch { .. } => SERVER_UNTRUSTED,
            _ => PROTOCOL,
        },
        ClientError::Untrusted(_) => SERVER_UNTRUSTED,
        ClientError::Local(_) | ClientError::Read { .. } => FILE_FAILED,
        _ => PROTOCOL,
    };
    let err = CliError::new(code, e.to_string());
    match code {
        CONNECTION if matches!(e, ClientError::Connect { .. }) => {
            err.hint("is `sft serve` running there, and is the port right (default 5555)?")
        }
        PROTOCOL => err.hint(
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
    let secs = r.elapsed.max(Duration::from_micros(1)).as_secs_f64();
    format!(
        "{} bytes in {secs:.2}s, {:.1} MiB/s",
        r.bytes,
        r.bytes as f64 / (1 << 20) as f64 / secs
    )
}

/// Runs `each` for every item, collecting per-file failures; a session
/// failure stops at once.
fn finish(failures: usize, total: usize) -> Result<(), CliError> {
    if failures == 0 {
        Ok(())
    } else {
        Err(CliError::new(
            FILE_FAILED,
            format!("{failures} of {total} file(s) failed"),
        ))
    }
}

pub fn put(args: PutArgs) -> Result<(), CliError> {
    // Check every local file before connecting, so a typo costs no handshake.
    let mut jobs = Vec::new();
    let mut failures = 0;
    for path in &args.files {
        let base = path
            .file_name()
            .and_then(|n| n.to_str())
            .map(str::to_string);
        let checked = base
            .ok_or_else(|| {
                format!(
                    "{}: not a file name sft can send (it must be UTF-8)",
                    path.display()
                )
            })
            .and_then(|n| match name::sanitize(n.as_bytes()) {
                Ok(clean) if clean == n => Ok(n),
                Ok(_) | Err(_) => Err(format!(
                    "{}: the name {n:?} is refused by the file-name rule",
                    path.display()
                )),
            })
            .and_then(|n| {
                open_local_source(path)
                    .map(|s| (n, s))
                    .map_err(|e| e.to_string())
            });
        match checked {
            Ok((n, source)) => jobs.push((path.clone(), n, source)),
            Err(msg) => {
                eprintln!("sft: {msg}");
                failures += 1;
            }
        }
    }
    if jobs.is_empty() {
        return finish(failures, args.files.len());
    }
    let mut c = connect(&args.server, args.trust)?;
    for (path, n, source) in jobs {
        if source.size > c.session.params.max_file_size {
            eprintln!(
                "sft: {}: {} bytes is over the server's limit of {} bytes",
                path.display(),
                source.size,
                c.session.params.max_file_size
            );
            failures += 1;
            continue;
        }
        let bar = progress_bar(source.size, &n);
        let report = c
            .session
            .put(source, path.clone(), &n, args.overwrite, &mut |done| {
                bar.set_position(done)
            });
        bar.finish_and_clear();
        match report {
            Ok(r) if r.outcome.code == ResultCode::Ok => {
                println!("{n} -> {}: {}", c.target, rate(&r))
            }
            Ok(r) => {
                eprintln!(
                    "sft: {}: refused by the server: {}",
                    path.display(),
                    r.outcome.reason
                );
                failures += 1;
            }
            Err(ClientError::Read { path, source }) => {
                // The announced size could not be sent; the session is unusable.
                return Err(CliError::new(
                    FILE_FAILED,
                    format!("reading {}: {source}", path.display()),
                ));
            }
            Err(e) => return Err(session_error(e)),
        }
    }
    let _ = c.session.close();
    finish(failures, args.files.len())
}

pub fn get(args: GetArgs) -> Result<(), CliError> {
    let root = ReceiveRoot::open_or_create(&args.output)?;
    let mut failures = 0;
    let mut wanted = Vec::new();
    for n in &args.names {
        match name::sanitize(n.as_bytes()) {
            Ok(clean) if &clean == n => wanted.push(clean),
            _ => {
                eprintln!("sft: {n:?}: not a plain file name (no directories, control characters, . or ..)");
                failures += 1;
            }
        }
    }
    if wanted.is_empty() {
        return finish(failures, args.names.len());
    }
    let mut c = connect(&args.server, args.trust)?;
    for n in wanted {
        let mut bar: Option<ProgressBar> = None;
        let report = c.session.get(&n, &root, &mut |done, size| {
            bar.get_or_insert_with(|| progress_bar(size, &n))
                .set_position(done)
        });
        if let Some(b) = bar {
            b.finish_and_clear();
        }
        match report {
            Ok(r) if r.outcome.code == ResultCode::Ok => {
                println!(
                    "{}:{n} -> {}: {}",
                    c.target,
                    root.path().join(&n).display(),
                    rate(&r)
                )
            }
            Ok(r) => {
                eprintln!("sft: {n}: {}", r.outcome.reason);
                failures += 1;
            }
            Err(ClientError::Local(e)) => {
                eprintln!("sft: {n}: {e}");
                failures += 1;
            }
            Err(e) => return Err(session_error(e)),
        }
    }
    let _ = c.session.close();
    finish(failures, args.names.len())
}

pub fn ls(args: LsArgs) -> Result<(), CliError> {
    let mut c = connect(&args.server, args.trust)?;
    let listing = c.session.list().map_err(session_error)?;
    let _ = c.session.close();
    match listing {
        Ok(entries) => {
            for e in entries {
                let when = u64::try_from(e.mtime)
                    .ok()
                    .map(|s| {
                        humantime::format_rfc3339_seconds(
                            std::time::UNIX_EPOCH + Duration::from_secs(s),
                        )
                        .to_string()
                    })
                    .unwrap_or_else(|| "-".into());
                println!("{:>14}  {when}  {}", e.size, e.name);
            }
            Ok(())
        }
        Err(o) => Err(CliError::new(
            FILE_FAILED,
            format!("listing refused: {}", o.reason),
        )),
    }
}
