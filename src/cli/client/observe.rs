//! What the command shows while a batch runs: each request's result line
//! (through the [`Tally`]), the batch progress display, and the client's
//! own log (`-v`).

use std::path::PathBuf;
use std::time::Duration;

use log::info;
use sft::fs::FsError;
use sft::net::client::{BatchObserver, Report};
use sft::proto::msgs::ResultCode;
use sft::proto::name::display_safe;

use super::progress::BatchProgress;
use super::tally::Tally;

/// What a request of the batch is, for its result line.
pub(super) enum Item {
    /// A remote directory (created, or given its metadata): only a failure
    /// is reported, and it counts as a failed file.
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

/// Reports a batch's results to a tally and a progress display.
pub(super) struct Observer<'a> {
    pub tally: &'a mut Tally,
    pub items: Vec<Item>,
    pub progress: BatchProgress,
    /// Requests reported so far.
    pub reported: usize,
}

impl Observer<'_> {
    /// Requests not yet reported (for a batch cut short).
    pub(super) fn left(&self) -> usize {
        self.items.len() - self.reported
    }

    /// Reports a request that was never sent (a local refusal).
    pub(super) fn refused(&mut self, index: usize, why: &str) {
        self.reported += 1;
        self.progress.file_done(false, self.planned(index), 0);
        let (local, remote) = self.names(index);
        let tally = &mut *self.tally;
        self.progress
            .suspend(|| tally.fail(local.as_deref(), Some(&remote), why));
    }

    fn planned(&self, index: usize) -> u64 {
        match &self.items[index] {
            Item::File { planned, .. } => *planned,
            Item::Dir { .. } => 0,
        }
    }

    fn names(&self, index: usize) -> (Option<PathBuf>, String) {
        match &self.items[index] {
            Item::Dir { remote } => (None, format!("{remote}/")),
            Item::File { local, remote, .. } => (Some(local.clone()), remote.clone()),
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
                return self.refused(index, &local_failure(&e));
            }
        };
        info!(
            "request {index}: {:?} {} ({} bytes, sha256 {})",
            r.outcome.code,
            display_safe(&r.outcome.reason),
            r.bytes,
            r.sha256.map_or_else(|| "-".to_string(), hex::encode)
        );
        self.reported += 1;
        let ok = r.outcome.code == ResultCode::Ok;
        self.progress.file_done(ok, self.planned(index), r.bytes);
        let tally = &mut *self.tally;
        match &self.items[index] {
            Item::Dir { remote } if !ok => {
                let name = format!("{remote}/");
                self.progress.suspend(|| tally.outcome(None, &name, &r));
            }
            Item::Dir { .. } => {}
            Item::File {
                local,
                remote,
                shown,
                ..
            } => self.progress.suspend(|| {
                if ok {
                    tally.ok(local, remote, &r, format_args!("{shown}: {}", rate(&r)));
                } else {
                    tally.outcome(Some(local), remote, &r);
                }
            }),
        }
    }

    fn waiting(&mut self, index: usize, wait: Duration) {
        let (_, remote) = self.names(index);
        self.progress.suspend(|| {
            eprintln!(
                "sft: {}: the server's rate limit is reached; waiting {:.1} s as it asks",
                display_safe(&remote),
                wait.as_secs_f64()
            )
        });
    }
}

/// Why a file could not be read or stored locally, for its result line.
fn local_failure(e: &FsError) -> String {
    match e {
        FsError::Exists(_) => "already exists here; not overwriting it".to_string(),
        FsError::Io { source, .. } => source.to_string(),
        e => e.to_string(),
    }
}

/// "N bytes in S s, R MiB/s", or just the bytes for a quick one.
pub(super) fn rate(r: &Report) -> String {
    let secs = r.elapsed.as_secs_f64();
    if secs < 0.05 {
        return format!("{} bytes", r.bytes);
    }
    let mib_s = r.bytes as f64 / (1 << 20) as f64 / secs;
    format!("{} bytes in {secs:.2}s, {mib_s:.1} MiB/s", r.bytes)
}
