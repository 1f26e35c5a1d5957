//! Request handling: what the server does with each event of a session.
//! Policy is decided by pure functions (`decide_upload`, the limiter, the
//! outcome mappings); this module only applies their answers.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, Instant};

use log::{info, warn};
use mio::Token;

use super::committer::Job;
use super::downloads::on_download;
use super::options::Clients;
use super::outcomes::{rate_refusal, refusal, refusal_for};
use super::peer::{Download, DriveError, Session, Shared};
use super::upload_policy::UploadRequest;
use super::uploads::{discard, on_mkdir, on_received, on_resume_agreed, on_upload};
use crate::audit::{Entry, Refusal};
use crate::authorized::{Access, KeyOptions};
use crate::crypto::ed25519::Fingerprint;
use crate::fs::{FsError, ReceiveRoot};
use crate::proto::conn::{ServerEvent as Event, SEND_HIGH_WATER};
use crate::proto::limiter::{ClientKey, Cost, Rate};
use crate::proto::msgs::{Outcome, ResultCode};
use crate::proto::name::display_safe;
use crate::proto::{ProtoError, MAX_IN_FLIGHT};

/// Requests over the rate limit one connection may send in a row, each
/// before the wait the previous refusal announced has passed, before it is
/// closed (72): the [`MAX_IN_FLIGHT`] requests a client may have sent
/// before it read the refusal, and 8 more. A client that waits as told is
/// never closed for this.
pub const MAX_RATE_REFUSALS_IN_A_ROW: u32 = MAX_IN_FLIGHT as u32 + 8;

/// Bytes of an upload written between two background writebacks (64 MiB):
/// the disk works while data still arrives, instead of all at the final
/// fsync.
const WRITEBACK_EVERY: u64 = 64 << 20;

/// Handles buffered events until none is left, `budget` is spent, or the
/// unsent output reaches the high-water mark (then answers wait until the
/// peer reads; a flood of requests cannot pile answers up). Returns whether
/// it stopped for the output.
pub(super) fn handle_events(
    s: &mut Session,
    token: Token,
    shared: &mut Shared,
    now: Instant,
    budget: &mut usize,
) -> Result<bool, DriveError> {
    while *budget > 0 {
        if s.conn.pending_output() >= SEND_HIGH_WATER {
            return Ok(true);
        }
        let Some(ev) = s.conn.next_event()? else {
            break;
        };
        *budget -= 1;
        match ev {
            Event::Authenticated { client: key } => {
                let fp = key.fingerprint();
                let source = ClientKey::from(s.addr.ip());
                let options = match &shared.clients {
                    Clients::Any => KeyOptions::default(),
                    Clients::Authorized(table) => match table.options(&key) {
                        Some(options) => options,
                        None => {
                            // Removed by a reload since its handshake
                            // checked it: its retry is refused as unknown.
                            s.conn.refuse_busy();
                            return Err(DriveError::Busy(format!(
                                "{fp} was removed from authorized_keys"
                            )));
                        }
                    },
                };
                // Before the key's session is counted: a refusal here
                // leaves the connection pending, as drop_peer expects.
                let root = match &options.root {
                    Some(dir) => match confine(shared, dir, &fp) {
                        Ok(root) => Some(root),
                        Err(why) => {
                            s.conn.refuse_busy();
                            return Err(DriveError::Busy(why));
                        }
                    },
                    None => None,
                };
                let cap = options.max_sessions.map(|n| n as usize);
                let admitted = shared.admission().authenticated(source, &fp, cap, now);
                if !admitted {
                    s.conn.refuse_busy();
                    let share = shared.admission().limits.max_sessions_per_key();
                    return Err(DriveError::Busy(match cap {
                        Some(n) if n < share => {
                            format!("{fp} holds its max-sessions={n} sessions")
                        }
                        _ => format!("{fp} holds its share of connection slots ({share})"),
                    }));
                }
                // Counted now: from here drop_peer gives the key's slot
                // back, whatever fails next.
                s.client = Some(fp);
                s.root = root;
                s.options = options;
                s.conn.admit()?;
                info!("{} authenticated as {fp}", s.addr);
                s.key = Some(*key.as_bytes());
                if shared.handoff {
                    // Its requests are handled by the loop it moves to.
                    s.handoff_due = true;
                    return Ok(false);
                }
            }
            Event::UploadRequested {
                path,
                size,
                overwrite,
                meta,
                resume,
                ticket,
            } => on_upload(
                s,
                (token, shared, now),
                (path, ticket, meta),
                UploadRequest { size, overwrite },
                resume,
            )?,
            Event::MkdirRequested { path, meta, ticket } => {
                on_mkdir(s, token, shared, now, (path, meta, ticket))?
            }
            Event::Data(data) => {
                if let Some(up) = &mut s.upload {
                    up.file.write(data);
                    up.last_data = now;
                    let written = up.file.staged().written();
                    if written - up.written_back >= WRITEBACK_EVERY {
                        up.written_back = written;
                        if let Ok(file) = up.file.staged().writeback_handle() {
                            let _ = shared.commits.send(Job::Writeback(file));
                        }
                    }
                }
            }
            Event::ReceiveComplete { signed } => on_received(s, token, shared, *signed)?,
            Event::ResumeAgreed { offset } => on_resume_agreed(s, shared, offset)?,
            Event::ReceiveCorrupt => discard(s, shared, now, "SHA-256 mismatch"),
            Event::ReceiveAbandoned => discard(
                s,
                shared,
                now,
                "abandoned by the client (its file changed while it was sent)",
            ),
            Event::DownloadRequested {
                path,
                max_size,
                held,
            } => on_download(s, token, shared, now, (path, max_size, held))?,
            Event::ListRequested { path } => on_list(s, shared, now, &path)?,
            Event::NameRefused(e) => {
                // Answered (RESULT 2, in its turn) by the protocol layer: a cheap
                // refusal, charged as one; a key past its budget with them
                // is cut off, so a flood of bad names costs it more than it
                // costs the server.
                if shared.refusals.allow(now) {
                    info!("refused request from {}: {e}", s.who());
                }
                if check_budget(s, shared, now)?.is_some() {
                    return Err(DriveError::Abuse("too many refused requests"));
                }
                charge(s, shared, now, Cost::Cheap);
            }
            Event::Closed => {}
        }
    }
    Ok(false)
}

