//! The receiving side of one file: OFFER received → (application accepts,
//! or skips a refused file) → CHUNK… END. Pure: it checks every CHUNK and
//! END against the offer. The sender does not wait for a decision, so a
//! refused file's data still arrives and is skipped up to its END.

use super::Progress;
use crate::proto::msgs;
use crate::proto::{ProtoError, TransferError, CHUNK_LEN};

enum State {
    /// Offered; the application must accept or skip.
    Offered { size: u64 },
    /// Accepted; CHUNKs and then END arrive.
    Receiving(Progress),
    /// Refused (or abandoned): CHUNKs are checked for shape and dropped
    /// until END.
    Skipping,
    /// END arrived; nothing more for this file.
    Ended,
}

/// What a CHUNK or END did.
#[derive(Debug, PartialEq, Eq)]
pub enum Chunk {
    /// File data at this position of the CHUNK body (after the offset).
    Data(usize),
    /// END arrived and the SHA-256 matched: the file's SHA-256.
    Complete([u8; 32]),
    /// END arrived and the SHA-256 did not match; the data must be
    /// discarded.
    Corrupt,
    /// A CHUNK of a skipped file, dropped.
    Skipped,
    /// The END of a skipped file (its hash is not checked).
    SkipEnded,
}

/// One file being received.
pub struct Receiver(State);

impl Receiver {
    /// A file of `size` bytes has just been offered.
    pub fn offered(size: u64) -> Self {
        Receiver(State::Offered { size })
    }

    /// A file whose offer was refused before the application saw it (a
    /// name the rule refuses): its data is skipped.
    pub fn skipping() -> Self {
        Receiver(State::Skipping)
    }

    /// A short name of the state, for error messages.
    pub fn state_name(&self) -> &'static str {
        match self.0 {
            State::Offered { .. } => "deciding on an offered file",
            State::Receiving(_) => "receiving file data",
            State::Skipping => "skipping a refused file",
            State::Ended => "file ended",
        }
    }

    /// Whether the offer awaits the application's decision.
    pub fn is_offered(&self) -> bool {
        matches!(self.0, State::Offered { .. })
    }

    /// Whether bytes are being received (accepted, END not yet seen).
    pub fn is_receiving(&self) -> bool {
        matches!(self.0, State::Receiving(_))
    }

    /// The application accepts the offer from offset 0.
    ///
    /// # Errors
    /// `InvalidCall` unless offered; `Crypto` if the hash cannot start.
    pub fn accept(&mut self) -> Result<(), ProtoError> {
        let State::Offered { size } = self.0 else {
            return Err(ProtoError::InvalidCall("no offer awaits a decision"));
        };
        self.0 = State::Receiving(Progress::new(size)?);
        Ok(())
    }

    /// The application refuses the offered file, or gives up on one being
    /// received: the rest of its data is dropped up to its END.
    ///
    /// # Errors
    /// `InvalidCall` unless offered or receiving.
    pub fn skip(&mut self) -> Result<(), ProtoError> {
        if !matches!(self.0, State::Offered { .. } | State::Receiving(_)) {
            return Err(ProtoError::InvalidCall("no file to skip"));
        }
        self.0 = State::Skipping;
        Ok(())
    }

    /// A CHUNK (`t` = CHUNK) or END body from the peer. After an error
    /// the receiver is spent (the connection fails anyway).
    ///
    /// # Errors
    /// `UnexpectedMessage` unless receiving or skipping;
    /// `MalformedMessage`; `Transfer` for an empty or oversize chunk, and
    /// (when receiving) an offset that is not the next byte, data past the
    /// announced size, or END early.
    pub fn on_message(&mut self, t: u8, body: &[u8]) -> Result<Chunk, ProtoError> {
        let state = std::mem::replace(&mut self.0, State::Ended);
        let mut progress = match state {
            State::Receiving(p) => p,
            State::Skipping => return self.skip_message(t, body),
            other => {
                self.0 = other;
                return Err(ProtoError::UnexpectedMessage {
                    got: msgs::inner_name(t),
                    state: self.state_name(),
                });
            }
        };
        if t == msgs::inner::CHUNK {
            let data = chunk_data(body)?;
            progress.add(data.0, data.1)?;
            self.0 = State::Receiving(progress);
            return Ok(Chunk::Data(body.len() - data.1.len()));
        }
        let hash = msgs::parse_end(body)?;
        if progress.verify(&hash)? {
            Ok(Chunk::Complete(hash))
        } else {
            Ok(Chunk::Corrupt)
        }
    }

    fn skip_message(&mut self, t: u8, body: &[u8]) -> Result<Chunk, ProtoError> {
        if t == msgs::inner::CHUNK {
            chunk_data(body)?;
            self.0 = State::Skipping;
            return Ok(Chunk::Skipped);
        }
        msgs::parse_end(body)?;
        Ok(Chunk::SkipEnded)
    }
}

/// A CHUNK body's offset and data, which must be 1 … [`CHUNK_LEN`] bytes.
fn chunk_data(body: &[u8]) -> Result<(u64, &[u8]), ProtoError> {
    let (offset, data) = msgs::parse_chunk(body)?;
    if data.is_empty() || data.len() > CHUNK_LEN {
        return Err(ProtoError::Transfer(TransferError::ChunkLength));
    }
    Ok((offset, data))
}
