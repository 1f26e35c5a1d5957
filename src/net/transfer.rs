//! The file driver both roles share: [`Outgoing`] reads a source file and
//! feeds a connection's sending side (the client's upload, the server's
//! download); [`Incoming`] takes a receiving side's data and writes a
//! staged file (the server's upload, the client's download).

use std::io::{self, Read};

use crate::fs::{FsError, SourceFile, Staged};
use crate::proto::conn::{ClientConnection, ServerConnection};
use crate::proto::{ProtoError, CHUNK_LEN};

/// A connection that can send a file: either role.
pub trait FileSender {
    /// Whether it wants more file data now.
    fn wants_data(&self) -> bool;
    /// Sends the next piece (1 to `CHUNK_LEN` bytes).
    ///
    /// # Errors
    /// As the role's `send_data`.
    fn send_data(&mut self, data: &[u8]) -> Result<Option<[u8; 32]>, ProtoError>;
}

impl FileSender for ClientConnection {
    fn wants_data(&self) -> bool {
        ClientConnection::wants_data(self)
    }
    fn send_data(&mut self, data: &[u8]) -> Result<Option<[u8; 32]>, ProtoError> {
        ClientConnection::send_data(self, data)
    }
}

impl FileSender for ServerConnection {
    fn wants_data(&self) -> bool {
        ServerConnection::wants_data(self)
    }
    fn send_data(&mut self, data: &[u8]) -> Result<Option<[u8; 32]>, ProtoError> {
        ServerConnection::send_data(self, data)
    }
}

/// Why feeding a file stopped.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The source could not be read to its announced size.
    #[error("{0}")]
    Read(io::Error),
    /// The connection failed.
    #[error(transparent)]
    Proto(#[from] ProtoError),
}

/// A file being sent.
pub struct Outgoing {
    source: SourceFile,
    sent: u64,
}

impl Outgoing {
    /// Sends `source` from its start.
    pub fn new(source: SourceFile) -> Self {
        Outgoing { source, sent: 0 }
    }

    /// The announced size in bytes.
    pub fn size(&self) -> u64 {
        self.source.size
    }

    /// Bytes handed to the connection so far.
    pub fn sent(&self) -> u64 {
        self.sent
    }

    /// Whether every byte has been handed to the connection (its END is
    /// out).
    pub fn is_done(&self) -> bool {
        self.sent == self.source.size
    }

    /// Reads the next chunks into `buf` (at least `CHUNK_LEN` bytes) and
    /// hands them to `conn` while it wants data. Returns the whole-file
    /// SHA-256 once the last byte went out (END followed).
    ///
    /// # Errors
    /// `Read` when the file cannot be read, or ends before its announced
    /// size (it shrank); `Proto` from the connection.
    pub fn pump(
        &mut self,
        conn: &mut impl FileSender,
        buf: &mut [u8],
    ) -> Result<Option<[u8; 32]>, SendError> {
        while conn.wants_data() {
            let left = self.source.size - self.sent;
            let want = left.min(CHUNK_LEN as u64).min(buf.len() as u64) as usize;
            self.source.file.read_exact(&mut buf[..want]).map_err(|e| {
                SendError::Read(if e.kind() == io::ErrorKind::UnexpectedEof {
                    io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the file shrank while it was being sent",
                    )
                } else {
                    e
                })
            })?;
            let end = conn.send_data(&buf[..want])?;
            self.sent += want as u64;
            if end.is_some() {
                return Ok(end);
            }
        }
        Ok(None)
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
