//! [`ServerConnection`]: the server endpoint. It runs the server handshake,
//! then answers the client's pipelined requests in order: uploads (it
//! receives), MKDIRs, downloads (it sends) and listings.

mod answers;
mod calls;
mod evidence;
mod requests;

pub use answers::Ticket;
pub use calls::ListingStep;

use std::ops::{Deref, DerefMut, Range};
use std::sync::Arc;
use std::time::Instant;

use crate::crypto::ed25519::VerifyingKey;

use super::core::{BeforeKeys, ConnectionCore, Incoming};
use crate::proto::evidence::{Direction, Signed, Statement};
use crate::proto::handshake::server::{
    AwaitHello, AwaitResponse, ServerConfig, ServerEphemeral, Verified,
};
use crate::proto::msgs::{
    self, inner, Get, ListEntry, ListingPager, Meta, Mkdir, Offer, Outcome, Prefix, ResultCode,
};
use crate::proto::name::{self, NameError};
use crate::proto::record::RecordType;
use crate::proto::timers::Timeouts;
use crate::proto::transfer::{Chunk, Receiver, Sender};
use crate::proto::ProtoError;
use crate::proto::MAX_IN_FLIGHT;
use answers::{Answer, Answers};

/// Something the server application must see or act on.
#[derive(Debug)]
pub enum ServerEvent<'a> {
    /// The client proved its key (verified and authorized): admit it with
    /// [`ServerConnection::admit`], which completes the handshake, or
    /// refuse it with [`ConnectionCore::refuse_busy`]. Nothing else may be
    /// called before one of the two.
    Authenticated { client: VerifyingKey },
    /// The client offers a file: call [`ServerConnection::accept`] (its
    /// data follows at once) or, with `resume`, [`ServerConnection::accept_resume`]
    /// (the client waits for this side's RESUME), or
    /// [`ServerConnection::refuse_upload`]. The file's answer is owed under
    /// `ticket`.
    UploadRequested {
        path: String,
        size: u64,
        overwrite: bool,
        /// Permission bits and mtime to apply, when the client asked.
        meta: Option<Meta>,
        /// The client asks to resume an interrupted upload.
        resume: bool,
        ticket: Ticket,
    },
    /// The client's RESUME arrived and agrees: its data follows from
    /// `offset`, which is either the offset this side offered (its hash
    /// matched) or 0 (start again: drop the bytes held).
    ResumeAgreed { offset: u64 },
    /// The client asks for a directory (mkdir of the last component; with
    /// `meta`, also set its mode and mtime): answer under `ticket` with
    /// [`ServerConnection::answer`].
    MkdirRequested {
        path: String,
        meta: Option<Meta>,
        ticket: Ticket,
    },
    /// The client asks for a file no larger than `max_size` bytes: offer it
    /// or refuse. With `held`, the client holds the file's first bytes: if
    /// this side's file starts with them, offer it resumed after them.
    DownloadRequested {
        path: String,
        max_size: u64,
        held: Option<Prefix>,
    },
    /// The client asks for the listing of the directory `path` (empty for
    /// the root): send its pages while [`ServerConnection::wants_listing`],
    /// or refuse.
    ListRequested { path: String },
    /// A request named a path the rule refuses; its RESULT 2 is queued
    /// (an upload's data is skipped) and the session goes on.
    NameRefused(NameError),
    /// Upload data, in order.
    Data(&'a [u8]),
    /// Every byte of the upload arrived, the SHA-256 matched and the
    /// client's statement of it (§4.8) verified: store the file, then
    /// answer under the upload's ticket with
    /// [`ServerConnection::answer_stored`] (its receipt) or a failure.
    ReceiveComplete { signed: Box<Signed> },
    /// The upload's SHA-256 did not match; its RESULT 6 is queued. Discard
    /// the data.
    ReceiveCorrupt,
    /// The client abandoned the upload (its source changed); its RESULT 6
    /// is queued. Discard the data.
    ReceiveAbandoned,
    /// The client closed the session in order.
    Closed,
}

