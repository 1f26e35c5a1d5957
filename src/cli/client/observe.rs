//! What the command shows while a batch runs: each request's result line
//! (through the [`Tally`]), the batch progress display, and the client's
//! own log (`-v`).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use bytesize::ByteSize;
use log::info;
use sft::fs::{FsError, ReceiveRoot};
use sft::net::client::{BatchObserver, Report, Step};
use sft::proto::msgs::ResultCode;
use sft::proto::name::display_safe;

use super::connect::Connected;
use super::exit::aborted;
use super::progress::BatchProgress;
use super::receipts::Receipts;
use super::tally::Tally;
use crate::cli::error::CliError;

/// What a request of the batch is, for its result line.
pub(super) enum Item {
    /// A remote directory (created, or given its metadata): only a failure
    /// is reported, and it fails the command without counting as a file.
    Dir { remote: String },
    /// A file: `local` is where it is read from or stored, `remote` its
    /// path on the server, `shown` how the success line names it.
    File {
        local: PathBuf,
        remote: String,
        shown: String,
        planned: u64,
    },
}

/// Runs `steps` (described by `items`, one each) in the connected
/// session with a progress display and each result counted in `tally`,
/// storing downloads under `root` and each file's receipt in `receipts`;
/// then closes the session.
///
/// # Errors
/// A session-level failure, naming how many files were left undone.
pub(super) fn run_batch(
    mut c: Connected,
    steps: Vec<Step>,
    items: Vec<Item>,
    root: Option<&ReceiveRoot>,
    tally: &mut Tally,
    receipts: &mut Receipts,
) -> Result<(), CliError> {
    let (files, bytes) = items.iter().fold((0u64, 0u64), |(n, b), i| match i {
        Item::File { planned, .. } => (n + 1, b.saturating_add(*planned)),
        Item::Dir { .. } => (n, b),
    });
    let progress = BatchProgress::new(files, bytes, tally.shows_progress());
    let mut obs = Observer {
        tally,
        receipts,
        items,
        progress,
        reported: 0,
        paused_until: None,
    };
    let run = c.session.run_batch(steps, root, &mut obs);
    let left = obs.left();
    obs.progress.finish();
    obs.receipts.sync();
    run.map_err(|e| aborted(e, &c.target, left))?;
    let _ = c.session.close();
    Ok(())
}

/// Reports a batch's results to a tally and a progress display.
struct Observer<'a> {
    tally: &'a mut Tally,
    receipts: &'a mut Receipts,
    items: Vec<Item>,
    progress: BatchProgress,
    /// Requests reported so far.
    reported: usize,
    /// Until when the rate-limit pause announced last lasts.
    paused_until: Option<Instant>,
}

impl Observer<'_> {
    /// Files not yet reported (for a batch cut short).
    fn left(&self) -> usize {
        self.items[self.reported..]
            .iter()
            .filter(|i| matches!(i, Item::File { .. }))
            .count()
    }

    /// Reports a request that ended without an answer from the server (a
    /// local failure: the file could not be read or stored).
    fn local(&mut self, index: usize, e: &FsError) {
        self.reported = self.reported.max(index + 1);
        let tally = &mut *self.tally;
        match &self.items[index] {
            Item::Dir { remote } => {
                let name = format!("{remote}/");
                self.progress
                    .suspend(|| tally.dir_failed(&name, None, &e.to_string()));
            }
            Item::File {
                local,
                remote,
                planned,
                ..
            } => {
                self.progress.file_done(false, *planned, 0);
                let code = matches!(e, FsError::Exists(_)).then_some(ResultCode::Exists);
                let why = local_failure(e, local);
                self.progress
                    .suspend(|| tally.fail(Some(local), Some(remote), code, &why));
            }
        }
    }
}

