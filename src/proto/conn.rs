//! [`Connection`]: one endpoint (client or server) of an sft session,
//! sans-IO. The driver moves bytes with [`Connection::read_tls`] and
//! [`Connection::write_tls`], pulls [`Event`]s with
//! [`Connection::next_event`], calls the request methods, and sleeps until
//! [`Connection::poll_timeout`].
//!
//! Errors are sticky: after the first fatal error the connection sends one
//! alert (when keys exist), and every later call returns the same error.

use std::io::{self, Read, Write};
use std::ops::Range;
use std::sync::Arc;
use std::time::Instant;

use crate::crypto::aead::TAG_LEN;
use crate::crypto::ed25519::VerifyingKey;

use super::codec::{Reader, Writer};
use super::handshake::client::{
    AfterChallenge, AwaitChallenge, AwaitEstablished, AwaitTrust, ClientConfig,
};
use super::handshake::server::{AwaitHello, AwaitResponse, ServerConfig};
use super::handshake::Ephemeral;
use super::msgs::{self, inner, ListEntry, Offer, Outcome, ResultCode, SessionParams};
use super::name::{self, NameError};
use super::record::{Header, Opener, RecordType, Sealer, HEADER_LEN};
use super::timers::{Timeouts, Timers};
use super::transfer::{Progress, Transfer};
use super::{AlertCode, ProtoError, CHUNK_LEN, MAX_PLAINTEXT_LEN};

/// Size of the receive buffer in bytes: two largest records, so one can be
/// completing while the next arrives. Fixed; never sized by the peer.
pub const RECV_BUFFER_LEN: usize = 2 * (HEADER_LEN + MAX_PLAINTEXT_LEN + TAG_LEN);

/// Output buffered beyond which [`Connection::wants_data`] says stop
/// (1 MiB): the sender reads the file only as fast as the socket drains.
pub const SEND_HIGH_WATER: usize = 4 * CHUNK_LEN;

/// Most entries a client accepts in one listing (bounds its memory).
pub const MAX_LISTING_ENTRIES: usize = 100_000;

/// Something the application must see or act on.
#[derive(Debug)]
pub enum Event<'a> {
    /// Client: the server's key is not known. Call
    /// [`Connection::trust_server_key`] to go on, or drop the connection.
    ServerKeyUnknown(VerifyingKey),
    /// The handshake completed. `params` are the server's limits (client
    /// side only).
    Established {
        peer: VerifyingKey,
        params: Option<SessionParams>,
    },
    /// Server: the client offers a file. Accept or refuse.
    UploadRequested {
        name: String,
        size: u64,
        overwrite: bool,
    },
    /// Server: the client asks for a file. Offer it or refuse.
    DownloadRequested { name: String },
    /// Server: the client asks for a listing. Send it or refuse.
    ListRequested,
    /// Server: a request named a refused file name; a RESULT was sent.
    NameRefused(NameError),
    /// Client: the server offers the requested file. Accept or refuse.
    DownloadOffered { name: String, size: u64 },
    /// Client: the complete listing.
    Listing(Vec<ListEntry>),
    /// Our offer was accepted: send the data with [`Connection::send_data`].
    SendReady,
    /// File data, in order.
    Data(&'a [u8]),
    /// All data arrived and the SHA-256 matched: store the file, then
    /// answer with [`Connection::send_result`].
    ReceiveComplete,
    /// All data arrived but the SHA-256 did not match; a RESULT saying so
    /// was sent. Discard the data.
    ReceiveCorrupt,
    /// The peer's answer to our request or transfer.
    Outcome(Outcome),
    /// The peer closed the session in order.
    Closed,
}

/// Events before they borrow the receive buffer.
enum Ev {
    ServerKeyUnknown(VerifyingKey),
    Established(VerifyingKey, Option<SessionParams>),
    UploadRequested(String, u64, bool),
    DownloadRequested(String),
    ListRequested,
    NameRefused(NameError),
    DownloadOffered(String, u64),
    Listing(Vec<ListEntry>),
    SendReady,
    Data(Range<usize>),
    ReceiveComplete,
    ReceiveCorrupt,
    Outcome(Outcome),
    Closed,
}

