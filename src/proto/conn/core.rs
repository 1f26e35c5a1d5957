//! [`ConnectionCore`]: what both endpoints share. The receive buffer and
//! the record layer, the output buffer, the timers, the sticky error with
//! its one alert, and the authenticated close. The role types
//! ([`super::ClientConnection`], [`super::ServerConnection`]) add their
//! handshake and their side of each operation, and reach these methods
//! through `Deref`.

use std::io::{self, Read, Write};
use std::ops::Range;
use std::time::{Duration, Instant};

use crate::crypto::aead::TAG_LEN;
use crate::crypto::ed25519::VerifyingKey;

use super::super::msgs::{inner, Outcome};
use super::super::record::{Opener, Output, RecordType, Sealer, SendBuffer, HEADER_LEN};
use super::super::timers::{Timeouts, Timers};
use super::super::transfer::Sender;
use super::super::{ProtoError, CHUNK_LEN};
use super::recv::RecvBuffer;

/// Output buffered beyond which the roles' `wants_data` checks
/// say stop (1 MiB): a sender reads its file only as fast as the socket
/// drains, and a server answers requests only as fast as they are read.
pub const SEND_HIGH_WATER: usize = 4 * CHUNK_LEN;

/// One record as the role connection sees it, after the record layer.
/// ALERT, CLOSE and KEY_UPDATE never get here.
pub(super) enum Incoming {
    /// A plaintext handshake record: the range of the whole record (header
    /// and body) in the receive buffer.
    Plain(RecordType, Range<usize>),
    /// A decrypted message: its inner type and the range of its body.
    Message(u8, Range<usize>),
    /// The peer closed the session in order (our CLOSE is queued).
    Closed,
}

/// Whether a side with no keys yet answers a failure with a plaintext
/// alert. Only the server does, in place of CHALLENGE (its first record).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum BeforeKeys {
    PlainAlert,
    Silent,
}

/// The state both endpoints share. Methods here move bytes, report
/// deadlines and state; the role types drive everything else.
pub struct ConnectionCore {
    pub(super) sealer: Sealer,
    pub(super) opener: Opener,
    inbuf: RecvBuffer,
    pub(super) out: SendBuffer,
    close_sent: bool,
    closed: bool,
    error: Option<ProtoError>,
    before_keys: BeforeKeys,
    timers: Timers,
    peer: Option<VerifyingKey>,
    /// TH_final (§3.2), once established.
    transcript_hash: Option<[u8; 32]>,
}

impl ConnectionCore {
    pub(super) fn new(before_keys: BeforeKeys, timeouts: Timeouts, now: Instant) -> Self {
        ConnectionCore {
            sealer: Sealer::new(),
            opener: Opener::new(),
            inbuf: RecvBuffer::new(),
            out: SendBuffer::new(),
            close_sent: false,
            closed: false,
            error: None,
            before_keys,
            timers: Timers::new(timeouts, now),
            peer: None,
            transcript_hash: None,
        }
    }

    // ---- byte movement ------------------------------------------------

    /// Reads once from `rd` into the receive buffer. Returns the bytes
    /// read; 0 means end of stream, or a full buffer (drain events first:
    /// [`ConnectionCore::saw_eof`] tells which).
    ///
    /// # Errors
    /// Whatever `rd` returns (including `WouldBlock`).
    pub fn read_tls(&mut self, rd: &mut dyn Read, now: Instant) -> io::Result<usize> {
        let n = self.inbuf.read(rd)?;
        if n > 0 {
            self.timers.activity(now);
        }
        Ok(n)
    }

    /// Whether the peer's end of stream has been seen.
    pub fn saw_eof(&self) -> bool {
        self.inbuf.saw_eof()
    }

    /// Writes buffered output to `wr` once. Returns the bytes written.
    ///
    /// # Errors
    /// Whatever `wr` returns (including `WouldBlock`).
    pub fn write_tls(&mut self, wr: &mut dyn Write, now: Instant) -> io::Result<usize> {
        if self.out.is_empty() {
            return Ok(0);
        }
        let n = wr.write(self.out.queued())?;
        self.out.consume(n);
        if n > 0 {
            self.timers.activity(now);
        }
        Ok(n)
    }

    /// Whether output is waiting to be written.
    pub fn wants_write(&self) -> bool {
        !self.out.is_empty()
    }

    /// Bytes of output waiting to be written.
    pub fn pending_output(&self) -> usize {
        self.out.len()
    }

    /// Whether more file data may be queued: this side is not closing and
    /// the unsent output is below [`SEND_HIGH_WATER`] (both roles' senders
    /// ask this).
    pub(super) fn output_has_room(&self) -> bool {
        !self.closing() && self.pending_output() < SEND_HIGH_WATER
    }

    // ---- timers -------------------------------------------------------

