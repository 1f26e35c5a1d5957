//! [`ServerConnection`]: the server endpoint. It runs the server handshake,
//! then answers one client request at a time: an upload (it receives), a
//! download (it sends) or a listing.

mod calls;

pub use calls::ListingStep;

use std::ops::{Deref, DerefMut, Range};
use std::sync::Arc;
use std::time::Instant;

use crate::crypto::ed25519::VerifyingKey;

use super::core::{BeforeKeys, ConnectionCore, Incoming};
use crate::proto::handshake::server::{
    AwaitHello, AwaitResponse, ServerConfig, ServerEphemeral, Verified,
};
use crate::proto::msgs::{self, inner, ListEntry, ListingPager, Offer, Outcome, ResultCode};
use crate::proto::name::{self, NameError};
use crate::proto::record::RecordType;
use crate::proto::timers::Timeouts;
use crate::proto::transfer::{Chunk, Receiver, Sender};
use crate::proto::ProtoError;

/// Something the server application must see or act on.
#[derive(Debug)]
pub enum ServerEvent<'a> {
    /// The client proved its key (verified and authorized): admit it with
    /// [`ServerConnection::admit`], which completes the handshake, or
    /// refuse it with [`ConnectionCore::refuse_busy`]. Nothing else may be
    /// called before one of the two.
    Authenticated { client: VerifyingKey },
    /// The client offers a file for upload: accept or refuse.
    UploadRequested {
        name: String,
        size: u64,
        overwrite: bool,
    },
    /// The client asks for a file: offer it or refuse.
    DownloadRequested { name: String },
    /// The client asks for the listing: send its pages while
    /// [`ServerConnection::wants_listing`], or refuse.
    ListRequested,
    /// A request named a file the name rule refuses; RESULT 2 was sent
    /// (unless this side had sent CLOSE) and the session goes on.
    NameRefused(NameError),
    /// Upload data, in order.
    Data(&'a [u8]),
    /// Every byte of the upload arrived and the SHA-256 matched: store the
    /// file, then answer with [`ServerConnection::send_result`].
    ReceiveComplete,
    /// The upload's SHA-256 did not match; RESULT 6 was sent (unless this
    /// side had sent CLOSE). Discard the data.
    ReceiveCorrupt,
    /// The client's answer to a download: its end, or a refusal of the
    /// offer.
    Outcome(Outcome),
    /// The client closed the session in order.
    Closed,
}

/// Server events before they borrow the receive buffer.
enum Ev {
    Authenticated(VerifyingKey),
    UploadRequested(String, u64, bool),
    DownloadRequested(String),
    ListRequested,
    NameRefused(NameError),
    Data(Range<usize>),
    ReceiveComplete,
    ReceiveCorrupt,
    Outcome(Outcome),
    Closed,
}

/// The request being served.
enum Op {
    Idle,
    /// OFFER received: the upload's receiving side.
    Upload(Receiver),
    /// GET received for these name bytes; the application decides.
    DownloadDecision(Vec<u8>),
    /// OFFER sent: the download's sending side.
    Download(Sender),
    /// LIST received: the application sends pages until the last, or
    /// refuses (before the first page or after any).
    Listing(ListingPager),
}

