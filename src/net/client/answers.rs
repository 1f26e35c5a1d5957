//! How a batch takes the server's answers: each event is the answer, or
//! part of it, to the oldest request in flight; downloads are staged in
//! their partial files and stored once verified.

use std::time::{Duration, Instant};

use super::batch::{InFlight, Report, Step};
use super::driver::Batch;
use super::resume::stage_download;
use super::ClientError;
use crate::fs::FsError;
use crate::net::transfer::Incoming;
use crate::proto::conn::ClientEvent;
use crate::proto::evidence::Evidence;
use crate::proto::msgs::{Outcome, ResultCode};
use crate::proto::ProtoError;

/// The download whose data is coming in: its staged file, or why it
/// cannot be stored (its data is then read and dropped).
pub(super) struct Receiving {
    pub file: Result<Incoming, FsError>,
}

/// Handles one event of the batch: the answer, or part of it, to the
/// oldest request in flight.
pub(super) fn on_event(
    b: &mut Batch<'_>,
    ev: ClientEvent<'_>,
    now: Instant,
) -> Result<(), ClientError> {
    {
        match ev {
            ClientEvent::Outcome(outcome) => {
                let flight = front(b)?;
                if b.sending
                    .as_ref()
                    .is_some_and(|s| s.index == flight.queued.index)
                {
                    // Refused while its data was going out: the connection
                    // ended it with END.
                    b.sending = None;
                }
                if b.resuming
                    .as_ref()
                    .is_some_and(|r| r.index == flight.queued.index)
                {
                    // Refused before the server's RESUME: no data was owed.
                    b.resuming = None;
                }
                if let Some(why) = flight.changed {
                    b.obs
                        .done(flight.queued.index, Err(FsError::SourceChanged(why)));
                    return Ok(());
                }
                if outcome.code == ResultCode::RateLimited {
                    let asked = Duration::from_secs(u64::from(outcome.retry_after_secs));
                    let jitter = super::batch::jitter(asked.min(super::batch::MAX_RATE_JITTER));
                    let index = flight.queued.index;
                    match b.plan.rate_limited(flight, &outcome, jitter, now) {
                        Ok(wait) => b.obs.waiting(index, wait, &outcome.reason),
                        Err(gave_up) => {
                            let (flight, gave_up) = *gave_up;
                            let r = report(&flight, gave_up, now);
                            b.obs.done(index, Ok(r));
                        }
                    }
                    return Ok(());
                }
                b.obs
                    .done(flight.queued.index, Ok(report(&flight, outcome, now)));
            }
            ClientEvent::Stored(receipt) => {
                let flight = front(b)?;
                let mut r = report(&flight, Outcome::ok(), now);
                r.evidence = Some(Evidence::Upload(receipt));
                b.obs.done(flight.queued.index, Ok(r));
            }
            ClientEvent::DownloadOffered { size, meta, from } => {
                let flight = b.plan.in_flight.front_mut().ok_or(out_of_place())?;
                let (
                    Step::Get {
                        local, preserve, ..
                    },
                    Some(root),
                ) = (&flight.queued.step, b.root)
                else {
                    return Err(out_of_place());
                };
                let file = stage_download(
                    root,
                    local,
                    (size, preserve.then_some(meta)),
                    &b.server,
                    from,
                );
                let held = file.as_ref().map_or(from, |(_, held)| *held);
                if held > 0 {
                    b.obs.resumed(flight.queued.index, held, from);
                }
                flight.resumed_from = from;
                b.receiving = Some(Receiving {
                    file: file.map(|(staged, _)| Incoming::new(staged)),
                });
            }
            ClientEvent::Data(data) => {
                let r = b.receiving.as_mut().ok_or(out_of_place())?;
                if let Ok(file) = &mut r.file {
                    file.write(data);
                }
                if let Some(flight) = b.plan.in_flight.front_mut() {
                    flight.bytes += data.len() as u64;
                }
                b.obs.bytes(data.len() as u64);
            }
            ClientEvent::ReceiveComplete { signed } => {
                let flight = front(b)?;
                let r = b.receiving.take().ok_or(out_of_place())?;
                let stored = r
                    .file
                    .and_then(Incoming::finish)
                    .and_then(|staged| staged.commit().map(|_| ()));
                let index = flight.queued.index;
                match stored {
                    Ok(()) => {
                        let mut r = report(&flight, Outcome::ok(), now);
                        r.evidence = Some(Evidence::Download(signed));
                        b.obs.done(index, Ok(r));
                    }
                    Err(e) => b.obs.done(index, Err(e)),
                }
            }
            ClientEvent::ReceiveCorrupt | ClientEvent::ReceiveAbandoned => {
                // A mismatch is an integrity failure (exit 6); a file the
                // server abandoned is an ordinary failed file (exit 1).
                let (code, why) = if matches!(ev, ClientEvent::ReceiveCorrupt) {
                    (
                        ResultCode::HashMismatch,
                        "whole-file SHA-256 mismatch: the data received is not what the server sent",
                    )
                } else {
                    (
                        ResultCode::IoError,
                        "the server's file changed while it was being sent; nothing stored",
                    )
                };
                let flight = front(b)?;
                // Never resumed: the bytes held are not the file's.
                if let Some(Ok(file)) = b.receiving.take().map(|r| r.file) {
                    file.discard();
                }
                let outcome = Outcome::new(code, why);
                b.obs
                    .done(flight.queued.index, Ok(report(&flight, outcome, now)));
            }
            ClientEvent::Closed => return Err(ClientError::ServerClosed),
            _ => return Err(out_of_place()),
        }
        Ok(())
    }
}

/// The oldest request in flight, which the event answers.
fn front(b: &mut Batch<'_>) -> Result<InFlight, ClientError> {
    b.plan.in_flight.pop_front().ok_or_else(out_of_place)
}

pub(super) fn report(flight: &InFlight, outcome: Outcome, now: Instant) -> Report {
    Report {
        outcome,
        bytes: flight.bytes,
        elapsed: now.saturating_duration_since(flight.started),
        evidence: None,
        resumed_from: flight.resumed_from,
    }
}

/// An event the protocol layer never emits for the requests in flight.
pub(super) fn out_of_place() -> ClientError {
    ProtoError::InvalidCall("event out of place for the requests in flight").into()
}
