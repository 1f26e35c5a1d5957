//! [`RecvBuffer`]: the bytes read from the peer and not yet taken as
//! records. Small until the session is established and needs more, never
//! more than [`RECV_BUFFER_LEN`] whatever the peer sends.
//! Page-aligned, and a read never runs past the record being received, so
//! each record's first read lands on the page boundary.

use std::io::{self, Read};
use std::ops::Range;

use crate::aligned::AlignedBuf;
use crate::crypto::aead::TAG_LEN;

use super::super::record::{Header, CHALLENGE_LEN, HEADER_LEN};
use super::super::{ProtoError, MAX_PLAINTEXT_LEN};

/// Largest size of the receive buffer, in bytes: two largest records.
/// It grows to this the first time an established session fills the
/// handshake-size buffer or sends a record that does not fit it, so a
/// connection that only handshakes never allocates or zeroes it.
pub const RECV_BUFFER_LEN: usize = 2 * (HEADER_LEN + MAX_PLAINTEXT_LEN + TAG_LEN);

/// Size of the receive buffer until the session is established, in bytes
/// (348): two of the largest record a side accepts until then, CHALLENGE
/// (14 + 160 bytes), so a connection that has sent nothing or only its
/// handshake holds this much instead of [`RECV_BUFFER_LEN`]. The buffer
/// grows to [`RECV_BUFFER_LEN`] once established, when it fills.
pub const HANDSHAKE_RECV_BUFFER_LEN: usize = 2 * (HEADER_LEN + CHALLENGE_LEN);

/// The receive buffer: `buf[start..end]` is read and not yet taken.
pub(super) struct RecvBuffer {
    buf: AlignedBuf,
    /// The size it may grow to: [`HANDSHAKE_RECV_BUFFER_LEN`] until the
    /// session is established, then [`RECV_BUFFER_LEN`].
    max: usize,
    start: usize,
    end: usize,
    eof: bool,
}

impl RecvBuffer {
    /// An empty buffer of [`HANDSHAKE_RECV_BUFFER_LEN`] bytes.
    pub(super) fn new() -> Self {
        RecvBuffer {
            buf: AlignedBuf::new(HANDSHAKE_RECV_BUFFER_LEN),
            max: HANDSHAKE_RECV_BUFFER_LEN,
            start: 0,
            end: 0,
            eof: false,
        }
    }

    /// Reads once from `rd`, at most to the end of the record being
    /// received when its header is in. Returns the bytes read; 0 means end
    /// of stream (then [`RecvBuffer::saw_eof`]) or a full buffer (take the
    /// records in it first).
    ///
    /// # Errors
    /// Whatever `rd` returns.
    pub(super) fn read(&mut self, rd: &mut dyn Read) -> io::Result<usize> {
        if self.end == self.buf.len() {
            self.compact();
            if self.end == self.buf.len() && self.buf.len() < self.max {
                self.grow();
            }
        }
        let limit = self.record_end().unwrap_or(self.buf.len());
        if self.end == limit {
            return Ok(0);
        }
        let n = rd.read(&mut self.buf[self.end..limit])?;
        if n == 0 {
            self.eof = true;
        }
        self.end += n;
        Ok(n)
    }

    /// Whether the peer's end of stream has been seen.
    pub(super) fn saw_eof(&self) -> bool {
        self.eof
    }

    /// The session is established: the buffer may grow to
    /// [`RECV_BUFFER_LEN`] when it fills or a record needs it.
    pub(super) fn allow_full_size(&mut self) {
        self.max = RECV_BUFFER_LEN;
    }

    /// Where the record at `start` ends in the buffer, while its header is
    /// in and the rest is not (and it fits): the next read stops there.
    /// Unchecked: only a bound for reads; [`RecvBuffer::next_record`]
    /// checks the header.
    fn record_end(&self) -> Option<usize> {
        let head = self.buf.get(self.start..self.start + HEADER_LEN)?;
        if self.end - self.start < HEADER_LEN {
            return None;
        }
        let len = u32::from_be_bytes([head[2], head[3], head[4], head[5]]) as usize;
        let end = self.start.checked_add(HEADER_LEN + len)?;
        (end > self.end && end <= self.buf.len()).then_some(end)
    }

    /// Grows to [`RECV_BUFFER_LEN`], keeping what is buffered at the start.
    fn grow(&mut self) {
        let mut buf = AlignedBuf::new(RECV_BUFFER_LEN);
        let held = self.end - self.start;
        buf[..held].copy_from_slice(&self.buf[self.start..self.end]);
        self.buf = buf;
        self.start = 0;
        self.end = held;
    }

    /// Takes the next complete record: its header and the range of the
    /// whole record (header and payload), whose bytes stay in place until
    /// the next read. `None` while it is incomplete. Until `established`,
    /// a payload longer than CHALLENGE's is refused: no handshake record
    /// is longer, and so every record accepted fits the handshake buffer.
    ///
    /// # Errors
    /// Those of [`Header::parse`]; `RecordTooLarge` for that payload.
    pub(super) fn next_record(
        &mut self,
        established: bool,
    ) -> Result<Option<(Header, Range<usize>)>, ProtoError> {
        let avail = self.end - self.start;
        if avail < HEADER_LEN {
            return Ok(None);
        }
        let mut head = [0u8; HEADER_LEN];
        head.copy_from_slice(&self.buf[self.start..self.start + HEADER_LEN]);
        let header = Header::parse(&head)?;
        if !established && header.len > CHALLENGE_LEN {
            return Err(ProtoError::RecordTooLarge {
                len: header.len,
                max: CHALLENGE_LEN,
            });
        }
        let total = HEADER_LEN + header.len;
        if avail < total {
            if total > self.buf.len() && total <= self.max {
                self.grow();
            } else if self.start + total > self.buf.len() {
                self.compact();
            }
            return Ok(None);
        }
        let record = self.start..self.start + total;
        self.start = record.end;
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
        Ok(Some((header, record)))
    }

    /// The bytes of a range from [`RecvBuffer::next_record`].
    pub(super) fn bytes(&self, r: Range<usize>) -> &[u8] {
        &self.buf[r]
    }

    /// The same, to decrypt in place.
    pub(super) fn bytes_mut(&mut self, r: Range<usize>) -> &mut [u8] {
        &mut self.buf[r]
    }

    /// The buffer's size in bytes.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.buf.len()
    }

    fn compact(&mut self) {
        if self.start == 0 {
            return;
        }
        self.buf.copy_within(self.start..self.end, 0);
        self.end -= self.start;
        self.start = 0;
    }
}
