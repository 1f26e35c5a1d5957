//! Ctrl-C and SIGTERM for a client command.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use sft::net::client::Session;
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use crate::cli::error::Exit;

/// Ctrl-C and SIGTERM for a client command, watched from before it
/// connects. Until a session takes over ([`Interrupts::cancel_session`]) a
/// signal ends the process at once with exit 130: nothing has moved yet
/// (connecting, the trust prompt, the waits between busy refusals).
pub(super) struct Interrupts {
    /// Whether the next signal ends the process at once.
    exit_now: Arc<AtomicBool>,
}

impl Interrupts {
    /// Starts watching. Call once per process: each call adds handlers.
    pub(super) fn watch() -> Interrupts {
        let exit_now = Arc::new(AtomicBool::new(true));
        for sig in [SIGINT, SIGTERM] {
            let _ = signal_hook::flag::register_conditional_shutdown(
                sig,
                i32::from(Exit::Interrupted.code()),
                exit_now.clone(),
            );
            let _ = signal_hook::flag::register(sig, exit_now.clone());
        }
        Interrupts { exit_now }
    }

    /// From now on a signal stops `session` cleanly (a partial download is
    /// kept for the next run to resume), waking it if it is waiting, and a second one ends the
    /// process at once.
    pub(super) fn cancel_session(self, session: &Session) {
        let canceller = session.canceller();
        if let Ok(mut signals) = Signals::new([SIGINT, SIGTERM]) {
            let c = canceller.clone();
            std::thread::spawn(move || {
                for _ in signals.forever() {
                    c.cancel();
                }
            });
            // Only now: a signal before this still ended the process, and
            // one after it is queued for the thread.
            self.exit_now.store(false, Ordering::SeqCst);
        }
    }
}
