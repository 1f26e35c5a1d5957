//! Planning an upload from local arguments, like `scp -r`: the remote
//! directories to create, the files to send and under which remote paths,
//! and what is skipped (with a warning) or refused (a failed file) before
//! anything is sent.
//!
//! A file argument is sent under its base name; a symlink given as an
//! argument is followed. A directory argument needs `recursive` and is sent
//! as itself (its base name) and everything below it. Inside a tree nothing
//! is followed: symlinks, FIFOs, sockets and devices are skipped. Every
//! remote path component must pass the file-name rule
//! ([`sft::proto::name::sanitize`]); a local name that fails is refused and,
//! for a directory, its subtree is not walked.

use std::collections::HashSet;
use std::ffi::{OsStr, OsString};
use std::fs::{self, FileType, Metadata};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use sft::proto::msgs::{Meta, MAX_MODE};
use sft::proto::name::sanitize;
use sft::proto::{MAX_DEPTH, MAX_PATH_LEN};

use crate::cli::error::{CliError, Exit};

/// What `-p` preserves of a local file or directory: its permission bits
/// (never setuid, setgid or sticky) and whole-second mtime.
fn meta_of(m: &Metadata) -> Meta {
    Meta {
        mode: m.mode() & MAX_MODE,
        mtime: m.mtime(),
    }
}

/// A remote directory to create (MKDIR), parents before children.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlanDir {
    /// Remote path, '/'-separated, each component valid.
    pub remote: String,
    /// The local directory's metadata; `None` for the directories of the
    /// `to` prefix, which have no local counterpart (created, never
    /// preserved).
    pub meta: Option<Meta>,
}

/// A regular file to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlanFile {
    /// Where to read it (as given or joined below a directory argument).
    pub local: PathBuf,
    /// Remote path, '/'-separated, each component valid.
    pub remote: String,
    /// Size in bytes when planned (the file may change before it is sent).
    pub size: u64,
    /// Its metadata when planned (a symlink argument's: its target's).
    pub meta: Meta,
}

/// An entry inside a tree that is left out: print as a warning, e.g.
/// `sft: warning: skipping {local}: {why}` (escape `local` for the
/// terminal: local names may hold control characters).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skipped {
    /// The entry, below a directory argument.
    pub local: PathBuf,
    /// Why, e.g. "is a symbolic link; links inside a tree are not followed".
    pub why: String,
}

/// An argument or entry that cannot be sent: counts as a failed file
/// (exit 1). For a directory, nothing below it was planned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refused {
    /// The argument as given, or the entry below a directory argument.
    pub local: PathBuf,
    /// Why, e.g. "is a directory (use -r)" or the file-name rule's message.
    pub why: String,
}

/// Everything an upload will do, decided before connecting.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    /// Directories to create, each after its parent; first the prefixes
    /// of `to`, then each tree in argument order, entries sorted by name
    /// (bytes).
    pub dirs: Vec<PlanDir>,
    /// Files to send, in the same order.
    pub files: Vec<PlanFile>,
    /// Entries left out, in the order met: warnings, not failures.
    pub skipped: Vec<Skipped>,
    /// Arguments and entries that failed, in the order met: one failed
    /// file each.
    pub refused: Vec<Refused>,
}

/// Plans the upload of `args` (files, or directories when `recursive`)
/// under the remote directory `to` (the server's root when `None`).
///
/// Problems with one argument or entry land in [`Plan::refused`] or
/// [`Plan::skipped`]; two arguments with the same base name are one
/// remote path, so the later one is refused. Memory is O(entries planned).
///
/// # Errors
/// [`Exit::Usage`] when `to` is not a valid remote path: a component fails
/// the file-name rule (so a leading, trailing or doubled '/' and `.` or `..`
/// are refused, never rewritten), more than [`MAX_DEPTH`] components, or
/// over [`MAX_PATH_LEN`] bytes.
pub fn plan_upload(args: &[PathBuf], recursive: bool, to: Option<&str>) -> Result<Plan, CliError> {
    let mut plan = Plan::default();
    let mut base = Remote::ROOT;
    if let Some(to) = to {
        for component in to.split('/') {
            base = base.child(OsStr::new(component)).map_err(|why| {
                CliError::new(Exit::Usage, format!("remote directory {to:?}: {why}"))
            })?;
            plan.dirs.push(PlanDir {
                remote: base.path.clone(),
                meta: None,
            });
        }
    }
    let mut seen = HashSet::new();
    for arg in args {
        if let Err(why) = plan.argument(arg, recursive, &base, &mut seen) {
            plan.refused.push(Refused {
                local: arg.clone(),
                why,
            });
        }
    }
    Ok(plan)
}

/// A remote path being built, with its number of components.
#[derive(Clone, Debug)]
struct Remote {
    path: String,
    depth: usize,
}

