//! Uploads and directories: staging a file offered (as a resumable
//! partial when the client asks to resume, its held bytes hashed off the
//! loop), storing it once every byte arrived (through the committer),
//! discarding it when it did not arrive whole, and MKDIR.

use std::time::Instant;

use log::{info, warn};
use mio::Token;

use super::committer::{Commit, Job};
use super::hasher::{queue_prefix, PrefixHash};
use super::outcomes::{refusal, refusal_for, upload_refusal_for};
use super::peer::{DriveError, Hashing, Session, Shared, Upload};
use super::requests::{access_refusal, charge, check_budget, log_refusal};
use super::upload_policy::{decide_upload, UploadDecision, UploadPolicy, UploadRequest};
use crate::authorized::Access;
use crate::fs::{FsError, Staged};
use crate::net::transfer::Incoming;
use crate::proto::conn::Ticket;
use crate::proto::evidence::Signed;
use crate::proto::limiter::Cost;
use crate::proto::msgs::{Meta, Outcome, Prefix, ResultCode};
use crate::proto::ProtoError;

/// Answers an OFFER: refuses it, or stages the file and accepts it. An
/// offer made for resume is staged as the client's resumable partial of
/// that path; with bytes held, the hasher thread hashes them first
/// ([`on_upload_hashed`] then sends RESUME), else RESUME 0 goes out at
/// once. One request either way, however long the prefix.
pub(super) fn on_upload(
    s: &mut Session,
    (token, shared, now): (Token, &mut Shared, Instant),
    (name, ticket, meta): (String, Ticket, Option<Meta>),
    req: UploadRequest,
    resume: bool,
) -> Result<(), DriveError> {
    let what = ("upload", name.as_str());
    if let Some(wait) = check_budget(s, shared, now)? {
        log_refusal(s, shared, now, what, &wait);
        return Ok(s.conn.refuse_upload(ticket, wait)?);
    }
    if let Some(outcome) = access_refusal(s, Access::WriteOnly) {
        charge(s, shared, now, Cost::Cheap);
        log_refusal(s, shared, now, what, &outcome);
        return Ok(s.conn.refuse_upload(ticket, outcome)?);
    }
    let policy = key_policy(s, shared);
    let key_overwrite = s.options.overwrite;
    let staged = match decide_upload(req, policy) {
        UploadDecision::Stage { replace } => stage(
            s,
            shared,
            &name,
            (req.size, replace, policy.cap(meta)),
            resume,
        )
        .map_err(|e| match e {
            FsError::Busy(_) => {
                // Its partial is held by an older session of this key,
                // which the server ends if its data has stopped (a cut
                // path it has not noticed): ask again in a second.
                if let Some(key) = s.key {
                    shared.superseded.push((token, key, name.clone()));
                }
                Outcome::rate_limited(
                    SUPERSEDE_WAIT_SECS,
                    "another session of this key holds this file's partial; \
                     it is ended once its data has stopped",
                )
            }
            e => key_refusal(key_overwrite, policy, &e),
        }),
        UploadDecision::Refuse(outcome) => Err(outcome),
    };
    let staged = match staged {
        Ok(staged) => staged,
        Err(outcome) => {
            charge(s, shared, now, Cost::Cheap);
            log_refusal(s, shared, now, what, &outcome);
            return Ok(s.conn.refuse_upload(ticket, outcome)?);
        }
    };
    charge(s, shared, now, Cost::Work);
    // The bytes a resumable partial holds (0 for a plain staged file).
    let held = staged.written();
    if !resume {
        s.conn.accept()?;
    } else if held == 0 {
        s.conn.accept_resume(None)?;
    } else {
        hash_held(s, token, shared, &staged, &name)?;
    }
    info!(
        "upload {name:?} ({} bytes) from {} started",
        req.size,
        s.who()
    );
    s.upload = Some(Upload {
        file: Incoming::new(staged),
        ticket,
        name,
        size: req.size,
        started: now,
        written_back: held,
        last_data: now,
    });
    Ok(())
}

/// Seconds a client is asked to wait (RESULT 8) when an older session of
/// its key still holds the partial it asks to resume: the server ends that
/// session once its data has stopped for a while (see
/// `Server::end_superseded`), so a later try finds the partial free.
const SUPERSEDE_WAIT_SECS: u64 = 1;

