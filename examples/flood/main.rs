//! Flood and load tools for measuring `sft serve` (issue 8); ci/flood.sh runs
//! them. Loopback only: the target must be an IPv4 loopback address and
//! every source address is in 127.0.0.0/8 (source `i` is 127.0.0.2 + i).
//! Each subcommand stops after `--secs` or at SIGTERM, whichever is first,
//! and prints one line of `key=value` figures on stdout.
//!
//! ```text
//! reconnect --target A --sources N --sockets K --secs D   connect, send a HELLO, close, again
//! half      --target A --sources S --secs D               hold handshakes open after CHALLENGE
//! measure   --target A --identity KEY --server-key PUB --secs D --every-ms 20   LIST latency
//! listhold  --target A --identity KEY --server-key PUB --clients 10 --secs D    unread listings
//! ```
#![forbid(unsafe_code)]

mod attack;
mod session;

use std::io;
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use clap::{Args, Parser, Subcommand};
use sft::crypto::ed25519::SigningKey;
use sft::net::client::ServerTrust;
use sft::proto::conn::ClientConnection;
use sft::proto::handshake::client::ClientConfig;
use sft::proto::handshake::Ephemeral;
use sft::proto::timers::Timeouts;
use socket2::{Domain, Socket, Type};

/// How often a blocked thread looks at the deadline and the stop signal.
const TICK: Duration = Duration::from_millis(100);

#[derive(Parser)]
#[command(about = "Flood and load tools for sft serve (loopback only)")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// K sockets, each from the next of N source addresses in turn, connect,
    /// send a HELLO and close at once, as fast as they can
    Reconnect {
        #[command(flatten)]
        run: Run,
        /// Distinct source addresses (127.0.0.2 on)
        #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
        sources: u32,
        /// Sockets open at once (one thread each)
        #[arg(long, default_value_t = 120, value_parser = clap::value_parser!(u32).range(1..=4096))]
        sockets: u32,
    },
    /// From each source address, hold connections that sent a valid HELLO,
    /// read the CHALLENGE and never answer; reopen each when the server
    /// closes it
    Half {
        #[command(flatten)]
        run: Run,
        /// Distinct source addresses (127.0.0.2 on)
        #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=1000))]
        sources: u32,
        /// Connections held per source address
        #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=64))]
        per_source: u32,
    },
    /// One authenticated session sending LIST every `--every-ms`; prints the
    /// answers' latency (count, p50, p99, max in ms)
    Measure {
        #[command(flatten)]
        run: Run,
        #[command(flatten)]
        auth: Auth,
        /// Interval between LIST requests, in ms
        #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..=60_000))]
        every_ms: u64,
    },
    /// Authenticated connections that each send LIST and never read the
    /// answer (4 KiB receive buffer), held until the end
    Listhold {
        #[command(flatten)]
        run: Run,
        #[command(flatten)]
        auth: Auth,
        /// Connections
        #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=1000))]
        clients: u32,
    },
}

#[derive(Args)]
struct Run {
    /// Server address (IPv4 loopback), e.g. 127.0.0.1:5555
    #[arg(long)]
    target: SocketAddr,
    /// Seconds to run (SIGTERM stops earlier)
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=3600))]
    secs: u64,
}

#[derive(Args)]
struct Auth {
    /// Client identity key (PKCS#8 PEM, as `sft keygen` writes it)
    #[arg(long)]
    identity: PathBuf,
    /// The server's key file (public line or private key) to pin
    #[arg(long)]
    server_key: PathBuf,
    /// Source address to connect from (127.0.0.0/8), so that this tool's
    /// requests do not share a per-address rate limit with other clients
    #[arg(long)]
    source: Option<Ipv4Addr>,
}

/// When a tool stops: the deadline, or SIGTERM.
struct Stop {
    deadline: Instant,
    signal: Arc<AtomicBool>,
}

impl Stop {
    fn new(run: &Run) -> Result<Stop, String> {
        let signal = Arc::new(AtomicBool::new(false));
        signal_hook::flag::register(signal_hook::consts::SIGTERM, signal.clone())
            .map_err(|e| format!("SIGTERM handler: {e}"))?;
        Ok(Stop {
            deadline: Instant::now() + Duration::from_secs(run.secs),
            signal,
        })
    }

    fn done(&self) -> bool {
        self.signal.load(Relaxed) || Instant::now() >= self.deadline
    }

    /// Sleeps until `t`, the deadline or SIGTERM.
    fn sleep_until(&self, t: Instant) {
        while !self.done() {
            let left = t.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            thread::sleep(left.min(TICK));
        }
    }
}

fn main() {
    let result = match Cli::parse().cmd {
        Cmd::Reconnect {
            run,
            sources,
            sockets,
        } => attack::reconnect(&run, sources, sockets),
        Cmd::Half {
            run,
            sources,
            per_source,
        } => attack::half(&run, sources, per_source),
        Cmd::Measure {
            run,
            auth,
            every_ms,
        } => session::measure(&run, &auth, Duration::from_millis(every_ms)),
        Cmd::Listhold { run, auth, clients } => session::listhold(&run, &auth, clients),
    };
    if let Err(e) = result {
        eprintln!("flood: {e}");
        std::process::exit(1);
    }
}

/// The tools only flood loopback.
fn check_target(target: SocketAddr, source: Option<Ipv4Addr>) -> Result<(), String> {
    if !matches!(target, SocketAddr::V4(a) if a.ip().is_loopback()) {
        return Err(format!("{target} is not an IPv4 loopback address"));
    }
    match source {
        Some(ip) if !ip.is_loopback() => Err(format!("{ip} is not in 127.0.0.0/8")),
        _ => Ok(()),
    }
}

/// A blocking TCP connection to `target`, from `src` when given, with a
/// receive buffer of `rcvbuf` bytes when given (set before connecting, so
/// the window the server sees is small from the start).
fn connect_from(
    src: Option<Ipv4Addr>,
    target: SocketAddr,
    timeout: Duration,
    rcvbuf: Option<usize>,
) -> io::Result<TcpStream> {
    let sock = Socket::new(Domain::IPV4, Type::STREAM, None)?;
    if let Some(ip) = src {
        sock.set_reuse_address(true)?;
        sock.bind(&SocketAddr::from((ip, 0)).into())?;
    }
    if let Some(n) = rcvbuf {
        sock.set_recv_buffer_size(n)?;
    }
    sock.connect_timeout(&target.into(), timeout)?;
    let stream = TcpStream::from(sock);
    stream.set_nodelay(true)?;
    Ok(stream)
}

fn client(identity: Arc<SigningKey>, trust: ServerTrust) -> Result<ClientConnection, String> {
    let eph = Ephemeral::generate().map_err(|e| e.to_string())?;
    let config = ClientConfig { identity, trust };
    ClientConnection::new(config, eph, Timeouts::default(), Instant::now())
        .map_err(|e| e.to_string())
}

/// Writes all of `conn`'s pending output to the blocking `sock`.
fn flush(conn: &mut ClientConnection, sock: &mut TcpStream) -> io::Result<()> {
    while conn.wants_write() {
        if conn.write_tls(sock, Instant::now())? == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
    }
    Ok(())
}
