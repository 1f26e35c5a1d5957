//! Connecting: the target, trust decisions (pins, known_hosts, TOFU) and
//! what a failed connection tells the user.

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use log::info;
use sft::crypto::ed25519::{Fingerprint, Sign, VerifyingKey};
use sft::keys::file::{read_regular, MAX_KEY_FILE};
use sft::keys::{KnownHosts, PublicKeyLine};
use sft::net::client::{ClientError, Route, ServerTrust, Session, SessionOptions, CONNECT_TIMEOUT};
use sft::proto::{AlertCode, ProtoError, PROTOCOL_VERSION};

use crate::cli::error::{CliError, Exit};
use crate::cli::{home, TrustArgs};

use super::busy::retry_busy;
use super::exit::session_error;
use super::interrupts::Interrupts;
use super::target::{host_config, Target, Typed};

/// Where the trusted server key came from, for the mismatch message.
enum Pin {
    Flag,
    /// `ServerKey` in the config file.
    Config,
    KnownHosts(PathBuf),
    None,
}

/// What a client command knows after connecting.
pub(super) struct Connected {
    pub(super) session: Session,
    pub(super) target: String,
}

/// Checks that `server` is HOST, HOST:PORT or [IPv6]:PORT and agrees with
/// `-P`, before any local work (a typo is a usage error, found at once).
///
/// # Errors
/// [`Exit::Usage`] saying what is wrong.
pub(super) fn check_target(server: &str, trust: &TrustArgs) -> Result<(), CliError> {
    Typed::parse(server, trust.port).map(|_| ())
}

/// Connects and authenticates, trying again while the server answers
/// Busy (see [`retry_busy`]). `max_download` bounds the size of a file the
/// session accepts from the server. From here on Ctrl-C or SIGTERM exits
/// 130: at once while connecting, by cancelling the session after.
pub(super) fn connect(
    server: &str,
    trust: TrustArgs,
    max_download: u64,
) -> Result<Connected, CliError> {
    let typed = Typed::parse(server, trust.port)?;
    // The command line wins over the config file, setting by setting.
    let file = host_config(trust.config.as_deref(), &typed.host)?;
    let target = Target::new(&typed, &file);
    let name = target.known_name();
    if name != typed.host {
        info!("{} is {name}", typed.host);
    }
    let file_proxy = file
        .proxy
        .as_ref()
        .map(|(url, at)| (url, format!("Proxy at {at}")));
    let given = match (trust.proxy.as_deref(), &file_proxy) {
        (Some(url), _) => Some(super::proxy::Given {
            source: "--proxy",
            url,
        }),
        (None, Some((url, source))) => Some(super::proxy::Given { source, url }),
        (None, None) => None,
    };
    let proxy = super::proxy::choose(given, &target.host)?;
    let identity = match trust.identity.as_ref().or(file.identity.as_ref()) {
        // Only the default identity is created on first use; a path the user
        // names (flag or IdentityFile) must exist, as with ssh -i (or only
        // its .pub, for a key in ssh-agent).
        Some(path) if !path.exists() && !sft::keys::public_path(path).exists() => {
            return Err(CliError::new(
                Exit::Usage,
                format!("no identity key at {}", path.display()),
            )
            .hint(format!(
                "create one with `sft keygen -o {}`",
                path.display()
            )))
        }
        Some(path) => {
            info!("identity {}", path.display());
            (home::client_identity(path)?, path.clone())
        }
        None => {
            let path = home::home_file(None, "identity")?;
            match path.exists() {
                true => (home::client_identity(&path)?, path),
                false => {
                    let key: Arc<dyn Sign> =
                        Arc::new(home::load_or_create_identity(&path, "client")?);
                    (key, path)
                }
            }
        }
    };
    let (identity, identity_path) = identity;
    // Read only if the server refuses the key: the .pub file is not
    // opened on every connection.
    let (key, default_identity) = (
        identity.verifying_key(),
        trust.identity.is_none() && file.identity.is_none(),
    );
    let refused_hint = || refused_hint(&identity_path, key, default_identity);
    let known_path = home::home_file(trust.known_hosts, "known_hosts")?;
    let pinned = match (&trust.server_key, &file.server_key) {
        (Some(text), _) => Some((text, Pin::Flag)),
        (None, Some(text)) => Some((text, Pin::Config)),
        (None, None) => None,
    };
    let (server_trust, pin) = match pinned {
        Some((text, pin)) => {
            let fp = Fingerprint::parse(text).map_err(|_| {
                CliError::new(Exit::Usage, format!("--server-key {text:?} is not a fingerprint"))
                    .hint("it looks like SHA256:… (43 base64 characters); the server's admin gets it with `sft fingerprint` on the host key")
            })?;
            let from = match pin {
                Pin::Config => "ServerKey in the config file",
                _ => "--server-key",
            };
            info!("trusting only the server key {fp} ({from})");
            (ServerTrust::Pinned(fp), pin)
        }
        None => {
            let known = KnownHosts::load(&known_path)?;
            for line in &known.skipped {
                say!(
                    "sft: warning: ignoring malformed line {line} of {}",
                    known_path.display()
                );
            }
            match known.lookup(&name) {
                Some(fp) => {
                    info!(
                        "{name} is a known host in {}: trusting only its key {fp}",
                        known_path.display()
                    );
                    (ServerTrust::Pinned(fp), Pin::KnownHosts(known_path.clone()))
                }
                None => {
                    info!(
                        "{name} is not in {}: its key is trusted only with --accept-new or a yes at the prompt",
                        known_path.display()
                    );
                    (ServerTrust::Ask, Pin::None)
                }
            }
        }
    };
    let route = match proxy {
        Some(proxy) => Route::Proxied {
            proxy,
            host: target.host.clone(),
            port: target.port,
        },
        None => {
            let addr = target.resolve()?;
            info!("connecting to {name}, resolved to {addr}");
            Route::Direct(addr)
        }
    };
    let mut opts = SessionOptions {
        identity,
        trust: server_trust,
        connect_timeout: CONNECT_TIMEOUT,
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
    let interrupts = Interrupts::watch();
    let connect_once = || {
        // A key accepted in an earlier attempt (then refused as busy) is
        // pinned: the user is not asked twice.
        let accepted_before = accepted.get();
        if let Some(fp) = accepted_before {
            opts.trust = ServerTrust::Pinned(fp);
        }
        match (
            Session::connect(route.clone(), &opts, &mut decide),
            accepted.get(),
        ) {
            // A slow answer at the prompt can outlast the handshake deadline;
            // the key is recorded now, so connect again with it pinned.
            (Err(e), Some(fp)) if accepted_before.is_none() && is_cut(&e) => {
                opts.trust = ServerTrust::Pinned(fp);
                Session::connect(route.clone(), &opts, &mut |_| false)
            }
            (result, _) => result,
        }
    };
    let mut session = retry_busy(&name, connect_once, |e| {
        connect_error(e, &name, &pin, &refused_hint)
    })?;
    info!(
        "connected to {name}: server key {} verified, session established",
        session.server_key.fingerprint()
    );
    if let Some(rate) = trust.limit_rate {
        info!("pacing uploads and downloads to {rate} bytes/s (--limit-rate)");
        session.limit_rate(rate);
    }
    // From now on Ctrl-C or SIGTERM stops the session (see [`Interrupts`]).
    interrupts.cancel_session(&session);
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
    let how = if accept_new {
        "--accept-new"
    } else {
        "answered yes"
    };
    info!("trusting the new key {fp} of {name} on first use ({how})");
    match KnownHosts::append(known, name, &fp) {
        Ok(()) => say!("sft: added {name} ({fp}) to {}", known.display()),
        Err(e) => say!("sft: warning: could not record the key: {e}"),
    }
    true
}

fn ask(name: &str, fp: &Fingerprint, known: &Path) -> bool {
    say!("The authenticity of server '{name}' can't be established.");
    say!("Its key fingerprint is {fp}.");
    let mut err = std::io::stderr().lock();
    let _ = write!(
        err,
        "Trust it and remember it in {}? (yes/no) ",
        known.display()
    );
    let _ = err.flush();
    drop(err);
    let mut answer = String::new();
    let read = std::io::stdin().lock().read_line(&mut answer);
    if !answer.ends_with('\n') {
        say!();
    }
    read.is_ok() && matches!(answer.trim().to_ascii_lowercase().as_str(), "yes" | "y")
}

fn connect_error(
    e: ClientError,
    name: &str,
    pin: &Pin,
    refused_hint: &dyn Fn() -> String,
) -> CliError {
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
            _ => {
                let by = match pin {
                    Pin::Config => "the config file's ServerKey",
                    _ => "--server-key",
                };
                CliError::new(
                    Exit::ServerUntrusted,
                    format!("server key mismatch for {name}: {by} expects {expected}, the server presented {seen}; nothing was sent"),
                )
            }
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
        ClientError::Proto(ProtoError::PeerAlert(AlertCode::Unauthorized)) => {
            CliError::new(Exit::ClientRefused, format!("the server {name} refused this client's key"))
                .hint(refused_hint())
        }
        other => session_error(other),
    }
}

