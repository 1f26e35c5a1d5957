//! What put and get print per file and at the end, and the tally that
//! decides the exit status. Human lines by default; with `--json` one JSON
//! object per line on stdout (README, "Output for scripts"); `-q` keeps
//! only failures. Failures always go to stderr too, as for humans.

use std::path::Path;
use std::time::Instant;

use clap::Args;
use serde_json::{json, Value};
use sft::net::client::Report;
use sft::proto::msgs::ResultCode;
use sft::proto::name::display_safe;

use crate::cli::error::{CliError, Exit};
use crate::cli::out;

/// The stdout flags shared by put, get and ls.
#[derive(Clone, Copy, Debug, Args)]
pub struct OutputArgs {
    /// Print only JSON Lines on stdout: one object per file, then a summary
    #[arg(long)]
    pub(super) json: bool,
    /// Print nothing on stdout for successes (with --json: only failed files and the summary)
    #[arg(short = 'q', long)]
    pub(super) quiet: bool,
    /// Log each step on stderr: connecting, how the server's key is trusted, each request (RUST_LOG, if set, decides instead)
    #[arg(short = 'v', long, conflicts_with = "quiet")]
    pub(in crate::cli) verbose: bool,
}

/// Prints one JSON object as a line on stdout.
pub(super) fn json_line(v: &Value) {
    out::line(format_args!("{v}"));
}

/// The name scripts see for a RESULT code: its name in docs/PROTOCOL.md
/// ("Exists", "HashMismatch", ...), which is the variant's name.
fn code_name(code: ResultCode) -> String {
    format!("{code:?}")
}

/// What went wrong (and right) across a multi-file command.
pub(super) struct Tally {
    op: &'static str,
    output: OutputArgs,
    /// `--skip-existing`: a file already where it was to be stored is
    /// skipped, not failed.
    skip_existing: bool,
    started: Instant,
    /// Files the command set out to move.
    planned: usize,
    ok: usize,
    /// Bytes of the files that arrived.
    bytes: u64,
    /// Files that failed for any reason.
    failed: usize,
    /// Of those, files whose whole-file SHA-256 did not match.
    corrupt: usize,
    /// Files that already existed where they were to be stored: failed,
    /// or skipped with `--skip-existing`.
    existed: usize,
    skipped: usize,
    /// Directories that could not be made (or given their metadata).
    dirs_failed: usize,
}

impl Tally {
    /// An empty tally for `op` ("put" or "get"), timed from now.
    pub(super) fn new(op: &'static str, output: OutputArgs, skip_existing: bool) -> Tally {
        Tally {
            op,
            output,
            skip_existing,
            started: Instant::now(),
            planned: 0,
            ok: 0,
            bytes: 0,
            failed: 0,
            corrupt: 0,
            existed: 0,
            skipped: 0,
            dirs_failed: 0,
        }
    }

    /// Whether notices about the work (a resume) go to stderr: not with
    /// `-q`.
    pub(super) fn notices(&self) -> bool {
        !self.output.quiet
    }

    /// Whether a progress display may be drawn: not with `-q`, `--json`
    /// or `-v` (log lines would tear it).
    pub(super) fn shows_progress(&self) -> bool {
        !(self.output.quiet || self.output.json || self.output.verbose)
    }

    /// `n` more files the command sets out to move (the summary's total).
    pub(super) fn plan(&mut self, n: usize) {
        self.planned += n;
    }

    /// Files counted so far: arrived, failed or skipped.
    fn counted(&self) -> usize {
        self.ok + self.failed + self.skipped
    }

    /// Counts a file that arrived, its signed receipt kept at `receipt`:
    /// prints `human`, or its JSON object, unless quiet.
    pub(super) fn ok(
        &mut self,
        path: &Path,
        name: &str,
        r: &Report,
        receipt: &Path,
        human: std::fmt::Arguments,
    ) {
        self.ok += 1;
        self.bytes += r.bytes;
        match (self.output.json, self.output.quiet) {
            (_, true) => {}
            (false, false) => out::line(human),
            (true, false) => {
                let mut v = self.file_value("file", Some(path), Some(name), Some(r), None, None);
                v["receipt"] = json!(receipt.display().to_string());
                json_line(&v);
            }
        }
    }

