//! Where sealed records go: [`Output`], and [`SendBuffer`], the
//! connection's queue of records waiting for the socket.

/// A sink of records: the sealer asks it for room and writes each record
/// there once. `Vec<u8>` is one (tests, the busy record); a connection
/// uses a [`SendBuffer`].
pub trait Output {
    /// Bytes queued.
    fn len(&self) -> usize;
    /// Whether nothing is queued.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The queued bytes.
    fn queued(&self) -> &[u8];
    /// Appends `n` bytes and returns them for the caller to fill (their
    /// contents are unspecified until it does).
    fn append(&mut self, n: usize) -> &mut [u8];
    /// Drops the queued bytes past `len` (a record that failed to seal).
    fn truncate(&mut self, len: usize);
}

impl Output for Vec<u8> {
    fn len(&self) -> usize {
        Vec::len(self)
    }
    fn queued(&self) -> &[u8] {
        self
    }
    fn append(&mut self, n: usize) -> &mut [u8] {
        let at = Vec::len(self);
        self.resize(at + n, 0);
        &mut self[at..]
    }
    fn truncate(&mut self, len: usize) {
        Vec::truncate(self, len);
    }
}

/// Records waiting for the socket: `buf[start..end]`. Its memory is
/// zeroed once when it grows and then reused, so a record is written into
/// it exactly once (AES-GCM from the caller's plaintext straight here),
/// with no fill or copy first. It grows to what is queued at most, which
/// the connection bounds (`SEND_HIGH_WATER` plus one record).
#[derive(Default)]
pub struct SendBuffer {
    buf: Vec<u8>,
    start: usize,
    end: usize,
}

impl SendBuffer {
    /// An empty buffer (nothing allocated until a record is queued).
    pub fn new() -> Self {
        SendBuffer::default()
    }

    /// Marks the first `n` queued bytes as written to the socket.
    ///
    /// # Panics
    /// Never: `n` past what is queued is clamped.
    pub fn consume(&mut self, n: usize) {
        self.start = (self.start + n).min(self.end);
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }
}

impl Output for SendBuffer {
    fn len(&self) -> usize {
        self.end - self.start
    }
    fn queued(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }
    fn append(&mut self, n: usize) -> &mut [u8] {
        if self.end + n > self.buf.len() {
            let queued = self.end - self.start;
            if self.start > 0 && queued + n <= self.buf.len() {
                // Move the unsent bytes to the front (only when the socket
                // took part of them; a drained buffer starts at 0).
                self.buf.copy_within(self.start..self.end, 0);
                self.start = 0;
                self.end = queued;
            } else {
                let want = (self.end + n).max(2 * self.buf.len());
                self.buf.resize(want, 0);
            }
        }
        let at = self.end;
        self.end += n;
        &mut self.buf[at..self.end]
    }
    fn truncate(&mut self, len: usize) {
        self.end = self.start + len.min(self.end - self.start);
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn push(b: &mut SendBuffer, bytes: &[u8]) {
        b.append(bytes.len()).copy_from_slice(bytes);
    }

    #[test]
    fn keeps_order_across_partial_consumes_and_moves() {
        let mut b = SendBuffer::new();
        push(&mut b, b"hello ");
        push(&mut b, b"world");
        assert_eq!(b.queued(), b"hello world");
        b.consume(6);
        assert_eq!(b.queued(), b"world");
        // Room at the end runs out: the unsent bytes move to the front.
        let cap = b.buf.len();
        let fill = vec![7u8; cap - 5];
        push(&mut b, &fill);
        assert_eq!(b.buf.len(), cap, "moved, not grown");
        assert_eq!(&b.queued()[..5], b"world");
        assert_eq!(b.len(), cap);
        b.consume(usize::MAX);
        assert!(b.is_empty());
        assert_eq!((b.start, b.end), (0, 0));
    }

    #[test]
    fn truncate_drops_only_the_tail() {
        let mut b = SendBuffer::new();
        push(&mut b, b"abcdef");
        b.consume(2);
        b.truncate(2);
        assert_eq!(b.queued(), b"cd");
        b.truncate(10);
        assert_eq!(b.queued(), b"cd");
        b.truncate(0);
        assert!(b.is_empty());
    }
}