    /// The next deadline, or `None` once closed or failed (or when the
    /// timeouts are too long to fall within `Instant`'s range).
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.closed || self.error.is_some() {
            return None;
        }
        self.timers.next_deadline()
    }

    /// Tells the connection the time is `now`. Never fails: a deadline
    /// that has passed fails the connection (with an alert when keys
    /// exist), and the next call that returns a result reports it. A
    /// spurious call changes nothing.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.closed || self.error.is_some() {
            return;
        }
        if let Err(e) = self.timers.check(now) {
            self.fail(e);
        }
    }

    /// Lowers the idle timeout to `idle` if it is shorter (the client
    /// adopts the one the server announces).
    pub(super) fn limit_idle(&mut self, idle: Duration) {
        self.timers.limit_idle(idle);
    }

    // ---- state --------------------------------------------------------

    /// Whether the session ended in order (CLOSE received).
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// The sticky error, once the connection has failed.
    pub fn error(&self) -> Option<&ProtoError> {
        self.error.as_ref()
    }

    /// The authenticated peer identity, once established.
    pub fn peer_key(&self) -> Option<VerifyingKey> {
        self.peer
    }

    /// The session's final transcript hash (TH_final, §3.2), once
    /// established: what signed statements bind to (§4.8).
    pub fn transcript_hash(&self) -> Option<[u8; 32]> {
        self.transcript_hash
    }

    /// The handshake completed with `peer`, the transcript ending in
    /// `th_final`: the handshake deadline ends, and the receive buffer may
    /// grow to full size when a record needs it.
    pub(super) fn established(&mut self, peer: VerifyingKey, th_final: [u8; 32]) {
        self.peer = Some(peer);
        self.transcript_hash = Some(th_final);
        self.timers.established();
        self.inbuf.allow_full_size();
    }

    /// `Err` with the sticky error once failed.
    pub(super) fn check_alive(&self) -> Result<(), ProtoError> {
        match &self.error {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }

    /// Whether this side has sent or received CLOSE: nothing the
    /// application asks for may be sent after it.
    pub(super) fn closing(&self) -> bool {
        self.closed || self.close_sent
    }

    /// For a call that needs an open session: the sticky error once failed,
    /// `Closed` once CLOSE was sent or received.
    pub(super) fn check_open(&self) -> Result<(), ProtoError> {
        self.check_alive()?;
        if self.closing() {
            return Err(ProtoError::Closed);
        }
        Ok(())
    }

    /// Records a fatal error: queues one alert (sealed if keys exist; a
    /// plaintext alert from a side with [`BeforeKeys::PlainAlert`]), then
    /// makes the error sticky. A peer's alert is not answered.
    pub(super) fn fail(&mut self, err: ProtoError) -> ProtoError {
        if let Some(first) = &self.error {
            return first.clone();
        }
        if !matches!(err, ProtoError::PeerAlert(_)) {
            let code = err.alert() as u8;
            if self.sealer.has_keys() {
                if self.sealer.can_seal() {
                    let _ = self.sealer.seal(&mut self.out, inner::ALERT, &[&[code]]);
                }
            } else if self.before_keys == BeforeKeys::PlainAlert {
                self.sealer
                    .plaintext(&mut self.out, RecordType::PlainAlert, &[code]);
            }
        }
        self.error = Some(err.clone());
        err
    }

    /// A local call the state does not allow (`InvalidCall`) is refused and
    /// changes nothing; any other error is fatal.
    pub(super) fn fail_unless_misuse(&mut self, err: ProtoError) -> ProtoError {
        match err {
            ProtoError::InvalidCall(_) => err,
            other => self.fail(other),
        }
    }

    /// Seals one message; a failure is fatal.
    pub(super) fn send(&mut self, t: u8, parts: &[&[u8]]) -> Result<(), ProtoError> {
        self.sealer
            .seal(&mut self.out, t, parts)
            .map_err(|e| self.fail(e))
    }

    /// Sends RESULT; one with a wait (RESULT 8) holds the idle timer.
    pub(super) fn send_outcome(&mut self, outcome: &Outcome) -> Result<(), ProtoError> {
        self.send(inner::RESULT, &[&outcome.encode()])?;
        self.hold_for(outcome);
        Ok(())
    }

    /// A RESULT was sent or received: the idle deadline is no earlier than
    /// the last activity + its wait (non-zero only for RESULT 8) + the idle
    /// timeout (docs/PROTOCOL.md §6).
    pub(super) fn hold_for(&mut self, outcome: &Outcome) {
        self.timers
            .hold(Duration::from_secs(u64::from(outcome.wait_secs())));
    }

    /// Sends a message this side sends on its own, not asked by a call
    /// (END that cuts an upload the server refused), unless CLOSE was sent or received: then
    /// nothing, since the peer, closed by the time it arrived, would fail
    /// on it.
    pub(super) fn send_unprompted(&mut self, t: u8, body: &[u8]) -> Result<(), ProtoError> {
        if self.closing() {
            return Ok(());
        }
        self.send(t, &[body])
    }

    /// The bytes of a range from [`Incoming`].
    pub(super) fn bytes(&self, r: Range<usize>) -> &[u8] {
        self.inbuf.bytes(r)
    }

    /// Sends the authenticated close record; the peer answers with its own.
    /// Calling it again does nothing.
    ///
    /// # Errors
    /// The sticky error; `InvalidCall` before the session is established.
    pub fn close(&mut self) -> Result<(), ProtoError> {
        self.check_alive()?;
        if self.close_sent {
            return Ok(());
        }
        if self.peer.is_none() {
            return Err(ProtoError::InvalidCall(
                "close needs an established session",
            ));
        }
        self.send(inner::CLOSE, &[])?;
        self.close_sent = true;
        Ok(())
    }

    /// Ends the session because this side is shutting down: queues the
    /// alert [`super::super::AlertCode::ShuttingDown`] (when keys exist) and
    /// fails the connection with [`ProtoError::ShuttingDown`]. Write the
    /// output out once more, then close the socket.
    pub fn shut_down(&mut self) {
        self.fail(ProtoError::ShuttingDown);
    }

    /// Ends the connection for lack of room: queues the alert
    /// [`super::super::AlertCode::Busy`] (plaintext from a server before
    /// keys, sealed after) and fails the connection with
    /// [`ProtoError::Busy`]. Write the output out once more, then close the
    /// socket. The client retries later.
    pub fn refuse_busy(&mut self) {
        self.fail(ProtoError::Busy);
    }

    // ---- incoming -----------------------------------------------------

    /// The next complete record, through the record layer: `Ok(None)` when
    /// more bytes are needed. ALERT and a plaintext alert become
    /// `PeerAlert`; CLOSE is answered; KEY_UPDATE is applied. Errors are
    /// not yet sticky (the caller passes them to [`ConnectionCore::fail`]).
    pub(super) fn next_record(&mut self) -> Result<Option<Incoming>, ProtoError> {
        loop {
            let Some((header, record)) = self.inbuf.next_record(self.peer.is_some())? else {
                return self.at_end_of_buffer().map(|()| None);
            };
            let (start, end) = (record.start, record.end);
            if header.kind != RecordType::Encrypted {
                self.opener.accept_plaintext(&header)?;
                if header.kind == RecordType::PlainAlert {
                    return Err(ProtoError::PeerAlert(super::super::AlertCode::from_u8(
                        self.inbuf.bytes(record)[HEADER_LEN],
                    )));
                }
                return Ok(Some(Incoming::Plain(header.kind, record)));
            }
            let Some((inner_type, body)) = self
                .opener
                .open(&header, self.inbuf.bytes_mut(start + HEADER_LEN..end))?
            else {
                continue; // KEY_UPDATE: the opener switched keys.
            };
            let body_start = end - TAG_LEN - body.len();
            let range = body_start..end - TAG_LEN;
            match inner_type {
                inner::ALERT => {
                    let code = match self.bytes(range) {
                        [code] => *code,
                        _ => return Err(ProtoError::MalformedMessage("ALERT")),
                    };
                    return Err(ProtoError::PeerAlert(super::super::AlertCode::from_u8(
                        code,
                    )));
                }
                inner::CLOSE => {
                    if !range.is_empty() {
                        return Err(ProtoError::MalformedMessage("CLOSE"));
                    }
                    if !self.close_sent {
                        self.sealer.seal(&mut self.out, inner::CLOSE, &[])?;
                        self.close_sent = true;
                    }
                    self.closed = true;
                    return Ok(Some(Incoming::Closed));
                }
                t => return Ok(Some(Incoming::Message(t, range))),
            }
        }
    }

    fn at_end_of_buffer(&mut self) -> Result<(), ProtoError> {
        if self.inbuf.saw_eof() && !self.closed && !self.close_sent {
            return Err(ProtoError::Truncated);
        }
        Ok(())
    }

    // ---- the two sides of a file ----------------------------------------

    /// Sends the next `data` of the file `sender` is sending, then END
    /// after the last byte. Shared by both roles. Returns the whole-file
    /// SHA-256 when END was sent.
    pub(super) fn send_chunk(
        &mut self,
        sender: &mut Sender,
        data: &[u8],
    ) -> Result<Option<[u8; 32]>, ProtoError> {
        let (offset, end) = sender.chunk(data).map_err(|e| self.fail_unless_misuse(e))?;
        self.send(inner::CHUNK, &[&offset.to_be_bytes(), data])?;
        Ok(end)
    }
}

/// The bytes a server writes to a connection it refuses at admission, just
/// before closing it: one plaintext alert record (sequence number 0) with
/// [`super::super::AlertCode::Busy`], so the client can say why instead of
/// "connection closed". Unauthenticated, like the close itself.
pub fn busy_record() -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + 1);
    Sealer::new().plaintext(
        &mut out,
        RecordType::PlainAlert,
        &[super::super::AlertCode::Busy as u8],
    );
    out
}

#[cfg(test)]
impl ConnectionCore {
    /// The receive buffer's size in bytes (never sized by the peer).
    pub(super) fn recv_buffer_len(&self) -> usize {
        self.inbuf.len()
    }
}