/// Stages `name` (`size` bytes, replacing an existing file when `replace`,
/// with `meta`): as the client's resumable partial when `resume` (holding
/// the bytes of an earlier, cut upload, if any), else as a plain staged
/// file.
///
/// # Errors
/// As the file layer's; [`FsError::Busy`] when another session holds the
/// partial.
fn stage(
    s: &Session,
    shared: &Shared,
    name: &str,
    (size, replace, meta): (u64, bool, Option<Meta>),
    resume: bool,
) -> Result<Staged, FsError> {
    match (resume, &s.key) {
        (true, Some(owner)) => s
            .root(shared)
            .begin_resumable(name, size, replace, meta, owner)
            .map(|(staged, _)| staged),
        _ => s.root(shared).begin(name, size, replace, meta),
    }
}

/// Has the hasher thread hash the bytes `staged` holds; the upload's
/// RESUME waits for [`on_upload_hashed`]. When that cannot start, RESUME 0
/// goes out at once (the client starts again, and so does the file).
fn hash_held(
    s: &mut Session,
    token: Token,
    shared: &Shared,
    staged: &Staged,
    name: &str,
) -> Result<(), DriveError> {
    let held = staged.written();
    let queued = staged
        .prefix_handle()
        .is_ok_and(|file| queue_prefix(shared, s, token, file, held));
    if queued {
        s.hashing = Some(Hashing::Upload);
        return Ok(());
    }
    warn!(
        "upload {name:?} from {}: cannot hash its {held} held bytes; starting again",
        s.who()
    );
    Ok(s.conn.accept_resume(None)?)
}

/// Sends the RESUME of the upload whose held bytes were hashed: their
/// count and hash, or 0 when they could not be read.
pub(super) fn on_upload_hashed(s: &mut Session, result: PrefixHash) -> Result<(), DriveError> {
    let Some(up) = &s.upload else {
        return Err(ProtoError::InvalidCall("a prefix hash without an upload").into());
    };
    // No data arrives before RESUME: what is written is what was held.
    let offset = up.file.staged().written();
    let held = match result {
        Ok((hash, sha256)) => Some((Prefix { offset, sha256 }, hash)),
        Err(e) => {
            warn!(
                "upload {:?} from {}: cannot hash its {offset} held bytes: {e}",
                up.name,
                s.who(),
            );
            None
        }
    };
    Ok(s.conn.accept_resume(held)?)
}

/// The client's RESUME: the data goes on after the held bytes, or starts
/// again at 0 (then the held bytes are dropped).
pub(super) fn on_resume_agreed(
    s: &mut Session,
    shared: &Shared,
    offset: u64,
) -> Result<(), DriveError> {
    let who = s.who();
    let Some(up) = s.upload.take() else {
        return Err(ProtoError::InvalidCall("RESUME without an upload").into());
    };
    // No data arrives before RESUME: what is written is what was held.
    let held = up.file.staged().written();
    if offset > 0 || held == 0 {
        if offset > 0 {
            info!(
                "upload {:?} from {who}: resuming after {offset} bytes",
                up.name
            );
        }
        s.upload = Some(up);
        return Ok(());
    }
    info!(
        "upload {:?} from {who}: restarting at 0 (its {held} held bytes differ from the client's)",
        up.name
    );
    let restarted = up.file.finish().and_then(|mut staged| {
        staged.restart()?;
        Ok(staged)
    });
    match restarted {
        Ok(staged) => {
            s.upload = Some(Upload {
                file: Incoming::new(staged),
                written_back: 0,
                ..up
            });
            Ok(())
        }
        Err(e) => {
            warn!("upload {:?} from {who} failed: {e}", up.name);
            let outcome = key_refusal(s.options.overwrite, key_policy(s, shared), &e);
            Ok(s.conn.refuse_upload(up.ticket, outcome)?)
        }
    }
}

