//! The committer thread, one per event loop: the one slow step of an
//! upload (fsync, rename, directory fsync, then its audit entry, flushed to
//! disk before its receipt goes out) and background writebacks run here,
//! in order, so the loop keeps every other connection moving. The
//! committers are the audit log's only writers, each appending a whole
//! group (with its signed head) under the log's lock: served downloads and
//! refusals are appended with the next group. Answers come back through a
//! channel and the loop's waker.

use std::io;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Instant;

use log::{info, warn};
use mio::{Token, Waker};

use super::outcomes::{refusal_for, upload_refusal_for};
use super::Server;
use crate::audit::{AuditLog, Entry};
use crate::fs::{FsError, ReceiveRoot, Staged};
use crate::net::unix_now;
use crate::proto::conn::Ticket;
use crate::proto::evidence::{Receipt, Signed};
use crate::proto::msgs::{Meta, Outcome};

/// A completely received upload, ready to be moved into place.
pub(super) struct Commit {
    pub staged: Staged,
    /// The upload's answer is owed under this ticket.
    pub ticket: Ticket,
    pub name: String,
    pub size: u64,
    /// Bytes that crossed the network (less than `size` when resumed).
    pub moved: u64,
    pub started: Instant,
    /// The client's verified statement of the file.
    pub signed: Signed,
}

/// Work for the committer thread, done in order.
pub(super) enum Job {
    /// Push an upload's written data to disk (a duplicate handle).
    Writeback(std::fs::File),
    /// fsync, move into place and fsync the directory, append the audit
    /// entry; answer the client with its receipt.
    Commit { token: Token, commit: Box<Commit> },
    /// Append an entry (a served download, a refusal) with the next group.
    Audit(Box<Entry>),
    /// Set a directory's mode and mtime (MKDIR with preserve) once every
    /// upload queued before it is in place, so none of them changes the
    /// mtime afterwards or meets a directory already made read-only.
    DirMeta {
        token: Token,
        ticket: Ticket,
        root: Arc<ReceiveRoot>,
        path: String,
        meta: Meta,
    },
}

/// The committer's answer.
pub(super) struct CommitDone {
    token: Token,
    ticket: Ticket,
    name: String,
    /// The upload's size, bytes moved and start, or `None` for a
    /// directory's metadata.
    upload: Option<(u64, u64, Instant)>,
    /// An upload's receipt (its audit entry is on disk), or nothing for a
    /// directory's metadata; or why it failed.
    result: Result<Option<Receipt>, FsError>,
}

/// Starts a committer thread, a writer of `audit` (one per loop, sharing
/// the log); it wakes `waker`
/// after each commit and ends when the job sender is dropped.
pub(super) fn spawn_committer(
    waker: Arc<Waker>,
    audit: Arc<Mutex<AuditLog>>,
) -> io::Result<(mpsc::Sender<Job>, mpsc::Receiver<CommitDone>)> {
    let (job_tx, job_rx) = mpsc::channel::<Job>();
    let (done_tx, done_rx) = mpsc::channel();
    thread::Builder::new()
        .name("sft-commit".into())
        .spawn(move || {
            // A job taken from the queue while gathering a group, done next.
            let mut next = None;
            loop {
                let job = match next.take() {
                    Some(job) => job,
                    None => match job_rx.recv() {
                        Ok(job) => job,
                        Err(_) => return,
                    },
                };
                let done = match job {
                    Job::Writeback(file) => {
                        // A failure here resurfaces at the commit's own fsync.
                        let _ = file.sync_data();
                        continue;
                    }
                    first @ (Job::Commit { .. } | Job::Audit(_)) => {
                        // The uploads waiting now form a group: their files
                        // are fsynced together, their moves share one fsync
                        // per directory, their audit entries (and the
                        // other entries waiting) one write and one fsync.
                        let mut taken = Vec::new();
                        let mut entries = Vec::new();
                        let mut job = Some(first);
                        while let Some(j) = job.take() {
                            match j {
                                Job::Commit { token, commit } => taken.push((token, commit)),
                                Job::Audit(entry) => entries.push(*entry),
                                other => {
                                    next = Some(other);
                                    break;
                                }
                            }
                            if taken.len() + entries.len() < GROUP_MAX {
                                job = job_rx.try_recv().ok();
                            }
                        }
                        commit_group(sync_all(taken), entries, &audit)
                    }
                    Job::DirMeta {
                        token,
                        ticket,
                        root,
                        path,
                        meta,
                    } => vec![CommitDone {
                        token,
                        ticket,
                        result: root.make_dir(&path, Some(meta)).map(|()| None),
                        name: path,
                        upload: None,
                    }],
                };
                for d in done {
                    if done_tx.send(d).is_err() {
                        return;
                    }
                }
                let _ = waker.wake();
            }
        })?;
    Ok((job_tx, done_rx))
}

