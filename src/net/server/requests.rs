//! Request handling: what the server does with each event of a session.
//! Policy is decided by pure functions (`decide_upload`, the limiter, the
//! outcome mappings); this module only applies their answers.

use std::net::IpAddr;
use std::time::Instant;

use log::{info, warn};
use mio::Token;

use super::committer::{Commit, Job};
use super::outcomes::{rate_refusal, refusal, refusal_for, upload_refusal_for};
use super::peer::{Download, DriveError, Session, Shared, Upload};
use super::upload_policy::{decide_upload, UploadDecision, UploadRequest};
use crate::net::transfer::{Incoming, Outgoing};
use crate::proto::conn::{ServerEvent as Event, SEND_HIGH_WATER};
use crate::proto::limiter::Decision;
use crate::proto::msgs::{Outcome, ResultCode};
use crate::proto::name::display_safe;
use crate::proto::ProtoError;

/// Requests over the rate limit one connection may send in a row before it
/// is closed. An honest client waits as told between tries.
pub const MAX_RATE_REFUSALS_IN_A_ROW: u32 = 8;

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
            Event::Established { client: key } => {
                let fp = key.fingerprint();
                info!("{} authenticated as {fp}", s.addr);
                s.client = Some(fp);
            }
            Event::UploadRequested {
                name,
                size,
                overwrite,
            } => on_upload(s, shared, now, name, UploadRequest { size, overwrite })?,
            Event::Data(data) => {
                if let Some(up) = &mut s.upload {
                    up.file.write(data);
                    let written = up.file.staged().written();
                    if written - up.written_back >= WRITEBACK_EVERY {
                        up.written_back = written;
                        if let Ok(file) = up.file.staged().writeback_handle() {
                            let _ = shared.commits.send(Job::Writeback(file));
                        }
                    }
                }
            }
            Event::ReceiveComplete => on_received(s, token, shared)?,
            Event::ReceiveCorrupt => {
                if let Some(up) = s.upload.take() {
                    warn!(
                        "upload {:?} from {} discarded: SHA-256 mismatch",
                        up.name,
                        s.who()
                    );
                }
            }
            Event::DownloadRequested { name } => on_download(s, shared, now, name)?,
            Event::ListRequested => on_list(s, shared, now)?,
            Event::Outcome(outcome) => {
                if let Some(dl) = s.download.take() {
                    log_download_end(s, &dl, &outcome);
                }
            }
            Event::NameRefused(e) => {
                // Refused requests count against the rate like any other, and
                // a client past its rate with them is cut off: a flood of bad
                // names must cost it more than it costs the server.
                if shared.refusals.allow(now) {
                    info!("refused request from {}: {e}", s.who());
                }
                let ip = s.addr.ip();
                if charge(&mut s.rate_refusals, shared, ip, now)?.is_some() {
                    return Err(DriveError::Abuse("too many refused requests"));
                }
            }
            Event::Closed => {}
        }
    }
    Ok(false)
}

fn on_upload(
    s: &mut Session,
    shared: &mut Shared,
    now: Instant,
    name: String,
    req: UploadRequest,
) -> Result<(), DriveError> {
    let policy = shared.upload_policy;
    let decision = match charge(&mut s.rate_refusals, shared, s.addr.ip(), now)? {
        Some(r) => UploadDecision::Refuse(r),
        None => decide_upload(req, policy),
    };
    let staged = match decision {
        UploadDecision::Stage { replace } => shared
            .root
            .begin(&name, req.size, replace)
            .map_err(|e| upload_refusal_for(&e, policy.allow_overwrite)),
        UploadDecision::Refuse(outcome) => Err(outcome),
    };
    match staged {
        Ok(staged) => {
            s.conn.accept()?;
            info!(
                "upload {name:?} ({} bytes) from {} started",
                req.size,
                s.who()
            );
            s.upload = Some(Upload {
                file: Incoming::new(staged),
                name,
                size: req.size,
                started: now,
                written_back: 0,
            });
            Ok(())
        }
        Err(outcome) => refuse(s, shared, now, &format!("upload {name:?}"), &outcome),
    }
}

