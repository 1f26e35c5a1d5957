//! `sft put`, `sft get`, `sft ls`: connect, establish trust, run.

mod batch;
mod busy;
mod connect;
mod exit;
mod ls;
mod tally;

// Issue 9: not called yet; the allow goes when put and get use them.
#[allow(dead_code)]
mod listing_format;
#[allow(dead_code)]
mod progress;
#[allow(dead_code)]
mod tree;

use std::path::{Path, PathBuf};

use clap::Args;
use indicatif::ProgressBar;
use sft::fs::{open_local_source, FsError, ReceiveRoot, SourceFile};
use sft::net::client::ClientError;
use sft::proto::msgs::ResultCode;
use sft::proto::name;

use super::error::{CliError, Exit};
use super::TrustArgs;

use batch::{progress_bar, rate, with_rate_retry};
use connect::connect;
use exit::aborted;
pub use ls::{ls, LsArgs};
use tally::{OutputArgs, Tally};

/// Default server port.
pub const DEFAULT_PORT: u16 = 5555;

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
    pub(in crate::cli) print: OutputArgs,
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
    pub(in crate::cli) print: OutputArgs,
    #[command(flatten)]
    trust: TrustArgs,
}

/// Checks a name the user gave: it must pass the file-name rule. The error
/// says which part of the rule failed.
fn plain_name(n: &str) -> Result<(), String> {
    name::sanitize(n.as_bytes())
        .map(|_| ())
        .map_err(|e| e.to_string())
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
    let mut tally = Tally::new("put", args.print);
    let total = args.files.len();
    let run = put_files(args, &mut tally);
    tally.finish(total, run)
}

/// Uploads the files, counting each in `tally`; fails for a session-level
/// error only.
fn put_files(args: PutArgs, tally: &mut Tally) -> Result<(), CliError> {
    // Check every local file before connecting, so a typo costs no handshake.
    let mut jobs = Vec::new();
    for path in &args.files {
        match check_upload(path) {
            Ok((n, source)) => jobs.push((path.clone(), n, source)),
            Err(msg) => tally.fail(Some(path), None, &msg),
        }
    }
    if jobs.is_empty() {
        return Ok(());
    }
    let mut c = connect(&args.server, args.trust, u64::MAX)?;
    let total = jobs.len();
    for (i, (path, n, source)) in jobs.into_iter().enumerate() {
        if source.size > c.session.params.max_file_size {
            let why = format!(
                "{} bytes is over the server's limit of {} bytes",
                source.size, c.session.params.max_file_size
            );
            tally.fail(Some(&path), Some(&n), &why);
            continue;
        }
        let mut source = Some(source);
        let report = with_rate_retry(&n, &c.cancel, || {
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
                let human = format_args!("{n} -> {}: {}", c.target, rate(&r));
                tally.ok(&path, &n, &r, human)
            }
            Ok(r) => tally.outcome(&path, &n, &r),
            Err(e) => return Err(aborted(e, &n, total - i)),
        }
    }
    let _ = c.session.close();
    Ok(())
}

pub fn get(args: GetArgs) -> Result<(), CliError> {
    let mut tally = Tally::new("get", args.print);
    let total = args.names.len();
    let run = get_files(args, &mut tally);
    tally.finish(total, run)
}

/// Downloads the files, counting each in `tally`; fails for a
/// session-level error only.
fn get_files(args: GetArgs, tally: &mut Tally) -> Result<(), CliError> {
    if !args.output.is_dir() {
        return Err(CliError::new(
            Exit::Usage,
            format!("{} is not a directory", args.output.display()),
        )
        .hint("create it first, or choose another -o DIR"));
    }
    let root = ReceiveRoot::open_or_create(&args.output)?;
    let mut wanted = Vec::new();
    for n in &args.names {
        match plain_name(n) {
            Ok(()) => wanted.push(n.clone()),
            Err(why) => tally.fail(None, Some(n), &why),
        }
    }
    if wanted.is_empty() {
        return Ok(());
    }
    let max_download = args.max_file_size.unwrap_or(u64::MAX);
    let mut c = connect(&args.server, args.trust, max_download)?;
    let total = wanted.len();
    for (i, n) in wanted.into_iter().enumerate() {
        let local = root.path().join(&n);
        let report = with_rate_retry(&n, &c.cancel, || {
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
                let human = format_args!("{}:{n} -> {}: {}", c.target, local.display(), rate(&r));
                tally.ok(&local, &n, &r, human)
            }
            Ok(r) => tally.outcome(&local, &n, &r),
            Err(ClientError::Local(FsError::Exists(_))) => {
                let why = format!("{} already exists; not overwriting it", local.display());
                tally.fail(Some(&local), Some(&n), &why);
            }
            Err(ClientError::Local(e @ FsError::DiskFull { .. })) => {
                let why = format!("cannot store it in {}: {e}", root.path().display());
                tally.fail(Some(&local), Some(&n), &why);
            }
            Err(ClientError::Local(e)) => tally.fail(Some(&local), Some(&n), &e.to_string()),
            Err(e) => return Err(aborted(e, &n, total - i)),
        }
    }
    let _ = c.session.close();
    Ok(())
}
