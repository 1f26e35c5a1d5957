//! The receiving side of one file: OFFER received → (application accepts)
//! → CHUNK… END → (application answers). Pure: it checks every CHUNK and
//! END against the offer; the connection sends ACCEPT and RESULT.

use super::Progress;
use crate::proto::msgs;
use crate::proto::{ProtoError, TransferError, CHUNK_LEN};

enum State {
    /// Offered; the application must accept or refuse.
    Offered { size: u64 },
    /// Accepted; CHUNKs and then END arrive.
    Receiving(Progress),
    /// END matched; the application must answer with RESULT.
    Complete,
}

/// What a CHUNK or END did.
#[derive(Debug, PartialEq, Eq)]
pub enum Chunk {
    /// File data at this position of the CHUNK body (after the offset).
    Data(usize),
    /// END arrived and the SHA-256 matched: the file's SHA-256.
    Complete([u8; 32]),
    /// END arrived and the SHA-256 did not match; the data must be
    /// discarded (the operation is over).
    Corrupt,
}

/// One file being received.
pub struct Receiver(State);

impl Receiver {
    /// A file of `size` bytes has just been offered.
    pub fn offered(size: u64) -> Self {
        Receiver(State::Offered { size })
    }

    /// A short name of the state, for error messages.
    pub fn state_name(&self) -> &'static str {
        match self.0 {
            State::Offered { .. } => "deciding on an offered file",
            State::Receiving(_) => "receiving file data",
            State::Complete => "finishing a received file",
        }
    }

    /// Whether the offer awaits the application's decision.
    pub fn is_offered(&self) -> bool {
        matches!(self.0, State::Offered { .. })
    }

    /// Whether every byte arrived and matched, awaiting the answer.
    pub fn is_complete(&self) -> bool {
        matches!(self.0, State::Complete)
    }

    /// The application accepts the offer from offset 0.
    ///
    /// # Errors
    /// `InvalidCall` unless offered; `Crypto` if the hash cannot start.
    pub fn accept(&mut self) -> Result<(), ProtoError> {
        let State::Offered { size } = self.0 else {
            return Err(ProtoError::InvalidCall("no offer awaits acceptance"));
        };
        self.0 = State::Receiving(Progress::new(size)?);
        Ok(())
    }

    /// A CHUNK (`t` = CHUNK) or END body from the peer. After an error
    /// the receiver is spent (the connection fails anyway).
    ///
    /// # Errors
    /// `UnexpectedMessage` unless receiving; `MalformedMessage`;
    /// `Transfer` for an empty or oversize chunk, an offset that is not
    /// the next byte, data past the announced size, or END early.
    pub fn on_message(&mut self, t: u8, body: &[u8]) -> Result<Chunk, ProtoError> {
        let mut progress = match std::mem::replace(&mut self.0, State::Complete) {
            State::Receiving(p) => p,
            other => {
                self.0 = other;
                return Err(ProtoError::UnexpectedMessage {
                    got: msgs::inner_name(t),
                    state: self.state_name(),
                });
            }
        };
        if t == msgs::inner::CHUNK {
            let (offset, data) = msgs::parse_chunk(body)?;
            if data.is_empty() || data.len() > CHUNK_LEN {
                return Err(ProtoError::Transfer(TransferError::ChunkLength));
            }
            progress.add(offset, data)?;
            self.0 = State::Receiving(progress);
            return Ok(Chunk::Data(body.len() - data.len()));
        }
        let hash = msgs::parse_end(body)?;
        if progress.verify(&hash)? {
            Ok(Chunk::Complete(hash))
        } else {
            Ok(Chunk::Corrupt)
        }
    }
}
