//! [`ClientConnection`]: the client endpoint. It runs the client handshake
//! (pausing for a trust decision on an unknown server key), then sends
//! requests (uploads, MKDIRs, downloads, listings) without waiting for the
//! answers to earlier ones, up to [`MAX_IN_FLIGHT`] at once, and matches
//! the server's answers to them in order.

mod answers;
mod calls;
mod evidence;

use std::collections::VecDeque;
use std::ops::{Deref, DerefMut, Range};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::crypto::ed25519::{Sign, VerifyingKey};
use crate::crypto::hash::Sha256;

use super::core::{BeforeKeys, ConnectionCore, Incoming};
use super::own_path;
use crate::proto::evidence::{Direction, Receipt, Signed, Statement};
use crate::proto::handshake::client::{
    AfterChallenge, AwaitChallenge, AwaitEstablished, AwaitTrust, ClientConfig,
};
use crate::proto::handshake::Ephemeral;
use crate::proto::msgs::{
    self, inner, End, Get, ListEntry, Meta, Mkdir, Offer, Outcome, Prefix, SessionParams,
};
use crate::proto::record::RecordType;
use crate::proto::timers::Timeouts;
use crate::proto::transfer::{Chunk, Receiver, Sender};
use crate::proto::{ProtoError, TransferError, MAX_IN_FLIGHT};

/// Most entries a client accepts in one listing (10,000,000): a guard on
/// the client's own memory, not a rule of the protocol. A longer listing
/// fails the session with [`ProtoError::ListingTooLong`].
pub const MAX_LISTING_ENTRIES: usize = 10_000_000;

/// Something the client application must see or act on.
#[derive(Debug)]
pub enum ClientEvent<'a> {
    /// The server's key is not known. Call
    /// [`ClientConnection::trust_server_key`] to go on, or drop the
    /// connection.
    ServerKeyUnknown(VerifyingKey),
    /// The handshake completed: the server's verified key and its limits.
    Established {
        server: VerifyingKey,
        params: SessionParams,
    },
    /// The server offers to resume the upload just offered for resume
    /// after the first `offset` bytes, which it holds: call
    /// [`ClientConnection::resume_upload`] with this side's hash of its
    /// own first `offset` bytes (or `None` to start again).
    ResumeOffered { offset: u64 },
    /// The server offers the file asked for (the oldest GET not yet
    /// answered), `size` bytes, with its permission bits and mtime; its
    /// data follows from `from`: the offset the GET said this side holds
    /// (resumed), or 0 (start again: drop the bytes held).
    DownloadOffered { size: u64, meta: Meta, from: u64 },
    /// File data of the download, in order.
    Data(&'a [u8]),
    /// Every byte of the download arrived, the SHA-256 matched and the
    /// server's signed statement of it (§4.8) verified: store the file.
    ReceiveComplete { signed: Signed },
    /// The download's SHA-256 did not match. Discard the data.
    ReceiveCorrupt,
    /// The server abandoned the download (its file changed while it was
    /// sent). Discard the data.
    ReceiveAbandoned,
    /// The complete listing of the oldest LIST, in the server's order
    /// (unspecified).
    Listing(Vec<ListEntry>),
    /// The oldest request not yet answered was an upload, and the server
    /// stored it: its receipt, verified with the server's key (§4.8).
    Stored(Receipt),
    /// The server's answer to the oldest request not yet answered: an
    /// upload's failure, a MKDIR's RESULT, or a refusal of a GET or LIST.
    Outcome(Outcome),
    /// The server closed the session in order.
    Closed,
}

/// Client events before they borrow the receive buffer.
enum Ev {
    ServerKeyUnknown(VerifyingKey),
    Established(VerifyingKey, SessionParams),
    ResumeOffered(u64),
    DownloadOffered(u64, Meta, u64),
    Data(Range<usize>),
    ReceiveComplete(Signed),
    ReceiveCorrupt,
    ReceiveAbandoned,
    Listing(Vec<ListEntry>),
    Stored(Receipt),
    Outcome(Outcome),
    Closed,
}

/// A GET's resume point: the bytes held, and a hash that has absorbed
/// exactly them.
type Held = Option<(u64, Sha256)>;

