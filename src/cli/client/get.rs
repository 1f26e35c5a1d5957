//! `sft get`: files and (with `-r`) directory trees from the server into a
//! local directory, in one pipelined session. Local files and directories
//! are made relative to the held output directory, never over an existing
//! file, by the same rules as the server's ([`ReceiveRoot`]).

use log::info;
use std::collections::VecDeque;
use std::path::PathBuf;

use clap::Args;
use sft::fs::ReceiveRoot;
use sft::net::client::{Session, Step};
use sft::proto::msgs::{EntryKind, Meta, ResultCode};
use sft::proto::name::{display_safe, sanitize_path};

use super::connect::{check_target, connect};
use super::exit::session_error;
use super::observe::{run_batch, Item};
use super::receipts::{ReceiptArgs, Receipts};
use super::tally::{OutputArgs, Tally};
use crate::cli::error::{CliError, Exit};
use crate::cli::TrustArgs;

#[derive(Debug, Args)]
pub struct GetArgs {
    /// Server, as HOST, HOST:PORT or [IPv6]:PORT (default port 5555)
    #[arg(value_name = "HOST[:PORT]")]
    server: String,
    /// Paths on the server (dir/file.txt); each is saved under its base name (directories with -r)
    #[arg(value_name = "PATH", required = true)]
    paths: Vec<String>,
    /// Fetch directories and everything in them
    #[arg(short = 'r', long)]
    recursive: bool,
    /// Keep each file's and directory's modification time and permission bits
    #[arg(short = 'p', long)]
    preserve: bool,
    /// Directory to save into, which must exist (never overwrites an existing file)
    #[arg(short = 'o', long = "output", value_name = "DIR", default_value = ".")]
    output: PathBuf,
    /// A file already in DIR is reported as skipped, not as a failure (for re-runs of a batch)
    #[arg(long)]
    skip_existing: bool,
    /// Refuse files larger than this, e.g. 10GiB [default: no limit but the free space in DIR]
    #[arg(long, value_name = "SIZE", value_parser = super::super::parse::max_file_size)]
    max_file_size: Option<u64>,
    #[command(flatten)]
    pub(in crate::cli) print: OutputArgs,
    #[command(flatten)]
    trust: TrustArgs,
    #[command(flatten)]
    receipts: ReceiptArgs,
}

/// A local directory to make, and the server's metadata for it.
struct LocalDir {
    local: String,
    meta: Meta,
}

/// What a get will fetch.
#[derive(Default)]
struct Fetch {
    dirs: Vec<LocalDir>,
    /// (remote path, local path relative to the output directory, size).
    files: Vec<(String, String, u64)>,
}

pub fn get(args: GetArgs) -> Result<(), CliError> {
    let mut tally = Tally::new("get", args.print, args.skip_existing);
    let run = get_paths(args, &mut tally);
    tally.finish(run)
}

/// The last component of a valid path.
fn base(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// How long an interrupted download's partial file is kept for a later
/// `get` of the same file to resume: a day, as the server keeps its own.
const CLIENT_PARTIAL_TTL: std::time::Duration = std::time::Duration::from_secs(24 * 60 * 60);

/// The parent of a valid path ("" for the root).
fn parent(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(p, _)| p)
}