fn on_received(s: &mut Session, token: Token, shared: &mut Shared) -> Result<(), DriveError> {
    let Some(upload) = s.upload.take() else {
        return Err(ProtoError::InvalidCall("file data without an upload").into());
    };
    let Upload {
        file,
        name,
        size,
        started,
        ..
    } = upload;
    match file.finish() {
        Err(e) => {
            warn!("upload {name:?} from {} failed: {e}", s.who());
            s.conn.send_result(&refusal_for(&e))?;
        }
        // The committer answers through the waker; the client waits for
        // RESULT and sends nothing meanwhile.
        Ok(staged) => {
            let _ = shared.commits.send(Job::Commit {
                token,
                commit: Box::new(Commit {
                    staged,
                    name,
                    size,
                    started,
                }),
            });
        }
    }
    Ok(())
}

fn on_download(
    s: &mut Session,
    shared: &mut Shared,
    now: Instant,
    name: String,
) -> Result<(), DriveError> {
    let offer = match charge(&mut s.rate_refusals, shared, s.addr.ip(), now)? {
        Some(r) => Err(r),
        None => shared.root.open_source(&name).map_err(|e| refusal_for(&e)),
    };
    match offer {
        Ok(source) => {
            s.conn.offer_download(source.size)?;
            info!(
                "download {name:?} ({} bytes) to {} offered",
                source.size,
                s.who()
            );
            s.download = Some(Download {
                file: Outgoing::new(source),
                name,
                started: now,
            });
            Ok(())
        }
        Err(outcome) => refuse(s, shared, now, &format!("download {name:?}"), &outcome),
    }
}

/// Opens the root's files for a listing; the turn's produce step sends
/// them page by page as the client reads (`turn::produce`).
fn on_list(s: &mut Session, shared: &mut Shared, now: Instant) -> Result<(), DriveError> {
    let lister = match charge(&mut s.rate_refusals, shared, s.addr.ip(), now)? {
        Some(r) => Err(r),
        None => shared.root.lister().map_err(|e| {
            warn!("listing for {} failed: {e}", s.who());
            refusal(ResultCode::IoError, "server I/O error while listing")
        }),
    };
    match lister {
        Ok(lister) => {
            s.listing = Some(lister);
            Ok(())
        }
        Err(outcome) => refuse(s, shared, now, "listing", &outcome),
    }
}

fn log_download_end(s: &Session, dl: &Download, outcome: &Outcome) {
    let secs = dl.started.elapsed().as_secs_f64();
    match outcome.code {
        ResultCode::Ok => info!(
            "sent {:?} to {}: {} bytes, {:.1} MiB/s",
            dl.name,
            s.who(),
            dl.file.sent(),
            dl.file.sent() as f64 / (1 << 20) as f64 / secs.max(1e-9)
        ),
        _ => info!(
            "download {:?} by {} ended: {}",
            dl.name,
            s.who(),
            display_safe(&outcome.reason)
        ),
    }
}

/// Counts a control request against the client's rate: `Ok(None)` to go
/// ahead, `Ok(Some(refusal))` when over the rate, and `Err` when this
/// connection keeps asking while over it (`streak` counts such refusals).
fn charge(
    streak: &mut u32,
    shared: &mut Shared,
    ip: IpAddr,
    now: Instant,
) -> Result<Option<Outcome>, DriveError> {
    match shared.admission.limiter.check(ip, now) {
        Decision::Admit => {
            *streak = 0;
            Ok(None)
        }
        d => {
            *streak += 1;
            if *streak > MAX_RATE_REFUSALS_IN_A_ROW {
                return Err(DriveError::Abuse(
                    "kept sending requests over the rate limit",
                ));
            }
            Ok(Some(rate_refusal(d)))
        }
    }
}

/// Refuses the pending request with `outcome`, with one log line (within
/// the refusal log's budget) saying who asked for `what` and why.
fn refuse(
    s: &mut Session,
    shared: &mut Shared,
    now: Instant,
    what: &str,
    outcome: &Outcome,
) -> Result<(), DriveError> {
    if shared.refusals.allow(now) {
        info!("refused {what} for {}: {}", s.who(), outcome.reason);
    }
    Ok(s.conn.refuse(outcome)?)
}
