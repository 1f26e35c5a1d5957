//! Uploads and directories: staging a file offered, storing it once every
//! byte arrived (through the committer), and MKDIR.

use std::time::Instant;

use log::{info, warn};
use mio::Token;

use super::committer::{Commit, Job};
use super::outcomes::{refusal_for, upload_refusal_for};
use super::peer::{DriveError, Session, Shared, Upload};
use super::requests::{charge, check_budget, log_refusal};
use super::upload_policy::{decide_upload, UploadDecision, UploadRequest};
use crate::net::transfer::Incoming;
use crate::proto::conn::Ticket;
use crate::proto::limiter::Cost;
use crate::proto::msgs::{Meta, Outcome};
use crate::proto::ProtoError;

pub(super) fn on_upload(
    s: &mut Session,
    shared: &mut Shared,
    now: Instant,
    (name, ticket, meta): (String, Ticket, Option<Meta>),
    req: UploadRequest,
) -> Result<(), DriveError> {
    let what = format!("upload {name:?}");
    if let Some(wait) = check_budget(s, shared, now)? {
        log_refusal(s, shared, now, &what, &wait);
        return Ok(s.conn.refuse_upload(ticket, wait)?);
    }
    let policy = shared.upload_policy;
    let staged = match decide_upload(req, policy) {
        UploadDecision::Stage { replace } => shared
            .root
            .begin(&name, req.size, replace, policy.cap(meta))
            .map_err(|e| upload_refusal_for(&e, policy.allow_overwrite)),
        UploadDecision::Refuse(outcome) => Err(outcome),
    };
    match staged {
        Ok(staged) => {
            charge(s, shared, now, Cost::Work);
            s.conn.accept()?;
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
                written_back: 0,
            });
            Ok(())
        }
        Err(outcome) => {
            charge(s, shared, now, Cost::Cheap);
            log_refusal(s, shared, now, &what, &outcome);
            Ok(s.conn.refuse_upload(ticket, outcome)?)
        }
    }
}

/// Creates a directory at once (the requests behind it may go inside it),
/// then, with metadata, has the committer set it after the uploads queued
/// before it; a cheap request either way. The answer goes out in its turn.
pub(super) fn on_mkdir(
    s: &mut Session,
    token: Token,
    shared: &mut Shared,
    now: Instant,
    (path, meta, ticket): (String, Option<Meta>, Ticket),
) -> Result<(), DriveError> {
    let what = format!("directory {path:?}");
    if let Some(wait) = check_budget(s, shared, now)? {
        log_refusal(s, shared, now, &what, &wait);
        return Ok(s.conn.answer(ticket, wait)?);
    }
    let made = shared.root.make_dir(&path, None);
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
                root: shared.root.clone(),
                path,
                meta,
            };
            let _ = shared.commits.send(job);
            return Ok(());
        }
        (Ok(()), None) => Outcome::ok(),
        (Err(e), _) => {
            let outcome = refusal_for(&e);
            log_refusal(s, shared, now, &what, &outcome);
            outcome
        }
    };
    Ok(s.conn.answer(ticket, outcome)?)
}

pub(super) fn on_received(
    s: &mut Session,
    token: Token,
    shared: &mut Shared,
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
                    started,
                }),
            });
        }
    }
    Ok(())
}
