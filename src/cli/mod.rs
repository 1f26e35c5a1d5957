//! Command-line definitions (clap) and dispatch. Each subcommand's logic
//! lives in its own file; errors carry their exit code and a hint.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

/// `eprintln!` that never panics: a message to a closed stderr
/// (`sft ... 2>&1 | head -1`) is dropped, not a crash (see `out::err`).
macro_rules! say {
    () => {
        $crate::cli::out::err(format_args!(""))
    };
    ($($arg:tt)*) => {
        $crate::cli::out::err(format_args!($($arg)*))
    };
}

mod audit;
mod client;
mod demo;
mod error;
mod home;
mod install;
mod keycmd;
mod logging;
mod manpage;
mod out;
mod parse;
mod receipt;
mod selftest;
mod serve;

/// sft: secure file transfer on system OpenSSL.
///
/// Files travel over a signed X25519 handshake and AES-256-GCM records;
/// the server proves its identity key, the client proves its own, and
/// every byte is checked end to end with SHA-256.
#[derive(Debug, Parser)]
#[command(name = "sft", version, about, long_about = None, after_help = error::exit_codes_help())]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Show the whole thing working: a local server, an upload, a download, a byte-for-byte check.
    Demo(demo::DemoArgs),
    /// Create a new Ed25519 identity key (private key PATH, public key PATH.pub).
    Keygen(keycmd::KeygenArgs),
    /// Print the SHA256 fingerprint of a private or public key file.
    Fingerprint(keycmd::FingerprintArgs),
    /// Run a server that receives, serves and lists files in one directory.
    Serve(serve::ServeArgs),
    /// Upload files to a server.
    Put(client::PutArgs),
    /// Download files from a server.
    Get(client::GetArgs),
    /// List the files on a server.
    Ls(client::LsArgs),
    /// Check signed receipts of files moved, offline
    Receipt(receipt::ReceiptArgs),
    /// Check or read a server's audit log, offline
    Audit(audit::AuditArgs),
    /// Run the cryptographic known-answer self-tests and report each.
    ///
    /// Prints one line per test; exits 0 only if every test passed.
    Selftest,
    /// Print a shell completion script to stdout (bash, zsh, fish, elvish, powershell).
    Completions(install::CompletionsArgs),
    /// Write the man pages (sft.1 and one per command) to a directory.
    Man(install::ManArgs),
}

/// The log filter of a client's `-v`: sft's own info lines, other crates'
/// warnings only.
const VERBOSE_LOG: &str = "warn,sft=info";

impl Command {
    /// The log filter when RUST_LOG is not set: the server logs its work
    /// (info); a client logs warnings, and with `-v` its own steps too.
    fn default_log_filter(&self) -> &'static str {
        let verbose = match self {
            Command::Serve(_) => return "info",
            Command::Put(a) => a.print.verbose,
            Command::Get(a) => a.print.verbose,
            Command::Ls(a) => a.print.verbose,
            _ => false,
        };
        if verbose {
            VERBOSE_LOG
        } else {
            "warn"
        }
    }
}

/// Options every client command shares: who we are and whom we trust.
#[derive(Clone, Debug, Args)]
pub struct TrustArgs {
    /// Server port, as scp's -P; a port glued to the host (HOST:PORT) must agree [default: the config's Port, else 5555]
    #[arg(short = 'P', long, value_name = "PORT", value_parser = parse::port)]
    port: Option<u16>,
    /// Client config file with Host blocks, or `none` to read none [default: $SFT_HOME/config, if it exists]
    #[arg(short = 'F', long = "config", value_name = "FILE")]
    config: Option<PathBuf>,
    /// Client identity key: an sft key or an OpenSSH ssh-ed25519 key (or its .pub, for a key in ssh-agent); a path given here must exist [default: the config's IdentityFile, else $SFT_HOME/identity, created on first use]
    #[arg(long, value_name = "PATH")]
    identity: Option<PathBuf>,
    /// Accept only the server key with this fingerprint (SHA256:...), over the config's ServerKey; never touches known_hosts
    #[arg(long, value_name = "FINGERPRINT", conflicts_with = "accept_new")]
    server_key: Option<String>,
    /// Trust an unknown server key on first use and record it in known_hosts
    #[arg(long)]
    accept_new: bool,
    /// known_hosts file [default: $SFT_HOME/known_hosts]
    #[arg(long, value_name = "FILE")]
    known_hosts: Option<PathBuf>,
    /// Handshake timeout, e.g. 10s; 1s to 1h
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse::handshake_timeout)]
    handshake_timeout: std::time::Duration,
    /// Connect through this proxy: socks5://[USER:PASS@]HOST:PORT, socks4://[USER@]HOST:PORT, socks4a://…, http://[USER:PASS@]HOST:PORT (CONNECT), or none [default: the config's Proxy, else $ALL_PROXY, then $HTTPS_PROXY]
    #[arg(long, value_name = "URL")]
    proxy: Option<String>,
    /// Pace uploads and downloads to RATE bytes per second: 500K, 10M, 1G (1024-based), 1K to 100G
    #[arg(long, value_name = "RATE", value_parser = parse::limit_rate)]
    limit_rate: Option<u64>,
}