/// What to tell a user whose key the server refused: the line for the
/// server's authorized_keys, as the identity's `.pub` file has it (an
/// `ssh-ed25519 ... comment` line for an OpenSSH key) when that file holds
/// `key`, else as an `sft-ed25519` line; and, for the default identity
/// when `~/.ssh/id_ed25519` exists, how to use that key instead.
fn refused_hint(identity: &Path, key: VerifyingKey, default: bool) -> String {
    let public = if identity.extension().is_some_and(|e| e == "pub") {
        identity.to_path_buf()
    } else {
        sft::keys::public_path(identity)
    };
    let quoted = read_regular(&public, MAX_KEY_FILE)
        .ok()
        .and_then(|(bytes, _)| {
            let text = std::str::from_utf8(&bytes).ok()?;
            let line = text.lines().map(str::trim).find(|l| !l.is_empty())?;
            let parsed = PublicKeyLine::parse(line).ok()?;
            (parsed.key == key).then(|| line.to_string())
        });
    let line = quoted.unwrap_or_else(|| {
        PublicKeyLine {
            key,
            comment: String::new(),
        }
        .to_string()
    });
    let mut hint =
        format!("ask the server's admin to add this line to its authorized_keys:\n{line}");
    let ssh_key = std::env::var_os("HOME").map(|h| Path::new(&h).join(".ssh/id_ed25519"));
    if let Some(ssh_key) = ssh_key.filter(|p| default && p.exists()) {
        hint.push_str(&format!(
            "\nor, if the server knows your ssh key, use it: --identity {} (or IdentityFile in the config file)",
            ssh_key.display()
        ));
    }
    hint
}
