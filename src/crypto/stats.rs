//! Per-operation counters for the core layer: calls, bytes and failures.
//!
//! Relaxed atomics, one cache-friendly `fetch_add` per field per call, so
//! they stay on in the hot path. Read them with [`snapshot`].

use std::sync::atomic::{AtomicU64, Ordering};

/// A counted core-layer operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// AES-256-GCM seal; bytes = plaintext length.
    AeadSeal,
    /// AES-256-GCM open; bytes = ciphertext length.
    AeadOpen,
    /// X25519 key generation.
    X25519Keygen,
    /// X25519 shared-secret derivation.
    X25519Derive,
    /// Ed25519 signing; bytes = message length.
    Ed25519Sign,
    /// Ed25519 verification; bytes = message length.
    Ed25519Verify,
    /// HKDF-SHA256 extract or expand; bytes = output length.
    Hkdf,
    /// SHA-256 one-shot or streaming update; bytes = input length.
    Sha256,
    /// `RAND_bytes`; bytes = output length.
    Random,
}

impl Op {
    /// Every operation, in display order.
    pub const ALL: [Op; 9] = [
        Op::AeadSeal,
        Op::AeadOpen,
        Op::X25519Keygen,
        Op::X25519Derive,
        Op::Ed25519Sign,
        Op::Ed25519Verify,
        Op::Hkdf,
        Op::Sha256,
        Op::Random,
    ];

    /// Short stable name, for printing.
    pub fn name(self) -> &'static str {
        match self {
            Op::AeadSeal => "aes-256-gcm seal",
            Op::AeadOpen => "aes-256-gcm open",
            Op::X25519Keygen => "x25519 keygen",
            Op::X25519Derive => "x25519 derive",
            Op::Ed25519Sign => "ed25519 sign",
            Op::Ed25519Verify => "ed25519 verify",
            Op::Hkdf => "hkdf-sha256",
            Op::Sha256 => "sha-256",
            Op::Random => "rand_bytes",
        }
    }
}

struct Counters {
    calls: AtomicU64,
    bytes: AtomicU64,
    failures: AtomicU64,
}

#[allow(clippy::declare_interior_mutable_const)] // used only as an array initializer
const ZERO: Counters = Counters {
    calls: AtomicU64::new(0),
    bytes: AtomicU64::new(0),
    failures: AtomicU64::new(0),
};

static COUNTERS: [Counters; Op::ALL.len()] = [ZERO; Op::ALL.len()];

/// Counts one call of `op` over `bytes` bytes.
pub(crate) fn record(op: Op, bytes: usize, ok: bool) {
    let c = &COUNTERS[op as usize];
    c.calls.fetch_add(1, Ordering::Relaxed);
    c.bytes.fetch_add(bytes as u64, Ordering::Relaxed);
    if !ok {
        c.failures.fetch_add(1, Ordering::Relaxed);
    }
}

/// Counters of one operation at the time of a [`snapshot`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OpStats {
    /// Calls made, successful or not.
    pub calls: u64,
    /// Bytes processed (see [`Op`] for what counts).
    pub bytes: u64,
    /// Calls that returned an error.
    pub failures: u64,
}

/// All counters, read together (each is exact; they are not one atomic cut).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Snapshot([OpStats; Op::ALL.len()]);

impl Snapshot {
    /// The counters of `op`.
    pub fn get(&self, op: Op) -> OpStats {
        self.0[op as usize]
    }

    /// `(op, counters)` for every operation, in [`Op::ALL`] order.
    pub fn iter(&self) -> impl Iterator<Item = (Op, OpStats)> + '_ {
        Op::ALL.iter().map(move |&op| (op, self.get(op)))
    }
}

/// Reads every counter (process-wide totals since start).
pub fn snapshot() -> Snapshot {
    Snapshot(std::array::from_fn(|i| {
        let c = &COUNTERS[i];
        OpStats {
            calls: c.calls.load(Ordering::Relaxed),
            bytes: c.bytes.load(Ordering::Relaxed),
            failures: c.failures.load(Ordering::Relaxed),
        }
    }))
}
