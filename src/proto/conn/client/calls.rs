//! The application's calls on a [`ClientConnection`]: what it answers to each
//! event, and the data it supplies.

use super::*;

impl ClientConnection {
    /// Trusts the server key reported by [`ClientEvent::ServerKeyUnknown`]
    /// and continues the handshake.
    ///
    /// # Errors
    /// `InvalidCall` in any other state; the handshake's errors.
    pub fn trust_server_key(&mut self) -> Result<(), ProtoError> {
        self.core.check_alive()?;
        let phase = std::mem::replace(&mut self.phase, Phase::Done);
        let Phase::AwaitTrust(pending) = phase else {
            // A refused call changes nothing.
            self.phase = phase;
            return Err(ProtoError::InvalidCall("no server key is awaiting trust"));
        };
        let c = &mut self.core;
        match pending.trust(&mut c.sealer, &mut c.opener, &mut c.out) {
            Ok(next) => {
                self.phase = Phase::AwaitEstablished(next);
                Ok(())
            }
            Err(e) => Err(c.fail(e)),
        }
    }

    /// Offers `name` (`size` bytes) for upload. `name` must already pass
    /// the name rule unchanged.
    ///
    /// # Errors
    /// The sticky error once failed, `Closed` once closing; then `Name` for
    /// a name the rule refuses; `InvalidCall` unless idle.
    pub fn request_upload(
        &mut self,
        name: &str,
        size: u64,
        overwrite: bool,
    ) -> Result<(), ProtoError> {
        // The sticky error and `Closed` come before any local refusal.
        self.core.check_open()?;
        own_name(name)?;
        self.idle("request_upload needs an idle session")?;
        let offer = Offer {
            name: name.as_bytes().to_vec(),
            size,
            overwrite,
        };
        self.core.send(inner::OFFER, &[&offer.encode()])?;
        *self.op()? = Op::Upload(Sender::offered(size));
        self.sha256 = None;
        Ok(())
    }

    /// Asks for the file `name`.
    ///
    /// # Errors
    /// The sticky error once failed, `Closed` once closing; then `Name` for
    /// a name the rule refuses; `InvalidCall` unless idle.
    pub fn request_download(&mut self, name: &str) -> Result<(), ProtoError> {
        self.core.check_open()?;
        own_name(name)?;
        self.idle("request_download needs an idle session")?;
        self.core
            .send(inner::GET, &[&msgs::encode_get(name.as_bytes())])?;
        *self.op()? = Op::AwaitOffer(name.as_bytes().to_vec());
        self.sha256 = None;
        Ok(())
    }

    /// The whole-file SHA-256 of the current or last upload or download:
    /// `Some` once END was sent (upload; the server's RESULT says whether
    /// it matched) or received and verified (download); `None` before, or
    /// for a transfer refused or cut short.
    pub fn transfer_sha256(&self) -> Option<[u8; 32]> {
        self.sha256
    }

    /// Asks for the listing of the server's root.
    ///
    /// # Errors
    /// `InvalidCall` unless idle.
    pub fn request_list(&mut self) -> Result<(), ProtoError> {
        self.idle("request_list needs an idle session")?;
        self.core.send(inner::LIST, &[])?;
        *self.op()? = Op::Listing(Vec::new());
        Ok(())
    }

    /// Accepts the offered download from offset 0; data events follow.
    ///
    /// # Errors
    /// `InvalidCall` unless a download offer awaits a decision.
    pub fn accept(&mut self) -> Result<(), ProtoError> {
        self.core.check_open()?;
        let Phase::Open(Op::Download(receiver)) = &mut self.phase else {
            return Err(ProtoError::InvalidCall("no offer awaits acceptance"));
        };
        self.core.accept_file(receiver)
    }

    /// Refuses the offered download with `outcome` (not Ok).
    ///
    /// # Errors
    /// `InvalidCall` unless an offer awaits a decision, or for Ok.
    pub fn refuse(&mut self, outcome: &Outcome) -> Result<(), ProtoError> {
        self.core.check_open()?;
        let op = self.op()?;
        if !matches!(op, Op::Download(r) if r.is_offered()) || outcome.code == msgs::ResultCode::Ok
        {
            return Err(ProtoError::InvalidCall("nothing to refuse"));
        }
        *op = Op::Idle;
        self.core.send_outcome(outcome)
    }

    /// Answers a completely received download with `outcome` (Ok once it
    /// is safely stored).
    ///
    /// # Errors
    /// `InvalidCall` unless a received file awaits its answer.
    pub fn send_result(&mut self, outcome: &Outcome) -> Result<(), ProtoError> {
        self.core.check_open()?;
        let op = self.op()?;
        if !matches!(op, Op::Download(r) if r.is_complete()) {
            return Err(ProtoError::InvalidCall("no received file awaits a result"));
        }
        *op = Op::Idle;
        self.core.send_outcome(outcome)
    }

    /// Whether the application should supply more upload data now: sending,
    /// bytes remain, and the output buffer is below
    /// [`super::SEND_HIGH_WATER`].
    pub fn wants_data(&self) -> bool {
        matches!(&self.phase, Phase::Open(Op::Upload(s)) if s.wants_data())
            && self.core.output_has_room()
    }

    /// Sends the next `data` (1 to `CHUNK_LEN` bytes) of the upload. After
    /// the last byte, END with the SHA-256 follows automatically.
    ///
    /// # Errors
    /// `InvalidCall` unless sending, for empty or oversize `data`, or data
    /// past the announced size.
    pub fn send_data(&mut self, data: &[u8]) -> Result<(), ProtoError> {
        self.core.check_open()?;
        let Phase::Open(Op::Upload(sender)) = &mut self.phase else {
            return Err(ProtoError::InvalidCall("not sending a file"));
        };
        if let Some(hash) = self.core.send_chunk(sender, data)? {
            self.sha256 = Some(hash);
        }
        Ok(())
    }
}