/// Server events before they borrow the receive buffer.
enum Ev {
    Authenticated(VerifyingKey),
    UploadRequested(String, Offer, Ticket),
    MkdirRequested(String, Mkdir, Ticket),
    ResumeAgreed(u64),
    DownloadRequested(String, u64, Prefix),
    ListRequested(String),
    NameRefused(NameError),
    Data(Range<usize>),
    ReceiveComplete(Box<Signed>),
    ReceiveCorrupt,
    ReceiveAbandoned,
    Closed,
}

/// The request being served.
enum Op {
    Idle,
    /// OFFER received: the upload's receiving side (offered, receiving or
    /// skipping), and the ticket of its answer with its path (`None` when
    /// the answer was queued at once: a refused path).
    Upload(Receiver, Option<(Ticket, String)>),
    /// GET received for this path, the client holding this prefix; the
    /// application decides.
    DownloadDecision(String, Prefix),
    /// OFFER sent: the download's sending side, and what its statement
    /// will say besides the hash.
    Download(Sender, Serving),
    /// LIST received: the application sends pages until the last, or
    /// refuses (before the first page or after any).
    Listing(ListingPager),
}

/// A download being sent: its path, size, and the time its statement
/// carries (§4.8).
struct Serving {
    path: String,
    size: u64,
    time: u64,
}

impl Op {
    fn name(&self) -> &'static str {
        match self {
            Op::Idle => "idle",
            Op::Upload(r, _) => r.state_name(),
            Op::DownloadDecision(..) => "deciding on a download",
            Op::Download(s, ..) => s.state_name(),
            Op::Listing(_) => "sending a listing",
        }
    }

    /// Whether the next record must wait for the application: a decision
    /// is pending, or this side is sending a file or listing (requests
    /// pipelined behind it are read once it is done).
    fn holds_input(&self) -> bool {
        match self {
            Op::Upload(r, _) => r.is_offered(),
            Op::DownloadDecision(..) | Op::Download(..) | Op::Listing(_) => true,
            Op::Idle => false,
        }
    }
}

enum Phase {
    AwaitHello(AwaitHello),
    AwaitResponse(AwaitResponse),
    /// RESPONSE verified; SESSION_ESTABLISHED waits for `admit`.
    Admitting(Verified),
    Open(Op),
    /// Closed, failed, or mid-transition.
    Done,
}

/// The server endpoint of an sft session.
pub struct ServerConnection {
    core: ConnectionCore,
    phase: Phase,
    /// The host identity (it signs download statements) and policy.
    config: Arc<ServerConfig>,
    /// RESULTs owed for uploads and MKDIRs, in request order.
    answers: Answers,
    /// A GET or LIST read while answers were owed: served once they are
    /// sent, so answers stay in request order (its body, at most a path).
    held: Option<(u8, Vec<u8>)>,
}

impl Deref for ServerConnection {
    type Target = ConnectionCore;
    fn deref(&self) -> &ConnectionCore {
        &self.core
    }
}

impl DerefMut for ServerConnection {
    fn deref_mut(&mut self) -> &mut ConnectionCore {
        &mut self.core
    }
}

impl ServerConnection {
    /// A server connection, waiting for HELLO. Creating one allocates
    /// only the small handshake receive buffer
    /// ([`super::HANDSHAKE_RECV_BUFFER_LEN`]) and generates no key: `eph`
    /// is [`ServerEphemeral::Fresh`] except in test vectors and tests.
    pub fn new(
        config: Arc<ServerConfig>,
        eph: ServerEphemeral,
        timeouts: Timeouts,
        now: Instant,
    ) -> Self {
        ServerConnection {
            core: ConnectionCore::new(BeforeKeys::PlainAlert, timeouts, now),
            phase: Phase::AwaitHello(AwaitHello::new(config.clone(), eph)),
            config,
            answers: Answers::default(),
            held: None,
        }
    }

