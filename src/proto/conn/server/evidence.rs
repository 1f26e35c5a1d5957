//! The server's signed evidence (PROTOCOL.md §4.8): the statements it
//! checks at an upload's END and signs at a download's.

use super::*;
use crate::proto::msgs::End;

impl ServerConnection {
    /// A statement of this session (§4.8) of the file `(path, size,
    /// sha256, time)`.
    pub(super) fn statement(
        &self,
        direction: Direction,
        (path, size, sha256, time): (String, u64, [u8; 32], u64),
    ) -> Result<Statement, ProtoError> {
        let (Some(client), Some(transcript_hash)) =
            (self.core.peer_key(), self.core.transcript_hash())
        else {
            return Err(ProtoError::InvalidCall("the session is not established"));
        };
        Ok(Statement {
            direction,
            client,
            server: self.config.identity.verifying_key(),
            transcript_hash,
            path,
            size,
            sha256,
            time,
        })
    }

    /// Signs the download's statement of `facts` and sends it in END.
    pub(super) fn send_end(
        &mut self,
        facts: (String, u64, [u8; 32], u64),
    ) -> Result<Signed, ProtoError> {
        let statement = self.statement(Direction::Download, facts)?;
        let signed = statement
            .sign(&self.config.identity)
            .map_err(|e| self.core.fail(e))?;
        let end = End::Signed {
            sha256: signed.statement.sha256,
            time: signed.statement.time,
            signature: signed.signature,
        };
        self.core.send(inner::END, &[&end.encode()])?;
        Ok(signed)
    }
}