impl Op {
    fn name(&self) -> &'static str {
        match self {
            Op::Idle => "idle",
            Op::Upload(r) => r.state_name(),
            Op::DownloadDecision(_) => "deciding on a download",
            Op::Download(s) => s.state_name(),
            Op::Listing(_) => "sending a listing",
        }
    }

    fn awaits_decision(&self) -> bool {
        match self {
            Op::Upload(r) => r.is_offered(),
            Op::DownloadDecision(_) | Op::Listing(_) => true,
            Op::Idle | Op::Download(_) => false,
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
            phase: Phase::AwaitHello(AwaitHello::new(config, eph)),
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
            let step = match self.core.next_record() {
                Ok(Some(rec)) => self.process(rec),
                Ok(None) => return Ok(None),
                Err(e) => Err(e),
            };
            match step {
                Ok(Some(ev)) => break ev,
                Ok(None) => {}
                Err(e) => return Err(self.core.fail(e)),
            }
        };
        Ok(Some(match ev {
            Ev::Authenticated(client) => ServerEvent::Authenticated { client },
            Ev::UploadRequested(name, size, overwrite) => ServerEvent::UploadRequested {
                name,
                size,
                overwrite,
            },
            Ev::DownloadRequested(name) => ServerEvent::DownloadRequested { name },
            Ev::ListRequested => ServerEvent::ListRequested,
            Ev::NameRefused(e) => ServerEvent::NameRefused(e),
            Ev::Data(r) => ServerEvent::Data(self.core.bytes(r)),
            Ev::ReceiveComplete => ServerEvent::ReceiveComplete,
            Ev::ReceiveCorrupt => ServerEvent::ReceiveCorrupt,
            Ev::Outcome(o) => ServerEvent::Outcome(o),
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
                self.on_message(t, r)
            }
            (Incoming::Message(t, _), phase) => Err(unexpected(msgs::inner_name(t), &phase)),
        }
    }

    /// An application message while the session is open.
    fn on_message(&mut self, t: u8, range: Range<usize>) -> Result<Option<Ev>, ProtoError> {
        let Phase::Open(op) = &mut self.phase else {
            return Err(ProtoError::InvalidCall("no open session"));
        };
        let body = self.core.bytes(range.clone());
        let (next, ev) = match (t, std::mem::replace(op, Op::Idle)) {
            (inner::OFFER, Op::Idle) => {
                let offer = Offer::parse(body)?;
                match name::sanitize(&offer.name) {
                    Ok(n) => (
                        Op::Upload(Receiver::offered(offer.size)),
                        Ev::UploadRequested(n, offer.size, offer.overwrite),
                    ),
                    Err(e) => (Op::Idle, self.refuse_name(e)?),
                }
            }
            (inner::GET, Op::Idle) => {
                let asked = msgs::parse_get(body)?;
                match name::sanitize(&asked) {
                    Ok(n) => (Op::DownloadDecision(asked), Ev::DownloadRequested(n)),
                    Err(e) => (Op::Idle, self.refuse_name(e)?),
                }
            }
            (inner::LIST, Op::Idle) => {
                if !body.is_empty() {
                    return Err(ProtoError::MalformedMessage("LIST"));
                }
                (Op::Listing(ListingPager::default()), Ev::ListRequested)
            }
            (inner::CHUNK | inner::END, Op::Upload(mut receiver)) => {
                match receiver.on_message(t, body)? {
                    Chunk::Data(at) => {
                        (Op::Upload(receiver), Ev::Data(range.start + at..range.end))
                    }
                    Chunk::Complete(_) => (Op::Upload(receiver), Ev::ReceiveComplete),
                    Chunk::Corrupt => {
                        let mismatch =
                            Outcome::new(ResultCode::HashMismatch, "whole-file SHA-256 mismatch");
                        self.core
                            .send_unprompted(inner::RESULT, &mismatch.encode())?;
                        (Op::Idle, Ev::ReceiveCorrupt)
                    }
                }
            }
            (inner::ACCEPT, Op::Download(mut sender)) => {
                if let Some(hash) = sender.on_accept(msgs::parse_accept(body)?)? {
                    self.core.send_unprompted(inner::END, &hash)?;
                }
                self.set_op(Op::Download(sender));
                return Ok(None);
            }
            (inner::RESULT, Op::Download(sender)) => {
                let outcome = Outcome::parse(body)?;
                sender.on_result(&outcome)?;
                self.core.hold_for(&outcome);
                (Op::Idle, Ev::Outcome(outcome))
            }
            (t, op) => {
                return Err(ProtoError::UnexpectedMessage {
                    got: msgs::inner_name(t),
                    state: op.name(),
                })
            }
        };
        self.set_op(next);
        Ok(Some(ev))
    }

    fn set_op(&mut self, op: Op) {
        if let Phase::Open(slot) = &mut self.phase {
            *slot = op;
        }
    }

    /// Answers a request whose name the rule refuses with RESULT 2 (not
    /// once this side has sent CLOSE).
    fn refuse_name(&mut self, e: NameError) -> Result<Ev, ProtoError> {
        let refusal = Outcome::new(ResultCode::BadName, e.to_string());
        self.core
            .send_unprompted(inner::RESULT, &refusal.encode())?;
        Ok(Ev::NameRefused(e))
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
