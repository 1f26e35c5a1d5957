//! One progress display for a batch of transfers, on stderr: files done of
//! the total, bytes done of the total, the rate and the time left. Hidden
//! when stderr is not a terminal or when the caller turns it off (`-q`,
//! `--json`, `-v`).

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use sft::proto::name::display_safe;

/// The batch display. For each file, in order: [`BatchProgress::file_started`],
/// any number of [`BatchProgress::file_bytes`], then
/// [`BatchProgress::file_done`] (also for a file refused before a byte
/// moved). Print anything else through [`BatchProgress::suspend`] so the
/// bar is not torn. All counts saturate: a size a peer announces cannot
/// make it panic.
pub struct BatchProgress {
    bar: ProgressBar,
    /// Files in the batch.
    files: u64,
    /// Files finished, and of those, failed.
    finished_files: u64,
    failed: u64,
    /// Bytes of the finished files: where the current file's bytes start.
    finished_bytes: u64,
    /// What the bar's total counts for the current file.
    counted: u64,
    /// Bytes of the current file so far.
    current: u64,
}

impl BatchProgress {
    /// A display for `files` files of `bytes` bytes in all (the sizes
    /// known now; 0 for a file whose size is learnt when it starts). Drawn
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
                "[{bar:25}] {prefix} {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta} {wide_msg}",
            )
            .expect("valid template")
            .progress_chars("=> "),
        );
        let p = BatchProgress {
            bar,
            files,
            finished_files: 0,
            failed: 0,
            finished_bytes: 0,
            counted: 0,
            current: 0,
        };
        p.show_counts();
        p
    }

    /// The next file starts: `name` is shown (escaped for the terminal),
    /// and `planned` is the number of bytes [`BatchProgress::new`] counted
    /// for it (0 if its size was not known then).
    pub fn file_started(&mut self, name: &str, planned: u64) {
        self.counted = planned;
        self.current = 0;
        self.bar.set_message(display_safe(name));
    }

    /// `done` of the current file's `size` bytes have moved. A `size` other
    /// than the one counted so far (the file changed, or its size was not
    /// known) corrects the total; a smaller `done` than before (a retry
    /// starts over) moves the bar back.
    pub fn file_bytes(&mut self, done: u64, size: u64) {
        if size != self.counted {
            self.recount(size);
        }
        self.current = done;
        self.bar
            .set_position(self.finished_bytes.saturating_add(done));
    }

    /// The current file is finished, arrived (`ok`) or not. The total
    /// keeps only the bytes that moved for it, so a failed file's rest no
    /// longer counts toward the time left.
    pub fn file_done(&mut self, ok: bool) {
        self.recount(self.current);
        self.finished_bytes = self.finished_bytes.saturating_add(self.current);
        self.bar.set_position(self.finished_bytes);
        self.finished_files += 1;
        self.failed += u64::from(!ok);
        self.counted = 0;
        self.current = 0;
        self.bar.set_message("");
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

    /// Makes the total count `size` bytes for the current file instead of
    /// what it counted.
    fn recount(&mut self, size: u64) {
        let others = self.bar.length().unwrap_or(0).saturating_sub(self.counted);
        self.bar.set_length(others.saturating_add(size));
        self.counted = size;
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
        p.file_started("a", 10);
        p.file_bytes(4, 10);
        assert_eq!(shown(&p), (4, 10, "0/1 files".into()));
    }

    #[test]
    fn files_and_bytes_add_up_over_a_batch_with_a_failure() {
        let mut p = BatchProgress::new(3, 100, false);
        assert_eq!(shown(&p), (0, 100, "0/3 files".into()));
        p.file_started("a", 50);
        p.file_bytes(25, 50);
        assert_eq!(shown(&p), (25, 100, "0/3 files".into()));
        p.file_bytes(50, 50);
        p.file_done(true);
        assert_eq!(shown(&p), (50, 100, "1/3 files".into()));
        // 10 of 30 bytes move, then the file fails: its other 20 bytes
        // leave the total.
        p.file_started("b", 30);
        p.file_bytes(10, 30);
        p.file_done(false);
        assert_eq!(shown(&p), (60, 80, "2/3 files, 1 failed".into()));
        // The last file turns out larger than planned.
        p.file_started("c", 20);
        p.file_bytes(0, 25);
        assert_eq!(shown(&p), (60, 85, "2/3 files, 1 failed".into()));
        p.file_bytes(25, 25);
        p.file_done(true);
        assert_eq!(shown(&p), (85, 85, "3/3 files, 1 failed".into()));
        p.finish();
    }

    #[test]
    fn a_file_refused_before_a_byte_moved_leaves_the_total() {
        let mut p = BatchProgress::new(2, 30, false);
        p.file_started("too-big", 20);
        p.file_done(false);
        assert_eq!(shown(&p), (0, 10, "1/2 files, 1 failed".into()));
    }

    #[test]
    fn a_retry_starting_over_moves_the_bar_back() {
        let mut p = BatchProgress::new(2, 100, false);
        p.file_started("a", 40);
        p.file_bytes(40, 40);
        p.file_done(true);
        p.file_started("b", 60);
        p.file_bytes(30, 60);
        p.file_bytes(0, 60);
        assert_eq!(shown(&p).0, 40);
    }

    #[test]
    fn sizes_learnt_when_each_file_starts_build_the_total() {
        // A download of named files: no size is known up front.
        let mut p = BatchProgress::new(2, 0, false);
        p.file_started("a", 0);
        p.file_bytes(5, 10);
        assert_eq!(shown(&p), (5, 10, "0/2 files".into()));
        p.file_bytes(10, 10);
        p.file_done(true);
        p.file_started("b", 0);
        p.file_bytes(1, 7);
        assert_eq!(shown(&p), (11, 17, "1/2 files".into()));
    }

    #[test]
    fn the_largest_size_a_peer_can_announce_saturates_without_a_panic() {
        let mut p = BatchProgress::new(2, 10, false);
        p.file_started("a", 0);
        p.file_bytes(u64::MAX, u64::MAX);
        assert_eq!(shown(&p).1, u64::MAX);
        p.file_done(false);
        p.file_started("b", 10);
        p.file_bytes(u64::MAX, 10);
        assert_eq!(shown(&p).0, u64::MAX);
    }

    #[test]
    fn the_name_shown_is_escaped_for_the_terminal() {
        let mut p = BatchProgress::new(1, 1, false);
        p.file_started("a\x1b[2Jb\n", 1);
        assert_eq!(p.bar.message(), "a\\u{1b}[2Jb\\u{a}");
        p.file_done(true);
        assert_eq!(p.bar.message(), "");
    }

    #[test]
    fn suspend_runs_the_closure_and_returns_its_value() {
        let p = BatchProgress::new(1, 1, false);
        assert_eq!(p.suspend(|| 7), 7);
    }
}
