//! The file driver both roles share: [`Outgoing`] reads a source file and
//! feeds a connection's sending side (the client's upload, the server's
//! download); [`Incoming`] takes a receiving side's data and writes a
//! staged file (the server's upload, the client's download).

use std::io;

use crate::fs::{FsError, SourceError, SourceFile, Staged};
use crate::proto::conn::{ClientConnection, ServerConnection};
use crate::proto::evidence::Signed;
use crate::proto::{ProtoError, CHUNK_LEN};

/// A connection that can send a file: either role.
pub trait FileSender {
    /// What the role's `send_data` returns once END went out.
    type Ended;
    /// Whether it wants more file data now.
    fn wants_data(&self) -> bool;
    /// Sends the next piece (1 to `CHUNK_LEN` bytes).
    ///
    /// # Errors
    /// As the role's `send_data`.
    fn send_data(&mut self, data: &[u8]) -> Result<Option<Self::Ended>, ProtoError>;
}

impl FileSender for ClientConnection {
    /// The whole-file SHA-256 (the statement waits for the RECEIPT).
    type Ended = [u8; 32];
    fn wants_data(&self) -> bool {
        ClientConnection::wants_data(self)
    }
    fn send_data(&mut self, data: &[u8]) -> Result<Option<[u8; 32]>, ProtoError> {
        ClientConnection::send_data(self, data)
    }
}

impl FileSender for ServerConnection {
    /// The download's signed statement.
    type Ended = Signed;
    fn wants_data(&self) -> bool {
        ServerConnection::wants_data(self)
    }
    fn send_data(&mut self, data: &[u8]) -> Result<Option<Signed>, ProtoError> {
        ServerConnection::send_data(self, data)
    }
}

/// Why feeding a file stopped.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The source could not be read or inspected.
    #[error("{0}")]
    Read(io::Error),
    /// The source changed since it was opened: it grew, shrank or was
    /// written to. The text says what changed ("changed while it was being
    /// sent: grew from 10 to 20 bytes"); the caller names the file. The
    /// chunk that showed it was not handed to the connection, so the
    /// receiver never has bytes of the changed file past the ones it had.
    #[error("{0}")]
    Changed(String),
    /// The connection failed.
    #[error(transparent)]
    Proto(#[from] ProtoError),
}

/// A file being sent. Every chunk is read at its offset, then the source
/// is checked against its state when opened ([`SourceFile::check_unchanged`],
/// one `fstat`) before the chunk goes out; before the last chunk it must
/// also end at its size ([`SourceFile::check_ends_at_size`]).
pub struct Outgoing {
    source: SourceFile,
    sent: u64,
}

impl Outgoing {
    /// Sends `source` from its start.
    pub fn new(source: SourceFile) -> Self {
        Outgoing { source, sent: 0 }
    }

    /// Sends `source` from byte `offset` on (a resumed transfer: the
    /// receiver holds the bytes before it); [`sent`](Self::sent) starts at
    /// `offset`. Reads are positional, so the handle's position does not
    /// matter (the prefix may have been read to hash it). A change since
    /// the source was opened, while the prefix was hashed too, is caught
    /// before the first chunk goes out; with `offset == size` no chunk is
    /// read, so the caller checks the source itself
    /// ([`SourceFile::check_ends_at_size`]).
    ///
    /// # Errors
    /// `InvalidInput` when `offset` is past the size.
    pub fn starting_at(source: SourceFile, offset: u64) -> io::Result<Self> {
        if offset > source.size {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "cannot resume {} at byte {offset}: it has {} bytes",
                    source.name(),
                    source.size
                ),
            ));
        }
        Ok(Outgoing {
            source,
            sent: offset,
        })
    }

    /// The announced size in bytes.
    pub fn size(&self) -> u64 {
        self.source.size
    }

    /// Bytes handed to the connection so far, counted from the start of
    /// the file (a resumed transfer starts at its offset).
    pub fn sent(&self) -> u64 {
        self.sent
    }

    /// Reads the next chunks into `buf` (at least `CHUNK_LEN` bytes) and
    /// hands them to `conn` while it wants data, each after checking the
    /// source is unchanged. Returns what the role's END gave (the hash, or
    /// the signed statement) once the last byte went out.
    ///
    /// # Errors
    /// `Changed` when the source changed since it was opened (the chunk
    /// that showed it is not handed over); `Read` when it cannot be read or
    /// inspected; `Proto` from the connection.
    pub fn pump<C: FileSender>(
        &mut self,
        conn: &mut C,
        buf: &mut [u8],
    ) -> Result<Option<C::Ended>, SendError> {
        while conn.wants_data() {
            let left = self.source.size - self.sent;
            let want = left.min(CHUNK_LEN as u64).min(buf.len() as u64) as usize;
            let last = want as u64 == left;
            let chunk = &mut buf[..want];
            self.source
                .read_exact_at(chunk, self.sent)
                .and_then(|()| {
                    if last {
                        self.source.check_ends_at_size()
                    } else {
                        self.source.check_unchanged()
                    }
                })
                .map_err(|e| self.failed(e))?;
            let end = conn.send_data(chunk)?;
            self.sent += want as u64;
            if end.is_some() {
                return Ok(end);
            }
        }
        Ok(None)
    }

    /// The [`SendError`] for a source error.
    fn failed(&self, e: SourceError) -> SendError {
        match e {
            SourceError::Io(e) => SendError::Read(e),
            change => SendError::Changed(format!("changed while it was being sent: {change}")),
        }
    }
}

/// A file being received into a staged temporary file. The first write
/// error is kept and the rest of the data is counted but not written; the
/// transfer still runs to its end so the session stays in step.
pub struct Incoming {
    staged: Staged,
    received: u64,
    error: Option<FsError>,
}

impl Incoming {
    /// Receives into `staged`.
    pub fn new(staged: Staged) -> Self {
        Incoming {
            staged,
            received: 0,
            error: None,
        }
    }

    /// Writes the next `data`.
    pub fn write(&mut self, data: &[u8]) {
        self.received += data.len() as u64;
        if self.error.is_none() {
            self.error = self.staged.write_all(data).err();
        }
    }

    /// Bytes received so far (written or not).
    pub fn received(&self) -> u64 {
        self.received
    }

    /// The staged file, for a background writeback handle.
    pub fn staged(&self) -> &Staged {
        &self.staged
    }

    /// Drops the file received so far, partial file included (its data is
    /// not the file's: corrupt, or its sender abandoned it).
    pub fn discard(self) {
        self.staged.discard();
    }

    /// The staged file, ready to commit, once every byte arrived.
    ///
    /// # Errors
    /// The first write error.
    pub fn finish(self) -> Result<Staged, FsError> {
        match self.error {
            Some(e) => Err(e),
            None => Ok(self.staged),
        }
    }
}
