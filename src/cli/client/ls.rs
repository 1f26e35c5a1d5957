//! `sft ls [PATH]`: a directory of the server (with `-R` its tree), sorted
//! by name: names, `-l` columns, or JSON Lines.

use std::collections::VecDeque;

use clap::Args;
use serde_json::json;
use sft::proto::msgs::{EntryKind, ListEntry};
use sft::proto::name::{display_safe, sanitize_path};

use super::connect::connect;
use super::exit::session_error;
use super::listing_format::{long_line, short_name};
use super::tally::{json_line, OutputArgs};
use crate::cli::error::{CliError, Exit};
use crate::cli::out::rfc3339;
use crate::cli::{out, TrustArgs};

#[derive(Debug, Args)]
pub struct LsArgs {
    /// Server, as HOST, HOST:PORT or [IPv6]:PORT (default port 5555)
    #[arg(value_name = "HOST[:PORT]")]
    server: String,
    /// Directory of the server's root to list [default: the root]
    #[arg(value_name = "PATH")]
    path: Option<String>,
    /// Mode, size, time and name per line (directories end in '/')
    #[arg(short = 'l', long)]
    long: bool,
    /// List the whole tree below PATH (paths relative to it)
    #[arg(short = 'R', long)]
    recursive: bool,
    #[command(flatten)]
    pub(in crate::cli) print: OutputArgs,
    #[command(flatten)]
    trust: TrustArgs,
}

pub fn ls(args: LsArgs) -> Result<(), CliError> {
    let print = args.print;
    let result = list(args);
    if print.json {
        let (files, bytes, exit, message) = match &result {
            Ok((files, bytes)) => (*files, *bytes, 0, None),
            Err(e) => (0, 0, e.exit().code(), Some(e.message())),
        };
        json_line(&json!({
            "type": "summary",
            "op": "ls",
            "files": files,
            "bytes": bytes,
            "exit": exit,
            "message": message,
        }));
    }
    result.map(|_| ())
}

/// Lists a directory of the server (with `-R`, its whole tree, breadth
/// first), printing each entry unless quiet. Returns the number of files
/// and their total size in bytes.
fn list(args: LsArgs) -> Result<(usize, u64), CliError> {
    let top = args
        .path
        .as_deref()
        .map(super::dir_arg)
        .unwrap_or_default()
        .to_string();
    if !top.is_empty() {
        sanitize_path(top.as_bytes()).map_err(|e| CliError::new(Exit::Usage, e.to_string()))?;
    }
    let mut c = connect(&args.server, args.trust.clone(), u64::MAX)?;
    let (mut files, mut bytes) = (0usize, 0u64);
    // (server path, path shown relative to the listed directory)
    let mut todo = VecDeque::from([(top, String::new())]);
    let mut walked = 0;
    while let Some((dir, shown)) = todo.pop_front() {
        let listing = c.session.list(&dir).map_err(session_error)?;
        let mut entries = listing.map_err(|o| {
            CliError::new(
                Exit::FileFailed,
                format!("listing {dir:?} refused: {}", display_safe(&o.reason)),
            )
        })?;
        walked = super::walk_budget(walked, entries.len())?;
        // The server sends its directory order.
        entries.sort_unstable_by(|a, b| a.name.cmp(&b.name));
        for e in entries {
            let rel = if shown.is_empty() {
                e.name.clone()
            } else {
                format!("{shown}/{}", e.name)
            };
            let is_dir = e.kind == EntryKind::Dir;
            if is_dir && args.recursive {
                let path = if dir.is_empty() {
                    e.name.clone()
                } else {
                    format!("{dir}/{}", e.name)
                };
                // A path past the protocol's limits cannot be listed.
                if sanitize_path(path.as_bytes()).is_ok() {
                    todo.push_back((path, rel.clone()));
                }
            }
            if !is_dir {
                files += 1;
                bytes = bytes.saturating_add(e.size);
            }
            print_entry(&args, &e, &rel);
        }
    }
    let _ = c.session.close();
    Ok((files, bytes))
}

fn print_entry(args: &LsArgs, e: &ListEntry, rel: &str) {
    let is_dir = e.kind == EntryKind::Dir;
    match (args.print.json, args.print.quiet) {
        (_, true) => {}
        (true, false) => json_line(&json!({
            "type": "entry",
            "kind": if is_dir { "dir" } else { "file" },
            "name": e.name,
            "path": rel,
            "size": e.size,
            "mode": format!("{:03o}", e.mode),
            "mtime": e.mtime,
            "mtime_utc": rfc3339(e.mtime),
        })),
        (false, false) if args.long => out::line(format_args!(
            "{}",
            long_line(rel, is_dir, e.size, e.mtime, e.mode)
        )),
        (false, false) => out::line(format_args!("{}", short_name(rel, is_dir))),
    }
}