/// Most uploads and audit entries taken as one group (256).
const GROUP_MAX: usize = 256;

/// An upload taken into a group, with how its file's fsync went.
type Synced = (Token, Box<Commit>, Result<(), FsError>);

/// Threads that fsync the files of one group at once (at most 8): a disk
/// completes concurrent fsyncs in fewer journal commits and flushes than
/// the same fsyncs one after another.
const SYNC_THREADS: usize = 8;

/// fsyncs the files of a group ([`Staged::sync`]): the uploads that were
/// waiting when the committer took the first, several at once.
fn sync_all(taken: Vec<(Token, Box<Commit>)>) -> Vec<Synced> {
    let mut group: Vec<Synced> = taken.into_iter().map(|(t, c)| (t, c, Ok(()))).collect();
    if let [(_, commit, result)] = group.as_mut_slice() {
        *result = commit.staged.sync();
        return group;
    }
    let per = group.len().div_ceil(SYNC_THREADS).max(1);
    std::thread::scope(|scope| {
        for part in group.chunks_mut(per) {
            scope.spawn(move || {
                for (_, commit, result) in part {
                    *result = commit.staged.sync();
                }
            });
        }
    });
    group
}

/// Finishes a group of uploads whose files were synced as they were taken
/// ([`Staged::commit_all`]), and appends their audit entries after
/// `others` ([`AuditLog::append`]: one write, one fsync, one signed head).
/// One answer each, in the order taken: a file whose fsync failed is
/// answered with that error (dropping it removes it); the others are moved
/// into place with one fsync per directory, and answered with their
/// receipts once the log is on disk. If the append fails, the files
/// already moved stay stored without an entry and their clients hear
/// RESULT 5, no receipt; the log is then failed, and no later file is
/// moved into place until the server restarts.
fn commit_group(
    group: Vec<Synced>,
    others: Vec<Entry>,
    audit: &Mutex<AuditLog>,
) -> Vec<CommitDone> {
    // Held only to check and to append: other loops' committers fsync and
    // move their files meanwhile.
    let lock = || audit.lock().unwrap_or_else(|e| e.into_inner());
    let mut answers = Vec::with_capacity(group.len());
    let mut staged = Vec::with_capacity(group.len());
    let mut slots = Vec::with_capacity(group.len());
    for (token, commit, result) in group {
        let Commit {
            staged: s,
            ticket,
            name,
            size,
            moved,
            started,
            signed,
        } = *commit;
        let result = result.and_then(|()| audit_usable(&lock()));
        if result.is_ok() {
            slots.push((answers.len(), signed));
            staged.push(s);
        }
        answers.push(CommitDone {
            token,
            ticket,
            name,
            upload: Some((size, moved, started)),
            result: result.map(|()| None),
        });
    }
    let mut entries = others;
    let first_upload = entries.len();
    let mut stored = Vec::with_capacity(slots.len());
    for ((slot, signed), result) in slots.into_iter().zip(Staged::commit_all(staged)) {
        match result {
            Ok(_) => {
                stored.push(slot);
                entries.push(Entry::Upload(signed));
            }
            Err(e) => answers[slot].result = Err(e),
        }
    }
    let mut audit = lock();
    match audit.append(unix_now(), entries) {
        Ok(receipts) => {
            for (slot, receipt) in stored
                .into_iter()
                .zip(receipts.into_iter().skip(first_upload))
            {
                answers[slot].result = Ok(receipt);
            }
        }
        Err(e) => {
            warn!("audit log {}: {e}", audit.path().display());
            for slot in stored {
                answers[slot].result = Err(audit_failed(&audit, e.to_string()));
            }
        }
    }
    answers
}