    /// Counts a file that did not arrive, saying why on stderr (and in its
    /// JSON object). `path` or `name` is `None` when there is none to give;
    /// `code` is the RESULT code the failure amounts to, if any.
    pub(super) fn fail(
        &mut self,
        path: Option<&Path>,
        name: Option<&str>,
        code: Option<ResultCode>,
        why: &str,
    ) {
        if code == Some(ResultCode::Exists) && self.skip(path, name, None) {
            return;
        }
        self.failed(path, name, None, code, why);
    }

    /// Counts a refused or failed transfer by its outcome.
    pub(super) fn outcome(&mut self, path: Option<&Path>, name: &str, r: &Report) {
        let code = r.outcome.code;
        if code == ResultCode::Exists && self.skip(path, Some(name), Some(r)) {
            return;
        }
        if code == ResultCode::HashMismatch {
            self.corrupt += 1;
        }
        let why = display_safe(&r.outcome.reason);
        self.failed(path, Some(name), Some(r), Some(code), &why);
    }

    /// Counts a directory that could not be made or given its metadata:
    /// the command fails (exit 1), but it is not a file in the counts.
    pub(super) fn dir_failed(&mut self, name: &str, r: Option<&Report>, why: &str) {
        self.dirs_failed += 1;
        say!("sft: {}: {why}", display_safe(name));
        if self.output.json {
            let code = r.map(|r| r.outcome.code);
            self.file_line("dir", None, Some(name), r, code, Some(why));
        }
    }

    /// Counts an existing file as skipped when `--skip-existing` asks for
    /// it (then `true`): a line on stdout unless quiet.
    fn skip(&mut self, path: Option<&Path>, name: Option<&str>, r: Option<&Report>) -> bool {
        if !self.skip_existing {
            return false;
        }
        self.existed += 1;
        self.skipped += 1;
        match (self.output.json, self.output.quiet) {
            (_, true) => {}
            (false, false) => {
                let label = name.map_or_else(
                    || path.map(|p| p.display().to_string()).unwrap_or_default(),
                    str::to_string,
                );
                out::line(format_args!(
                    "{}: already there, skipped",
                    display_safe(&label)
                ));
            }
            (true, false) => {
                self.file_line("file", path, name, r, Some(ResultCode::Exists), None);
            }
        }
        true
    }

    fn failed(
        &mut self,
        path: Option<&Path>,
        name: Option<&str>,
        r: Option<&Report>,
        code: Option<ResultCode>,
        why: &str,
    ) {
        let label = match (name, path) {
            (Some(n), _) => display_safe(n),
            (None, Some(p)) => display_safe(&p.display().to_string()),
            (None, None) => String::new(),
        };
        say!("sft: {label}: {why}");
        self.failed += 1;
        if code == Some(ResultCode::Exists) {
            self.existed += 1;
        }
        if self.output.json {
            self.file_line("file", path, name, r, code, Some(why));
        }
    }

    /// Prints one file's (or directory's) JSON object ([`Self::file_value`]).
    fn file_line(
        &self,
        kind: &str,
        path: Option<&Path>,
        name: Option<&str>,
        r: Option<&Report>,
        code: Option<ResultCode>,
        why: Option<&str>,
    ) {
        json_line(&self.file_value(kind, path, name, r, code, why));
    }

    /// One file's (or directory's) JSON object: ok when neither `code` nor
    /// `why` is given, skipped with `code` alone, failed with `why`.
    fn file_value(
        &self,
        kind: &str,
        path: Option<&Path>,
        name: Option<&str>,
        r: Option<&Report>,
        code: Option<ResultCode>,
        why: Option<&str>,
    ) -> Value {
        let (outcome, exit) = match (why, code) {
            (None, None) => ("ok", 0),
            (None, Some(_)) => ("skipped", 0),
            (Some(_), Some(ResultCode::HashMismatch)) => ("failed", Exit::Protocol.code()),
            (Some(_), _) => ("failed", Exit::FileFailed.code()),
        };
        json!({
            "type": kind,
            "op": self.op,
            "path": path.map(|p| p.display().to_string()),
            "name": name,
            // A refused upload's data went out before its refusal came
            // back; nothing of it was stored.
            // The whole file: the bytes moved and those a resume kept.
            "size": r
                .filter(|_| why.is_none())
                .map_or(0, |r| r.bytes.saturating_add(r.resumed_from)),
            "resumed_from": r.map_or(0, |r| r.resumed_from),
            "sha256": r.and_then(Report::sha256).map(hex::encode),
            "seconds": r.map_or(0.0, |r| r.elapsed.as_secs_f64()),
            "outcome": outcome,
            "code": code.map(code_name),
            "message": why,
            "exit": exit,
        })
    }