impl BatchObserver for Observer<'_> {
    fn bytes(&mut self, n: u64) {
        self.progress.bytes(n);
    }

    fn done(&mut self, index: usize, result: Result<Report, FsError>) {
        let r = match result {
            Ok(r) => r,
            Err(e) => {
                info!("request {index}: local failure: {e}");
                return self.local(index, &e);
            }
        };
        info!(
            "request {index}: {:?} {} ({} bytes, sha256 {})",
            r.outcome.code,
            display_safe(&r.outcome.reason),
            r.bytes,
            r.sha256().map_or_else(|| "-".to_string(), hex::encode)
        );
        self.reported = self.reported.max(index + 1);
        let ok = r.outcome.code == ResultCode::Ok;
        let tally = &mut *self.tally;
        match &self.items[index] {
            Item::Dir { remote } if !ok => {
                let name = format!("{remote}/");
                let why = display_safe(&r.outcome.reason);
                self.progress
                    .suspend(|| tally.dir_failed(&name, Some(&r), &why));
            }
            Item::Dir { .. } => {}
            Item::File {
                local,
                remote,
                shown,
                planned,
            } => {
                let kept = match &r.evidence {
                    Some(evidence) if ok => Some(self.receipts.keep(evidence, local)),
                    _ => None,
                };
                let planned = planned.saturating_sub(r.resumed_from);
                let ok = ok && !matches!(kept, Some(Err(_)));
                self.progress.file_done(ok, planned, r.bytes);
                self.progress.suspend(|| match kept {
                    Some(Ok(receipt)) => tally.ok(
                        local,
                        remote,
                        &r,
                        &receipt,
                        format_args!("{shown}: {}", rate(&r)),
                    ),
                    Some(Err(why)) => tally.fail(Some(local), Some(remote), None, &why),
                    None => tally.outcome(Some(local), remote, &r),
                })
            }
        }
    }

    fn resumed(&mut self, index: usize, held: u64, from: u64) {
        self.progress.kept(from);
        if !self.tally.notices() {
            return;
        }
        let shown = match &self.items[index] {
            Item::File { shown, .. } => shown.clone(),
            Item::Dir { remote } => display_safe(remote),
        };
        let held = ByteSize(held);
        self.progress.suspend(|| {
            if from > 0 {
                say!("sft: {shown}: resuming after the {held} already there (SHA-256 of those bytes verified on both sides)");
            } else {
                say!("sft: {shown}: the {held} already there differ from the file; sending it whole");
            }
        });
    }

    fn waiting(&mut self, index: usize, wait: Duration, why: &str) {
        // The requests in flight when the limit was reached are all
        // refused at once: one line for the pause, not one per request.
        let now = Instant::now();
        if self.paused_until.is_some_and(|until| now < until) {
            return;
        }
        self.paused_until = Some(now + wait);
        let remote = match &self.items[index] {
            Item::Dir { remote } | Item::File { remote, .. } => remote.clone(),
        };
        self.progress.suspend(|| {
            say!(
                "sft: {}: the server asks to wait ({}); waiting {:.1} s",
                display_safe(&remote),
                display_safe(why),
                wait.as_secs_f64()
            )
        });
    }
}

/// Why a file could not be read or stored locally (`local` is where),
/// for its result line.
fn local_failure(e: &FsError, local: &std::path::Path) -> String {
    match e {
        FsError::Exists(_) => format!(
            "{} already exists here; not overwriting it",
            display_safe(&local.display().to_string())
        ),
        FsError::Io { source, .. } => source.to_string(),
        e => e.to_string(),
    }
}

/// "N bytes in S s, R MiB/s", or just the bytes for a quick one.
pub(super) fn rate(r: &Report) -> String {
    let secs = r.elapsed.as_secs_f64();
    let kept = if r.resumed_from > 0 {
        format!(" (resumed: {} were already there)", r.resumed_from)
    } else {
        String::new()
    };
    if secs < 0.05 {
        return format!("{} bytes{kept}", r.bytes);
    }
    let mib_s = r.bytes as f64 / (1 << 20) as f64 / secs;
    format!("{} bytes in {secs:.2}s, {mib_s:.1} MiB/s{kept}", r.bytes)
}