/// `Ok` while the audit log can take entries.
fn audit_usable(audit: &AuditLog) -> Result<(), FsError> {
    if audit.is_failed() {
        return Err(audit_failed(audit, "an earlier write failed".into()));
    }
    Ok(())
}

fn audit_failed(audit: &AuditLog, why: String) -> FsError {
    FsError::Io {
        op: "append to the audit log",
        path: audit.path().to_path_buf(),
        source: io::Error::other(why),
    }
}

impl Server {
    /// Answers each finished commit's client (if it is still there).
    pub(super) fn finish_commits(&mut self) {
        while let Ok(done) = self.done.try_recv() {
            if let Some(token) = self.answer_commit(done) {
                self.service(token);
            }
        }
    }

    /// At shutdown: lets the committer finish the uploads already handed to
    /// it and answers their clients, so a file stored under its final name
    /// is never reported to its client as failed. The committer ends once
    /// its queue is empty and its job sender is gone.
    pub(super) fn finish_queued_commits(&mut self) {
        let (closed, _) = mpsc::channel();
        drop(std::mem::replace(&mut self.shared.commits, closed));
        while let Ok(done) = self.done.recv() {
            self.answer_commit(done);
        }
    }

    /// Logs a finished commit and queues its RESULT for its client; returns
    /// the client's token when it is still connected. A commit that lost a
    /// race for its name is answered as staging would answer it.
    fn answer_commit(&mut self, done: CommitDone) -> Option<Token> {
        let allow_overwrite = self.shared.upload_policy.allow_overwrite;
        let Some(peer) = self.peers.get_mut(&done.token) else {
            match (done.result, done.upload) {
                (Ok(_), Some((size, ..))) => info!(
                    "stored {:?} ({size} bytes); its client left before the answer",
                    done.name
                ),
                (Ok(_), None) => {}
                (Err(e), _) => warn!("{:?} failed after its client left: {e}", done.name),
            }
            return None;
        };
        let session = &mut peer.session;
        let outcome = match (done.result, done.upload) {
            (Ok(Some(receipt)), Some((size, moved, started))) => {
                let secs = started.elapsed().as_secs_f64();
                let resumed = if moved < size {
                    format!(" ({} held from before)", size - moved)
                } else {
                    String::new()
                };
                info!(
                    "stored {:?} from {}: {size} bytes{resumed}, {:.1} MiB/s",
                    done.name,
                    session.who(),
                    moved as f64 / (1 << 20) as f64 / secs.max(1e-9)
                );
                return session
                    .conn
                    .answer_stored(done.ticket, &receipt)
                    .ok()
                    .map(|()| done.token);
            }
            // A directory's metadata (a stored upload always has its receipt).
            (Ok(_), _) => Outcome::ok(),
            (Err(e), Some(_)) => {
                warn!("upload {:?} from {} failed: {e}", done.name, session.who());
                upload_refusal_for(&e, allow_overwrite)
            }
            (Err(e), None) => {
                warn!(
                    "directory {:?} for {} failed: {e}",
                    done.name,
                    session.who()
                );
                refusal_for(&e)
            }
        };
        session
            .conn
            .answer(done.ticket, outcome)
            .ok()
            .map(|()| done.token)
    }
}
