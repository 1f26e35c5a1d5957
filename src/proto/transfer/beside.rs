//! [`StreamHash`]: the whole-file SHA-256 of a file in flight, computed
//! beside the stream when a core is spare. A large file's bytes are copied
//! to a helper thread that hashes them in order, so the side moving the
//! file pays a copy (about a tenth of what hashing costs) instead of the
//! hash, and a transfer's critical path is the larger of hashing and the
//! network-and-AEAD work rather than their sum. Nothing changes on the
//! wire: the digest is the same, and it is asked for only at END.
//!
//! Helpers are few and bounded: at most one fewer than the cores
//! (none on a one-core host: everything stays inline and costs nothing
//! extra), each holding at most [`POOL`] chunks.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::OnceLock;
use std::thread::{self, JoinHandle};

use crate::crypto::hash::{Sha256, DIGEST_LEN};
use crate::crypto::CryptoError;

/// Least number of bytes left to hash for a helper to be worth its thread
/// (4 MiB, about 2.5 ms of hashing here, against tens of microseconds to
/// start a thread).
pub const BESIDE_MIN: u64 = 4 << 20;

/// Chunks queued for a helper at most (2); the stream waits past that, so
/// a slow helper slows the transfer instead of growing memory.
const DEPTH: usize = 2;

/// Chunk buffers one helper ever has: those queued, the one it hashes and
/// the one being filled. Made as needed, then reused.
const POOL: usize = DEPTH + 2;

/// Helper slots taken: the process's own, and a test's.
struct Slots(AtomicUsize);

/// Helpers running now, in the whole process.
static RUNNING: Slots = Slots(AtomicUsize::new(0));

/// Helpers allowed at once: the cores less one (the stream's own).
fn allowed() -> usize {
    static CORES: OnceLock<usize> = OnceLock::new();
    let cores = *CORES.get_or_init(|| thread::available_parallelism().map_or(1, |n| n.get()));
    cores - 1
}

impl Slots {
    /// Takes a slot if fewer than `allowed` are taken.
    fn take(&self, allowed: usize) -> bool {
        self.0
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < allowed).then_some(n + 1)
            })
            .is_ok()
    }

    fn release(&self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A running SHA-256, inline or on a helper thread.
pub enum StreamHash {
    /// Hashed by the caller as the bytes pass.
    Inline(Sha256),
    /// Hashed by a helper thread.
    Beside(Beside),
}

impl StreamHash {
    /// Goes on with `hash` for `left` more bytes: beside the stream when
    /// `left` is at least [`BESIDE_MIN`] and a helper slot is free (and
    /// the thread starts), inline otherwise.
    pub fn new(hash: Sha256, left: u64) -> Self {
        Self::with_helpers(hash, left, &RUNNING, allowed())
    }

    fn with_helpers(hash: Sha256, left: u64, slots: &'static Slots, allowed: usize) -> Self {
        if left < BESIDE_MIN || !slots.take(allowed) {
            return StreamHash::Inline(hash);
        }
        match Beside::spawn(slots) {
            Some(beside) => {
                // The helper waits for its starting state first.
                match beside.start.send(hash) {
                    Ok(()) => StreamHash::Beside(beside),
                    Err(mpsc::SendError(hash)) => StreamHash::Inline(hash),
                }
            }
            None => {
                slots.release();
                StreamHash::Inline(hash)
            }
        }
    }

    /// Absorbs `data`.
    ///
    /// # Errors
    /// `CryptoError` from OpenSSL (inline); a helper's error shows at
    /// [`StreamHash::finish`].
    pub fn update(&mut self, data: &[u8]) -> Result<(), CryptoError> {
        match self {
            StreamHash::Inline(h) => h.update(data),
            StreamHash::Beside(b) => {
                b.update(data);
                Ok(())
            }
        }
    }

    /// The digest of everything absorbed (waits for a helper to catch up:
    /// at most [`DEPTH`] + 1 chunks).
    ///
    /// # Errors
    /// `CryptoError` from OpenSSL, on either thread.
    pub fn finish(self) -> Result<[u8; DIGEST_LEN], CryptoError> {
        match self {
            StreamHash::Inline(h) => h.finish(),
            StreamHash::Beside(b) => b.finish(),
        }
    }
}

/// A helper thread hashing chunks in the order they are sent.
pub struct Beside {
    start: SyncSender<Sha256>,
    chunks: Option<SyncSender<Vec<u8>>>,
    /// Chunk buffers the helper is done with, for reuse.
    spare: Receiver<Vec<u8>>,
    /// Chunk buffers made so far (at most [`POOL`]).
    made: usize,
    thread: Option<JoinHandle<Result<[u8; DIGEST_LEN], CryptoError>>>,
}

impl Beside {
    /// Starts the thread (it waits for its starting state); `None` if the
    /// system will not start one.
    fn spawn(slots: &'static Slots) -> Option<Self> {
        let (start, start_rx) = mpsc::sync_channel::<Sha256>(1);
        let (chunks, chunks_rx) = mpsc::sync_channel::<Vec<u8>>(DEPTH);
        let (spare_tx, spare) = mpsc::channel();
        let thread = thread::Builder::new()
            .name("sft-hash-beside".into())
            .spawn(move || {
                let result = (|| {
                    let Ok(mut hash) = start_rx.recv() else {
                        return Err(CryptoError::HelperLost);
                    };
                    let mut failed = None;
                    for chunk in chunks_rx.iter() {
                        if failed.is_none() {
                            failed = hash.update(&chunk).err();
                        }
                        let _ = spare_tx.send(chunk);
                    }
                    match failed {
                        Some(e) => Err(e),
                        None => hash.finish(),
                    }
                })();
                slots.release();
                result
            })
            .ok()?;
        Some(Beside {
            start,
            chunks: Some(chunks),
            spare,
            made: 0,
            thread: Some(thread),
        })
    }

    fn update(&mut self, data: &[u8]) {
        let mut chunk = match self.spare.try_recv() {
            Ok(chunk) => chunk,
            Err(_) if self.made < POOL => {
                self.made += 1;
                Vec::with_capacity(data.len())
            }
            // All in use: wait for the helper to be done with one (or,
            // should it have ended, let finish say why).
            Err(_) => self.spare.recv().unwrap_or_default(),
        };
        chunk.clear();
        chunk.extend_from_slice(data);
        if let Some(chunks) = &self.chunks {
            // A helper that ended early has failed; finish says why.
            let _ = chunks.send(chunk);
        }
    }

    fn finish(mut self) -> Result<[u8; DIGEST_LEN], CryptoError> {
        self.chunks = None;
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(result)) => result,
            _ => Err(CryptoError::HelperLost),
        }
    }
}