    /// The final status after `run` (which fails for a session-level
    /// error): `run`'s error, else exit 6 if any file failed its integrity
    /// check, else 1 if any file or directory failed, else 0. People get a
    /// summary line on stderr (unless quiet, or nothing was tried before a
    /// session-level failure); with `--json` the summary object says the
    /// same on stdout.
    pub(super) fn finish(self, run: Result<(), CliError>) -> Result<(), CliError> {
        let total = self.planned.max(self.counted());
        let tried = run.is_ok() || self.counted() > 0;
        let result = run.and_then(|()| self.verdict(total));
        if !self.output.json && !self.output.quiet && tried {
            say!("sft: {}", self.summary(total));
        }
        if self.output.json {
            let (exit, message) = match &result {
                Ok(()) => (0, None),
                Err(e) => (e.exit().code(), Some(e.message())),
            };
            json_line(&json!({
                "type": "summary",
                "op": self.op,
                "files": total,
                "ok": self.ok,
                "failed": self.failed,
                "skipped": self.skipped,
                "dirs_failed": self.dirs_failed,
                "bytes": self.bytes,
                "seconds": self.started.elapsed().as_secs_f64(),
                "exit": exit,
                "message": message,
            }));
        }
        result
    }

    /// The summary line for people: files, bytes, time, failures.
    fn summary(&self, total: usize) -> String {
        let secs = self.started.elapsed().as_secs_f64();
        let mut line = format!(
            "{} {total} file(s): {} ok, {} failed",
            self.op, self.ok, self.failed
        );
        if self.skipped > 0 {
            line += &format!(", {} skipped (already there)", self.skipped);
        }
        let untried = total.saturating_sub(self.ok + self.failed + self.skipped);
        if untried > 0 {
            line += &format!(", {untried} not transferred");
        }
        line += &format!("; {} in {secs:.2}s", bytesize::ByteSize(self.bytes));
        if secs > 0.0 && self.bytes > 0 {
            line += &format!(
                " ({:.1} MiB/s)",
                self.bytes as f64 / (1 << 20) as f64 / secs
            );
        }
        if self.existed > self.skipped {
            line += &format!(
                "; {} already existed (--skip-existing skips them)",
                self.existed - self.skipped
            );
        }
        if self.dirs_failed > 0 {
            line += &format!("; {} director(ies) failed", self.dirs_failed);
        }
        line
    }

