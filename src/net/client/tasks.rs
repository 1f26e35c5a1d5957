//! The single-request operations a session runs, one task each: what
//! every client event means for it (the handshake, a listing, the close).
//! Batches of transfers run in [`super::driver`].

use super::ClientError;
use crate::crypto::ed25519::VerifyingKey;
use crate::proto::conn::ClientEvent;
use crate::proto::msgs::{ListEntry, Outcome, SessionParams};
use crate::proto::ProtoError;

/// What the driver does after an event.
pub(super) enum Reply<T> {
    Continue,
    Trust,
    Done(T),
}

pub(super) trait Task {
    type Output;
    fn on_event(&mut self, ev: ClientEvent<'_>) -> Result<Reply<Self::Output>, ClientError>;
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
