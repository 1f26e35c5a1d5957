//! `sft serve`.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use log::info;
use sft::fs::ReceiveRoot;
use sft::keys;
use sft::net::server::{ClientPolicy, RateLimit, ServeOptions, Server, Timeouts};

use super::error::{CliError, CONNECTION, USAGE};
use super::home;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address and port to listen on (IPv6 as [::]:5555)
    #[arg(long, value_name = "ADDR:PORT", default_value = "0.0.0.0:5555")]
    listen: SocketAddr,
    /// Directory that receives uploads and serves downloads (created 0700 if missing)
    #[arg(long, value_name = "DIR", default_value = "./ricevuti")]
    root: PathBuf,
    /// Host identity key [default: $SFT_HOME/host_identity, created on first start]
    #[arg(long, value_name = "PATH")]
    identity: Option<PathBuf>,
    /// Client public keys allowed to connect, one `sft-ed25519 ...` line each [default: $SFT_HOME/authorized_keys]
    #[arg(long, value_name = "FILE", conflicts_with = "allow_any_client")]
    authorized_keys: Option<PathBuf>,
    /// Accept any client key (each key seen is logged)
    #[arg(long)]
    allow_any_client: bool,
    /// Let clients replace existing files when they ask with --overwrite
    #[arg(long)]
    allow_overwrite: bool,
    /// Most connections open at once; more are closed at accept
    #[arg(long, value_name = "N", default_value = "50", value_parser = clap::value_parser!(u32).range(1..))]
    max_connections: u32,
    /// Connections and requests allowed per client IP (IPv6: per /64) per window
    #[arg(long, value_name = "N/DURATION", default_value = "100/60s", value_parser = parse_rate)]
    rate_limit: RateLimit,
    /// Close connections with no traffic for this long
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_duration)]
    idle_timeout: Duration,
    /// Close connections that have not completed the handshake by then
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    handshake_timeout: Duration,
    /// Largest file accepted, e.g. 10GiB, 500MB, 1048576
    #[arg(long, value_name = "SIZE", default_value = "10GiB", value_parser = parse_size)]
    max_file_size: u64,
}

/// Parses a duration such as `60s`, `1m 30s`, `500ms`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(s).map_err(|e| format!("{e} (examples: 60s, 1m, 500ms)"))?;
    if d.is_zero() {
        return Err("must be more than zero".into());
    }
    Ok(d)
}

/// Parses `N/DURATION`, e.g. `100/60s`.
pub fn parse_rate(s: &str) -> Result<RateLimit, String> {
    let (n, window) = s
        .split_once('/')
        .ok_or("expected N/DURATION, e.g. 100/60s")?;
    let max: u32 = n
        .trim()
        .parse()
        .map_err(|_| format!("{n:?} is not a whole number"))?;
    if max == 0 {
        return Err("the count must be at least 1".into());
    }
    Ok(RateLimit {
        max,
        window: parse_duration(window.trim())?,
    })
}

/// Parses a size such as `10GiB`, `500MB` or a plain byte count.
pub fn parse_size(s: &str) -> Result<u64, String> {
    s.trim()
        .parse::<bytesize::ByteSize>()
        .map(|b| b.as_u64())
        .map_err(|_| format!("{s:?} is not a size (examples: 10GiB, 500MB, 1048576)"))
}

pub fn run(args: ServeArgs) -> Result<(), CliError> {
    let identity_path = home::home_file(args.identity, "host_identity")?;
    let identity = home::load_or_create_identity(&identity_path, "host")?;
    let clients = if args.allow_any_client {
        ClientPolicy::AnyClient
    } else {
        let path = home::home_file(args.authorized_keys, "authorized_keys")?;
        let add_hint = format!(
            "add a client's public key line (its `sft keygen` prints it; it is also in the client's identity.pub) to {}, or start with --allow-any-client to accept any client",
            path.display()
        );
        if !path.exists() {
            return Err(CliError::new(
                USAGE,
                format!(
                    "no authorized client keys: {} does not exist",
                    path.display()
                ),
            )
            .hint(add_hint));
        }
        let lines = keys::load_authorized_keys(&path)?;
        if lines.is_empty() {
            return Err(CliError::new(
                USAGE,
                format!("no authorized client keys in {}", path.display()),
            )
            .hint(add_hint));
        }
        ClientPolicy::Authorized(lines.into_iter().map(|l| l.key).collect::<HashSet<_>>())
    };
    let root =
        ReceiveRoot::open_or_create(&args.root).map_err(|e| CliError::new(USAGE, e.to_string()))?;
    let stale = root.remove_stale_parts()?;
    if stale > 0 {
        info!(
            "removed {stale} partial file(s) left in {} by an earlier run",
            args.root.display()
        );
    }
    let fingerprint = identity.verifying_key().fingerprint();
    let policy = match &clients {
        ClientPolicy::AnyClient => "any client key".to_string(),
        ClientPolicy::Authorized(k) => format!("{} authorized client key(s)", k.len()),
    };
    let server = Server::bind(ServeOptions {
        listen: args.listen,
        root,
        identity,
        clients,
        max_file_size: args.max_file_size,
        timeouts: Timeouts {
            handshake: args.handshake_timeout,
            idle: args.idle_timeout,
        },
        rate: args.rate_limit,
        max_connections: args.max_connections as usize,
        allow_overwrite: args.allow_overwrite,
    })
    .map_err(|e| CliError::new(USAGE, format!("cannot listen on {}: {e}", args.listen)))?;
    server
        .stop_on_signals()
        .map_err(|e| CliError::new(USAGE, format!("cannot install signal handlers: {e}")))?;
    let addr = server
        .local_addr()
        .map_err(|e| CliError::new(CONNECTION, e.to_string()))?;
    info!(
        "listening on {addr}, root {}, host key {fingerprint}, {policy}",
        args.root.display()
    );
    server
        .run()
        .map_err(|e| CliError::new(CONNECTION, format!("server stopped: {e}")))
}