/// Opens a directory of the root for a listing; the turn's produce step
/// sends its entries page by page as the client reads (`turn::produce`).
fn on_list(
    s: &mut Session,
    shared: &mut Shared,
    now: Instant,
    path: &str,
) -> Result<(), DriveError> {
    if let Some(wait) = check_budget(s, shared, now)? {
        return refuse(s, shared, now, ("list", path), &wait);
    }
    if let Some(outcome) = access_refusal(s, Access::ReadOnly) {
        charge(s, shared, now, Cost::Cheap);
        return refuse(s, shared, now, ("list", path), &outcome);
    }
    let lister = s.root(shared).lister(path).map_err(|e| {
        if shared.refusals.allow(now) {
            warn!("listing {path:?} for {} failed: {e}", s.who());
        }
        match e {
            FsError::Io { ref source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
                refusal(ResultCode::NotFound, "no such directory on the server")
            }
            FsError::NotDir(_) => refusal(
                ResultCode::NotAllowed,
                "is not a directory on the server (or a directory of its path is a symlink)",
            ),
            e => refusal_for(&e),
        }
    });
    match lister {
        Ok(lister) => {
            charge(s, shared, now, Cost::Work);
            s.listing = Some(lister);
            Ok(())
        }
        Err(outcome) => refuse(s, shared, now, ("list", path), &outcome),
    }
}

/// Opens the sub-root `dir` a key (`fp`) is confined to (created 0700 if
/// missing, logged), and records it for the partial sweeper; or why not.
fn confine(shared: &Shared, dir: &str, fp: &Fingerprint) -> Result<Arc<ReceiveRoot>, String> {
    let (root, created) = shared
        .root
        .open_sub_root(dir)
        .map_err(|e| format!("{fp}'s root={dir:?} cannot be opened: {e}"))?;
    if created {
        info!(
            "created {} (mode 0700): root of {fp}",
            root.path().display()
        );
    }
    let root = Arc::new(root);
    shared
        .sub_roots
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(dir.to_string(), root.clone());
    Ok(root)
}

/// The refusal (RESULT 7) of a request a key's `read-only` or `write-only`
/// option forbids: `kind` is the access the request needs besides
/// read-write (`ReadOnly` for GET and LIST, `WriteOnly` for uploads and
/// MKDIR).
pub(super) fn access_refusal(s: &Session, kind: Access) -> Option<Outcome> {
    match (s.options.access, kind) {
        (Access::WriteOnly, Access::ReadOnly) => Some(refusal(
            ResultCode::NotAllowed,
            "this key is write-only (its authorized_keys options)",
        )),
        (Access::ReadOnly, Access::WriteOnly) => Some(refusal(
            ResultCode::NotAllowed,
            "this key is read-only (its authorized_keys options)",
        )),
        _ => None,
    }
}

