//! The hasher thread: the slow steps of resuming and of keeping partials
//! run here, so the event loop keeps every other connection moving. It
//! hashes the held prefix of a partial upload or of a file asked for with
//! a held prefix (1 GiB is about a second of SHA-256), sharing itself
//! fairly between client keys and dropping the work of a connection that
//! has gone, and sweeps expired partials. Answers come back through a
//! channel and the loop's waker, like the committer's.

use crate::aligned::AlignedBuf;
use std::collections::VecDeque;
use std::fs::File;
use std::io;
use std::sync::mpsc;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use log::{info, warn};
use mio::{Token, Waker};

use super::downloads::on_download_hashed;
use super::peer::{log_end, Hashing, Session, Shared};
use super::uploads::on_upload_hashed;
use super::Server;
use crate::crypto::hash::{Sha256, DIGEST_LEN};
use crate::fs::{hash_range, FsError, ReceiveRoot};

/// Work for the hasher thread.
pub(super) enum HashJob {
    /// Hash bytes `[0, len)` of `file` for connection `token`, whose
    /// client key is `owner`.
    Prefix {
        token: Token,
        owner: [u8; 32],
        file: File,
        len: u64,
    },
    /// Connection `token` has gone: drop its prefix job, if any.
    Cancel { token: Token },
    /// Remove the partials of `root` not modified for `max_age`.
    Sweep {
        root: Arc<ReceiveRoot>,
        max_age: Duration,
    },
}