/// Removes the upload whose data did not arrive whole (`why`: its hash
/// differs, or the client abandoned it), resumable or not: its bytes must
/// not be resumed. Its RESULT 6 is already queued; it costs its key one
/// request, so its log line is within the refusal log's budget.
pub(super) fn discard(s: &mut Session, shared: &mut Shared, now: Instant, why: &str) {
    let Some(up) = s.upload.take() else {
        return;
    };
    if shared.refusals.allow(now) {
        warn!("upload {:?} from {} discarded: {why}", up.name, s.who());
    }
    // After a write error the staged file is dropped by `finish`: a
    // partial keeps the bytes written before it.
    if let Ok(staged) = up.file.finish() {
        staged.discard();
    }
}

/// Creates a directory at once (the requests behind it may go inside it),
/// then, with metadata, has the committer set it after the uploads queued
/// before it; a cheap request either way. The answer goes out in its turn.
/// The upload policy for this session: the server's, with the key's
/// `overwrite` / `no-overwrite` option in place of `--allow-overwrite`.
fn key_policy(s: &Session, shared: &Shared) -> UploadPolicy {
    UploadPolicy {
        allow_overwrite: s
            .options
            .overwrite
            .unwrap_or(shared.upload_policy.allow_overwrite),
        ..shared.upload_policy
    }
}

/// The refusal of an upload that failed with `e`, saying so when it is
/// the key's `no-overwrite` option (`key_overwrite`) that forbids
/// replacing the file.
fn key_refusal(key_overwrite: Option<bool>, policy: UploadPolicy, e: &FsError) -> Outcome {
    match (e, key_overwrite) {
        (FsError::Exists(_), Some(false)) => refusal(
            ResultCode::Exists,
            "already exists on the server, and this key may not overwrite (its authorized_keys options say no-overwrite)",
        ),
        _ => upload_refusal_for(e, policy.allow_overwrite),
    }
}

pub(super) fn on_mkdir(
    s: &mut Session,
    token: Token,
    shared: &mut Shared,
    now: Instant,
    (path, meta, ticket): (String, Option<Meta>, Ticket),
) -> Result<(), DriveError> {
    if let Some(wait) = check_budget(s, shared, now)? {
        log_refusal(s, shared, now, ("mkdir", &path), &wait);
        return Ok(s.conn.answer(ticket, wait)?);
    }
    if let Some(outcome) = access_refusal(s, Access::WriteOnly) {
        charge(s, shared, now, Cost::Cheap);
        log_refusal(s, shared, now, ("mkdir", &path), &outcome);
        return Ok(s.conn.answer(ticket, outcome)?);
    }
    let made = s.root(shared).make_dir(&path, None);
    // A directory made (or found) is served work, a refusal a cheap one
    // (PROTOCOL.md §6).
    let cost = if made.is_ok() {
        Cost::Work
    } else {
        Cost::Cheap
    };
    charge(s, shared, now, cost);
    let outcome = match (made, shared.upload_policy.cap(meta)) {
        (Ok(()), Some(meta)) => {
            let job = Job::DirMeta {
                token,
                ticket,
                root: s.root(shared).clone(),
                path,
                meta,
            };
            let _ = shared.commits.send(job);
            return Ok(());
        }
        (Ok(()), None) => Outcome::ok(),
        (Err(e), _) => {
            let outcome = refusal_for(&e);
            log_refusal(s, shared, now, ("mkdir", &path), &outcome);
            outcome
        }
    };
    Ok(s.conn.answer(ticket, outcome)?)
}

pub(super) fn on_received(
    s: &mut Session,
    token: Token,
    shared: &mut Shared,
    signed: Signed,
) -> Result<(), DriveError> {
    let Some(upload) = s.upload.take() else {
        return Err(ProtoError::InvalidCall("file data without an upload").into());
    };
    let Upload {
        file,
        ticket,
        name,
        size,
        started,
        ..
    } = upload;
    let moved = file.received();
    match file.finish() {
        Err(e) => {
            warn!("upload {name:?} from {} failed: {e}", s.who());
            s.conn.answer(ticket, refusal_for(&e))?;
        }
        // The committer answers through the waker, in its turn; the client
        // goes on sending meanwhile.
        Ok(staged) => {
            let _ = shared.commits.send(Job::Commit {
                token,
                commit: Box::new(Commit {
                    staged,
                    ticket,
                    name,
                    size,
                    moved,
                    started,
                    signed,
                }),
            });
        }
    }
    Ok(())
}
