//! Runs a batch ([`super::batch`]) on an established session: sends the
//! next requests while the connection has room for them, feeds the upload
//! in progress, stores downloads, and reports each answer in order.

use std::time::{Duration, Instant};

use log::info;

use super::batch::{open_upload, BatchObserver, InFlight, Plan, Queued, Report, Step};
use super::{ClientError, Session};
use crate::fs::{FsError, ReceiveRoot};
use crate::net::pump::{self, ReadEnd};
use crate::net::transfer::{Incoming, Outgoing, SendError};
use crate::proto::conn::ClientEvent;
use crate::proto::msgs::{Meta, Outcome, ResultCode};
use crate::proto::{ProtoError, CHUNK_LEN};

/// The upload whose data is going out.
struct Sending {
    index: usize,
    file: Outgoing,
    local: std::path::PathBuf,
}

/// The download whose data is coming in: its staged file, or why it
/// cannot be stored (its data is then read and dropped).
struct Receiving {
    file: Result<Incoming, FsError>,
}

/// A batch in progress on a session.
pub(super) struct Batch<'a> {
    plan: Plan,
    root: Option<&'a ReceiveRoot>,
    obs: &'a mut dyn BatchObserver,
    sending: Option<Sending>,
    receiving: Option<Receiving>,
    buf: Vec<u8>,
}

impl Session {
    /// Runs `steps` in this session, pipelined, reporting each to `obs` in
    /// order. Downloads are stored under `root` (required when a step is a
    /// [`Step::Get`]), never over an existing file.
    ///
    /// # Errors
    /// A session failure ends the batch (the requests not yet reported
    /// were not done); `Read` when a local file cannot be read to the size
    /// it had when it was offered; `Interrupted` after
    /// [`super::Canceller::cancel`] (a partial download is removed).
    pub fn run_batch(
        &mut self,
        steps: Vec<Step>,
        root: Option<&ReceiveRoot>,
        obs: &mut dyn BatchObserver,
    ) -> Result<(), ClientError> {
        let mut batch = Batch {
            plan: Plan::new(steps),
            root,
            obs,
            sending: None,
            receiving: None,
            buf: vec![0u8; CHUNK_LEN],
        };
        let result = self.drive_batch(&mut batch);
        if result.is_err() {
            let _ = pump::write(&mut self.conn, &mut self.sock, Instant::now());
        }
        result
    }

    /// Runs one request ([`run_batch`](Self::run_batch) of one step) and
    /// returns how it ended; a rate-limited request is sent again as a
    /// batch would.
    ///
    /// # Errors
    /// As [`run_batch`](Self::run_batch).
    pub fn run_one(
        &mut self,
        step: Step,
        root: Option<&ReceiveRoot>,
    ) -> Result<Result<Report, FsError>, ClientError> {
        struct One(Option<Result<Report, FsError>>);
        impl BatchObserver for One {
            fn bytes(&mut self, _: u64) {}
            fn done(&mut self, _: usize, result: Result<Report, FsError>) {
                self.0 = Some(result);
            }
            fn waiting(&mut self, _: usize, _: Duration) {}
        }
        let mut one = One(None);
        self.run_batch(vec![step], root, &mut one)?;
        one.0
            .ok_or_else(|| ProtoError::InvalidCall("the request was never answered").into())
    }

    fn drive_batch(&mut self, b: &mut Batch<'_>) -> Result<(), ClientError> {
        loop {
            let (now, end) = self.read_in()?;
            while let Some(ev) = self.conn.next_event()? {
                on_event(b, ev, now)?;
                if b.plan.finished() {
                    // Every request is answered: what follows (the
                    // server's alert as it stops, say) is the session's
                    // next operation's to report, not this batch's.
                    return self.flush();
                }
            }
            self.start_requests(b, now)?;
            let blocked = self.write_out(now)?;
            if b.plan.finished() {
                return self.flush();
            }
            if end == ReadEnd::Eof {
                return Err(ClientError::ServerClosed);
            }
            let more_requests = self.conn.can_request() && b.plan.ready(now);
            let more_out = (self.conn.wants_data() || more_requests) && !blocked;
            if end == ReadEnd::BufferFull || more_out {
                continue;
            }
            self.wait_until(b.plan.paused_until)?;
        }
    }

    /// Feeds the upload in progress and sends the next requests while the
    /// connection takes them (a small file's data goes out at once, so the
    /// next request follows without a round trip), until the output holds
    /// a chunk's worth or the plan has nothing ready (a rate-limit pause).
    fn start_requests(&mut self, b: &mut Batch<'_>, now: Instant) -> Result<(), ClientError> {
        loop {
            self.produce(b)?;
            if !self.conn.can_request() || self.conn.pending_output() >= CHUNK_LEN {
                return Ok(());
            }
            let Some(q) = b.plan.next(now) else {
                return Ok(());
            };
            self.start(b, q, now)?;
        }
    }

