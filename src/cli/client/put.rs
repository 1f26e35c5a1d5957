//! `sft put`: files and (with `-r`) directory trees to the server, in one
//! pipelined session.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use clap::Args;
use sft::net::client::Step;
use sft::proto::name::{display_safe, sanitize_path};

use super::connect::{check_target, connect};
use super::observe::{run_batch, Item};
use super::receipts::{ReceiptArgs, Receipts};
use super::tally::{OutputArgs, Tally};
use super::tree::{plan_upload, Plan};
use crate::cli::error::{CliError, Exit};
use crate::cli::TrustArgs;

#[derive(Debug, Args)]
pub struct PutArgs {
    /// Server, as HOST, HOST:PORT or [IPv6]:PORT (default port 5555)
    #[arg(value_name = "HOST[:PORT]")]
    server: String,
    /// Files to upload, each stored under its base name (directories with -r)
    #[arg(value_name = "FILE", required = true)]
    files: Vec<PathBuf>,
    /// Send directories and everything in them (symlinks and special files inside are skipped with a warning)
    #[arg(short = 'r', long)]
    recursive: bool,
    /// Keep each file's and directory's modification time and permission bits (never setuid, setgid or sticky; the server may cap them)
    #[arg(short = 'p', long)]
    preserve: bool,
    /// Store under this directory of the server's root (created if missing), e.g. backup/2026-12-02
    #[arg(long, value_name = "PATH")]
    to: Option<String>,
    /// Replace a file of the same name on the server (the server must allow it)
    #[arg(long, conflicts_with = "skip_existing")]
    overwrite: bool,
    /// A file already on the server is reported as skipped, not as a failure (for re-runs of a batch)
    #[arg(long)]
    skip_existing: bool,
    #[command(flatten)]
    pub(in crate::cli) print: OutputArgs,
    #[command(flatten)]
    trust: TrustArgs,
    #[command(flatten)]
    receipts: ReceiptArgs,
}

pub fn put(args: PutArgs) -> Result<(), CliError> {
    let mut tally = Tally::new("put", args.print, args.skip_existing);
    let run = plan_and_put(&args, &mut tally);
    tally.finish(run)
}

/// Checks the arguments, plans the upload, and runs it.
fn plan_and_put(args: &PutArgs, tally: &mut Tally) -> Result<(), CliError> {
    scp_order(args)?;
    // A mistyped host is a usage error before the tree is walked.
    check_target(&args.server, &args.trust)?;
    let to = args.to.as_deref().map(super::dir_arg);
    if let Some(to) = to {
        sanitize_path(to.as_bytes())
            .map_err(|e| CliError::new(Exit::Usage, format!("--to {}: {e}", display_safe(to))))?;
    }
    let plan = plan_upload(&args.files, args.recursive, to)?;
    tally.plan(plan.files.len() + plan.refused.len());
    put_plan(args, plan, tally)
}

/// `sft put FILE HOST:DIR`, scp's order: the "server" is a local file and
/// a missing "file" has a colon. A usage error that shows sft's order.
fn scp_order(args: &PutArgs) -> Result<(), CliError> {
    let remote = args
        .files
        .iter()
        .find(|f| f.as_os_str().to_string_lossy().contains(':') && !f.exists());
    match remote {
        Some(remote) if Path::new(&args.server).exists() => Err(CliError::new(
            Exit::Usage,
            format!(
                "{} is a local file and {} is not: the server comes first",
                display_safe(&args.server),
                display_safe(&remote.to_string_lossy())
            ),
        )
        .hint("sft put HOST[:PORT] FILE... [--to DIR] (scp's `scp FILE HOST:DIR` is `sft put HOST FILE --to DIR`)")),
        _ => Ok(()),
    }
}

/// The requests of a plan, in order: the directories (parents first), the
/// files, and with `-p` the directories again, deepest first, to set their
/// mode and mtime once their contents are in place.
fn steps(args: &PutArgs, plan: &Plan) -> (Vec<Step>, Vec<Item>) {
    let mut steps = Vec::new();
    let mut items = Vec::new();
    // A set, not a scan of the arguments per file: `sft put HOST dir/*`
    // with 10,000 files would compare paths 50 million times.
    let named: HashSet<&Path> = args.files.iter().map(PathBuf::as_path).collect();
    for d in &plan.dirs {
        steps.push(Step::Mkdir {
            remote: d.remote.clone(),
            meta: None,
        });
        items.push(Item::Dir {
            remote: d.remote.clone(),
        });
    }
    for f in &plan.files {
        steps.push(Step::Put {
            local: f.local.clone(),
            remote: f.remote.clone(),
            overwrite: args.overwrite,
            preserve: args.preserve,
            // A file named on the command line is followed if it is a
            // symlink (as scp does); one found in a tree is opened from
            // the directory argument down, never through a symlink.
            within: if named.contains(f.local.as_path()) {
                None
            } else {
                f.local
                    .ancestors()
                    .skip(1)
                    .find(|a| named.contains(a))
                    .map(Path::to_path_buf)
            },
        });
        items.push(Item::File {
            local: f.local.clone(),
            remote: f.remote.clone(),
            shown: format!("{} -> {}", f.local.display(), f.remote),
            planned: f.size,
        });
    }
    if args.preserve {
        for d in plan.dirs.iter().rev() {
            let Some(meta) = d.meta else { continue };
            steps.push(Step::Mkdir {
                remote: d.remote.clone(),
                meta: Some(meta),
            });
            items.push(Item::Dir {
                remote: d.remote.clone(),
            });
        }
    }
    (steps, items)
}

/// Uploads a plan, counting each file in `tally`; fails for a
/// session-level error only.
fn put_plan(args: &PutArgs, plan: Plan, tally: &mut Tally) -> Result<(), CliError> {
    for s in &plan.skipped {
        say!(
            "sft: warning: skipping {}: {}",
            display_safe(&s.local.display().to_string()),
            s.why
        );
    }
    for r in &plan.refused {
        tally.fail(Some(&r.local), None, None, &r.why);
    }
    if plan.files.is_empty() && plan.dirs.is_empty() {
        return Ok(());
    }
    let (steps, items) = steps(args, &plan);
    let c = connect(&args.server, args.trust.clone(), u64::MAX)?;
    let mut receipts = Receipts::new(&args.receipts, "put", &c.target)?;
    run_batch(c, steps, items, None, tally, &mut receipts)
}
