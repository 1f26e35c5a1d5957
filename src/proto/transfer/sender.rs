//! The sending side of one file: OFFER sent → ACCEPT → CHUNK… END →
//! RESULT. Pure: it checks what the peer may send and what the
//! application may send next; the connection seals the messages.

use super::Progress;
use crate::proto::msgs::{Outcome, ResultCode};
use crate::proto::{ProtoError, TransferError, CHUNK_LEN};

enum State {
    /// OFFER sent; waiting for ACCEPT or a refusal.
    AwaitAccept { size: u64 },
    /// Accepted; the application supplies the data.
    Sending(Progress),
    /// END sent; waiting for the receiver's RESULT.
    AwaitResult,
}

/// One file being sent.
pub struct Sender(State);

impl Sender {
    /// A file of `size` bytes has just been offered.
    pub fn offered(size: u64) -> Self {
        Sender(State::AwaitAccept { size })
    }

    /// A short name of the state, for error messages.
    pub fn state_name(&self) -> &'static str {
        match self.0 {
            State::AwaitAccept { .. } => "awaiting ACCEPT",
            State::Sending(_) => "sending file data",
            State::AwaitResult => "awaiting RESULT",
        }
    }

    /// The peer accepted at `offset`. Returns the END hash to send at once
    /// for an empty file.
    ///
    /// # Errors
    /// `UnexpectedMessage` unless awaiting ACCEPT; `Transfer(ResumeOffset)`
    /// for an offset other than 0; `Crypto` if the hash cannot start.
    pub fn on_accept(&mut self, offset: u64) -> Result<Option<[u8; 32]>, ProtoError> {
        let State::AwaitAccept { size } = self.0 else {
            return Err(self.unexpected("ACCEPT"));
        };
        if offset != 0 {
            return Err(ProtoError::Transfer(TransferError::ResumeOffset));
        }
        let progress = Progress::new(size)?;
        if progress.complete() {
            self.0 = State::AwaitResult;
            return Ok(Some(progress.finish()?));
        }
        self.0 = State::Sending(progress);
        Ok(None)
    }

    /// Whether the application should supply data.
    pub fn wants_data(&self) -> bool {
        matches!(&self.0, State::Sending(p) if !p.complete())
    }

    /// Accounts for the next `data` (1 to [`CHUNK_LEN`] bytes). Returns its
    /// offset, and the whole-file SHA-256 when it was the last byte (END
    /// follows).
    ///
    /// # Errors
    /// `InvalidCall` unless sending, for empty or oversize `data`, or data
    /// past the announced size (nothing changes); `Crypto` from the hash.
    pub fn chunk(&mut self, data: &[u8]) -> Result<(u64, Option<[u8; 32]>), ProtoError> {
        let mut progress = match std::mem::replace(&mut self.0, State::AwaitResult) {
            State::Sending(p) => p,
            other => {
                self.0 = other;
                return Err(ProtoError::InvalidCall("not sending a file"));
            }
        };
        let fits = progress
            .done()
            .checked_add(data.len() as u64)
            .is_some_and(|end| end <= progress.size());
        if data.is_empty() || data.len() > CHUNK_LEN || !fits {
            self.0 = State::Sending(progress);
            return Err(ProtoError::InvalidCall(
                "data chunk empty, too large, or past the announced size",
            ));
        }
        let offset = progress.done();
        let added = progress.add(offset, data);
        if added.is_err() || !progress.complete() {
            self.0 = State::Sending(progress);
            return added.map(|()| (offset, None));
        }
        Ok((offset, Some(progress.finish()?)))
    }

    /// The receiver's RESULT arrived: a refusal of the offer, or the answer
    /// after END. The operation is over either way.
    ///
    /// # Errors
    /// `Transfer(OkEarly)` for Ok before END; `UnexpectedMessage` while
    /// data is still being sent.
    pub fn on_result(&self, outcome: &Outcome) -> Result<(), ProtoError> {
        match self.0 {
            State::AwaitAccept { .. } if outcome.code == ResultCode::Ok => {
                Err(ProtoError::Transfer(TransferError::OkEarly))
            }
            State::AwaitAccept { .. } | State::AwaitResult => Ok(()),
            State::Sending(_) => Err(self.unexpected("RESULT")),
        }
    }

    fn unexpected(&self, got: &'static str) -> ProtoError {
        ProtoError::UnexpectedMessage {
            got,
            state: self.state_name(),
        }
    }
}