/// A request sent and not yet fully answered.
enum Pending {
    /// OFFER sent, and this side's signed statement once its END went
    /// out; answered by RECEIPT or a RESULT ≠ 0.
    Upload(Option<Signed>),
    /// MKDIR sent; answered by RESULT.
    Mkdir,
    /// GET sent for this path and at most this many bytes, holding these
    /// bytes; waiting for OFFER or a refusal.
    Get(String, u64, Held),
    /// The GET's OFFER arrived: the download's receiving side, and its
    /// path.
    Download(Receiver, String),
    /// LIST sent; the entries so far.
    List(Vec<ListEntry>),
}

impl Pending {
    fn name(&self) -> &'static str {
        match self {
            Pending::Upload(_) => "awaiting an upload's RECEIPT or RESULT",
            Pending::Mkdir => "awaiting MKDIR's RESULT",
            Pending::Get(..) => "awaiting OFFER",
            Pending::Download(r, _) => r.state_name(),
            Pending::List(_) => "awaiting LISTING",
        }
    }
}

/// An upload offered for resume, before its data: nothing else goes out
/// meanwhile.
enum Resuming {
    /// OFFER sent; the server's RESUME (or a refusal) comes next.
    Asked { size: u64 },
    /// The server offered this prefix; the application answers.
    Offered { size: u64, held: Prefix },
}

/// The open session's requests.
#[derive(Default)]
struct Requests {
    /// Sent and not yet answered, oldest first (at most
    /// [`MAX_IN_FLIGHT`]).
    pending: VecDeque<Pending>,
    /// The newest upload, offered for resume, before its data.
    resuming: Option<Resuming>,
    /// The newest upload while its data is being sent (no other request
    /// may go out until its END has).
    sending: Option<Sender>,
    /// What the newest upload's statement will say besides the hash,
    /// until its END goes out (§4.8).
    outgoing: Option<Outgoing>,
}

/// An upload's path, size and the time its statement carries.
struct Outgoing {
    path: String,
    size: u64,
    time: u64,
}

impl Requests {
    fn state_name(&self) -> &'static str {
        self.pending.front().map_or("idle", Pending::name)
    }
}

enum Phase {
    AwaitChallenge(AwaitChallenge),
    AwaitTrust(Box<AwaitTrust>),
    AwaitEstablished(AwaitEstablished),
    Open(Requests),
    /// Closed, failed, or mid-transition.
    Done,
}

/// The client endpoint of an sft session.
pub struct ClientConnection {
    core: ConnectionCore,
    phase: Phase,
    /// This side's identity: it signs upload statements (§4.8).
    identity: Arc<dyn Sign>,
    /// Most listing entries taken: [`MAX_LISTING_ENTRIES`] (lowered only
    /// by tests, which cannot afford ten million entries).
    max_listing_entries: usize,
}

impl Deref for ClientConnection {
    type Target = ConnectionCore;
    fn deref(&self) -> &ConnectionCore {
        &self.core
    }
}

impl DerefMut for ClientConnection {
    fn deref_mut(&mut self) -> &mut ConnectionCore {
        &mut self.core
    }
}