impl Drop for Beside {
    /// A file abandoned mid-way: the helper hashes what is queued (at most
    /// [`DEPTH`] chunks), frees its slot and ends before this returns.
    fn drop(&mut self) {
        self.chunks = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::hash::sha256;

    fn bytes(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 31 % 251) as u8).collect()
    }

    fn hash_in_chunks(mut h: StreamHash, data: &[u8], chunk: usize) -> [u8; 32] {
        for piece in data.chunks(chunk) {
            h.update(piece).unwrap();
        }
        h.finish().unwrap()
    }

    #[test]
    fn beside_gives_the_same_digest_as_inline_from_any_starting_state() {
        static SLOTS: Slots = Slots(AtomicUsize::new(0));
        let data = bytes(5 << 20);
        let want = sha256(&data).unwrap();
        // From the start, and resumed after a prefix, in uneven chunks.
        let h = StreamHash::with_helpers(Sha256::new().unwrap(), BESIDE_MIN, &SLOTS, 1);
        assert!(matches!(h, StreamHash::Beside(_)));
        assert_eq!(hash_in_chunks(h, &data, 256 * 1024 - 7), want);
        let mut prefix = Sha256::new().unwrap();
        prefix.update(&data[..1000]).unwrap();
        let h = StreamHash::with_helpers(prefix, BESIDE_MIN, &SLOTS, 1);
        assert!(matches!(h, StreamHash::Beside(_)));
        assert_eq!(hash_in_chunks(h, &data[1000..], 4096), want);
    }

    #[test]
    fn under_the_size_or_past_the_helpers_allowed_the_hash_is_inline() {
        static SLOTS: Slots = Slots(AtomicUsize::new(0));
        let small = StreamHash::with_helpers(Sha256::new().unwrap(), BESIDE_MIN - 1, &SLOTS, 1);
        assert!(matches!(small, StreamHash::Inline(_)));
        let one_core = StreamHash::with_helpers(Sha256::new().unwrap(), BESIDE_MIN, &SLOTS, 0);
        assert!(matches!(one_core, StreamHash::Inline(_)));
        let data = bytes(1000);
        assert_eq!(hash_in_chunks(one_core, &data, 100), sha256(&data).unwrap());
        // One allowed: the first takes it, the second hashes inline.
        let first = StreamHash::with_helpers(Sha256::new().unwrap(), BESIDE_MIN, &SLOTS, 1);
        assert!(matches!(first, StreamHash::Beside(_)));
        let second = StreamHash::with_helpers(Sha256::new().unwrap(), BESIDE_MIN, &SLOTS, 1);
        assert!(matches!(second, StreamHash::Inline(_)));
        // A file abandoned mid-way frees its slot when dropped.
        let StreamHash::Beside(mut first) = first else {
            unreachable!()
        };
        first.update(&data);
        drop(first);
        assert_eq!(SLOTS.0.load(Ordering::Acquire), 0);
        let again = StreamHash::with_helpers(Sha256::new().unwrap(), BESIDE_MIN, &SLOTS, 1);
        assert!(matches!(again, StreamHash::Beside(_)));
    }
}