impl Cli {
    /// Runs the chosen subcommand and returns the process exit status.
    pub fn run(self) -> ExitCode {
        let log_args = match &self.command {
            Command::Serve(a) => Some(a.log.clone()),
            _ => None,
        };
        if let Err(e) = logging::init(self.command.default_log_filter(), log_args.as_ref()) {
            return e.report();
        }
        let result = match self.command {
            Command::Demo(a) => selftest::power_on().and_then(|()| demo::run(a)),
            Command::Keygen(a) => keycmd::keygen(a),
            Command::Fingerprint(a) => keycmd::fingerprint(a),
            Command::Serve(a) => selftest::power_on().and_then(|()| serve::run(a)),
            Command::Put(a) => selftest::power_on().and_then(|()| client::put(a)),
            Command::Get(a) => selftest::power_on().and_then(|()| client::get(a)),
            Command::Ls(a) => selftest::power_on().and_then(|()| client::ls(a)),
            Command::Receipt(a) => receipt::run(a),
            Command::Audit(a) => audit::run(a),
            Command::Selftest => return selftest::run(),
            Command::Completions(a) => install::completions(a),
            Command::Man(a) => install::man(a),
        };
        match result {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => e.report(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("sft").chain(args.iter().copied()))
    }

    #[test]
    fn defaults_are_within_their_bounds() {
        for args in [
            &["serve"][..],
            &["demo"],
            &["put", "host", "file"],
            &["get", "host", "name"],
            &["ls", "host"],
        ] {
            assert!(parse(args).is_ok(), "{args:?}");
        }
    }

    #[test]
    fn verbose_logs_sft_at_info_on_each_client_command_and_conflicts_with_quiet() {
        for args in [
            &["put", "-v", "host", "file"][..],
            &["get", "--verbose", "host", "name"],
            &["ls", "host", "-v", "--json"],
        ] {
            let cli = parse(args).unwrap();
            assert_eq!(cli.command.default_log_filter(), VERBOSE_LOG, "{args:?}");
        }
        assert_eq!(
            parse(&["put", "host", "f"])
                .unwrap()
                .command
                .default_log_filter(),
            "warn"
        );
        assert_eq!(
            parse(&["serve"]).unwrap().command.default_log_filter(),
            "info"
        );
        for args in [
            &["put", "-q", "-v", "host", "f"][..],
            &["ls", "-v", "--quiet", "host"],
        ] {
            let err = parse(args).unwrap_err();
            assert_eq!(
                err.kind(),
                clap::error::ErrorKind::ArgumentConflict,
                "{args:?}"
            );
            assert_eq!(err.exit_code(), 2);
        }
    }

    #[test]
    fn the_verbose_filter_shows_sfts_info_lines_and_only_warnings_of_other_crates() {
        use log::{Level, Log, Metadata};
        let logger = env_logger::Builder::new()
            .parse_filters(VERBOSE_LOG)
            .build();
        let shown = |target: &str, level: Level| {
            logger.enabled(&Metadata::builder().target(target).level(level).build())
        };
        assert!(shown("sft::cli::client::connect", Level::Info));
        assert!(shown("sft::net::client", Level::Info));
        assert!(!shown("sft::net::client", Level::Debug));
        assert!(!shown("mio::poll", Level::Info));
        assert!(shown("mio::poll", Level::Warn));
    }

    #[test]
    fn each_bounded_flag_takes_its_limit_and_refuses_just_past_it_with_exit_2() {
        // (command line before the value, the limit, just past it, the
        // range the error must name)
        let cases: &[(&[&str], &str, &str, &str)] = &[
            (&["serve", "--idle-timeout"], "24h", "24h 1ns", "1s to 24h"),
            (
                &["serve", "--handshake-timeout"],
                "1h",
                "1h 1ns",
                "1s to 1h",
            ),
            (
                &["ls", "host", "--handshake-timeout"],
                "1h",
                "1h 1ns",
                "1s to 1h",
            ),
            (
                &["serve", "--source-rate"],
                "1000000/24h",
                "1000001/24h",
                "1 to 1000000",
            ),
            (
                &["serve", "--key-rate"],
                "1000000/24h",
                "1000001/24h",
                "1 to 1000000",
            ),
            (&["serve", "--key-rate"], "1/24h", "1/24h 1ns", "1s to 24h"),
            (&["serve", "--max-connections"], "4096", "4097", "1 to 4096"),
            (
                &["serve", "--max-pending-per-source"],
                "4096",
                "4097",
                "1 to 4096",
            ),
            (
                &["serve", "--max-file-size"],
                "1PiB",
                "1125899906842625",
                "1 PiB",
            ),
            (&["demo", "--size"], "1GiB", "1073741825", "1 GiB"),
        ];
        for &(before, limit, past, range) in cases {
            let line = |v: &'static str| [before, &[v]].concat();
            assert!(parse(&line(limit)).is_ok(), "{before:?} {limit}");
            let err = parse(&line(past)).unwrap_err();
            assert_eq!(err.kind(), clap::error::ErrorKind::ValueValidation);
            assert_eq!(err.exit_code(), 2);
            assert!(err.to_string().contains(range), "{before:?} {past}: {err}");
        }
    }
}
