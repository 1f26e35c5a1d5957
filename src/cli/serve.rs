//! `sft serve`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use log::{info, warn};
use sft::audit::AuditLog;
use sft::authorized::table::AuthorizedTable;
use sft::authorized::{load_authorized_keys, warn_other_types, watch};
use sft::fs::ReceiveRoot;
use sft::net::server::{Clients, Limits, Rate, ServeOptions, Server, Timeouts};

use super::error::{CliError, Exit};
use super::logging::LogArgs;
use super::{home, parse};

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address and port to listen on (IPv6 as [::]:5555)
    #[arg(long, value_name = "ADDR:PORT", default_value = "0.0.0.0:5555")]
    listen: SocketAddr,
    /// Directory that receives uploads and serves downloads (created 0700 if missing) [default: $SFT_HOME/files]
    #[arg(long, value_name = "DIR")]
    root: Option<PathBuf>,
    /// Host identity key: an sft key or an OpenSSH ssh-ed25519 private key (ssh-keygen -t ed25519) [default: $SFT_HOME/host_identity, created on first start]
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
    /// Most permission bits a client may set with -p, in octal (000 to 777; setuid, setgid and sticky are never set)
    #[arg(long, value_name = "MODE", default_value = "755", value_parser = parse::max_mode)]
    max_mode: u32,
    /// Most connections open at once, 1 to 4096; when full, one that has not authenticated makes room, and one key may hold at most half
    #[arg(long, value_name = "N", default_value = "128", value_parser = parse::connections)]
    max_connections: usize,
    /// Most unauthenticated connections one source (IP address, IPv6 /64) may hold, 1 to 4096
    #[arg(long, value_name = "N", default_value = "64", value_parser = parse::connections)]
    max_pending_per_source: usize,
    /// New connections per source: a burst of N, refilled at N per DURATION; N 1 to 1000000, DURATION 1s to 24h
    #[arg(long, value_name = "N/DURATION", default_value = "600/60s", value_parser = parse::rate)]
    source_rate: Rate,
    /// Requests (upload, download, listing) per client key: a burst of N, refilled at N per DURATION; a refusal such as "exists" costs 1/16
    #[arg(long, value_name = "N/DURATION", default_value = "20000/60s", value_parser = parse::rate)]
    key_rate: Rate,
    /// Close connections with no traffic for this long, 1s to 24h
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse::idle_timeout)]
    idle_timeout: Duration,
    /// Close connections that have not completed the handshake by then, 1s to 1h
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse::handshake_timeout)]
    handshake_timeout: Duration,
    /// Largest file accepted, 1 byte to 1PiB, e.g. 10GiB, 500MB, 1048576
    #[arg(long, value_name = "SIZE", default_value = "10GiB", value_parser = parse::max_file_size)]
    max_file_size: u64,
    /// Keep an interrupted upload's bytes this long after its last write for its client to resume, 1m to 30d
    #[arg(long, value_name = "DURATION", default_value = "24h", value_parser = parse::partial_ttl)]
    partial_ttl: Duration,
    /// Event loops, each on its own thread sharing the listening port and every limit, 1 to 256 [default: the number of cores]
    #[arg(long, value_name = "N", value_parser = parse::threads)]
    threads: Option<usize>,
    /// Append-only audit log of stored uploads, served downloads and refusals, hash-chained and signed by the host key; check it with `sft audit verify` [default: $SFT_HOME/audit.log]
    #[arg(long, value_name = "FILE")]
    audit_log: Option<PathBuf>,
    #[command(flatten)]
    pub log: LogArgs,
}

/// The admission limits the flags ask for.
fn limits(args: &ServeArgs) -> Limits {
    Limits {
        max_connections: args.max_connections,
        max_pending_per_source: args.max_pending_per_source,
        source_rate: args.source_rate,
        key_rate: args.key_rate,
    }
}

