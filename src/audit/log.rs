//! [`AuditLog`]: the server's writer. One process holds the file (an
//! exclusive `flock`); each group of entries and the head signed after
//! them go out in one `write(2)` on an `O_APPEND` descriptor, then one
//! `fdatasync`, before any receipt of the group is sent.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::entry::{head_signed_bytes, upload_line, Body, Entry, Line, MAX_LINE};
use super::AuditError;
use crate::crypto::ed25519::SigningKey;
use crate::crypto::hash::sha256;
use crate::proto::evidence::{Receipt, Stored};

/// The audit log, open for appending.
pub struct AuditLog {
    path: PathBuf,
    file: File,
    key: Arc<SigningKey>,
    /// The last entry's number (0: none yet).
    seq: u64,
    /// The chain hash of the last line (zeros before the first).
    prev: [u8; 32],
    failed: bool,
}

impl AuditLog {
    /// Opens `path` for appending, creating it (mode 0600) if missing, and
    /// takes an exclusive lock on it; `key` (the host key) signs heads and
    /// receipts. Only the last line is read, to go on from its number and
    /// hash.
    ///
    /// # Errors
    /// `Io`; `Locked` when another process holds it; `Torn` when the last
    /// line has no newline; `NotAnEntry` when it is not an entry.
    pub fn open(path: &Path, key: Arc<SigningKey>) -> Result<Self, AuditError> {
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .mode(0o600)
            .open(path)?;
        rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive).map_err(
            |e| match e {
                rustix::io::Errno::WOULDBLOCK => AuditError::Locked,
                e => AuditError::Io(e.into()),
            },
        )?;
        let (seq, prev) = match last_line(&mut file)? {
            None => (0, [0; 32]),
            Some(text) => {
                let line = std::str::from_utf8(&text)
                    .map_err(|_| AuditError::NotAnEntry("not UTF-8".into()))
                    .and_then(|t| Line::parse(t).map_err(AuditError::NotAnEntry))?;
                (line.seq, sha256(&text).map_err(io::Error::other)?)
            }
        };
        Ok(AuditLog {
            path: path.to_path_buf(),
            file,
            key,
            seq,
            prev,
            failed: false,
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether a write failed (nothing more is appended).
    pub fn is_failed(&self) -> bool {
        self.failed
    }

    /// Appends `entries`, then a head signed over them, as one write, and
    /// syncs the file. Each upload's receipt is signed here, with
    /// `commit_time` `now` (Unix seconds) and its entry's number, and
    /// returned in its place (`None` for the other entries). Nothing is
    /// written for no entries.
    ///
    /// # Errors
    /// `Failed` after an earlier failure; `Io` (the log is then failed:
    /// what reached the disk is unknown); `Sign`.
    pub fn append(
        &mut self,
        now: u64,
        entries: Vec<Entry>,
    ) -> Result<Vec<Option<Receipt>>, AuditError> {
        if self.failed {
            return Err(AuditError::Failed);
        }
        if entries.is_empty() {
            return Ok(Vec::new());
        }
        let (mut seq, mut prev) = (self.seq, self.prev);
        let mut out = String::new();
        let mut receipts = Vec::with_capacity(entries.len());
        let add = |line: Line, out: &mut String| -> Result<[u8; 32], AuditError> {
            let text = line.encode();
            out.push_str(&text);
            out.push('\n');
            sha256(text.as_bytes()).map_err(|e| AuditError::Sign(e.to_string()))
        };
        let exhausted = || AuditError::NotAnEntry("its entry numbers are used up".into());
        for entry in entries {
            seq = seq.checked_add(1).ok_or_else(exhausted)?;
            let (line, receipt) = match entry {
                Entry::Upload(signed) => {
                    let stored = Stored {
                        commit_time: now,
                        audit_seq: seq,
                    };
                    let receipt = Receipt::sign(signed, stored, &self.key)
                        .map_err(|e| AuditError::Sign(e.to_string()))?;
                    (upload_line(prev, &receipt), Some(receipt))
                }
                Entry::Download(signed) => {
                    (body_line(seq, prev, now, Body::Download(signed)), None)
                }
                Entry::Refusal(r) => (body_line(seq, prev, now, Body::Refusal(r)), None),
            };
            prev = add(line, &mut out)?;
            receipts.push(receipt);
        }
        seq = seq.checked_add(1).ok_or_else(exhausted)?;
        let sig = self
            .key
            .sign(&head_signed_bytes(seq, now, &prev))
            .map_err(|e| AuditError::Sign(e.to_string()))?;
        prev = add(body_line(seq, prev, now, Body::Head(sig)), &mut out)?;
        let written = self
            .file
            .write_all(out.as_bytes())
            .and_then(|()| self.file.sync_data());
        if let Err(e) = written {
            self.failed = true;
            return Err(e.into());
        }
        (self.seq, self.prev) = (seq, prev);
        Ok(receipts)
    }
}

fn body_line(seq: u64, prev: [u8; 32], time: u64, body: Body) -> Line {
    Line {
        seq,
        prev,
        time,
        body,
    }
}

/// The last line of `file` without its newline (`None` for an empty
/// file), read from the end: at most [`MAX_LINE`] bytes and two newlines.
///
/// # Errors
/// `Torn` when the file does not end with a newline; `NotAnEntry` when
/// the last line is longer than [`MAX_LINE`]; `Io`.
fn last_line(file: &mut File) -> Result<Option<Vec<u8>>, AuditError> {
    let len = file.metadata()?.len();
    if len == 0 {
        return Ok(None);
    }
    // The longest last line, its newline and the newline before it.
    let take = len.min(MAX_LINE as u64 + 2);
    file.seek(SeekFrom::Start(len - take))?;
    let mut tail = Vec::with_capacity(take as usize);
    Read::by_ref(file).take(take).read_to_end(&mut tail)?;
    let Some((&b'\n', body)) = tail.split_last() else {
        return Err(AuditError::Torn);
    };
    match body.iter().rposition(|&b| b == b'\n') {
        Some(at) => Ok(Some(body[at + 1..].to_vec())),
        None if take == len => Ok(Some(body.to_vec())),
        None => Err(AuditError::NotAnEntry("longer than 64 KiB".into())),
    }
}
