//! One progress display for a batch of transfers, on stderr: files done of
//! the total, bytes done of the total, the rate and the time left. Hidden
//! when stderr is not a terminal or when the caller turns it off (`-q`,
//! `--json`, `-v`).

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// The batch display. Bytes are counted as they move ([`BatchProgress::bytes`],
/// whichever file they belong to: requests are pipelined), and each file
/// when it ends ([`BatchProgress::file_done`], also for a file refused
/// before a byte moved). Print anything else through
/// [`BatchProgress::suspend`] so the bar is not torn. All counts saturate:
/// a size a peer announces cannot make it panic.
pub struct BatchProgress {
    bar: ProgressBar,
    /// Files in the batch.
    files: u64,
    /// Files finished, and of those, failed.
    finished_files: u64,
    failed: u64,
    /// Bytes in all: the planned size of each file not yet finished, and
    /// what moved for each finished one. The bar shows at least the bytes
    /// moved so far, but never adds them to this: a file larger than
    /// planned would be counted twice.
    total: u64,
}

impl BatchProgress {
    /// A display for `files` files of `bytes` bytes in all (the sizes
    /// known now; 0 for a file whose size is learnt when it moves). Drawn
    /// only when `enabled` and stderr is a terminal.
    pub fn new(files: u64, bytes: u64, enabled: bool) -> BatchProgress {
        let target = if enabled && std::io::stderr().is_terminal() {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        let bar = ProgressBar::with_draw_target(Some(bytes), target);
        bar.set_style(
            ProgressStyle::with_template(
                "[{bar:25}] {prefix} {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta}",
            )
            .expect("valid template")
            .progress_chars("=> "),
        );
        let p = BatchProgress {
            bar,
            files,
            finished_files: 0,
            failed: 0,
            total: bytes,
        };
        p.show_counts();
        p
    }

    /// `n` more bytes moved.
    pub fn bytes(&mut self, n: u64) {
        self.bar.set_position(self.bar.position().saturating_add(n));
        self.show_length();
    }

    /// `n` bytes counted in the total need not move (a resume kept them).
    pub fn kept(&mut self, n: u64) {
        self.total = self.total.saturating_sub(n);
        self.show_length();
    }

    /// A file ended, arrived (`ok`) or not: `planned` bytes were counted
    /// for it in the total, `moved` actually moved. The total then counts
    /// what moved, so a failed file's rest no longer counts toward the
    /// time left, and a file that grew counts in full.
    pub fn file_done(&mut self, ok: bool, planned: u64, moved: u64) {
        self.total = self.total.saturating_sub(planned).saturating_add(moved);
        self.show_length();
        self.finished_files = self.finished_files.saturating_add(1);
        self.failed = self.failed.saturating_add(u64::from(!ok));
        self.show_counts();
    }

    /// Runs `f` (which prints a result line, a warning, a prompt) with the
    /// bar cleared, then draws it again. Returns what `f` returns.
    pub fn suspend<R>(&self, f: impl FnOnce() -> R) -> R {
        self.bar.suspend(f)
    }

    /// Removes the bar from the terminal.
    pub fn finish(self) {
        self.bar.finish_and_clear();
    }

    fn show_length(&self) {
        self.bar.set_length(self.total.max(self.bar.position()));
    }

    fn show_counts(&self) {
        let mut counts = format!("{}/{} files", self.finished_files, self.files);
        if self.failed > 0 {
            counts += &format!(", {} failed", self.failed);
        }
        self.bar.set_prefix(counts);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (bytes shown done, bytes shown in all, the files count)
    fn shown(p: &BatchProgress) -> (u64, u64, String) {
        (p.bar.position(), p.bar.length().unwrap(), p.bar.prefix())
    }

    #[test]
    fn turned_off_it_is_hidden_but_still_counts() {
        let mut p = BatchProgress::new(1, 10, false);
        assert!(p.bar.is_hidden());
        p.bytes(4);
        assert_eq!(shown(&p), (4, 10, "0/1 files".into()));
    }

    #[test]
    fn files_and_bytes_add_up_over_a_batch_with_a_failure() {
        let mut p = BatchProgress::new(3, 100, false);
        assert_eq!(shown(&p), (0, 100, "0/3 files".into()));
        p.bytes(50);
        p.file_done(true, 50, 50);
        assert_eq!(shown(&p), (50, 100, "1/3 files".into()));
        // 10 of 30 bytes move, then the file fails: its other 20 bytes
        // leave the total.
        p.bytes(10);
        p.file_done(false, 30, 10);
        assert_eq!(shown(&p), (60, 80, "2/3 files, 1 failed".into()));
        // The last file turns out larger than planned.
        p.bytes(25);
        assert_eq!(shown(&p).0, 85);
        p.file_done(true, 20, 25);
        assert_eq!(shown(&p), (85, 85, "3/3 files, 1 failed".into()));
        p.finish();
    }

    #[test]
    fn a_file_refused_before_a_byte_moved_leaves_the_total() {
        let mut p = BatchProgress::new(2, 30, false);
        p.file_done(false, 20, 0);
        assert_eq!(shown(&p), (0, 10, "1/2 files, 1 failed".into()));
    }

    #[test]
    fn bytes_a_resume_kept_leave_the_total() {
        let mut p = BatchProgress::new(1, 100, false);
        p.kept(60);
        p.bytes(40);
        assert_eq!(shown(&p), (40, 40, "0/1 files".into()));
        // The file's planned size less what was kept, against what moved.
        p.file_done(true, 40, 40);
        assert_eq!(shown(&p), (40, 40, "1/1 files".into()));
    }

    #[test]
    fn sizes_learnt_as_bytes_move_build_the_total() {
        let mut p = BatchProgress::new(2, 0, false);
        p.bytes(10);
        assert_eq!(shown(&p), (10, 10, "0/2 files".into()));
        p.file_done(true, 0, 10);
        assert_eq!(shown(&p), (10, 10, "1/2 files".into()));
    }

    #[test]
    fn counts_saturate_whatever_a_peer_announces() {
        let mut p = BatchProgress::new(u64::MAX, u64::MAX, false);
        p.bytes(u64::MAX);
        p.bytes(u64::MAX);
        p.file_done(true, 0, u64::MAX);
        assert_eq!(shown(&p).0, u64::MAX);
    }
}