pub fn run(args: ServeArgs) -> Result<(), CliError> {
    let hup = watch::catch_sighup()
        .map_err(|e| CliError::new(Exit::Usage, format!("cannot install signal handlers: {e}")))?;
    let audit_path = home::home_file(args.audit_log.clone(), "audit.log")?;
    let keys_path = home::home_file(args.authorized_keys.clone(), "authorized_keys")?;
    let identity_path = home::home_file(args.identity.clone(), "host_identity")?;
    for (what, path) in [
        ("the audit log", &audit_path),
        ("authorized_keys", &keys_path),
        ("the host key", &identity_path),
    ] {
        if args.log.writes_to(path) {
            return Err(CliError::new(
                Exit::Usage,
                format!("--log-file {} is {what}", path.display()),
            )
            .hint("give the log a file of its own"));
        }
    }
    let limits = limits(&args);
    let identity = Arc::new(home::load_or_create_identity(&identity_path, "host")?);
    let audit = AuditLog::open(&audit_path, identity.clone()).map_err(|e| {
        CliError::new(
            Exit::Usage,
            format!("audit log {}: {e}", audit_path.display()),
        )
    })?;
    let (clients, watched) = if args.allow_any_client {
        (Clients::Any, None)
    } else {
        let path = keys_path;
        let add_hint = format!(
            "add a client's public key line (its `sft keygen` prints it; it is also in the client's identity.pub) to {}, or start with --allow-any-client to accept any client",
            path.display()
        );
        if !path.exists() {
            return Err(CliError::new(
                Exit::Usage,
                format!(
                    "no authorized client keys: {} does not exist",
                    path.display()
                ),
            )
            .hint(add_hint));
        }
        let parsed = load_authorized_keys(&path)?;
        warn_other_types(&path, &parsed);
        let lines = parsed.keys;
        if lines.is_empty() {
            return Err(CliError::new(
                Exit::Usage,
                format!("no authorized client keys in {}", path.display()),
            )
            .hint(add_hint));
        }
        let table = Arc::new(AuthorizedTable::new(lines));
        (Clients::Authorized(table.clone()), Some((path, table)))
    };
    let root_path = home::home_file(args.root, "files")?;
    let root_is_new = !root_path.exists();
    let root = ReceiveRoot::open_or_create(&root_path)
        .map_err(|e| CliError::new(Exit::Usage, e.to_string()))?;
    if root_is_new {
        info!("created the root {} (0700)", root.path().display());
    }
    let mut roots = vec![root.clone()];
    for dir in watched.iter().flat_map(|(_, table)| table.sub_roots()) {
        let (sub, created) = root
            .open_sub_root(&dir)
            .map_err(|e| CliError::new(Exit::Usage, format!("root={dir:?} of a key: {e}")))?;
        if created {
            info!("created a key's root {} (0700)", sub.path().display());
        }
        roots.push(sub);
    }
    for root in &roots {
        let stale = root.remove_stale_parts()?;
        if stale > 0 {
            info!(
                "removed {stale} partial file(s) left in {} by an earlier run",
                root.path().display()
            );
        }
    }
    let fingerprint = identity.verifying_key().fingerprint();
    let policy = match &watched {
        None => "any client key".to_string(),
        Some((path, table)) => format!(
            "{} authorized client key(s), reloaded from {} on change and on SIGHUP",
            table.len(),
            path.display()
        ),
    };
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let server = Server::bind(ServeOptions {
        listen: args.listen,
        root,
        identity,
        audit,
        clients,
        max_file_size: args.max_file_size,
        timeouts: Timeouts {
            handshake: args.handshake_timeout,
            idle: args.idle_timeout,
        },
        limits,
        allow_overwrite: args.allow_overwrite,
        max_mode: args.max_mode,
        partial_ttl: args.partial_ttl,
        threads,
    })
    .map_err(|e| {
        CliError::new(
            Exit::Usage,
            format!("cannot listen on {}: {e}", args.listen),
        )
    })?;
    server
        .stop_on_signals()
        .map_err(|e| CliError::new(Exit::Usage, format!("cannot install signal handlers: {e}")))?;
    if let Some((path, table)) = watched {
        watch::spawn(path, table, hup).map_err(|e| {
            CliError::new(
                Exit::Usage,
                format!("cannot watch authorized_keys for changes: {e}"),
            )
        })?;
    }
    let addr = server
        .local_addr()
        .map_err(|e| CliError::new(Exit::Connection, e.to_string()))?;
    info!(
        "listening on {addr}, root {}, host key {fingerprint}, {policy}, audit log {}, {threads} event loop(s)",
        root_path.display(),
        audit_path.display()
    );
    if let Some(warning) = every_interface_warning(addr) {
        warn!("{warning}");
    }
    server
        .run()
        .map_err(|e| CliError::new(Exit::Connection, format!("server stopped: {e}")))
}

/// The warning for a server bound to the unspecified address (0.0.0.0 or
/// [::]), which any host that can route to this one may reach; `None` for
/// a specific address.
fn every_interface_warning(addr: SocketAddr) -> Option<String> {
    if !addr.ip().is_unspecified() {
        return None;
    }
    let loopback = match addr {
        SocketAddr::V4(_) => SocketAddr::from(([127, 0, 0, 1], addr.port())),
        SocketAddr::V6(_) => SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, addr.port())),
    };
    Some(format!(
        "accepting connections on every interface ({addr}); to serve only this host use --listen {loopback}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use sft::net::server::DEFAULT_PARTIAL_TTL;

    #[derive(Parser)]
    struct Wrapper {
        #[command(flatten)]
        serve: ServeArgs,
    }

    #[test]
    fn the_flag_defaults_are_the_documented_limits() {
        let w = Wrapper::try_parse_from(["sft"]).unwrap();
        assert_eq!(limits(&w.serve), Limits::default());
        assert_eq!(w.serve.partial_ttl, DEFAULT_PARTIAL_TTL);
        assert_eq!(w.serve.root, None, "the root defaults under SFT_HOME");
    }

    #[test]
    fn only_the_unspecified_addresses_get_the_every_interface_warning() {
        let warn = |a: &str| every_interface_warning(a.parse().unwrap());
        let v4 = warn("0.0.0.0:5555").unwrap();
        assert!(
            v4.contains("(0.0.0.0:5555)") && v4.ends_with("--listen 127.0.0.1:5555"),
            "{v4}"
        );
        let v6 = warn("[::]:7000").unwrap();
        assert!(
            v6.contains("([::]:7000)") && v6.ends_with("--listen [::1]:7000"),
            "{v6}"
        );
        for specific in [
            "127.0.0.1:5555",
            "192.0.2.7:5555",
            "[::1]:5555",
            "[2001:db8::1]:5555",
        ] {
            assert_eq!(warn(specific), None, "{specific}");
        }
    }
}
