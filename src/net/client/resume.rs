//! Resume on the client (PROTOCOL.md §4.7): an upload of a large file asks
//! the server for what it holds and goes on after it once both sides'
//! SHA-256 of those bytes match; a download names what this side holds of
//! the file in its GET, from the partial file an interrupted download
//! left in the receive root.

use std::path::PathBuf;

use log::info;

use super::driver::{Batch, Sending};
use super::{ClientError, Session};
use crate::crypto::hash::Sha256;
use crate::fs::{hash_prefix, FsError, ReceiveRoot, SourceFile, Staged};
use crate::net::transfer::Outgoing;
use crate::proto::msgs::{Meta, Prefix, MAX_OFFSET};

/// Smallest upload that asks to resume: 16 MiB. Asking costs a round trip
/// before the file's data (the server answers with what it holds), which
/// a pipelined batch of small files should not pay; resending a file
/// under this size costs little.
pub const RESUME_MIN_SIZE: u64 = 16 << 20;

/// An upload offered for resume, waiting for the server's RESUME.
pub(super) struct Resuming {
    pub index: usize,
    pub source: SourceFile,
    pub local: PathBuf,
}

impl Session {
    /// The server holds the first `offset` bytes of the upload offered for
    /// resume: hashes this side's first `offset` bytes (one read of them),
    /// lets the connection compare and answer RESUME, and feeds the rest.
    pub(super) fn on_resume_offered(
        &mut self,
        b: &mut Batch<'_>,
        offset: u64,
    ) -> Result<(), ClientError> {
        let Resuming {
            index,
            source,
            local,
        } = b.resuming.take().ok_or_else(super::answers::out_of_place)?;
        // When the server holds every byte, END follows at once: no chunk
        // read would catch a file that grew or changed since it was opened.
        let unchanged = offset < source.size || source.check_ends_at_size().is_ok();
        let own = if offset == 0 || !unchanged {
            None
        } else {
            // A file now shorter than the offset, or unreadable, cannot
            // match: the whole file goes again (and its change, if any, is
            // caught as it is read).
            hash_prefix(&source.file, offset)
                .ok()
                .map(|(state, digest)| (digest, state))
        };
        let (from, end) = self.conn.resume_upload(own)?;
        info!(
            "request {index}: the server holds {offset} bytes; sending from {from} ({})",
            if from == offset && offset > 0 {
                "their SHA-256 matched"
            } else if offset > 0 {
                "their SHA-256 differs: starting again"
            } else {
                "nothing held"
            }
        );
        if offset > 0 {
            b.obs.resumed(index, offset, from);
        }
        if let Some(flight) = b.plan.in_flight.back_mut() {
            flight.resumed_from = from;
            flight.sha256 = end;
        }
        if end.is_none() {
            let file = Outgoing::starting_at(source, from).map_err(|e| ClientError::Read {
                path: local.clone(),
                source: e,
            })?;
            b.sending = Some(Sending { index, file, local });
        }
        Ok(())
    }
}

/// What this side holds of the download `local` (its path in `root`)
/// from the server whose key is `server`: the partial file's length and
/// SHA-256, and a hash state that has absorbed its bytes. `None` when it
/// holds nothing usable (no partial, empty, unreadable, or past
/// `max_size`).
pub(super) fn held_download(
    root: &ReceiveRoot,
    local: &str,
    server: &[u8; 32],
    max_size: u64,
) -> Option<(Prefix, Sha256)> {
    let (file, len) = root.held_partial(local, server).ok()??;
    if len == 0 || len > max_size || len > MAX_OFFSET {
        return None;
    }
    let (state, sha256) = hash_prefix(&file, len).ok()?;
    info!("holding {len} bytes of {local:?} from an interrupted download");
    Some((
        Prefix {
            offset: len,
            sha256,
        },
        state,
    ))
}

/// Stages a download of `size` bytes offered from `from` (the offset the
/// GET held, or 0) in the partial file for (`server`, `local`): its held
/// bytes are kept when the server resumed after them, else dropped.
/// Returns the staged file and how many bytes the partial held.
///
/// # Errors
/// As [`ReceiveRoot::begin_resumable`]; [`FsError::Busy`] also when the
/// partial no longer holds exactly `from` bytes (another download of the
/// same file changed it since it was hashed).
pub(super) fn stage_download(
    root: &ReceiveRoot,
    local: &str,
    (size, meta): (u64, Option<Meta>),
    server: &[u8; 32],
    from: u64,
) -> Result<(Staged, u64), FsError> {
    let (mut staged, held) = root.begin_resumable(local, size, false, meta, server)?;
    if from == 0 && held > 0 {
        staged.restart()?;
    } else if from != held {
        return Err(FsError::Busy(local.to_owned()));
    }
    Ok((staged, held))
}