    fn start(&mut self, b: &mut Batch<'_>, q: Queued, now: Instant) -> Result<(), ClientError> {
        let mut flight = InFlight {
            queued: q,
            started: now,
            bytes: 0,
            sha256: None,
        };
        match &flight.queued.step {
            Step::Mkdir { remote, meta } => {
                info!(
                    "request {}: MKDIR {remote:?} (metadata: {})",
                    flight.queued.index,
                    meta.is_some()
                );
                self.conn.request_mkdir(remote, *meta)?
            }
            Step::Put {
                local,
                remote,
                overwrite,
                preserve,
                within,
            } => {
                let index = flight.queued.index;
                let source = match open_upload(local, within.as_deref()) {
                    Ok(s) => s,
                    Err(e) => {
                        b.obs.done(index, Err(e));
                        return Ok(());
                    }
                };
                let limit = self.params.max_file_size;
                if source.size > limit {
                    let why = format!(
                        "{} bytes is over the server's limit of {limit} bytes",
                        source.size
                    );
                    let outcome = Outcome::new(ResultCode::TooLarge, why);
                    b.obs.done(index, Ok(report(&flight, outcome, now)));
                    return Ok(());
                }
                let meta = preserve.then_some(Meta {
                    mode: source.mode,
                    mtime: source.mtime,
                });
                info!(
                    "request {index}: OFFER {remote:?}, {} bytes from {}",
                    source.size,
                    local.display()
                );
                flight.sha256 =
                    self.conn
                        .request_upload(remote, source.size, *overwrite, meta, false)?;
                if flight.sha256.is_none() {
                    b.sending = Some(Sending {
                        index,
                        file: Outgoing::new(source),
                        local: local.clone(),
                    });
                }
            }
            Step::Get { remote, local, .. } => {
                let root = b
                    .root
                    .ok_or(ProtoError::InvalidCall("a download needs a root"))?;
                // A file already there is not asked for (storing it would be
                // refused anyway, atomically, when the download commits).
                if root.path().join(local).symlink_metadata().is_ok() {
                    let exists = FsError::Exists(local.clone());
                    b.obs.done(flight.queued.index, Err(exists));
                    return Ok(());
                }
                // The server refuses a file that would not fit before any
                // data moves.
                let room = root.available_space().unwrap_or(u64::MAX);
                info!("request {}: GET {remote:?}", flight.queued.index);
                self.conn
                    .request_download(remote, self.max_file_size.min(room), None)?;
            }
        }
        b.plan.in_flight.push_back(flight);
        Ok(())
    }

    /// Feeds the upload in progress while the connection wants data.
    fn produce(&mut self, b: &mut Batch<'_>) -> Result<(), ClientError> {
        let Some(s) = &mut b.sending else {
            return Ok(());
        };
        let before = s.file.sent();
        let end = s
            .file
            .pump(&mut self.conn, &mut b.buf)
            .map_err(|e| match e {
                SendError::Read(source) => ClientError::Read {
                    path: s.local.clone(),
                    source,
                },
                // Until the abandon message is wired: ends the batch as a
                // failed read did.
                SendError::Changed(m) => ClientError::Read {
                    path: s.local.clone(),
                    source: std::io::Error::other(m),
                },
                SendError::Proto(p) => p.into(),
            })?;
        let moved = s.file.sent() - before;
        if moved > 0 {
            b.obs.bytes(moved);
        }
        if let Some(flight) = b.plan.in_flight.back_mut() {
            flight.bytes += moved;
            if end.is_some() {
                flight.sha256 = end;
            }
        }
        if end.is_some() {
            b.sending = None;
        }
        Ok(())
    }
}

/// Handles one event of the batch: the answer, or part of it, to the
/// oldest request in flight.
fn on_event(b: &mut Batch<'_>, ev: ClientEvent<'_>, now: Instant) -> Result<(), ClientError> {
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
                if outcome.code == ResultCode::RateLimited {
                    let asked = Duration::from_secs(u64::from(outcome.retry_after_secs));
                    let jitter = super::batch::jitter(asked.min(super::batch::MAX_RATE_JITTER));
                    let index = flight.queued.index;
                    match b.plan.rate_limited(flight, &outcome, jitter, now) {
                        Ok(wait) => b.obs.waiting(index, wait),
                        Err(gave_up) => {
                            let (flight, gave_up) = *gave_up;
                            let r = report(&flight, gave_up, now);
                            b.obs.done(index, Ok(r));
                        }
                    }
                    return Ok(());
                }
                let sha = (outcome.code == ResultCode::Ok)
                    .then_some(flight.sha256)
                    .flatten();
                let mut r = report(&flight, outcome, now);
                r.sha256 = sha;
                b.obs.done(flight.queued.index, Ok(r));
            }
            ClientEvent::DownloadOffered { size, meta, .. } => {
                let flight = b.plan.in_flight.front().ok_or(out_of_place())?;
                let (
                    Step::Get {
                        local, preserve, ..
                    },
                    Some(root),
                ) = (&flight.queued.step, b.root)
                else {
                    return Err(out_of_place());
                };
                let file = root
                    .begin(local, size, false, preserve.then_some(meta))
                    .map(Incoming::new);
                b.receiving = Some(Receiving { file });
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
            ClientEvent::ReceiveComplete { sha256 } => {
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
                        r.sha256 = Some(sha256);
                        b.obs.done(index, Ok(r));
                    }
                    Err(e) => b.obs.done(index, Err(e)),
                }
            }
            ClientEvent::ReceiveCorrupt => {
                let flight = front(b)?;
                b.receiving = None;
                let outcome = Outcome::new(
                    ResultCode::HashMismatch,
                    "whole-file SHA-256 mismatch: the data received is not what the server sent",
                );
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

fn report(flight: &InFlight, outcome: Outcome, now: Instant) -> Report {
    Report {
        outcome,
        bytes: flight.bytes,
        elapsed: now.saturating_duration_since(flight.started),
        sha256: None,
    }
}

/// An event the protocol layer never emits for the requests in flight.
fn out_of_place() -> ClientError {
    ProtoError::InvalidCall("event out of place for the requests in flight").into()
}
