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
    started: Instant,
    ok: usize,
    /// Bytes of the files that arrived.
    bytes: u64,
    /// Files that failed for any reason.
    failed: usize,
    /// Of those, files whose whole-file SHA-256 did not match.
    corrupt: usize,
    /// Of those, files that already existed where they were to be stored.
    existed: usize,
}

impl Tally {
    /// An empty tally for `op` ("put" or "get"), timed from now.
    pub(super) fn new(op: &'static str, output: OutputArgs) -> Tally {
        Tally {
            op,
            output,
            started: Instant::now(),
            ok: 0,
            bytes: 0,
            failed: 0,
            corrupt: 0,
            existed: 0,
        }
    }

    /// Whether a progress display may be drawn: not with `-q`, `--json`
    /// or `-v` (log lines would tear it).
    pub(super) fn shows_progress(&self) -> bool {
        !(self.output.quiet || self.output.json || self.output.verbose)
    }

    /// Files counted so far, arrived or failed.
    pub(super) fn counted(&self) -> usize {
        self.ok + self.failed
    }

    /// Counts a file that arrived: prints `human`, or its JSON object,
    /// unless quiet.
    pub(super) fn ok(&mut self, path: &Path, name: &str, r: &Report, human: std::fmt::Arguments) {
        self.ok += 1;
        self.bytes += r.bytes;
        match (self.output.json, self.output.quiet) {
            (_, true) => {}
            (false, false) => out::line(human),
            (true, false) => self.file_line(Some(path), Some(name), Some(r), None, None),
        }
    }

    /// Counts a file that did not arrive, saying why on stderr (and in its
    /// JSON object). `path` or `name` is `None` when there is none to give.
    pub(super) fn fail(&mut self, path: Option<&Path>, name: Option<&str>, why: &str) {
        self.failed(path, name, None, None, why);
    }

    /// Counts a refused or failed transfer by its outcome.
    pub(super) fn outcome(&mut self, path: Option<&Path>, name: &str, r: &Report) {
        let code = r.outcome.code;
        match code {
            ResultCode::HashMismatch => self.corrupt += 1,
            ResultCode::Exists => self.existed += 1,
            _ => {}
        }
        let why = display_safe(&r.outcome.reason);
        self.failed(path, Some(name), Some(r), Some(code), &why);
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
        eprintln!("sft: {label}: {why}");
        self.failed += 1;
        if self.output.json {
            self.file_line(path, name, r, code, Some(why));
        }
    }

    /// One file's JSON object; a failure when `why` is given.
    fn file_line(
        &self,
        path: Option<&Path>,
        name: Option<&str>,
        r: Option<&Report>,
        code: Option<ResultCode>,
        why: Option<&str>,
    ) {
        let exit = match (why, code) {
            (None, _) => 0,
            (Some(_), Some(ResultCode::HashMismatch)) => Exit::Protocol.code(),
            (Some(_), _) => Exit::FileFailed.code(),
        };
        json_line(&json!({
            "type": "file",
            "op": self.op,
            "path": path.map(|p| p.display().to_string()),
            "name": name,
            // A refused upload's data went out before its refusal came
            // back; nothing of it was stored.
            "size": r.filter(|_| why.is_none()).map_or(0, |r| r.bytes),
            "sha256": r.and_then(|r| r.sha256).map(hex::encode),
            "seconds": r.map_or(0.0, |r| r.elapsed.as_secs_f64()),
            "outcome": if why.is_none() { "ok" } else { "failed" },
            "code": code.map(code_name),
            "message": why,
            "exit": exit,
        }));
    }

    /// The final status of `total` requested files, after `run` (which
    /// fails for a session-level error): `run`'s error, else exit 6 if any
    /// file failed its integrity check, else 1 if any file failed, else 0.
    /// With `--json` the summary object says the same on stdout.
    pub(super) fn finish(self, total: usize, run: Result<(), CliError>) -> Result<(), CliError> {
        let result = run.and_then(|()| self.verdict(total));
        if !self.output.json && !self.output.quiet {
            eprintln!("sft: {}", self.summary(total));
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
            "{} {total} file(s): {} ok, {} failed; {} in {secs:.2}s",
            self.op,
            self.ok,
            self.failed,
            bytesize::ByteSize(self.bytes)
        );
        if secs > 0.0 && self.bytes > 0 {
            line += &format!(" ({:.1} MiB/s)", self.bytes as f64 / (1 << 20) as f64 / secs);
        }
        if self.existed > 0 {
            line += &format!("; {} already existed", self.existed);
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
            sha256: None,
        }
    }

    fn tally() -> Tally {
        let output = OutputArgs {
            json: false,
            quiet: true,
            verbose: false,
        };
        Tally::new("put", output)
    }

    /// Defect 15: a file whose whole-file SHA-256 did not match makes the
    /// command exit 6 (integrity), not 1, even among ordinary failures.
    #[test]
    fn a_hash_mismatch_exits_6_and_other_failures_1() {
        let p = Path::new("a");
        let mut t = tally();
        t.outcome(Some(p), "a", &report(ResultCode::Exists));
        assert_eq!(t.finish(3, Ok(())).unwrap_err().exit(), Exit::FileFailed);
        let mut t = tally();
        t.outcome(Some(p), "a", &report(ResultCode::Exists));
        t.outcome(Some(p), "b", &report(ResultCode::HashMismatch));
        assert_eq!(t.finish(3, Ok(())).unwrap_err().exit(), Exit::Protocol);
        assert!(tally().finish(3, Ok(())).is_ok());
    }

    /// Scripts see the names docs/PROTOCOL.md gives the RESULT codes.
    #[test]
    fn result_codes_are_named_as_in_the_protocol() {
        assert_eq!(code_name(ResultCode::Exists), "Exists");
        assert_eq!(code_name(ResultCode::HashMismatch), "HashMismatch");
        assert_eq!(code_name(ResultCode::RateLimited), "RateLimited");
    }

    /// A session-level failure decides the status over the files' tally.
    #[test]
    fn a_session_failure_wins_over_the_file_tally() {
        let mut t = tally();
        t.outcome(Some(Path::new("a")), "a", &report(ResultCode::HashMismatch));
        let cut = CliError::new(Exit::Connection, "connection cut");
        assert_eq!(t.finish(2, Err(cut)).unwrap_err().exit(), Exit::Connection);
    }
}