enum Phase {
    ClientAwaitChallenge(AwaitChallenge),
    ClientAwaitTrust(Box<AwaitTrust>),
    ClientAwaitEstablished(AwaitEstablished),
    ServerAwaitHello(AwaitHello),
    ServerAwaitResponse(AwaitResponse),
    Open,
    Closed,
    Failed(ProtoError),
    /// Only while a transition is in progress.
    Poisoned,
}

impl Phase {
    fn name(&self) -> &'static str {
        match self {
            Phase::ClientAwaitChallenge(_) => "awaiting CHALLENGE",
            Phase::ClientAwaitTrust(_) => "awaiting the trust decision",
            Phase::ClientAwaitEstablished(_) => "awaiting SESSION_ESTABLISHED",
            Phase::ServerAwaitHello(_) => "awaiting HELLO",
            Phase::ServerAwaitResponse(_) => "awaiting RESPONSE",
            Phase::Open => "established",
            Phase::Closed => "closed",
            Phase::Failed(_) | Phase::Poisoned => "failed",
        }
    }
}

/// One endpoint of an sft session.
pub struct Connection {
    is_client: bool,
    phase: Phase,
    sealer: Sealer,
    opener: Opener,
    inbuf: Box<[u8]>,
    in_start: usize,
    in_end: usize,
    eof: bool,
    out: Vec<u8>,
    out_pos: usize,
    close_sent: bool,
    transfer: Transfer,
    timers: Timers,
    peer: Option<VerifyingKey>,
}

impl Connection {
    fn new(is_client: bool, phase: Phase, timeouts: Timeouts, now: Instant) -> Self {
        Connection {
            is_client,
            phase,
            sealer: Sealer::new(),
            opener: Opener::new(),
            inbuf: vec![0u8; RECV_BUFFER_LEN].into_boxed_slice(),
            in_start: 0,
            in_end: 0,
            eof: false,
            out: Vec::new(),
            out_pos: 0,
            close_sent: false,
            transfer: Transfer::Idle,
            timers: Timers::new(timeouts, now),
            peer: None,
        }
    }

    /// A client connection; HELLO is queued for sending at once.
    ///
    /// # Errors
    /// `Crypto` on an OpenSSL failure.
    pub fn client(
        config: ClientConfig,
        eph: Ephemeral,
        timeouts: Timeouts,
        now: Instant,
    ) -> Result<Self, ProtoError> {
        let mut c = Connection::new(true, Phase::Poisoned, timeouts, now);
        c.phase = Phase::ClientAwaitChallenge(AwaitChallenge::start(
            config,
            eph,
            &mut c.sealer,
            &mut c.out,
        )?);
        Ok(c)
    }

    /// A server connection, waiting for HELLO.
    pub fn server(
        config: Arc<ServerConfig>,
        eph: Ephemeral,
        timeouts: Timeouts,
        now: Instant,
    ) -> Self {
        Connection::new(
            false,
            Phase::ServerAwaitHello(AwaitHello::new(config, eph)),
            timeouts,
            now,
        )
    }

    // ---- byte movement ------------------------------------------------

    /// Reads once from `rd` into the receive buffer. Returns the bytes
    /// read; 0 means end of stream, or a full buffer (drain events first).
    ///
    /// # Errors
    /// Whatever `rd` returns (including `WouldBlock`).
    pub fn read_tls(&mut self, rd: &mut dyn Read, now: Instant) -> io::Result<usize> {
        if self.in_end == self.inbuf.len() {
            self.compact();
            if self.in_end == self.inbuf.len() {
                return Ok(0);
            }
        }
        let n = rd.read(&mut self.inbuf[self.in_end..])?;
        if n == 0 {
            self.eof = true;
        } else {
            self.in_end += n;
            self.timers.activity(now);
        }
        Ok(n)
    }

    /// Whether the peer's end of stream has been seen.
    pub fn saw_eof(&self) -> bool {
        self.eof
    }