impl Remote {
    /// The server's root: no components.
    const ROOT: Remote = Remote {
        path: String::new(),
        depth: 0,
    };

    /// This path with `name` appended, if `name` passes the file-name rule
    /// and the result is within [`MAX_DEPTH`] and [`MAX_PATH_LEN`].
    fn child(&self, name: &OsStr) -> Result<Remote, String> {
        let name = sanitize(name.as_bytes()).map_err(|e| e.to_string())?;
        let depth = self.depth + 1;
        if depth > MAX_DEPTH {
            return Err(format!(
                "the remote path would have {depth} components, over the limit of {MAX_DEPTH}"
            ));
        }
        let path = match self.depth {
            0 => name,
            _ => format!("{}/{name}", self.path),
        };
        if path.len() > MAX_PATH_LEN {
            return Err(format!(
                "the remote path would be {} bytes, over the limit of {MAX_PATH_LEN}",
                path.len()
            ));
        }
        Ok(Remote { path, depth })
    }
}

impl Plan {
    /// Plans one command-line argument below `base`, following it if it
    /// is a symlink. `Err` is why the whole argument is refused.
    fn argument(
        &mut self,
        arg: &Path,
        recursive: bool,
        base: &Remote,
        seen: &mut HashSet<String>,
    ) -> Result<(), String> {
        let meta = fs::metadata(arg).map_err(|e| e.to_string())?;
        if meta.is_dir() && !recursive {
            return Err("is a directory (use -r)".into());
        }
        if !meta.is_dir() && !meta.is_file() {
            return Err("is not a regular file or a directory".into());
        }
        let name = base_name(arg).ok_or("has no name to store it under")?;
        let remote = base.child(&name)?;
        if !seen.insert(remote.path.clone()) {
            return Err(format!(
                "an earlier argument is also sent as {:?}",
                remote.path
            ));
        }
        if meta.is_dir() {
            self.tree(arg, &remote, &meta);
        } else {
            self.file(arg, remote, &meta);
        }
        Ok(())
    }

    /// Plans the directory `local` as `remote` and everything below it,
    /// parents first, or refuses it when it cannot be read.
    fn tree(&mut self, local: &Path, remote: &Remote, meta: &Metadata) {
        let names = match sorted_names(local) {
            Ok(names) => names,
            Err(e) => return self.refuse(local, format!("cannot read the directory: {e}")),
        };
        self.dirs.push(PlanDir {
            remote: remote.path.clone(),
            meta: Some(meta_of(meta)),
        });
        for name in names {
            let path = local.join(&name);
            let meta = match fs::symlink_metadata(&path) {
                Ok(m) => m,
                Err(e) => {
                    self.refuse(&path, e.to_string());
                    continue;
                }
            };
            let kind = meta.file_type();
            if !kind.is_dir() && !kind.is_file() {
                self.skipped.push(Skipped {
                    why: skip_reason(kind),
                    local: path,
                });
                continue;
            }
            match remote.child(&name) {
                Err(why) => self.refuse(&path, why),
                Ok(child) if kind.is_dir() => self.tree(&path, &child, &meta),
                Ok(child) => self.file(&path, child, &meta),
            }
        }
    }

    fn file(&mut self, local: &Path, remote: Remote, meta: &Metadata) {
        self.files.push(PlanFile {
            local: local.to_path_buf(),
            remote: remote.path,
            size: meta.len(),
            meta: meta_of(meta),
        });
    }

    fn refuse(&mut self, local: &Path, why: String) {
        self.refused.push(Refused {
            local: local.to_path_buf(),
            why,
        });
    }
}

/// The name an argument is stored under: its last component, or for `.`,
/// `..` and the like the name of the directory they resolve to. `None` for
/// `/`.
fn base_name(arg: &Path) -> Option<OsString> {
    match arg.file_name() {
        Some(n) => Some(n.to_os_string()),
        None => fs::canonicalize(arg)
            .ok()?
            .file_name()
            .map(OsStr::to_os_string),
    }
}

/// The entries of directory `dir`, sorted by name (bytes).
fn sorted_names(dir: &Path) -> std::io::Result<Vec<OsString>> {
    let mut names = fs::read_dir(dir)?
        .map(|e| e.map(|e| e.file_name()))
        .collect::<std::io::Result<Vec<_>>>()?;
    names.sort_unstable();
    Ok(names)
}

/// Why an entry that is neither a regular file nor a directory is skipped.
fn skip_reason(kind: FileType) -> String {
    if kind.is_symlink() {
        return "is a symbolic link; links inside a tree are not followed".into();
    }
    let what = if kind.is_fifo() {
        "a FIFO"
    } else if kind.is_socket() {
        "a socket"
    } else {
        "a device"
    };
    format!("is {what}; only regular files and directories are sent")
}

#[cfg(test)]
#[path = "tree_tests.rs"]
mod tests;