fn get_paths(args: GetArgs, tally: &mut Tally) -> Result<(), CliError> {
    check_target(&args.server, &args.trust)?;
    if !args.output.is_dir() {
        return Err(CliError::new(
            Exit::Usage,
            format!("{} is not a directory", args.output.display()),
        )
        .hint("create it first, or choose another -o DIR"));
    }
    let root = ReceiveRoot::open_or_create(&args.output)?;
    // Partial files of downloads interrupted more than a day ago are not
    // kept forever; newer ones are resumed when their file is fetched.
    match root.sweep_partials(CLIENT_PARTIAL_TTL) {
        Ok(0) => {}
        Ok(n) => info!("removed {n} partial file(s) older than a day"),
        Err(e) => info!("could not sweep old partial files: {e}"),
    }
    let mut wanted = Vec::new();
    for p in &args.paths {
        let p = super::dir_arg(p);
        match sanitize_path(p.as_bytes()) {
            Ok(_) => wanted.push(p.to_string()),
            Err(why) => {
                tally.plan(1);
                tally.fail(None, Some(p), Some(ResultCode::BadName), &why.to_string());
            }
        }
    }
    if wanted.is_empty() {
        return Ok(());
    }
    let max_download = args.max_file_size.unwrap_or(u64::MAX);
    let mut c = connect(&args.server, args.trust, max_download)?;
    let mut fetch = Fetch::default();
    for p in &wanted {
        let local = base(p).to_string();
        if args.recursive {
            walk(&mut c.session, &root, p, local, &mut fetch, tally)?;
        } else {
            fetch.files.push((p.clone(), local, 0));
        }
    }
    tally.plan(fetch.files.len());
    let mut steps = Vec::new();
    let mut items = Vec::new();
    for (remote, local, size) in &fetch.files {
        steps.push(Step::Get {
            remote: remote.clone(),
            local: local.clone(),
            preserve: args.preserve,
        });
        let shown = format!(
            "{}:{remote} -> {}",
            c.target,
            root.path().join(local).display()
        );
        items.push(Item::File {
            local: root.path().join(local),
            remote: remote.clone(),
            shown,
            planned: *size,
        });
    }
    let mut receipts = Receipts::new(&args.receipts, "get", &c.target)?;
    run_batch(c, steps, items, Some(&root), tally, &mut receipts)?;
    if args.preserve {
        // Deepest first, once their files are in: a directory's mtime is
        // then the server's, and a read-only one was still writable while
        // it was filled.
        for d in fetch.dirs.iter().rev() {
            if let Err(e) = root.make_dir(&d.local, Some(d.meta)) {
                tally.dir_failed(&format!("{}/", d.local), None, &e.to_string());
            }
        }
    }
    Ok(())
}

/// Finds what `remote` is (by listing its parent) and plans it: a file is
/// fetched as `local`; a directory is made locally and walked, breadth
/// first, one listing per directory. Problems with one entry are counted
/// in `tally` and the rest goes on.
fn walk(
    session: &mut Session,
    root: &ReceiveRoot,
    remote: &str,
    local: String,
    fetch: &mut Fetch,
    tally: &mut Tally,
) -> Result<(), CliError> {
    let listing = session.list(parent(remote)).map_err(session_error)?;
    let entry = listing
        .ok()
        .and_then(|l| l.into_iter().find(|e| e.name == base(remote)));
    let Some(entry) = entry else {
        tally.plan(1);
        tally.fail(
            None,
            Some(remote),
            Some(ResultCode::NotFound),
            "no such file or directory on the server",
        );
        return Ok(());
    };
    if entry.kind == EntryKind::File {
        fetch.files.push((remote.to_string(), local, entry.size));
        return Ok(());
    }
    let mut todo = VecDeque::from([(remote.to_string(), local, meta_of(&entry))]);
    let mut walked = 0;
    while let Some((dir, local, meta)) = todo.pop_front() {
        if let Err(e) = root.make_dir(&local, None) {
            tally.dir_failed(&format!("{local}/"), None, &e.to_string());
            continue;
        }
        let entries = match session.list(&dir).map_err(session_error)? {
            Ok(entries) => entries,
            Err(refused) => {
                let why = format!("listing refused: {}", display_safe(&refused.reason));
                tally.dir_failed(&format!("{dir}/"), None, &why);
                continue;
            }
        };
        fetch.dirs.push(LocalDir {
            local: local.clone(),
            meta,
        });
        let mut entries = entries;
        walked = super::walk_budget(walked, entries.len())?;
        entries.sort_unstable_by(|a, b| a.name.cmp(&b.name));
        for e in entries {
            let (r, l) = (format!("{dir}/{}", e.name), format!("{local}/{}", e.name));
            if sanitize_path(r.as_bytes()).is_err() || sanitize_path(l.as_bytes()).is_err() {
                tally.plan(1);
                let why = "the path is too long or too deep to fetch";
                tally.fail(None, Some(&r), Some(ResultCode::BadName), why);
                continue;
            }
            match e.kind {
                EntryKind::File => fetch.files.push((r, l, e.size)),
                EntryKind::Dir => todo.push_back((r, l, meta_of(&e))),
            }
        }
    }
    Ok(())
}

fn meta_of(e: &sft::proto::msgs::ListEntry) -> Meta {
    Meta {
        mode: e.mode,
        mtime: e.mtime,
    }
}