/// Logs a download whose last byte (and END) went out.
pub(super) fn log_download_end(s: &Session, dl: &Download) {
    let secs = dl.started.elapsed().as_secs_f64();
    info!(
        "sent {:?} to {}: {} bytes, {:.1} MiB/s",
        dl.name,
        s.who(),
        dl.file.sent(),
        dl.file.sent() as f64 / (1 << 20) as f64 / secs.max(1e-9)
    );
}

/// Whether the session's key may make a request now: `Ok(None)` to go
/// ahead, `Ok(Some(refusal))` (RESULT 8 with the wait) when its budget is
/// spent, and `Err` when this connection keeps asking before the wait it
/// was given has passed (`rate_refusals` counts such requests in a row; a
/// client that waits as told is never cut off, however often it is
/// refused).
pub(super) fn check_budget(
    s: &mut Session,
    shared: &mut Shared,
    now: Instant,
) -> Result<Option<Outcome>, DriveError> {
    let Some(key) = s.client else {
        return Err(ProtoError::InvalidCall("a request before authentication").into());
    };
    let checked = shared.admission().check_request(&key, now);
    match checked {
        Ok(()) => {
            s.rate_refusals = 0;
            Ok(None)
        }
        Err(wait) => {
            let early = s.retry_at.is_some_and(|at| now < at);
            s.rate_refusals = if early { s.rate_refusals + 1 } else { 0 };
            if s.rate_refusals > MAX_RATE_REFUSALS_IN_A_ROW {
                return Err(DriveError::Abuse(
                    "kept sending requests before the rate limit's wait had passed",
                ));
            }
            let refusal = rate_refusal(wait);
            s.retry_at = now.checked_add(Duration::from_secs(refusal.wait_secs().into()));
            Ok(Some(refusal))
        }
    }
}

/// Charges an answered request to the session's key: `Cost::Work` for a
/// stored, served or listed file, `Cost::Cheap` for a refusal decided from
/// a name or a stat.
pub(super) fn charge(s: &Session, shared: &mut Shared, now: Instant, cost: Cost) {
    if let Some(key) = &s.client {
        shared.admission().charge_request(key, now, cost);
    }
}

/// Refuses the pending GET or LIST with `outcome`, logged as
/// [`log_refusal`] does.
pub(super) fn refuse(
    s: &mut Session,
    shared: &mut Shared,
    now: Instant,
    asked: (&'static str, &str),
    outcome: &Outcome,
) -> Result<(), DriveError> {
    log_refusal(s, shared, now, asked, outcome);
    Ok(s.conn.refuse(outcome)?)
}

/// Refusals of one client key recorded in the audit log: a burst of
/// 10,000 (a re-run of a batch of 10,000 files that all exist is recorded
/// whole), refilled at 10,000 per 10 minutes (about 17 a second). A key
/// that keeps asking for what it may not have adds at most that to the
/// log, however many sessions it opens.
pub(super) const AUDITED_REFUSAL_RATE: Rate = Rate {
    burst: match NonZeroU32::new(10_000) {
        Some(n) => n,
        None => panic!("zero"),
    },
    per: Duration::from_secs(600),
};

/// Records that the session's request `asked` (its kind, "upload",
/// "mkdir", "download" or "list", and its path) was refused with
/// `outcome`: one log line within the refusal log's budget, and an audit
/// entry within the key's ([`AUDITED_REFUSAL_RATE`]).
pub(super) fn log_refusal(
    s: &Session,
    shared: &mut Shared,
    now: Instant,
    (request, path): (&'static str, &str),
    outcome: &Outcome,
) {
    if shared.refusals.allow(now) {
        info!(
            "refused {request} {path:?} for {}: {}",
            s.who(),
            display_safe(&outcome.reason)
        );
    }
    let Some(client) = s.conn.peer_key() else {
        return;
    };
    let over_budget = shared
        .audited_refusals
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take(*client.as_bytes(), now)
        .is_err();
    if over_budget {
        if shared.refusals.allow(now) {
            warn!(
                "refusal not recorded in the audit log: {} is over its budget of recorded refusals",
                s.who()
            );
        }
        return;
    }
    audit(
        shared,
        Entry::Refusal(Refusal {
            client,
            request: request.to_string(),
            path: path.to_string(),
            code: outcome.code as u8,
            reason: outcome.reason.clone(),
        }),
    );
}

/// Hands `entry` to the committer, which appends it to the audit log with
/// its next group.
pub(super) fn audit(shared: &Shared, entry: Entry) {
    let _ = shared.commits.send(Job::Audit(Box::new(entry)));
}