    /// Writes buffered output to `wr` once. Returns the bytes written.
    ///
    /// # Errors
    /// Whatever `wr` returns (including `WouldBlock`).
    pub fn write_tls(&mut self, wr: &mut dyn Write, now: Instant) -> io::Result<usize> {
        if self.out_pos == self.out.len() {
            return Ok(0);
        }
        let n = wr.write(&self.out[self.out_pos..])?;
        self.out_pos += n;
        if n > 0 {
            self.timers.activity(now);
        }
        if self.out_pos == self.out.len() {
            self.out.clear();
            self.out_pos = 0;
        } else if self.out_pos >= SEND_HIGH_WATER {
            self.out.drain(..self.out_pos);
            self.out_pos = 0;
        }
        Ok(n)
    }

    /// Whether output is waiting to be written.
    pub fn wants_write(&self) -> bool {
        self.out_pos < self.out.len()
    }

    /// Bytes of output waiting to be written.
    pub fn pending_output(&self) -> usize {
        self.out.len() - self.out_pos
    }

    fn compact(&mut self) {
        self.inbuf.copy_within(self.in_start..self.in_end, 0);
        self.in_end -= self.in_start;
        self.in_start = 0;
    }

    // ---- timers -------------------------------------------------------

    /// The next deadline, or `None` once closed or failed (or when no
    /// deadline applies).
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.phase {
            Phase::Closed | Phase::Failed(_) => None,
            _ => self.timers.next_deadline(),
        }
    }

    /// Tells the connection the time is `now`.
    ///
    /// # Errors
    /// `HandshakeTimeout` or `IdleTimeout` once a deadline has passed
    /// (an alert is queued when keys exist).
    pub fn handle_timeout(&mut self, now: Instant) -> Result<(), ProtoError> {
        self.check_alive()?;
        if matches!(self.phase, Phase::Closed) {
            return Ok(());
        }
        self.timers.check(now).map_err(|e| self.fail(e))
    }

    // ---- state --------------------------------------------------------

    /// Whether the handshake completed and the session is open.
    pub fn is_established(&self) -> bool {
        matches!(self.phase, Phase::Open)
    }

    /// Whether the session ended in order.
    pub fn is_closed(&self) -> bool {
        matches!(self.phase, Phase::Closed)
    }

    /// The authenticated peer identity, once established.
    pub fn peer_key(&self) -> Option<VerifyingKey> {
        self.peer
    }

    fn check_alive(&self) -> Result<(), ProtoError> {
        match &self.phase {
            Phase::Failed(e) => Err(e.clone()),
            _ => Ok(()),
        }
    }

    /// Records a fatal error: queues one alert if keys exist (or, on the
    /// server, a plaintext alert for a version it does not speak), then
    /// makes the error sticky.
    fn fail(&mut self, err: ProtoError) -> ProtoError {
        if let Phase::Failed(first) = &self.phase {
            return first.clone();
        }
        if !matches!(err, ProtoError::PeerAlert(_)) {
            let code = err.alert() as u8;
            if self.sealer.has_keys() {
                let _ = self.sealer.seal(&mut self.out, inner::ALERT, &[&[code]]);
            } else if !self.is_client && matches!(err, ProtoError::UnsupportedVersion { .. }) {
                self.sealer
                    .plaintext(&mut self.out, RecordType::PlainAlert, &[code]);
            }
        }
        self.phase = Phase::Failed(err.clone());
        err
    }

    // ---- incoming -----------------------------------------------------

    /// Processes buffered records until one yields an event, or returns
    /// `None` when more bytes are needed (or the session closed).
    ///
    /// # Errors
    /// Any fatal [`ProtoError`]; `Truncated` when the stream ended without
    /// an authenticated close.
    pub fn next_event(&mut self) -> Result<Option<Event<'_>>, ProtoError> {
        self.check_alive()?;
        let ev = loop {
            let avail = self.in_end - self.in_start;
            if avail < HEADER_LEN {
                return self.at_end_of_buffer().map(|()| None);
            }
            let head: &[u8; HEADER_LEN] = self.inbuf[self.in_start..self.in_start + HEADER_LEN]
                .try_into()
                .expect("header length");
            let header = Header::parse(head).map_err(|e| self.fail(e))?;
            let total = HEADER_LEN + header.len;
            if avail < total {
                if self.in_start + total > self.inbuf.len() {
                    self.compact();
                }
                return self.at_end_of_buffer().map(|()| None);
            }
            let start = self.in_start;
            self.in_start += total;
            if self.in_start == self.in_end {
                self.in_start = 0;
                self.in_end = 0;
                // The record's bytes stay in place until the next read.
            }
            match self.process(header, start) {
                Ok(Some(ev)) => break ev,
                Ok(None) => continue,
                Err(e) => return Err(self.fail(e)),
            }
        };
        Ok(Some(match ev {
            Ev::ServerKeyUnknown(k) => Event::ServerKeyUnknown(k),
            Ev::Established(peer, params) => Event::Established { peer, params },
            Ev::UploadRequested(name, size, overwrite) => Event::UploadRequested {
                name,
                size,
                overwrite,
            },
            Ev::DownloadRequested(name) => Event::DownloadRequested { name },
            Ev::ListRequested => Event::ListRequested,
            Ev::NameRefused(e) => Event::NameRefused(e),
            Ev::DownloadOffered(name, size) => Event::DownloadOffered { name, size },
            Ev::Listing(l) => Event::Listing(l),
            Ev::SendReady => Event::SendReady,
            Ev::Data(r) => Event::Data(&self.inbuf[r]),
            Ev::ReceiveComplete => Event::ReceiveComplete,
            Ev::ReceiveCorrupt => Event::ReceiveCorrupt,
            Ev::Outcome(o) => Event::Outcome(o),
            Ev::Closed => Event::Closed,
        }))
    }

    fn at_end_of_buffer(&mut self) -> Result<(), ProtoError> {
        if self.eof && !matches!(self.phase, Phase::Closed) && !self.close_sent {
            return Err(self.fail(ProtoError::Truncated));
        }
        Ok(())
    }

    fn unexpected(&self, got: &'static str) -> ProtoError {
        let state = match self.phase {
            Phase::Open => self.transfer.name(),
            ref p => p.name(),
        };
        ProtoError::UnexpectedMessage { got, state }
    }

    fn process(&mut self, header: Header, start: usize) -> Result<Option<Ev>, ProtoError> {
        let end = start + HEADER_LEN + header.len;
        if header.kind != RecordType::Encrypted {
            self.opener.accept_plaintext(&header)?;
            let record = &self.inbuf[start..end];
            let phase = std::mem::replace(&mut self.phase, Phase::Poisoned);
            return match (header.kind, phase) {
                (RecordType::PlainAlert, _) => Err(ProtoError::PeerAlert(AlertCode::from_u8(
                    record[HEADER_LEN],
                ))),
                (RecordType::Hello, Phase::ServerAwaitHello(hs)) => {
                    let next =
                        hs.on_hello(record, &mut self.sealer, &mut self.opener, &mut self.out)?;
                    self.phase = Phase::ServerAwaitResponse(next);
                    Ok(None)
                }
                (RecordType::Challenge, Phase::ClientAwaitChallenge(hs)) => {
                    match hs.on_challenge(
                        record,
                        &mut self.sealer,
                        &mut self.opener,
                        &mut self.out,
                    )? {
                        AfterChallenge::Sent(next) => {
                            self.phase = Phase::ClientAwaitEstablished(next);
                            Ok(None)
                        }
                        AfterChallenge::NeedsTrust(pending) => {
                            let key = pending.server_key();
                            self.phase = Phase::ClientAwaitTrust(pending);
                            Ok(Some(Ev::ServerKeyUnknown(key)))
                        }
                    }
                }
                (kind, phase) => {
                    self.phase = phase;
                    Err(self.unexpected(if kind == RecordType::Hello {
                        "HELLO"
                    } else {
                        "CHALLENGE"
                    }))
                }
            };
        }

        let (inner_type, body) = self
            .opener
            .open(&header, &mut self.inbuf[start + HEADER_LEN..end])?;
        let body_len = body.len();
        let body_range = end - TAG_LEN - body_len..end - TAG_LEN;
        let body = &self.inbuf[body_range.clone()];
        match inner_type {
            inner::ALERT => {
                let mut r = Reader::new(body, "ALERT");
                let code = r.u8()?;
                r.finish()?;
                return Err(ProtoError::PeerAlert(AlertCode::from_u8(code)));
            }
            inner::CLOSE => {
                if !body.is_empty() {
                    return Err(ProtoError::MalformedMessage("CLOSE"));
                }
                if !self.close_sent {
                    self.sealer.seal(&mut self.out, inner::CLOSE, &[])?;
                    self.close_sent = true;
                }
                self.phase = Phase::Closed;
                return Ok(Some(Ev::Closed));
            }
            _ => {}
        }
        let phase = std::mem::replace(&mut self.phase, Phase::Poisoned);
        match (inner_type, phase) {
            (inner::RESPONSE, Phase::ServerAwaitResponse(hs)) => {
                let peer =
                    hs.on_response(body, &mut self.sealer, &mut self.opener, &mut self.out)?;
                self.established(peer);
                Ok(Some(Ev::Established(peer, None)))
            }
            (inner::SESSION_ESTABLISHED, Phase::ClientAwaitEstablished(hs)) => {
                let (peer, params) = hs.on_established(body, &mut self.sealer, &mut self.opener)?;
                self.established(peer);
                Ok(Some(Ev::Established(peer, Some(params))))
            }
            (_, Phase::Open) => {
                self.phase = Phase::Open;
                self.on_application(inner_type, body_range)
            }
            (t, phase) => {
                self.phase = phase;
                Err(self.unexpected(msgs::inner_name(t)))
            }
        }
    }

    fn established(&mut self, peer: VerifyingKey) {
        self.peer = Some(peer);
        self.timers.established();
        self.phase = Phase::Open;
    }

    fn on_application(&mut self, t: u8, range: Range<usize>) -> Result<Option<Ev>, ProtoError> {
        let body = &self.inbuf[range.clone()];
        let state = std::mem::replace(&mut self.transfer, Transfer::Idle);
        let (next, ev) = match (t, state, self.is_client) {
            (inner::OFFER, Transfer::Idle, false) => {
                let offer = Offer::parse(body)?;
                match name::sanitize(&offer.name) {
                    Ok(n) => (
                        Transfer::UploadDecision { size: offer.size },
                        Ev::UploadRequested(n, offer.size, offer.overwrite),
                    ),
                    Err(e) => {
                        self.refuse_name(&e)?;
                        (Transfer::Idle, Ev::NameRefused(e))
                    }
                }
            }
            (inner::OFFER, Transfer::AwaitOffer, true) => {
                let offer = Offer::parse(body)?;
                let n = name::sanitize(&offer.name)?;
                (
                    Transfer::DownloadOfferDecision { size: offer.size },
                    Ev::DownloadOffered(n, offer.size),
                )
            }
            (inner::GET, Transfer::Idle, false) => match name::sanitize(&msgs::parse_get(body)?) {
                Ok(n) => (Transfer::DownloadDecision, Ev::DownloadRequested(n)),
                Err(e) => {
                    self.refuse_name(&e)?;
                    (Transfer::Idle, Ev::NameRefused(e))
                }
            },
            (inner::LIST, Transfer::Idle, false) => {
                Reader::new(body, "LIST").finish()?;
                (Transfer::ListDecision, Ev::ListRequested)
            }
            (inner::ACCEPT, Transfer::AwaitAccept { size }, _) => {
                let mut r = Reader::new(body, "ACCEPT");
                let offset = r.u64()?;
                r.finish()?;
                if offset != 0 {
                    return Err(ProtoError::Transfer(
                        "resuming at an offset is not supported by this version",
                    ));
                }
                let progress = Progress::new(size)?;
                if progress.complete() {
                    self.sealer
                        .seal(&mut self.out, inner::END, &[&progress.finish()?])?;
                    (Transfer::AwaitResult, Ev::SendReady)
                } else {
                    (Transfer::Sending(progress), Ev::SendReady)
                }
            }
            (inner::CHUNK, Transfer::Receiving(mut progress), _) => {
                let mut r = Reader::new(body, "CHUNK");
                let offset = r.u64()?;
                let data = r.rest();
                if data.is_empty() || data.len() > CHUNK_LEN {
                    return Err(ProtoError::Transfer(
                        "chunk is empty or larger than CHUNK_LEN",
                    ));
                }
                progress.add(offset, data)?;
                (
                    Transfer::Receiving(progress),
                    Ev::Data(range.start + 8..range.end),
                )
            }
            (inner::END, Transfer::Receiving(progress), _) => {
                let mut r = Reader::new(body, "END");
                let hash = r.array::<32>()?;
                r.finish()?;
                if progress.verify(&hash)? {
                    (Transfer::ReceivedAll, Ev::ReceiveComplete)
                } else {
                    let o = Outcome {
                        code: ResultCode::HashMismatch,
                        reason: "whole-file SHA-256 mismatch".into(),
                    };
                    self.sealer
                        .seal(&mut self.out, inner::RESULT, &[&o.encode()])?;
                    (Transfer::Idle, Ev::ReceiveCorrupt)
                }
            }
            (
                inner::RESULT,
                Transfer::AwaitAccept { .. } | Transfer::AwaitOffer | Transfer::AwaitListing(_),
                _,
            ) => {
                let o = Outcome::parse(body)?;
                if o.code == ResultCode::Ok {
                    return Err(ProtoError::Transfer(
                        "RESULT ok before the operation finished",
                    ));
                }
                (Transfer::Idle, Ev::Outcome(o))
            }
            (inner::RESULT, Transfer::AwaitResult, _) => {
                (Transfer::Idle, Ev::Outcome(Outcome::parse(body)?))
            }
            (inner::LISTING, Transfer::AwaitListing(mut entries), true) => {
                let more = msgs::parse_listing(body, &mut entries)?;
                if entries.len() > MAX_LISTING_ENTRIES {
                    return Err(ProtoError::Transfer("listing has too many entries"));
                }
                if more {
                    self.transfer = Transfer::AwaitListing(entries);
                    return Ok(None);
                }
                (Transfer::Idle, Ev::Listing(entries))
            }
            (t, state, _) => {
                let got = msgs::inner_name(t);
                let err = ProtoError::UnexpectedMessage {
                    got,
                    state: state.name(),
                };
                return Err(err);
            }
        };
        self.transfer = next;
        Ok(Some(ev))
    }

    fn refuse_name(&mut self, e: &NameError) -> Result<(), ProtoError> {
        let o = Outcome {
            code: ResultCode::BadName,
            reason: e.to_string(),
        };
        self.sealer
            .seal(&mut self.out, inner::RESULT, &[&o.encode()])
    }

    // ---- application calls ---------------------------------------------

    fn app_call(&mut self, what: &'static str) -> Result<Transfer, ProtoError> {
        self.check_alive()?;
        if !matches!(self.phase, Phase::Open) {
            return Err(ProtoError::InvalidCall(what));
        }
        Ok(std::mem::replace(&mut self.transfer, Transfer::Idle))
    }

    fn send(&mut self, t: u8, parts: &[&[u8]]) -> Result<(), ProtoError> {
        self.sealer
            .seal(&mut self.out, t, parts)
            .map_err(|e| self.fail(e))
    }

    /// Client: trusts the server key reported by
    /// [`Event::ServerKeyUnknown`] and continues the handshake.
    ///
    /// # Errors
    /// `InvalidCall` in any other state; the handshake's errors.
    pub fn trust_server_key(&mut self) -> Result<(), ProtoError> {
        self.check_alive()?;
        match std::mem::replace(&mut self.phase, Phase::Poisoned) {
            Phase::ClientAwaitTrust(pending) => {
                match (*pending).trust(&mut self.sealer, &mut self.opener, &mut self.out) {
                    Ok(next) => {
                        self.phase = Phase::ClientAwaitEstablished(next);
                        Ok(())
                    }
                    Err(e) => Err(self.fail(e)),
                }
            }
            other => {
                self.phase = other;
                Err(ProtoError::InvalidCall("no server key is awaiting trust"))
            }
        }
    }

    fn restore(&mut self, state: Transfer, what: &'static str) -> ProtoError {
        self.transfer = state;
        ProtoError::InvalidCall(what)
    }

    /// Client: offers `name` (`size` bytes) for upload. `name` must already
    /// be a valid base name.
    ///
    /// # Errors
    /// `Name` for a name the rule refuses; `InvalidCall` unless idle.
    pub fn request_upload(
        &mut self,
        name: &str,
        size: u64,
        overwrite: bool,
    ) -> Result<(), ProtoError> {
        check_own_name(name)?;
        match self.app_call("request_upload")? {
            Transfer::Idle if self.is_client => {}
            other => return Err(self.restore(other, "request_upload needs an idle client")),
        }
        let offer = Offer {
            name: name.as_bytes().to_vec(),
            size,
            overwrite,
        };
        self.send(inner::OFFER, &[&offer.encode()])?;
        self.transfer = Transfer::AwaitAccept { size };
        Ok(())
    }

    /// Client: asks for the file `name`.
    ///
    /// # Errors
    /// `Name` for a name the rule refuses; `InvalidCall` unless idle.
    pub fn request_download(&mut self, name: &str) -> Result<(), ProtoError> {
        check_own_name(name)?;
        match self.app_call("request_download")? {
            Transfer::Idle if self.is_client => {}
            other => return Err(self.restore(other, "request_download needs an idle client")),
        }
        let mut body = Vec::with_capacity(2 + name.len());
        body.put_vec16(name.as_bytes());
        self.send(inner::GET, &[&body])?;
        self.transfer = Transfer::AwaitOffer;
        Ok(())
    }

    /// Client: asks for the listing of the server's root.
    ///
    /// # Errors
    /// `InvalidCall` unless idle.
    pub fn request_list(&mut self) -> Result<(), ProtoError> {
        match self.app_call("request_list")? {
            Transfer::Idle if self.is_client => {}
            other => return Err(self.restore(other, "request_list needs an idle client")),
        }
        self.send(inner::LIST, &[])?;
        self.transfer = Transfer::AwaitListing(Vec::new());
        Ok(())
    }

    /// Accepts the pending upload (server) or offered download (client)
    /// from offset 0; data events follow.
    ///
    /// # Errors
    /// `InvalidCall` unless a file is awaiting acceptance.
    pub fn accept(&mut self) -> Result<(), ProtoError> {
        let size = match self.app_call("accept")? {
            Transfer::UploadDecision { size } | Transfer::DownloadOfferDecision { size } => size,
            other => return Err(self.restore(other, "no offer awaits acceptance")),
        };
        self.send(inner::ACCEPT, &[&0u64.to_be_bytes()])?;
        self.transfer = Transfer::Receiving(Progress::new(size).map_err(|e| self.fail(e))?);
        Ok(())
    }

    /// Server: offers the requested file, `size` bytes, under `name`.
    ///
    /// # Errors
    /// `InvalidCall` unless a download request is pending.
    pub fn offer_download(&mut self, name: &str, size: u64) -> Result<(), ProtoError> {
        check_own_name(name)?;
        match self.app_call("offer_download")? {
            Transfer::DownloadDecision => {}
            other => return Err(self.restore(other, "no download request is pending")),
        }
        let offer = Offer {
            name: name.as_bytes().to_vec(),
            size,
            overwrite: false,
        };
        self.send(inner::OFFER, &[&offer.encode()])?;
        self.transfer = Transfer::AwaitAccept { size };
        Ok(())
    }

    /// Server: sends the listing. Returns how many entries were sent
    /// (names the client's rule would refuse are left out).
    ///
    /// # Errors
    /// `InvalidCall` unless a listing request is pending.
    pub fn send_listing(&mut self, entries: &[ListEntry]) -> Result<usize, ProtoError> {
        match self.app_call("send_listing")? {
            Transfer::ListDecision => {}
            other => return Err(self.restore(other, "no listing request is pending")),
        }
        let (bodies, sent) = msgs::encode_listing(entries);
        for body in bodies {
            self.send(inner::LISTING, &[&body])?;
        }
        Ok(sent)
    }

    /// Refuses the pending request or offer with `outcome` (not `Ok`).
    ///
    /// # Errors
    /// `InvalidCall` unless a decision is pending or `outcome` is `Ok`.
    pub fn refuse(&mut self, outcome: &Outcome) -> Result<(), ProtoError> {
        match self.app_call("refuse")? {
            Transfer::UploadDecision { .. }
            | Transfer::DownloadDecision
            | Transfer::ListDecision
            | Transfer::DownloadOfferDecision { .. }
                if outcome.code != ResultCode::Ok => {}
            other => return Err(self.restore(other, "nothing to refuse")),
        }
        self.send(inner::RESULT, &[&outcome.encode()])
    }

    /// Whether the application should supply more file data now: sending,
    /// bytes remain, and the output buffer is below [`SEND_HIGH_WATER`].
    pub fn wants_data(&self) -> bool {
        matches!(&self.transfer, Transfer::Sending(p) if !p.complete())
            && self.pending_output() < SEND_HIGH_WATER
    }

    /// Sends the next `data` (at most [`CHUNK_LEN`] bytes) of the file
    /// being sent. After the last byte, END with the SHA-256 follows
    /// automatically.
    ///
    /// # Errors
    /// `InvalidCall` unless sending, for empty or oversize `data`, or data
    /// past the announced size.
    pub fn send_data(&mut self, data: &[u8]) -> Result<(), ProtoError> {
        let mut progress = match self.app_call("send_data")? {
            Transfer::Sending(p) => p,
            other => return Err(self.restore(other, "not sending a file")),
        };
        if data.is_empty()
            || data.len() > CHUNK_LEN
            || progress.done() + data.len() as u64 > progress.size()
        {
            self.transfer = Transfer::Sending(progress);
            return Err(ProtoError::InvalidCall(
                "data chunk empty, too large, or past the announced size",
            ));
        }
        let offset = progress.done();
        progress.add(offset, data).map_err(|e| self.fail(e))?;
        self.send(inner::CHUNK, &[&offset.to_be_bytes(), data])?;
        if progress.complete() {
            let hash = progress.finish().map_err(|e| self.fail(e))?;
            self.send(inner::END, &[&hash])?;
            self.transfer = Transfer::AwaitResult;
        } else {
            self.transfer = Transfer::Sending(progress);
        }
        Ok(())
    }

    /// Answers a completely received file with `outcome` (Ok once it is
    /// safely stored).
    ///
    /// # Errors
    /// `InvalidCall` unless a received file awaits its answer.
    pub fn send_result(&mut self, outcome: &Outcome) -> Result<(), ProtoError> {
        match self.app_call("send_result")? {
            Transfer::ReceivedAll => {}
            other => return Err(self.restore(other, "no received file awaits a result")),
        }
        self.send(inner::RESULT, &[&outcome.encode()])
    }

    /// Ends the session because this side is shutting down: queues the
    /// alert [`AlertCode::ShuttingDown`] (when keys exist) and fails the
    /// connection with [`ProtoError::ShuttingDown`]. Write the output out
    /// once more, then close the socket.
    pub fn shut_down(&mut self) {
        let _ = self.fail(ProtoError::ShuttingDown);
    }

    /// Sends the authenticated close record; the peer answers with its own.
    ///
    /// # Errors
    /// `InvalidCall` before the session is established.
    pub fn close(&mut self) -> Result<(), ProtoError> {
        self.check_alive()?;
        if self.close_sent {
            return Ok(());
        }
        if !self.sealer.has_keys() || !matches!(self.phase, Phase::Open | Phase::Closed) {
            return Err(ProtoError::InvalidCall(
                "close needs an established session",
            ));
        }
        self.send(inner::CLOSE, &[])?;
        self.close_sent = true;
        Ok(())
    }
}

/// The bytes a server writes to a connection it refuses at admission, just
/// before closing it: one plaintext alert record (sequence number 0) with
/// [`AlertCode::Busy`], so the client can say why instead of "connection
/// closed". Unauthenticated, like the close itself.
pub fn busy_record() -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + 1);
    Sealer::new().plaintext(&mut out, RecordType::PlainAlert, &[AlertCode::Busy as u8]);
    out
}

fn check_own_name(name: &str) -> Result<(), ProtoError> {
    if name::sanitize(name.as_bytes())? != name {
        return Err(ProtoError::Name(NameError::NotBaseName(name.to_string())));
    }
    Ok(())
}

#[cfg(test)]
#[path = "conn_tests.rs"]
mod tests;