    /// Whether a valid HELLO has arrived (the handshake is under way or
    /// done): admission evicts connections that have sent nothing first.
    pub fn has_hello(&self) -> bool {
        !matches!(self.phase, Phase::AwaitHello(_))
    }

    /// Whether the handshake completed and the session is open.
    pub fn is_established(&self) -> bool {
        matches!(self.phase, Phase::Open(_)) && self.core.error().is_none()
    }

    /// Processes buffered records until one yields an event; `None` when
    /// more bytes are needed.
    ///
    /// # Errors
    /// Any fatal [`ProtoError`] (sticky); `Truncated` when the stream ended
    /// without an authenticated close.
    pub fn next_event(&mut self) -> Result<Option<ServerEvent<'_>>, ProtoError> {
        self.core.check_alive()?;
        let ev = loop {
            if self.waits() {
                return Ok(None);
            }
            let held = if self.answers.len() == 0 {
                self.held.take()
            } else {
                None
            };
            let step = if let Some((t, body)) = held {
                self.on_request(t, &body)
            } else {
                match self.core.next_record() {
                    Ok(Some(rec)) => self.process(rec),
                    Ok(None) => return Ok(None),
                    Err(e) => Err(e),
                }
            };
            match step {
                Ok(Some(ev)) => break ev,
                Ok(None) => {}
                Err(e) => return Err(self.core.fail(e)),
            }
        };
        Ok(Some(match ev {
            Ev::Authenticated(client) => ServerEvent::Authenticated { client },
            Ev::UploadRequested(path, offer, ticket) => ServerEvent::UploadRequested {
                path,
                size: offer.size,
                overwrite: offer.overwrite,
                meta: offer.preserve.then_some(offer.meta),
                resume: offer.resume,
                ticket,
            },
            Ev::MkdirRequested(path, mkdir, ticket) => ServerEvent::MkdirRequested {
                path,
                meta: mkdir.preserve.then_some(mkdir.meta),
                ticket,
            },
            Ev::ResumeAgreed(offset) => ServerEvent::ResumeAgreed { offset },
            Ev::DownloadRequested(path, max_size, held) => ServerEvent::DownloadRequested {
                path,
                max_size,
                held: (held.offset > 0).then_some(held),
            },
            Ev::ListRequested(path) => ServerEvent::ListRequested { path },
            Ev::NameRefused(e) => ServerEvent::NameRefused(e),
            Ev::Data(r) => ServerEvent::Data(self.core.bytes(r)),
            Ev::ReceiveComplete(signed) => ServerEvent::ReceiveComplete { signed },
            Ev::ReceiveCorrupt => ServerEvent::ReceiveCorrupt,
            Ev::ReceiveAbandoned => ServerEvent::ReceiveAbandoned,
            Ev::Closed => ServerEvent::Closed,
        }))
    }

    fn process(&mut self, rec: Incoming) -> Result<Option<Ev>, ProtoError> {
        let phase = std::mem::replace(&mut self.phase, Phase::Done);
        match (rec, phase) {
            (Incoming::Closed, _) => Ok(Some(Ev::Closed)),
            (Incoming::Plain(RecordType::Hello, r), Phase::AwaitHello(hs)) => {
                let c = &mut self.core;
                let record = c.bytes(r).to_vec();
                let next = hs.on_hello(&record, &mut c.sealer, &mut c.opener, &mut c.out)?;
                self.phase = Phase::AwaitResponse(next);
                Ok(None)
            }
            (Incoming::Plain(kind, _), phase) => {
                let got = if kind == RecordType::Hello {
                    "HELLO"
                } else {
                    "CHALLENGE"
                };
                Err(unexpected(got, &phase))
            }
            (Incoming::Message(inner::RESPONSE, r), Phase::AwaitResponse(hs)) => {
                let body = self.core.bytes(r).to_vec();
                let verified = hs.on_response(&body)?;
                let client = verified.client();
                self.phase = Phase::Admitting(verified);
                Ok(Some(Ev::Authenticated(client)))
            }
            (Incoming::Message(t, r), Phase::Open(op)) => {
                self.phase = Phase::Open(op);
                if self.core.closing() {
                    // It crossed this side's CLOSE: nothing can answer it.
                    return Ok(None);
                }
                self.on_message(t, r)
            }
            (Incoming::Message(t, _), phase) => Err(unexpected(msgs::inner_name(t), &phase)),
        }
    }

    /// Whether the next record must wait for the application: a decision
    /// or this side's sending is in progress, [`MAX_IN_FLIGHT`] answers
    /// are owed, or a held request waits for the owed answers. Never once
    /// this side has sent CLOSE: nothing it waited for can go on, and it
    /// reads on to the peer's CLOSE.
    fn waits(&self) -> bool {
        if self.core.closing() {
            return false;
        }
        let busy = matches!(&self.phase, Phase::Open(op) if op.holds_input());
        busy || self.answers.len() >= MAX_IN_FLIGHT || self.held.is_some() && self.answers.len() > 0
    }

    /// An application message while the session is open.
    fn on_message(&mut self, t: u8, range: Range<usize>) -> Result<Option<Ev>, ProtoError> {
        let Phase::Open(op) = &mut self.phase else {
            return Err(ProtoError::InvalidCall("no open session"));
        };
        if let Op::Upload(receiver, owed) = op {
            if !matches!(t, inner::CHUNK | inner::END | inner::RESUME) {
                return Err(ProtoError::UnexpectedMessage {
                    got: msgs::inner_name(t),
                    state: receiver.state_name(),
                });
            }
            let body = self.core.bytes(range.clone());
            if t == inner::RESUME {
                return Ok(Some(Ev::ResumeAgreed(receiver.on_resume(body)?)));
            }
            return match receiver.on_message(t, body)? {
                Chunk::Data(at) => Ok(Some(Ev::Data(range.start + at..range.end))),
                Chunk::Skipped => Ok(None),
                Chunk::SkipEnded => {
                    *op = Op::Idle;
                    Ok(None)
                }
                Chunk::Complete {
                    size,
                    sha256,
                    time,
                    signature,
                } => {
                    let path = owed.take().map(|(_, path)| path).unwrap_or_default();
                    *op = Op::Idle;
                    let facts = (path, size, sha256, time);
                    let statement = self.statement(Direction::Upload, facts)?;
                    Ok(Some(Ev::ReceiveComplete(Box::new(
                        statement.verify(signature)?,
                    ))))
                }
                end @ (Chunk::Corrupt | Chunk::Abandoned) => {
                    let ticket = owed.as_ref().map(|(t, _)| *t);
                    *op = Op::Idle;
                    let (reason, ev) = if end == Chunk::Corrupt {
                        ("whole-file SHA-256 mismatch", Ev::ReceiveCorrupt)
                    } else {
                        ("abandoned by the sender", Ev::ReceiveAbandoned)
                    };
                    if let Some(ticket) = ticket {
                        let failed = Outcome::new(ResultCode::HashMismatch, reason);
                        self.answers.give(ticket, Answer::Result(failed));
                        self.flush_answers()?;
                    }
                    Ok(Some(ev))
                }
            };
        }
        if matches!(t, inner::GET | inner::LIST) && self.answers.len() > 0 {
            // Served once the answers owed before it are sent.
            self.held = Some((t, self.core.bytes(range).to_vec()));
            return Ok(None);
        }
        let body = self.core.bytes(range).to_vec();
        self.on_request(t, &body)
    }
}

fn unexpected(got: &'static str, phase: &Phase) -> ProtoError {
    let state = match phase {
        Phase::AwaitHello(_) => "awaiting HELLO",
        Phase::AwaitResponse(_) => "awaiting RESPONSE",
        Phase::Admitting(_) => "admitting the client",
        Phase::Open(op) => op.name(),
        Phase::Done => "closed",
    };
    ProtoError::UnexpectedMessage { got, state }
}
