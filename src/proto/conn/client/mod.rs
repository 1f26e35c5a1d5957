//! [`ClientConnection`]: the client endpoint. It runs the client handshake
//! (pausing for a trust decision on an unknown server key), then starts one
//! operation at a time: an upload (it sends), a download (it receives) or a
//! listing.

mod calls;

use std::ops::{Deref, DerefMut, Range};
use std::time::{Duration, Instant};

use crate::crypto::ed25519::VerifyingKey;

use super::core::{BeforeKeys, ConnectionCore, Incoming};
use super::own_name;
use crate::proto::handshake::client::{
    AfterChallenge, AwaitChallenge, AwaitEstablished, AwaitTrust, ClientConfig,
};
use crate::proto::handshake::Ephemeral;
use crate::proto::msgs::{self, inner, ListEntry, Offer, Outcome, SessionParams};
use crate::proto::record::RecordType;
use crate::proto::timers::Timeouts;
use crate::proto::transfer::{Chunk, Receiver, Sender};
use crate::proto::{ProtoError, TransferError};

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
    /// The server offers the file asked for, `size` bytes: accept or
    /// refuse.
    DownloadOffered { size: u64 },
    /// File data of the download, in order.
    Data(&'a [u8]),
    /// Every byte of the download arrived and the SHA-256 matched: store
    /// the file, then answer with [`ClientConnection::send_result`].
    ReceiveComplete,
    /// The download's SHA-256 did not match; a RESULT saying so was sent
    /// (unless this side had sent CLOSE).
    /// Discard the data.
    ReceiveCorrupt,
    /// The complete listing, in the server's order (unspecified).
    Listing(Vec<ListEntry>),
    /// The server's answer: the end of an upload, or a refusal of a
    /// request.
    Outcome(Outcome),
    /// The server closed the session in order.
    Closed,
}

/// Client events before they borrow the receive buffer.
enum Ev {
    ServerKeyUnknown(VerifyingKey),
    Established(VerifyingKey, SessionParams),
    DownloadOffered(u64),
    Data(Range<usize>),
    ReceiveComplete,
    ReceiveCorrupt,
    Listing(Vec<ListEntry>),
    Outcome(Outcome),
    Closed,
}

/// The operation in progress.
enum Op {
    Idle,
    /// OFFER sent: the upload's sending side.
    Upload(Sender),
    /// GET sent for these name bytes; waiting for OFFER or a refusal.
    AwaitOffer(Vec<u8>),
    /// The download's receiving side.
    Download(Receiver),
    /// LIST sent; the entries so far.
    Listing(Vec<ListEntry>),
}

impl Op {
    fn name(&self) -> &'static str {
        match self {
            Op::Idle => "idle",
            Op::Upload(s) => s.state_name(),
            Op::AwaitOffer(_) => "awaiting OFFER",
            Op::Download(r) => r.state_name(),
            Op::Listing(_) => "awaiting LISTING",
        }
    }
}

enum Phase {
    AwaitChallenge(AwaitChallenge),
    AwaitTrust(Box<AwaitTrust>),
    AwaitEstablished(AwaitEstablished),
    Open(Op),
    /// Closed, failed, or mid-transition.
    Done,
}

