//! The operations a session runs, one task each: what every client event
//! means for it and what it answers (the handshake, a listing, an upload,
//! a download, the close).

use std::path::PathBuf;

use super::ClientError;
use crate::crypto::ed25519::VerifyingKey;
use crate::fs::{FsError, ReceiveRoot};
use crate::net::transfer::{Incoming, Outgoing, SendError};
use crate::proto::conn::{ClientConnection, ClientEvent};
use crate::proto::msgs::{ListEntry, Outcome, ResultCode, SessionParams};
use crate::proto::ProtoError;

/// What the driver does after an event.
pub(super) enum Reply<T> {
    Continue,
    Trust,
    Accept,
    Done(T),
    /// Refuse the pending offer, then finish.
    Refuse(Outcome, T),
    /// Answer a completed transfer, then finish.
    Answer(Outcome, T),
}

pub(super) trait Task {
    type Output;
    fn on_event(&mut self, ev: ClientEvent<'_>) -> Result<Reply<Self::Output>, ClientError>;
    fn produce(&mut self, _conn: &mut ClientConnection) -> Result<(), ClientError> {
        Ok(())
    }
}

/// An event no task of this kind can see (the protocol layer never emits
/// it in this state), or the server's close in the middle of it.
fn out_of_place(ev: &ClientEvent<'_>) -> ClientError {
    match ev {
        ClientEvent::Closed => ClientError::ServerClosed,
        _ => ProtoError::InvalidCall("event out of place for this operation").into(),
    }
}

pub(super) struct Handshake<'a> {
    pub(super) decide: &'a mut dyn FnMut(&VerifyingKey) -> bool,
}

impl Task for Handshake<'_> {
    type Output = (VerifyingKey, SessionParams);
    fn on_event(&mut self, ev: ClientEvent<'_>) -> Result<Reply<Self::Output>, ClientError> {
        match ev {
            ClientEvent::ServerKeyUnknown(key) if (self.decide)(&key) => Ok(Reply::Trust),
            ClientEvent::ServerKeyUnknown(key) => Err(ClientError::Untrusted(key.fingerprint())),
            ClientEvent::Established { server, params } => Ok(Reply::Done((server, params))),
            other => Err(out_of_place(&other)),
        }
    }
}

pub(super) struct List;

impl Task for List {
    type Output = Result<Vec<ListEntry>, Outcome>;
    fn on_event(&mut self, ev: ClientEvent<'_>) -> Result<Reply<Self::Output>, ClientError> {
        match ev {
            ClientEvent::Listing(entries) => Ok(Reply::Done(Ok(entries))),
            ClientEvent::Outcome(o) => Ok(Reply::Done(Err(o))),
            other => Err(out_of_place(&other)),
        }
    }
}

pub(super) struct Close;

impl Task for Close {
    type Output = ();
    fn on_event(&mut self, ev: ClientEvent<'_>) -> Result<Reply<()>, ClientError> {
        match ev {
            ClientEvent::Closed => Ok(Reply::Done(())),
            _ => Ok(Reply::Continue),
        }
    }
}

pub(super) struct Put<'a> {
    pub(super) file: Outgoing,
    pub(super) path: PathBuf,
    pub(super) buf: Vec<u8>,
    pub(super) progress: &'a mut dyn FnMut(u64),
}

impl Task for Put<'_> {
    type Output = Outcome;
    fn on_event(&mut self, ev: ClientEvent<'_>) -> Result<Reply<Outcome>, ClientError> {
        match ev {
            ClientEvent::Outcome(o) => Ok(Reply::Done(o)),
            other => Err(out_of_place(&other)),
        }
    }

    fn produce(&mut self, conn: &mut ClientConnection) -> Result<(), ClientError> {
        let before = self.file.sent();
        self.file.pump(conn, &mut self.buf).map_err(|e| match e {
            SendError::Read(source) => ClientError::Read {
                path: self.path.clone(),
                source,
            },
            SendError::Proto(p) => p.into(),
        })?;
        if self.file.sent() != before {
            (self.progress)(self.file.sent());
        }
        Ok(())
    }
}

pub(super) struct Get<'a> {
    pub(super) name: &'a str,
    pub(super) root: &'a ReceiveRoot,
    pub(super) max_file_size: u64,
    pub(super) file: Option<Incoming>,
    pub(super) size: u64,
    pub(super) received: u64,
    pub(super) error: Option<FsError>,
    pub(super) progress: &'a mut dyn FnMut(u64, u64),
}

impl Get<'_> {
    /// Why this client will not take an offer of `size` bytes, if it won't.
    fn too_large(&self, size: u64) -> Option<Outcome> {
        if size > self.max_file_size {
            return Some(Outcome::new(
                ResultCode::TooLarge,
                format!(
                    "{size} bytes is over this client's limit of {} bytes (--max-file-size)",
                    self.max_file_size
                ),
            ));
        }
        match self.root.available_space() {
            Ok(free) if size > free => Some(Outcome::new(
                ResultCode::TooLarge,
                format!(
                    "{size} bytes do not fit in the {free} bytes free in {}",
                    self.root.path().display()
                ),
            )),
            _ => None,
        }
    }
}

impl Task for Get<'_> {
    type Output = Outcome;
    fn on_event(&mut self, ev: ClientEvent<'_>) -> Result<Reply<Outcome>, ClientError> {
        match ev {
            ClientEvent::DownloadOffered { size } => {
                if let Some(o) = self.too_large(size) {
                    return Ok(Reply::Refuse(o.clone(), o));
                }
                match self.root.begin(self.name, size, false, None) {
                    Ok(staged) => {
                        self.file = Some(Incoming::new(staged));
                        self.size = size;
                        (self.progress)(0, size);
                        Ok(Reply::Accept)
                    }
                    Err(e) => {
                        self.error = Some(e);
                        let o =
                            Outcome::new(ResultCode::IoError, "the client cannot store the file");
                        Ok(Reply::Refuse(o.clone(), o))
                    }
                }
            }
            ClientEvent::Data(data) => {
                if let Some(file) = &mut self.file {
                    file.write(data);
                    self.received = file.received();
                    (self.progress)(self.received, self.size);
                }
                Ok(Reply::Continue)
            }
            ClientEvent::ReceiveComplete => {
                let committed = match self.file.take().map(Incoming::finish) {
                    Some(Ok(staged)) => staged.commit().map(|_| ()),
                    Some(Err(e)) => Err(e),
                    None => return Err(out_of_place(&ClientEvent::ReceiveComplete)),
                };
                let o = match committed {
                    Ok(()) => Outcome::ok(),
                    Err(e) => {
                        self.error = Some(e);
                        Outcome::new(ResultCode::IoError, "the client could not store the file")
                    }
                };
                Ok(Reply::Answer(o.clone(), o))
            }
            ClientEvent::ReceiveCorrupt => Ok(Reply::Done(Outcome::new(
                ResultCode::HashMismatch,
                "whole-file SHA-256 mismatch: the data received is not what the server sent",
            ))),
            ClientEvent::Outcome(o) => Ok(Reply::Done(o)),
            other => Err(out_of_place(&other)),
        }
    }
}
