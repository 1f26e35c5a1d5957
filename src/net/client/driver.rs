//! Runs a batch ([`super::batch`]) on an established session: sends the
//! next requests while the connection has room for them, feeds the upload
//! in progress, stores downloads, and reports each answer in order.

use crate::aligned::AlignedBuf;
use std::time::{Duration, Instant};

use log::info;

use super::answers::{on_event, report, Receiving};
use super::batch::{open_upload, BatchObserver, InFlight, Plan, Queued, Report, Step};
use super::resume::{held_download, Resuming, RESUME_MIN_SIZE};
use super::{ClientError, Session};
use crate::fs::{FsError, ReceiveRoot};
use crate::net::pump::{self, ReadEnd};
use crate::net::transfer::{Outgoing, SendError};
use crate::proto::conn::ClientEvent;
use crate::proto::msgs::{Meta, Outcome, ResultCode};
use crate::proto::{ProtoError, CHUNK_LEN};

/// The upload whose data is going out.
pub(super) struct Sending {
    pub index: usize,
    pub file: Outgoing,
    pub local: std::path::PathBuf,
}

/// A batch in progress on a session.
pub(super) struct Batch<'a> {
    pub plan: Plan,
    pub root: Option<&'a ReceiveRoot>,
    pub obs: &'a mut dyn BatchObserver,
    pub resuming: Option<Resuming>,
    pub sending: Option<Sending>,
    pub receiving: Option<Receiving>,
    /// The server's identity key: whose partial files a download resumes.
    pub server: [u8; 32],
    buf: AlignedBuf,
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
    /// [`super::Canceller::cancel`] (a partial download is kept in its
    /// partial file, for the next download of it to resume).
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
            resuming: None,
            sending: None,
            receiving: None,
            server: *self.server_key.as_bytes(),
            buf: AlignedBuf::new(CHUNK_LEN),
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
            fn waiting(&mut self, _: usize, _: Duration, _: &str) {}
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
                if let ClientEvent::ResumeOffered { offset } = ev {
                    self.on_resume_offered(b, offset)?;
                    continue;
                }
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
            resumed_from: 0,
            changed: None,
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
                let resume = source.size >= RESUME_MIN_SIZE;
                let time = crate::net::unix_now();
                flight.sha256 = self.conn.request_upload(
                    remote,
                    source.size,
                    *overwrite,
                    meta,
                    resume,
                    time,
                )?;
                if resume {
                    b.resuming = Some(Resuming {
                        index,
                        source,
                        local: local.clone(),
                    });
                } else if flight.sha256.is_none() {
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
                let max_size = self.max_file_size.min(room);
                let held = held_download(root, local, &b.server, max_size);
                info!(
                    "request {}: GET {remote:?} holding {} bytes",
                    flight.queued.index,
                    held.as_ref().map_or(0, |(p, _)| p.offset)
                );
                self.conn.request_download(remote, max_size, held)?;
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
        let pumped = s.file.pump(&mut self.conn, &mut b.buf);
        let end = match pumped {
            Ok(end) => end,
            // The server stores nothing of an abandoned file and answers
            // RESULT 6 in its turn; the file is reported failed then.
            Err(SendError::Changed(why)) => {
                info!("request {}: abandoned: {why}", s.index);
                self.conn.abandon_send()?;
                b.sending = None;
                if let Some(flight) = b.plan.in_flight.back_mut() {
                    flight.changed = Some(why);
                }
                return Ok(());
            }
            Err(SendError::Read(source)) => {
                return Err(ClientError::Read {
                    path: s.local.clone(),
                    source,
                })
            }
            Err(SendError::Proto(p)) => return Err(p.into()),
        };
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