/// The client endpoint of an sft session.
pub struct ClientConnection {
    core: ConnectionCore,
    phase: Phase,
    /// Most listing entries taken: [`MAX_LISTING_ENTRIES`] (lowered only
    /// by tests, which cannot afford ten million entries).
    max_listing_entries: usize,
    /// The whole-file SHA-256 of the current or last transfer, once its
    /// END was sent (upload) or received and verified (download).
    sha256: Option<[u8; 32]>,
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
        let hs = AwaitChallenge::start(config, eph, &mut core.sealer, &mut core.out)?;
        Ok(ClientConnection {
            core,
            phase: Phase::AwaitChallenge(hs),
            max_listing_entries: MAX_LISTING_ENTRIES,
            sha256: None,
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
            Ev::DownloadOffered(size) => ClientEvent::DownloadOffered { size },
            Ev::Data(r) => ClientEvent::Data(self.core.bytes(r)),
            Ev::ReceiveComplete => ClientEvent::ReceiveComplete,
            Ev::ReceiveCorrupt => ClientEvent::ReceiveCorrupt,
            Ev::Listing(l) => ClientEvent::Listing(l),
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
                let (server, params) = hs.on_established(&body, &mut c.sealer, &mut c.opener)?;
                c.established(server);
                // The server closes an idle session after the time it
                // announced; the client does not wait longer than that.
                let idle = Duration::from_secs(u64::from(params.idle_timeout_secs.max(1)));
                c.limit_idle(idle);
                self.phase = Phase::Open(Op::Idle);
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

    /// An application message while the session is open.
    fn on_message(&mut self, t: u8, range: Range<usize>) -> Result<Option<Ev>, ProtoError> {
        let Phase::Open(op) = &mut self.phase else {
            return Err(ProtoError::InvalidCall("no open session"));
        };
        let body = self.core.bytes(range.clone());
        let (next, ev) = match (t, std::mem::replace(op, Op::Idle)) {
            (inner::ACCEPT, Op::Upload(mut sender)) => {
                if let Some(hash) = sender.on_accept(msgs::parse_accept(body)?)? {
                    self.core.send_unprompted(inner::END, &hash)?;
                    self.sha256 = Some(hash);
                }
                *self.op()? = Op::Upload(sender);
                return Ok(None);
            }
            (inner::RESULT, Op::Upload(sender)) => {
                let outcome = Outcome::parse(body)?;
                sender.on_result(&outcome)?;
                self.core.hold_for(&outcome);
                (Op::Idle, Ev::Outcome(outcome))
            }
            (inner::OFFER, Op::AwaitOffer(asked)) => {
                let offer = Offer::parse(body)?;
                // The offer must name exactly the bytes asked for: a server
                // may not substitute another path, even one with the same
                // base name.
                if offer.name != asked {
                    return Err(ProtoError::Transfer(TransferError::OfferedOtherName));
                }
                (
                    Op::Download(Receiver::offered(offer.size)),
                    Ev::DownloadOffered(offer.size),
                )
            }
            (inner::RESULT, Op::AwaitOffer(_) | Op::Listing(_)) => {
                let outcome = Outcome::parse(body)?;
                if outcome.code == msgs::ResultCode::Ok {
                    return Err(ProtoError::Transfer(TransferError::OkEarly));
                }
                self.core.hold_for(&outcome);
                (Op::Idle, Ev::Outcome(outcome))
            }
            (inner::CHUNK | inner::END, Op::Download(mut receiver)) => {
                match receiver.on_message(t, body)? {
                    Chunk::Data(at) => (
                        Op::Download(receiver),
                        Ev::Data(range.start + at..range.end),
                    ),
                    Chunk::Complete(hash) => {
                        self.sha256 = Some(hash);
                        (Op::Download(receiver), Ev::ReceiveComplete)
                    }
                    Chunk::Corrupt => {
                        self.core
                            .send_unprompted(inner::RESULT, &hash_mismatch().encode())?;
                        (Op::Idle, Ev::ReceiveCorrupt)
                    }
                }
            }
            (inner::LISTING, Op::Listing(mut entries)) => {
                if msgs::parse_listing(body, &mut entries, self.max_listing_entries)? {
                    *self.op()? = Op::Listing(entries);
                    return Ok(None);
                }
                (Op::Idle, Ev::Listing(entries))
            }
            (t, op) => {
                let err = ProtoError::UnexpectedMessage {
                    got: msgs::inner_name(t),
                    state: op.name(),
                };
                return Err(err);
            }
        };
        *self.op()? = next;
        Ok(Some(ev))
    }

    /// The open session's operation slot.
    fn op(&mut self) -> Result<&mut Op, ProtoError> {
        self.core.check_alive()?;
        match &mut self.phase {
            Phase::Open(op) => Ok(op),
            _ if self.core.is_closed() => Err(ProtoError::Closed),
            _ => Err(ProtoError::InvalidCall("the session is not established")),
        }
    }

    /// The open session's operation slot, which must be idle.
    fn idle(&mut self, what: &'static str) -> Result<&mut Op, ProtoError> {
        self.core.check_open()?;
        let op = self.op()?;
        if !matches!(op, Op::Idle) {
            return Err(ProtoError::InvalidCall(what));
        }
        Ok(op)
    }
}

#[cfg(test)]
impl ClientConnection {
    /// Lowers the listing limit, so tests reach it with few entries.
    pub(super) fn set_max_listing_entries(&mut self, max: usize) {
        self.max_listing_entries = max;
    }
}

fn hash_mismatch() -> Outcome {
    Outcome::new(
        msgs::ResultCode::HashMismatch,
        "whole-file SHA-256 mismatch",
    )
}

fn unexpected(got: &'static str, phase: &Phase) -> ProtoError {
    let state = match phase {
        Phase::AwaitChallenge(_) => "awaiting CHALLENGE",
        Phase::AwaitTrust(_) => "awaiting the trust decision",
        Phase::AwaitEstablished(_) => "awaiting SESSION_ESTABLISHED",
        Phase::Open(op) => op.name(),
        Phase::Done => "closed",
    };
    ProtoError::UnexpectedMessage { got, state }
}
