//! The application's calls on a [`ClientConnection`]: what it answers to each
//! event, and the data it supplies.

use super::*;
use crate::crypto::ct;

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

    /// Whether another request may be sent now: the session is open, no
    /// upload's data remains to be sent, and fewer than
    /// [`MAX_IN_FLIGHT`] requests await their answers.
    pub fn can_request(&self) -> bool {
        self.core.check_open().is_ok()
            && matches!(&self.phase, Phase::Open(r) if r.sending.is_none() && r.resuming.is_none() && r.pending.len() < MAX_IN_FLIGHT)
    }

    /// Requests sent and not yet fully answered.
    pub fn in_flight(&self) -> usize {
        match &self.phase {
            Phase::Open(r) => r.pending.len(),
            _ => 0,
        }
    }

    /// Offers `path` (`size` bytes) for upload; its data follows through
    /// [`send_data`](Self::send_data) at once, without waiting for the
    /// server. With `meta`, the server applies it to the stored file.
    /// `time` (Unix seconds, this side's clock) goes into the statement
    /// this side signs in END (§4.8). Returns the whole-file SHA-256 for
    /// an empty file (its END went out with the OFFER). The server's
    /// RECEIPT or RESULT comes in request order.
    ///
    /// With `resume`, the OFFER asks to resume an interrupted upload and no
    /// data follows yet: [`ClientEvent::ResumeOffered`] (or the upload's
    /// refusal) comes next, answered with
    /// [`resume_upload`](Self::resume_upload); no other request goes out
    /// meanwhile.
    ///
    /// # Errors
    /// The sticky error once failed, `Closed` once closing; `Name` for a
    /// path the rule refuses; `InvalidCall` unless [`can_request`](Self::can_request).
    pub fn request_upload(
        &mut self,
        path: &str,
        size: u64,
        overwrite: bool,
        meta: Option<Meta>,
        resume: bool,
        time: u64,
    ) -> Result<Option<[u8; 32]>, ProtoError> {
        // The sticky error and `Closed` come before any local refusal.
        self.core.check_open()?;
        own_path(path)?;
        self.ready_for_request()?;
        let offer = Offer {
            path: path.as_bytes().to_vec(),
            size,
            overwrite,
            preserve: meta.is_some(),
            meta: meta.unwrap_or_default(),
            resume,
        };
        let (sender, empty) = Sender::start(size)?;
        self.core.send(inner::OFFER, &[&offer.encode()])?;
        let reqs = self.requests()?;
        reqs.pending.push_back(Pending::Upload(None));
        reqs.outgoing = Some(Outgoing {
            path: path.to_string(),
            size,
            time,
        });
        if resume {
            reqs.resuming = Some(Resuming::Asked { size });
            return Ok(None);
        }
        match empty {
            Some(hash) => self.send_end(hash)?,
            None => reqs.sending = Some(sender),
        }
        Ok(empty)
    }

    /// Answers [`ClientEvent::ResumeOffered`]: `own` is this side's
    /// SHA-256 of the first bytes of its file up to the server's offset and
    /// a hash state that has absorbed exactly them (`None` when it cannot
    /// say, e.g. its file is shorter). When the hash equals the server's
    /// (compared in constant time), RESUME takes the server's offset and
    /// the data goes on from there; otherwise RESUME says 0 and the whole
    /// file is sent. Returns the offset the data starts at, and the
    /// whole-file SHA-256 when no data remains (END went out).
    ///
    /// # Errors
    /// `InvalidCall` (nothing changes) unless the server offered a resume
    /// point; `Crypto`.
    pub fn resume_upload(
        &mut self,
        own: Option<([u8; 32], Sha256)>,
    ) -> Result<(u64, Option<[u8; 32]>), ProtoError> {
        self.core.check_open()?;
        let reqs = self.requests()?;
        let Some(Resuming::Offered { size, held }) = reqs.resuming else {
            return Err(ProtoError::InvalidCall("no resume point was offered"));
        };
        let agreed = match own {
            Some((sha256, hash)) if held.offset > 0 && ct::eq(&sha256, &held.sha256) => {
                Some((held, hash))
            }
            _ => None,
        };
        let (prefix, (sender, end)) = match agreed {
            Some((held, hash)) => (held, Sender::resumed(size, held.offset, hash)?),
            None => (Prefix::NONE, Sender::start(size)?),
        };
        reqs.resuming = None;
        if end.is_none() {
            reqs.sending = Some(sender);
        }
        self.core
            .send(inner::RESUME, &[&msgs::encode_resume(&prefix)])?;
        if let Some(hash) = end {
            self.send_end(hash)?;
        }
        Ok((prefix.offset, end))
    }

    /// Abandons the upload being sent (its source changed): END of zero
    /// bytes goes out in place of the rest. The server discards the
    /// file and answers RESULT 6 in its turn; other requests may follow.
    ///
    /// # Errors
    /// `InvalidCall` unless an upload's data is being sent; `Crypto`.
    pub fn abandon_send(&mut self) -> Result<(), ProtoError> {
        self.core.check_open()?;
        let reqs = self.requests()?;
        if reqs.sending.take().is_none() {
            return Err(ProtoError::InvalidCall("not sending a file"));
        }
        reqs.outgoing = None;
        self.core.send(inner::END, &[&End::Abandoned.encode()])
    }

    /// Asks for the directory `path` (its parent must exist; an existing
    /// directory is fine). With `meta`, the server also sets its mode and
    /// mtime. The RESULT comes in request order.
    ///
    /// # Errors
    /// As [`request_upload`](Self::request_upload).
    pub fn request_mkdir(&mut self, path: &str, meta: Option<Meta>) -> Result<(), ProtoError> {
        self.core.check_open()?;
        own_path(path)?;
        self.ready_for_request()?;
        let mkdir = Mkdir {
            path: path.as_bytes().to_vec(),
            preserve: meta.is_some(),
            meta: meta.unwrap_or_default(),
        };
        self.core.send(inner::MKDIR, &[&mkdir.encode()])?;
        self.requests()?.pending.push_back(Pending::Mkdir);
        Ok(())
    }

    /// Asks for the file `path`, refused by the server (RESULT 3) if larger
    /// than `max_size` bytes. With `held`, this side holds the file's first
    /// bytes from an interrupted download: their count and SHA-256, and a
    /// hash state that has absorbed exactly them. The server resumes after
    /// them if its file starts with them ([`ClientEvent::DownloadOffered`]
    /// says from where).
    ///
    /// # Errors
    /// As [`request_upload`](Self::request_upload); `InvalidCall` when
    /// `held` is empty, past `max_size` or past [`msgs::MAX_OFFSET`].
    pub fn request_download(
        &mut self,
        path: &str,
        max_size: u64,
        held: Option<(Prefix, Sha256)>,
    ) -> Result<(), ProtoError> {
        self.core.check_open()?;
        own_path(path)?;
        if held.as_ref().is_some_and(|(p, _)| {
            p.offset == 0 || p.offset > max_size || p.offset > msgs::MAX_OFFSET
        }) {
            return Err(ProtoError::InvalidCall("no resume point within max_size"));
        }
        self.ready_for_request()?;
        let get = Get {
            path: path.as_bytes().to_vec(),
            max_size,
            held: held.as_ref().map_or(Prefix::NONE, |(p, _)| *p),
        };
        self.core.send(inner::GET, &[&get.encode()])?;
        let held = held.map(|(p, hash)| (p.offset, hash));
        self.requests()?
            .pending
            .push_back(Pending::Get(path.to_string(), max_size, held));
        Ok(())
    }

    /// Asks for the listing of the directory `path` (empty for the root).
    ///
    /// # Errors
    /// As [`request_upload`](Self::request_upload).
    pub fn request_list(&mut self, path: &str) -> Result<(), ProtoError> {
        self.core.check_open()?;
        if !path.is_empty() {
            own_path(path)?;
        }
        self.ready_for_request()?;
        self.core
            .send(inner::LIST, &[&msgs::encode_list(path.as_bytes())])?;
        self.requests()?
            .pending
            .push_back(Pending::List(Vec::new()));
        Ok(())
    }

    /// Whether the application should supply more upload data now: bytes
    /// remain, and the output buffer is below [`super::SEND_HIGH_WATER`].
    pub fn wants_data(&self) -> bool {
        matches!(&self.phase, Phase::Open(r) if r.sending.as_ref().is_some_and(Sender::wants_data))
            && self.core.output_has_room()
    }

    /// Sends the next `data` (1 to `CHUNK_LEN` bytes) of the upload. After
    /// the last byte, END with the SHA-256 and this side's signed
    /// statement follows automatically, and the hash is returned.
    ///
    /// # Errors
    /// `InvalidCall` unless sending, for empty or oversize `data`, or data
    /// past the announced size; `Crypto`.
    pub fn send_data(&mut self, data: &[u8]) -> Result<Option<[u8; 32]>, ProtoError> {
        self.core.check_open()?;
        let Phase::Open(reqs) = &mut self.phase else {
            return Err(ProtoError::InvalidCall("not sending a file"));
        };
        let Some(sender) = &mut reqs.sending else {
            return Err(ProtoError::InvalidCall("not sending a file"));
        };
        let end = self.core.send_chunk(sender, data)?;
        if let Some(hash) = end {
            self.send_end(hash)?;
        }
        Ok(end)
    }
}
