//! The sending side of one file: OFFER sent, then CHUNK… and END at once,
//! without waiting for the receiver (PROTOCOL.md §4.3). Pure: it checks
//! what the application may send next; the connection seals the messages.

use super::Progress;
use crate::crypto::hash::Sha256;
use crate::proto::{ProtoError, CHUNK_LEN};

/// One file being sent: its byte accounting and running hash until END.
pub struct Sender(Option<Progress>);

impl Sender {
    /// Starts a file of `size` bytes just offered. For an empty file the
    /// whole-file SHA-256 is returned at once (END follows the OFFER) and
    /// the sender is done.
    ///
    /// # Errors
    /// `Crypto` if the hash cannot start.
    pub fn start(size: u64) -> Result<(Self, Option<[u8; 32]>), ProtoError> {
        Self::from_progress(Progress::new(size)?)
    }

    /// Goes on with a file of `size` bytes from `offset`, both sides
    /// holding the bytes before it (`hash` has absorbed exactly those).
    /// When nothing remains, the whole-file SHA-256 is returned at once.
    ///
    /// # Errors
    /// `InvalidCall` when `offset` is past `size`; `Crypto`.
    pub fn resumed(
        size: u64,
        offset: u64,
        hash: Sha256,
    ) -> Result<(Self, Option<[u8; 32]>), ProtoError> {
        Self::from_progress(Progress::resumed(size, offset, hash)?)
    }

    fn from_progress(progress: Progress) -> Result<(Self, Option<[u8; 32]>), ProtoError> {
        if progress.complete() {
            return Ok((Sender(None), Some(progress.finish()?)));
        }
        Ok((Sender(Some(progress)), None))
    }

    /// A short name of the state, for error messages.
    pub fn state_name(&self) -> &'static str {
        match self.0 {
            Some(_) => "sending file data",
            None => "file data sent",
        }
    }

    /// Whether the application should supply data (bytes remain).
    pub fn wants_data(&self) -> bool {
        self.0.as_ref().is_some_and(|p| !p.complete())
    }

    /// Accounts for the next `data` (1 to [`CHUNK_LEN`] bytes). Returns its
    /// offset, and the whole-file SHA-256 when it was the last byte (END
    /// follows and the sender is done).
    ///
    /// # Errors
    /// `InvalidCall` when done, for empty or oversize `data`, or data past
    /// the announced size (nothing changes); `Crypto` from the hash.
    pub fn chunk(&mut self, data: &[u8]) -> Result<(u64, Option<[u8; 32]>), ProtoError> {
        let Some(progress) = &mut self.0 else {
            return Err(ProtoError::InvalidCall("not sending a file"));
        };
        let fits = progress
            .done()
            .checked_add(data.len() as u64)
            .is_some_and(|end| end <= progress.size());
        if data.is_empty() || data.len() > CHUNK_LEN || !fits {
            return Err(ProtoError::InvalidCall(
                "data chunk empty, too large, or past the announced size",
            ));
        }
        let offset = progress.done();
        progress.add(offset, data)?;
        if !progress.complete() {
            return Ok((offset, None));
        }
        let done = self.0.take().map(Progress::finish).transpose()?;
        Ok((offset, done))
    }
}
