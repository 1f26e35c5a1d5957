//! The hasher thread: the slow steps of resuming and of keeping partials
//! run here, in order, so the event loop keeps every other connection
//! moving. It hashes the held prefix of a partial upload or of a file asked
//! for with a held prefix (1 GiB is about a second of SHA-256), and sweeps
//! expired partials. Answers come back through a channel and the loop's
//! waker, like the committer's.

use std::fs::File;
use std::io;
use std::sync::mpsc;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use log::{info, warn};
use mio::{Token, Waker};

use super::downloads::on_download_hashed;
use super::peer::{log_end, Hashing};
use super::uploads::on_upload_hashed;
use super::Server;
use crate::crypto::hash::{Sha256, DIGEST_LEN};
use crate::fs::{hash_prefix, FsError, ReceiveRoot};

/// Work for the hasher thread, done in order.
pub(super) enum HashJob {
    /// Hash bytes `[0, len)` of `file` for connection `token`.
    Prefix { token: Token, file: File, len: u64 },
    /// Remove the partials of `root` not modified for `max_age`.
    Sweep {
        root: Arc<ReceiveRoot>,
        max_age: Duration,
    },
}

/// A prefix's hash: the state that absorbed it, and its digest.
pub(super) type PrefixHash = io::Result<(Sha256, [u8; DIGEST_LEN])>;

/// The hasher's answer.
pub(super) enum Hashed {
    /// The prefix hashed for connection `token` (which may have gone).
    Prefix { token: Token, result: PrefixHash },
    /// How many expired partials a sweep removed.
    Swept(Result<usize, FsError>),
}

/// Starts the hasher thread; it wakes `waker` after each job and ends
/// when the job sender is dropped.
pub(super) fn spawn_hasher(
    waker: Arc<Waker>,
) -> io::Result<(mpsc::Sender<HashJob>, mpsc::Receiver<Hashed>)> {
    let (job_tx, job_rx) = mpsc::channel::<HashJob>();
    let (done_tx, done_rx) = mpsc::channel();
    thread::Builder::new()
        .name("sft-hash".into())
        .spawn(move || {
            for job in job_rx {
                let done = match job {
                    HashJob::Prefix { token, file, len } => Hashed::Prefix {
                        token,
                        result: hash_prefix(&file, len),
                    },
                    HashJob::Sweep { root, max_age } => Hashed::Swept(root.sweep_partials(max_age)),
                };
                if done_tx.send(done).is_err() {
                    return;
                }
                let _ = waker.wake();
            }
        })?;
    Ok((job_tx, done_rx))
}

/// Longest time between two sweeps of expired partials (1 h).
const MAX_SWEEP_EVERY: Duration = Duration::from_secs(60 * 60);

/// Shortest time between two sweeps (1 s), whatever the ttl: a sweep
/// lists the root.
const MIN_SWEEP_EVERY: Duration = Duration::from_secs(1);

/// How often partials are swept when they expire after `ttl`: a quarter
/// of it, from [`MIN_SWEEP_EVERY`] to [`MAX_SWEEP_EVERY`], so a partial is
/// removed at most a quarter (or an hour) past its time.
pub(super) fn sweep_every(ttl: Duration) -> Duration {
    (ttl / 4).clamp(MIN_SWEEP_EVERY, MAX_SWEEP_EVERY)
}

impl Server {
    /// Takes the hasher's answers: logs a sweep that removed partials,
    /// and gives each hashed prefix to its session (if it is still there
    /// and waits for it), which then answers its request and has a turn.
    pub(super) fn finish_hashes(&mut self) {
        while let Ok(done) = self.hashed.try_recv() {
            let (token, result) = match done {
                Hashed::Swept(Ok(0)) => continue,
                Hashed::Swept(Ok(n)) => {
                    info!("swept {n} expired partial file(s)");
                    continue;
                }
                Hashed::Swept(Err(e)) => {
                    warn!("sweeping expired partial files: {e}");
                    continue;
                }
                Hashed::Prefix { token, result } => (token, result),
            };
            let Some(peer) = self.peers.get_mut(&token) else {
                continue;
            };
            let s = &mut peer.session;
            let answered = match s.hashing.take() {
                Some(Hashing::Upload) => on_upload_hashed(s, result),
                Some(Hashing::Download(dl)) => on_download_hashed(s, Instant::now(), *dl, result),
                None => continue,
            };
            match answered {
                Ok(()) => self.service(token),
                Err(e) => {
                    log_end(s, &e, &mut self.shared.refusals, Instant::now());
                    self.drop_peer(token);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partials_are_swept_every_quarter_of_their_ttl_and_at_least_hourly() {
        let min = Duration::from_secs;
        assert_eq!(sweep_every(min(60)), min(15));
        // At the hour: a ttl of 4 h gives exactly 1 h; one second more
        // would give more, and is held to the hour.
        assert_eq!(sweep_every(min(4 * 3600)), MAX_SWEEP_EVERY);
        assert_eq!(sweep_every(min(4 * 3600 + 4)), MAX_SWEEP_EVERY);
        assert_eq!(sweep_every(min(4 * 3600 - 4)), min(3600 - 1));
        assert_eq!(sweep_every(min(30 * 86_400)), MAX_SWEEP_EVERY);
        // At the second: a ttl of 4 s gives exactly 1 s; less is held to
        // the second (through the API; the flag takes a minute at least).
        assert_eq!(sweep_every(min(4)), MIN_SWEEP_EVERY);
        assert_eq!(
            sweep_every(min(4) - Duration::from_nanos(4)),
            MIN_SWEEP_EVERY
        );
        assert_eq!(sweep_every(Duration::ZERO), MIN_SWEEP_EVERY);
        assert_eq!(sweep_every(min(8)), min(2));
    }
}
