//! The client's signed evidence (PROTOCOL.md §4.8): the statement it
//! signs at an upload's END and checks at a download's.

use super::*;

impl ClientConnection {
    /// A statement of this session (§4.8) of the file `(path, size,
    /// sha256, time)`.
    pub(super) fn statement(
        &self,
        direction: Direction,
        (path, size, sha256, time): (String, u64, [u8; 32], u64),
    ) -> Result<Statement, ProtoError> {
        let (Some(server), Some(transcript_hash)) =
            (self.core.peer_key(), self.core.transcript_hash())
        else {
            return Err(ProtoError::InvalidCall("the session is not established"));
        };
        Ok(Statement {
            direction,
            client: self.identity.verifying_key(),
            server,
            transcript_hash,
            path,
            size,
            sha256,
            time,
        })
    }

    /// The upload's last byte went out (or it had none) and `sha256` is
    /// its hash: signs its statement and sends END, and keeps the
    /// statement for the upload's RECEIPT.
    pub(super) fn send_end(&mut self, sha256: [u8; 32]) -> Result<(), ProtoError> {
        let reqs = self.requests()?;
        reqs.sending = None;
        let Some(Outgoing { path, size, time }) = reqs.outgoing.take() else {
            return Err(ProtoError::InvalidCall("no upload is being sent"));
        };
        let statement = self.statement(Direction::Upload, (path, size, sha256, time))?;
        let signed = statement
            .sign(&self.identity)
            .map_err(|e| self.core.fail(e))?;
        let end = End::Signed {
            sha256,
            time: signed.statement.time,
            signature: signed.signature,
        };
        self.core.send(inner::END, &[&end.encode()])?;
        if let Some(Pending::Upload(slot)) = self.requests()?.pending.back_mut() {
            *slot = Some(signed);
        }
        Ok(())
    }
}