/// Has the hasher hash bytes `[0, len)` of `file` for `s` (connection
/// `token`; its client key decides whose turn it is). Returns whether the
/// job was queued (not when the hasher thread has gone).
pub(super) fn queue_prefix(
    shared: &Shared,
    s: &Session,
    token: Token,
    file: File,
    len: u64,
) -> bool {
    let job = HashJob::Prefix {
        token,
        owner: s.key.unwrap_or_default(),
        file,
        len,
    };
    shared.hasher.send(job).is_ok()
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

/// Bytes hashed for one job before the next client key's turn: 8 MiB
/// (about 7 ms here), so one key's gigabytes never hold up another's
/// resume for longer than that.
const SLICE: u64 = 8 << 20;

/// Bytes read at a time: 256 KiB.
const PIECE: usize = 256 * 1024;

/// A prefix being hashed.
struct Running {
    token: Token,
    file: File,
    len: u64,
    /// Bytes hashed so far.
    hashed: u64,
    state: Sha256,
}

impl Running {
    /// Hashes up to the next [`SLICE`] bytes; `true` once every byte is
    /// in (or on an error: a file now shorter than `len` is
    /// `UnexpectedEof`).
    fn step(&mut self, buf: &mut [u8]) -> io::Result<bool> {
        let stop = self.len.min(self.hashed.saturating_add(SLICE));
        hash_range(&self.file, &mut self.state, self.hashed..stop, buf)?;
        self.hashed = stop;
        Ok(self.hashed == self.len)
    }

    /// The hash once done: the state and the prefix's digest.
    fn finish(self) -> PrefixHash {
        let digest = self.state.digest_so_far().map_err(io::Error::other)?;
        Ok((self.state, digest))
    }
}

/// The prefixes being hashed, one queue per client key, served in turn a
/// [`SLICE`] at a time: a key that asks for many (or huge) prefixes gets
/// its share of the thread, never all of it.
#[derive(Default)]
struct Queues(VecDeque<([u8; 32], VecDeque<Running>)>);

impl Queues {
    fn push(&mut self, owner: [u8; 32], job: Running) {
        match self.0.iter_mut().find(|(k, _)| *k == owner) {
            Some((_, jobs)) => jobs.push_back(job),
            None => self.0.push_back((owner, VecDeque::from([job]))),
        }
    }

    fn cancel(&mut self, token: Token) {
        for (_, jobs) in &mut self.0 {
            jobs.retain(|j| j.token != token);
        }
        self.0.retain(|(_, jobs)| !jobs.is_empty());
    }

    /// One slice of the next key's oldest job; the job's answer once it
    /// is done. The key then goes to the back of the line.
    fn step(&mut self, buf: &mut [u8]) -> Option<Hashed> {
        let (owner, mut jobs) = self.0.pop_front()?;
        let mut answer = None;
        if let Some(job) = jobs.front_mut() {
            let step = job.step(buf);
            if !matches!(step, Ok(false)) {
                let job = jobs.pop_front()?;
                let token = job.token;
                let result = step.and_then(|_| job.finish());
                answer = Some(Hashed::Prefix { token, result });
            }
        }
        if !jobs.is_empty() {
            self.0.push_back((owner, jobs));
        }
        answer
    }
}

/// Starts the hasher thread; it wakes `waker` after each answer and ends
/// when the job sender is dropped.
pub(super) fn spawn_hasher(
    waker: Arc<Waker>,
) -> io::Result<(mpsc::Sender<HashJob>, mpsc::Receiver<Hashed>)> {
    let (job_tx, job_rx) = mpsc::channel::<HashJob>();
    let (done_tx, done_rx) = mpsc::channel();
    thread::Builder::new()
        .name("sft-hash".into())
        .spawn(move || {
            let mut queues = Queues::default();
            let mut buf = AlignedBuf::new(PIECE);
            loop {
                // Wait for work only when there is none.
                let first = if queues.0.is_empty() {
                    match job_rx.recv() {
                        Ok(job) => Some(job),
                        Err(_) => return,
                    }
                } else {
                    None
                };
                // The jobs sent meanwhile; the server gone (the sender
                // dropped) leaves nobody to answer.
                let mut jobs: Vec<HashJob> = first.into_iter().collect();
                loop {
                    match job_rx.try_recv() {
                        Ok(job) => jobs.push(job),
                        Err(mpsc::TryRecvError::Empty) => break,
                        Err(mpsc::TryRecvError::Disconnected) => return,
                    }
                }
                let mut answers = Vec::new();
                for job in jobs {
                    match job {
                        HashJob::Prefix {
                            token,
                            owner,
                            file,
                            len,
                        } => match Sha256::new() {
                            Ok(state) => queues.push(
                                owner,
                                Running {
                                    token,
                                    file,
                                    len,
                                    hashed: 0,
                                    state,
                                },
                            ),
                            Err(e) => answers.push(Hashed::Prefix {
                                token,
                                result: Err(io::Error::other(e)),
                            }),
                        },
                        HashJob::Cancel { token } => queues.cancel(token),
                        HashJob::Sweep { root, max_age } => {
                            answers.push(Hashed::Swept(root.sweep_partials(max_age)));
                        }
                    }
                }
                answers.extend(queues.step(&mut buf));
                if answers.is_empty() {
                    continue;
                }
                for answer in answers {
                    if done_tx.send(answer).is_err() {
                        return;
                    }
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
                Some(Hashing::Download(dl)) => {
                    on_download_hashed(s, &self.shared, Instant::now(), *dl, result)
                }
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
    use std::io::Write;

    fn file_of(len: usize) -> (File, Vec<u8>) {
        let bytes: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(&bytes).unwrap();
        (f, bytes)
    }

    fn job(token: usize, file: &File, len: u64) -> Running {
        Running {
            token: Token(token),
            file: file.try_clone().unwrap(),
            len,
            hashed: 0,
            state: Sha256::new().unwrap(),
        }
    }

    fn done(h: Option<Hashed>) -> Option<(usize, PrefixHash)> {
        match h? {
            Hashed::Prefix { token, result } => Some((token.0, result)),
            Hashed::Swept(_) => None,
        }
    }

    #[test]
    fn keys_take_turns_a_slice_at_a_time_and_a_cancelled_job_is_never_answered() {
        let big = 3 * SLICE as usize + 1;
        let (f, bytes) = file_of(big);
        let mut q = Queues::default();
        let mut buf = vec![0u8; PIECE];
        // Key A asks for a prefix of 3 slices and a byte, then another; key
        // B for one small prefix after them.
        q.push([1; 32], job(1, &f, big as u64));
        q.push([1; 32], job(2, &f, 10));
        q.push([2; 32], job(3, &f, 100));
        // A's first slice, then B's whole (small) job: B waits one slice.
        assert!(done(q.step(&mut buf)).is_none());
        let (token, result) = done(q.step(&mut buf)).unwrap();
        assert_eq!(token, 3);
        let (_, digest) = result.unwrap();
        assert_eq!(digest, crate::crypto::hash::sha256(&bytes[..100]).unwrap());
        // Job 2 is cancelled (its connection went) before its turn.
        q.cancel(Token(2));
        // A's remaining slices: 2 more full and the last byte.
        assert!(done(q.step(&mut buf)).is_none());
        assert!(done(q.step(&mut buf)).is_none());
        let (token, result) = done(q.step(&mut buf)).unwrap();
        assert_eq!(token, 1);
        let (mut state, digest) = result.unwrap();
        assert_eq!(digest, crate::crypto::hash::sha256(&bytes).unwrap());
        // The state goes on to a longer file's hash.
        state.update(b"x").unwrap();
        let mut longer = bytes.clone();
        longer.push(b'x');
        assert_eq!(
            state.finish().unwrap(),
            crate::crypto::hash::sha256(&longer).unwrap()
        );
        assert!(q.0.is_empty(), "job 2 was dropped, not answered");
        assert!(q.step(&mut buf).is_none());
    }

    #[test]
    fn a_prefix_past_the_end_of_its_file_is_an_error() {
        let (f, _) = file_of(10);
        let mut q = Queues::default();
        q.push([1; 32], job(7, &f, 11));
        let (token, result) = done(q.step(&mut vec![0u8; PIECE])).unwrap();
        assert_eq!(token, 7);
        assert!(
            matches!(&result, Err(e) if e.kind() == io::ErrorKind::UnexpectedEof),
            "a short file"
        );
        // Exactly the file's length is fine, and 0 bytes too.
        q.push([1; 32], job(8, &f, 10));
        q.push([2; 32], job(9, &f, 0));
        assert!(done(q.step(&mut vec![0u8; PIECE])).unwrap().1.is_ok());
        let (_, zero) = done(q.step(&mut vec![0u8; PIECE])).unwrap();
        assert_eq!(zero.unwrap().1, crate::proto::msgs::EMPTY_SHA256);
    }

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
