//! The receiving side of one file: OFFER received → (application accepts,
//! or skips a refused file) → CHUNK… END. Pure: it checks every CHUNK and
//! END against the offer. The sender does not wait for a decision, so a
//! refused file's data still arrives and is skipped up to its END; only an
//! upload offered for resume waits (for RESUME), so its refusal skips
//! nothing.

use super::Progress;
use crate::crypto::ct;
use crate::crypto::ed25519::Signature;
use crate::crypto::hash::Sha256;
use crate::proto::msgs::{self, End, Prefix};
use crate::proto::{ProtoError, TransferError, CHUNK_LEN};

enum State {
    /// Offered; the application must accept or skip. With `resume`, the
    /// sender waits for this side's RESUME before any data.
    Offered { size: u64, resume: bool },
    /// This side offered to resume after `held` (its RESUME went out);
    /// the sender's RESUME comes next. `hash` has absorbed the held bytes.
    AwaitResume {
        size: u64,
        held: Prefix,
        hash: Sha256,
    },
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
    /// END arrived and the SHA-256 matched: the file's SHA-256, and the
    /// time and signature of the sender's statement (not yet checked:
    /// the connection knows what the statement says).
    Complete {
        size: u64,
        sha256: [u8; 32],
        time: u64,
        signature: Signature,
    },
    /// END arrived and the SHA-256 did not match; the data must be
    /// discarded.
    Corrupt,
    /// END of zero bytes: the sender abandoned the file (at any point);
    /// the data must be discarded.
    Abandoned,
    /// A CHUNK of a skipped file, dropped.
    Skipped,
    /// The END of a skipped file (its hash is not checked).
    SkipEnded,
}

/// One file being received.
pub struct Receiver(State);

impl Receiver {
    /// A file of `size` bytes has just been offered; with `resume`, its
    /// sender waits for [`accept_resume`](Self::accept_resume).
    pub fn offered(size: u64, resume: bool) -> Self {
        Receiver(State::Offered { size, resume })
    }

    /// A download resumed after the `offset` bytes this side holds (`hash`
    /// has absorbed them): receiving from `offset`.
    ///
    /// # Errors
    /// `Transfer(BadResume)` when `offset` is past `size`.
    pub fn resumed(size: u64, offset: u64, hash: Sha256) -> Result<Self, ProtoError> {
        let progress = Progress::resumed(size, offset, hash)
            .map_err(|_| ProtoError::Transfer(TransferError::BadResume))?;
        Ok(Receiver(State::Receiving(progress)))
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
            State::AwaitResume { .. } => "awaiting the sender's RESUME",
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

    /// Whether the file is over: END arrived, or a refused resumable
    /// offer (whose sender sends nothing more for it).
    pub fn is_ended(&self) -> bool {
        matches!(self.0, State::Ended)
    }

    /// The application accepts the offer from offset 0.
    ///
    /// # Errors
    /// `InvalidCall` unless offered without resume; `Crypto` if the hash
    /// cannot start.
    pub fn accept(&mut self) -> Result<(), ProtoError> {
        let State::Offered {
            size,
            resume: false,
        } = self.0
        else {
            return Err(ProtoError::InvalidCall("no plain offer awaits a decision"));
        };
        self.0 = State::Receiving(Progress::new(size)?);
        Ok(())
    }

    /// The application accepts an offer made for resume, holding `held`
    /// (`hash` has absorbed exactly those bytes), or nothing (`None`).
    /// Returns the prefix for this side's RESUME; the sender's RESUME
    /// comes next ([`on_resume`](Self::on_resume)).
    ///
    /// # Errors
    /// `InvalidCall` (nothing changes) unless offered for resume, or when
    /// `held` runs past the size; `Crypto` if a fresh hash cannot start.
    pub fn accept_resume(&mut self, held: Option<(Prefix, Sha256)>) -> Result<Prefix, ProtoError> {
        let State::Offered { size, resume: true } = self.0 else {
            return Err(ProtoError::InvalidCall(
                "no resumable offer awaits a decision",
            ));
        };
        let (held, hash) = match held {
            Some((held, _)) if held.offset > size => {
                return Err(ProtoError::InvalidCall("held bytes past the offered size"));
            }
            Some(h) => h,
            None => (Prefix::NONE, Sha256::new()?),
        };
        self.0 = State::AwaitResume { size, held, hash };
        Ok(held)
    }

    /// The sender's RESUME body: it takes this side's offset with the same
    /// hash (compared in constant time), or starts again at 0. Returns the
    /// offset its data starts at; receiving from there.
    ///
    /// # Errors
    /// `UnexpectedMessage` unless awaiting RESUME; `MalformedMessage`;
    /// `Transfer(BadResume)` for any other offset or hash.
    pub fn on_resume(&mut self, body: &[u8]) -> Result<u64, ProtoError> {
        let State::AwaitResume { .. } = self.0 else {
            return Err(ProtoError::UnexpectedMessage {
                got: "RESUME",
                state: self.state_name(),
            });
        };
        let theirs = msgs::parse_resume(body)?;
        let State::AwaitResume { size, held, hash } = std::mem::replace(&mut self.0, State::Ended)
        else {
            return Err(ProtoError::InvalidCall("no RESUME awaited"));
        };
        let progress = if theirs.offset == 0 {
            Progress::new(size)?
        } else if theirs.offset == held.offset && ct::eq(&theirs.sha256, &held.sha256) {
            Progress::resumed(size, held.offset, hash)?
        } else {
            return Err(ProtoError::Transfer(TransferError::BadResume));
        };
        self.0 = State::Receiving(progress);
        Ok(theirs.offset)
    }

    /// The application refuses the offered file, or gives up on one being
    /// received: the rest of its data is dropped up to its END.
    ///
    /// A refused resumable offer has no data to skip: the file is over
    /// ([`is_ended`](Self::is_ended)).
    ///
    /// # Errors
    /// `InvalidCall` unless offered or receiving.
    pub fn skip(&mut self) -> Result<(), ProtoError> {
        self.0 = match self.0 {
            State::Offered { resume: true, .. } => State::Ended,
            State::Offered { .. } | State::Receiving(_) => State::Skipping,
            _ => return Err(ProtoError::InvalidCall("no file to skip")),
        };
        Ok(())
    }

    /// A CHUNK (`t` = CHUNK) or END body from the peer. After an error
    /// the receiver is spent (the connection fails anyway).
    ///
    /// # Errors
    /// `UnexpectedMessage` unless receiving or skipping;
    /// `MalformedMessage`; `Transfer` for an empty or oversize chunk, and
    /// (when receiving) an offset that is not the next byte, data past the
    /// announced size, or END early (unless it abandons the file).
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
        let (sha256, time, signature) = match End::parse(body)? {
            End::Abandoned => return Ok(Chunk::Abandoned),
            End::Signed {
                sha256,
                time,
                signature,
            } => (sha256, time, signature),
        };
        let size = progress.size();
        if progress.verify(&sha256)? {
            Ok(Chunk::Complete {
                size,
                sha256,
                time,
                signature,
            })
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
        End::parse(body)?;
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
