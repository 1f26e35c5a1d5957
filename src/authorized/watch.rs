//! Keeps an [`AuthorizedTable`] in step with its file: reloads on SIGHUP
//! and when the file's metadata changes, without touching sessions already
//! established.
//!
//! A reload applies the good lines and skips each bad one (logged as
//! `file:line: problem`; that key is then refused): a typo in one line
//! neither locks every client out nor keeps a removed key alive. An
//! unreadable file keeps the keys in force (logged as an error); a missing
//! file leaves no key (every client is refused, logged).

use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use log::{error, info, warn};

use super::table::AuthorizedTable;
use super::{read_authorized_keys, warn_capped, warn_other_types};
use crate::keys::KeyError;

/// How often the file's metadata (mtime, ctime, size, inode) is compared
/// with what was last loaded (1 s): an edit is in force within about this.
pub const POLL_INTERVAL: Duration = Duration::from_secs(1);

/// How often the watcher wakes to see whether a SIGHUP arrived (100 ms).
const TICK: Duration = Duration::from_millis(100);

/// What identifies one version of the file; `None` when it is missing.
type Stamp = Option<(i64, i64, i64, i64, u64, u64, u64)>;

fn stamp(path: &Path) -> Stamp {
    std::fs::metadata(path).ok().map(|m| {
        (
            m.mtime(),
            m.mtime_nsec(),
            m.ctime(),
            m.ctime_nsec(),
            m.size(),
            m.ino(),
            m.dev(),
        )
    })
}

/// Installs the SIGHUP handler: from now on SIGHUP sets the returned flag
/// instead of ending the process (its default). A server calls this first
/// thing, so `systemctl reload` never kills it, even while it starts or
/// when it has no authorized_keys to reload.
///
/// # Errors
/// The handler could not be installed.
pub fn catch_sighup() -> io::Result<Arc<AtomicBool>> {
    let hup = Arc::new(AtomicBool::new(false));
    signal_hook::flag::register(signal_hook::consts::SIGHUP, hup.clone())?;
    Ok(hup)
}

/// Starts the watcher thread for `path`, whose keys `table` already holds
/// (loaded at start); it reloads when `hup` ([`catch_sighup`]) is set.
///
/// # Errors
/// The thread could not be started.
pub fn spawn(path: PathBuf, table: Arc<AuthorizedTable>, hup: Arc<AtomicBool>) -> io::Result<()> {
    let mut seen = stamp(&path);
    std::thread::Builder::new()
        .name("authorized-keys".into())
        .spawn(move || {
            let mut next_look = Instant::now() + POLL_INTERVAL;
            loop {
                std::thread::sleep(TICK);
                let signalled = hup.swap(false, Ordering::Relaxed);
                let now = Instant::now();
                if !signalled && now < next_look {
                    continue;
                }
                next_look = now + POLL_INTERVAL;
                let current = stamp(&path);
                if signalled || current != seen {
                    if signalled {
                        info!("SIGHUP: reloading {}", path.display());
                    }
                    seen = current;
                    reload(&path, &table);
                }
            }
        })?;
    Ok(())
}

/// Reloads `table` from `path`, as described in the module docs.
pub fn reload(path: &Path, table: &AuthorizedTable) {
    let parsed = match read_authorized_keys(path) {
        Ok(parsed) => parsed,
        Err(KeyError::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => {
            let was = table.replace(Vec::new());
            warn!(
                "authorized_keys {} is missing: every client is refused until it is back (was {was} keys)",
                path.display()
            );
            return;
        }
        Err(e) => {
            error!(
                "authorized_keys not reloaded, the {} keys in force stay: {e}",
                table.len()
            );
            return;
        }
    };
    warn_other_types(path, &parsed);
    warn_capped(parsed.bad.iter().map(|(line, problem)| {
        format!(
            "{}:{line}: {problem}; skipped (that key is refused)",
            path.display()
        )
    }));
    let was = table.replace(parsed.keys);
    info!("authorized_keys reloaded: {} keys (was {was})", table.len());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authorized::AuthorizedKey;
    use crate::crypto::ed25519::SigningKey;
    use crate::keys::PublicKeyLine;

    fn line() -> (String, crate::crypto::ed25519::VerifyingKey) {
        let key = SigningKey::generate().unwrap().verifying_key();
        let text = PublicKeyLine {
            key,
            comment: String::new(),
        }
        .to_string();
        (text, key)
    }

    fn table_of(key: crate::crypto::ed25519::VerifyingKey) -> AuthorizedTable {
        AuthorizedTable::new(vec![AuthorizedKey::plain(key)])
    }

    #[test]
    fn a_reload_applies_good_lines_and_skips_bad_ones() {
        let dir = tempfile::TempDir::new().unwrap();
        let path = dir.path().join("authorized_keys");
        let (old, old_key) = line();
        let (new, new_key) = line();
        let table = table_of(old_key);
        std::fs::write(&path, format!("read-only {new}\nroot=/abs {old}\n")).unwrap();
        reload(&path, &table);
        assert_eq!(table.keys(), vec![new_key], "the bad line's key is refused");
        assert_eq!(
            table.options(&new_key).unwrap().access,
            crate::authorized::Access::ReadOnly
        );
    }

    #[test]
    fn an_unreadable_file_keeps_the_keys_and_a_missing_one_leaves_none() {
        let dir = tempfile::TempDir::new().unwrap();
        let (_, key) = line();
        let table = table_of(key);
        // A directory where the file should be: it cannot be read.
        reload(dir.path(), &table);
        assert_eq!(table.keys(), vec![key]);
        reload(&dir.path().join("gone"), &table);
        assert!(table.is_empty());
    }

    #[test]
    fn a_stamp_changes_with_the_file_and_is_none_when_missing() {
        let dir = tempfile::TempDir::new().unwrap();
        let path = dir.path().join("f");
        assert_eq!(stamp(&path), None);
        std::fs::write(&path, "a").unwrap();
        let first = stamp(&path);
        assert!(first.is_some());
        std::fs::write(&path, "ab").unwrap();
        assert_ne!(stamp(&path), first, "the size differs");
    }
}