impl ClientConnection {
    /// A client connection; HELLO is queued for sending at once.
    ///
    /// # Errors
    /// `Crypto` on an OpenSSL failure.
    pub fn new(
        config: ClientConfig,
        eph: Ephemeral,
        timeouts: Timeouts,
        now: Instant,
    ) -> Result<Self, ProtoError> {
        let mut core = ConnectionCore::new(BeforeKeys::Silent, timeouts, now);
        let identity = config.identity.clone();
        let hs = AwaitChallenge::start(config, eph, &mut core.sealer, &mut core.out)?;
        Ok(ClientConnection {
            core,
            phase: Phase::AwaitChallenge(hs),
            identity,
            max_listing_entries: MAX_LISTING_ENTRIES,
        })
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
    pub fn next_event(&mut self) -> Result<Option<ClientEvent<'_>>, ProtoError> {
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
            Ev::ServerKeyUnknown(k) => ClientEvent::ServerKeyUnknown(k),
            Ev::Established(server, params) => ClientEvent::Established { server, params },
            Ev::ResumeOffered(offset) => ClientEvent::ResumeOffered { offset },
            Ev::DownloadOffered(size, meta, from) => {
                ClientEvent::DownloadOffered { size, meta, from }
            }
            Ev::Data(r) => ClientEvent::Data(self.core.bytes(r)),
            Ev::ReceiveComplete(signed) => ClientEvent::ReceiveComplete { signed },
            Ev::ReceiveCorrupt => ClientEvent::ReceiveCorrupt,
            Ev::ReceiveAbandoned => ClientEvent::ReceiveAbandoned,
            Ev::Listing(l) => ClientEvent::Listing(l),
            Ev::Stored(r) => ClientEvent::Stored(r),
            Ev::Outcome(o) => ClientEvent::Outcome(o),
            Ev::Closed => ClientEvent::Closed,
        }))
    }

    fn process(&mut self, rec: Incoming) -> Result<Option<Ev>, ProtoError> {
        let phase = std::mem::replace(&mut self.phase, Phase::Done);
        let (t, range) = match (rec, phase) {
            (Incoming::Closed, _) => return Ok(Some(Ev::Closed)),
            (Incoming::Plain(RecordType::Challenge, r), Phase::AwaitChallenge(hs)) => {
                let c = &mut self.core;
                let record = c.bytes(r).to_vec();
                return match hs.on_challenge(&record, &mut c.sealer, &mut c.opener, &mut c.out)? {
                    AfterChallenge::Sent(next) => {
                        self.phase = Phase::AwaitEstablished(next);
                        Ok(None)
                    }
                    AfterChallenge::NeedsTrust(pending) => {
                        let key = pending.server_key();
                        self.phase = Phase::AwaitTrust(pending);
                        Ok(Some(Ev::ServerKeyUnknown(key)))
                    }
                };
            }
            (Incoming::Plain(kind, _), phase) => {
                let got = if kind == RecordType::Hello {
                    "HELLO"
                } else {
                    "CHALLENGE"
                };
                return Err(unexpected(got, &phase));
            }
            (Incoming::Message(inner::SESSION_ESTABLISHED, r), Phase::AwaitEstablished(hs)) => {
                let c = &mut self.core;
                let body = c.bytes(r).to_vec();
                let (server, params, th_final) =
                    hs.on_established(&body, &mut c.sealer, &mut c.opener)?;
                c.established(server, th_final);
                // The server closes an idle session after the time it
                // announced; the client does not wait longer than that.
                let idle = Duration::from_secs(u64::from(params.idle_timeout_secs.max(1)));
                c.limit_idle(idle);
                self.phase = Phase::Open(Requests::default());
                return Ok(Some(Ev::Established(server, params)));
            }
            (Incoming::Message(t, r), Phase::Open(op)) => {
                self.phase = Phase::Open(op);
                (t, r)
            }
            (Incoming::Message(t, _), phase) => {
                return Err(unexpected(msgs::inner_name(t), &phase));
            }
        };
        self.on_message(t, range)
    }

    /// The open session's requests.
    fn requests(&mut self) -> Result<&mut Requests, ProtoError> {
        self.core.check_alive()?;
        match &mut self.phase {
            Phase::Open(reqs) => Ok(reqs),
            _ if self.core.is_closed() => Err(ProtoError::Closed),
            _ => Err(ProtoError::InvalidCall("the session is not established")),
        }
    }

    /// The open session's requests, when another may be sent now.
    fn ready_for_request(&mut self) -> Result<&mut Requests, ProtoError> {
        self.core.check_open()?;
        let reqs = self.requests()?;
        if reqs.sending.is_some() || reqs.resuming.is_some() {
            return Err(ProtoError::InvalidCall(
                "the upload's data must be sent before another request",
            ));
        }
        if reqs.pending.len() >= MAX_IN_FLIGHT {
            return Err(ProtoError::InvalidCall("too many requests in flight"));
        }
        Ok(reqs)
    }
}

#[cfg(test)]
impl ClientConnection {
    /// Lowers the listing limit, so tests reach it with few entries.
    pub(super) fn set_max_listing_entries(&mut self, max: usize) {
        self.max_listing_entries = max;
    }
}

fn unexpected(got: &'static str, phase: &Phase) -> ProtoError {
    let state = match phase {
        Phase::AwaitChallenge(_) => "awaiting CHALLENGE",
        Phase::AwaitTrust(_) => "awaiting the trust decision",
        Phase::AwaitEstablished(_) => "awaiting SESSION_ESTABLISHED",
        Phase::Open(reqs) => reqs.state_name(),
        Phase::Done => "closed",
    };
    ProtoError::UnexpectedMessage { got, state }
}