    fn verdict(&self, total: usize) -> Result<(), CliError> {
        let (failed, corrupt) = (self.failed, self.corrupt);
        if corrupt > 0 {
            return Err(CliError::new(
                Exit::Protocol,
                format!("{corrupt} of {total} file(s) failed the end-to-end SHA-256 check; {failed} failed in all"),
            )
            .hint("the data was altered between the two files (or a peer is faulty); nothing unverified was kept"));
        }
        if failed > 0 {
            return Err(CliError::new(
                Exit::FileFailed,
                format!("{failed} of {total} file(s) failed"),
            ));
        }
        if self.dirs_failed > 0 {
            return Err(CliError::new(
                Exit::FileFailed,
                format!("{} director(ies) failed", self.dirs_failed),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sft::proto::msgs::Outcome;
    use std::time::Duration;

    fn report(code: ResultCode) -> Report {
        Report {
            outcome: Outcome::new(code, "no"),
            bytes: 0,
            elapsed: Duration::ZERO,
            evidence: None,
            resumed_from: 0,
        }
    }

    fn tally() -> Tally {
        let output = OutputArgs {
            json: false,
            quiet: true,
            verbose: false,
        };
        Tally::new("put", output, false)
    }

    /// Defect 15: a file whose whole-file SHA-256 did not match makes the
    /// command exit 6 (integrity), not 1, even among ordinary failures.
    #[test]
    fn a_hash_mismatch_exits_6_and_other_failures_1() {
        let p = Path::new("a");
        let mut t = tally();
        t.outcome(Some(p), "a", &report(ResultCode::Exists));
        assert_eq!(t.finish(Ok(())).unwrap_err().exit(), Exit::FileFailed);
        let mut t = tally();
        t.outcome(Some(p), "a", &report(ResultCode::Exists));
        t.outcome(Some(p), "b", &report(ResultCode::HashMismatch));
        assert_eq!(t.finish(Ok(())).unwrap_err().exit(), Exit::Protocol);
        assert!(tally().finish(Ok(())).is_ok());
    }

    /// Scripts see the names docs/PROTOCOL.md gives the RESULT codes.
    #[test]
    fn result_codes_are_named_as_in_the_protocol() {
        assert_eq!(code_name(ResultCode::Exists), "Exists");
        assert_eq!(code_name(ResultCode::HashMismatch), "HashMismatch");
        assert_eq!(code_name(ResultCode::RateLimited), "RateLimited");
    }

    /// A session cut before every file was tried: the summary counts the
    /// rest as not transferred, so ok + failed + not transferred = planned.
    #[test]
    fn the_summary_counts_the_files_a_cut_left_untried() {
        let mut t = tally();
        t.plan(3);
        t.outcome(Some(Path::new("a")), "a", &report(ResultCode::Exists));
        assert_eq!(
            t.summary(3).split(';').next().unwrap(),
            "put 3 file(s): 0 ok, 1 failed, 2 not transferred"
        );
        let mut t = tally();
        t.plan(1);
        t.outcome(Some(Path::new("a")), "a", &report(ResultCode::Exists));
        assert!(!t.summary(1).contains("not transferred"));
    }

    /// A session-level failure decides the status over the files' tally.
    #[test]
    fn a_session_failure_wins_over_the_file_tally() {
        let mut t = tally();
        t.outcome(Some(Path::new("a")), "a", &report(ResultCode::HashMismatch));
        let cut = CliError::new(Exit::Connection, "connection cut");
        assert_eq!(t.finish(Err(cut)).unwrap_err().exit(), Exit::Connection);
    }

    /// With --skip-existing a file already there is skipped (exit 0); any
    /// other failure still fails, and without the flag Exists fails.
    #[test]
    fn skip_existing_skips_only_existing_files() {
        let p = Path::new("a");
        let output = OutputArgs {
            json: false,
            quiet: true,
            verbose: false,
        };
        let mut t = Tally::new("put", output, true);
        t.plan(2);
        t.outcome(Some(p), "a", &report(ResultCode::Exists));
        t.fail(
            Some(p),
            Some("b"),
            Some(ResultCode::Exists),
            "already exists here",
        );
        assert_eq!((t.skipped, t.failed, t.counted()), (2, 0, 2));
        assert!(t.finish(Ok(())).is_ok());
        let mut t = Tally::new("put", output, true);
        t.outcome(Some(p), "a", &report(ResultCode::NotAllowed));
        assert_eq!(t.finish(Ok(())).unwrap_err().exit(), Exit::FileFailed);
    }

    /// A directory that failed fails the command but is not a file.
    #[test]
    fn a_failed_directory_exits_1_without_counting_as_a_file() {
        let mut t = tally();
        t.plan(1);
        t.ok(
            Path::new("a"),
            "a",
            &report(ResultCode::Ok),
            Path::new("a.json"),
            format_args!("a"),
        );
        t.dir_failed("d/", None, "not a directory");
        assert_eq!((t.planned, t.counted()), (1, 1));
        let e = t.finish(Ok(())).unwrap_err();
        assert_eq!(e.exit(), Exit::FileFailed);
        assert!(e.message().contains("1 director"), "{}", e.message());
    }
}
