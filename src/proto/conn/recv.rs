//! [`RecvBuffer`]: the bytes read from the peer and not yet taken as
//! records. Small until the session is established, full size after;
//! never sized by the peer.

use std::io::{self, Read};
use std::ops::Range;

use crate::crypto::aead::TAG_LEN;

use super::super::record::{Header, CHALLENGE_LEN, HEADER_LEN};
use super::super::{ProtoError, MAX_PLAINTEXT_LEN};

/// Size of the receive buffer once the session is established, in bytes:
/// two largest records, so one can be completing while the next arrives.
/// Never sized by the peer.
pub const RECV_BUFFER_LEN: usize = 2 * (HEADER_LEN + MAX_PLAINTEXT_LEN + TAG_LEN);

/// Size of the receive buffer until the session is established, in bytes
/// (348): two of the largest record a side accepts until then, CHALLENGE
/// (14 + 160 bytes), so a connection that has sent nothing or only its
/// handshake holds this much instead of [`RECV_BUFFER_LEN`]. The buffer
/// grows to [`RECV_BUFFER_LEN`] when the session is established.
pub const HANDSHAKE_RECV_BUFFER_LEN: usize = 2 * (HEADER_LEN + CHALLENGE_LEN);

/// The receive buffer: `buf[start..end]` is read and not yet taken.
pub(super) struct RecvBuffer {
    buf: Box<[u8]>,
    start: usize,
    end: usize,
    eof: bool,
}

impl RecvBuffer {
    /// An empty buffer of [`HANDSHAKE_RECV_BUFFER_LEN`] bytes.
    pub(super) fn new() -> Self {
        RecvBuffer {
            buf: vec![0u8; HANDSHAKE_RECV_BUFFER_LEN].into_boxed_slice(),
            start: 0,
            end: 0,
            eof: false,
        }
    }

    /// Reads once from `rd`. Returns the bytes read; 0 means end of stream
    /// (then [`RecvBuffer::saw_eof`]) or a full buffer.
    ///
    /// # Errors
    /// Whatever `rd` returns.
    pub(super) fn read(&mut self, rd: &mut dyn Read) -> io::Result<usize> {
        if self.end == self.buf.len() {
            self.compact();
            if self.end == self.buf.len() {
                return Ok(0);
            }
        }
        let n = rd.read(&mut self.buf[self.end..])?;
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

    /// The session is established, so records up to the full size may
    /// follow: grows to [`RECV_BUFFER_LEN`] in place (what is buffered
    /// stays where it is).
    pub(super) fn grow(&mut self) {
        let mut buf = std::mem::take(&mut self.buf).into_vec();
        buf.resize(RECV_BUFFER_LEN, 0);
        self.buf = buf.into_boxed_slice();
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
            if self.start + total > self.buf.len() {
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
