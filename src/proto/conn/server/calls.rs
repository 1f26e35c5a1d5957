//! The application's calls on a [`ServerConnection`]: what it answers to each
//! event, and the data it supplies.

use super::*;
use crate::crypto::hash::Sha256;
use crate::proto::evidence::Receipt;
use crate::proto::msgs::End;

impl ServerConnection {
    /// Admits the client the last [`ServerEvent::Authenticated`] named:
    /// sends SESSION_ESTABLISHED, and the session is open.
    ///
    /// # Errors
    /// `InvalidCall` unless a client awaits admission; `Crypto` from the
    /// record layer (fatal).
    pub fn admit(&mut self) -> Result<(), ProtoError> {
        self.core.check_alive()?;
        let verified = match std::mem::replace(&mut self.phase, Phase::Done) {
            Phase::Admitting(verified) => verified,
            other => {
                self.phase = other;
                return Err(ProtoError::InvalidCall("no client awaits admission"));
            }
        };
        let c = &mut self.core;
        match verified.establish(&mut c.sealer, &mut c.opener, &mut c.out) {
            Ok((client, th_final)) => {
                c.established(client, th_final);
                self.phase = Phase::Open(Op::Idle);
                Ok(())
            }
            Err(e) => Err(self.core.fail(e)),
        }
    }

    /// Accepts the offered upload; data events follow.
    ///
    /// # Errors
    /// `InvalidCall` unless an upload awaits a decision.
    pub fn accept(&mut self) -> Result<(), ProtoError> {
        self.core.check_open()?;
        let Phase::Open(Op::Upload(receiver, _)) = &mut self.phase else {
            return Err(ProtoError::InvalidCall("no upload awaits a decision"));
        };
        receiver
            .accept()
            .map_err(|e| self.core.fail_unless_misuse(e))
    }

    /// Accepts an upload offered for resume, holding `held` of its bytes
    /// (`hash` has absorbed exactly them) or nothing (`None`): sends RESUME
    /// with that offset and hash at once (not in answer order: the client
    /// waits for it). [`ServerEvent::ResumeAgreed`] follows with the
    /// client's choice, then the data.
    ///
    /// # Errors
    /// `InvalidCall` (nothing changes) unless an upload offered for resume
    /// awaits a decision, or when `held` runs past its size; `Crypto`.
    pub fn accept_resume(&mut self, held: Option<(Prefix, Sha256)>) -> Result<(), ProtoError> {
        self.core.check_open()?;
        let Phase::Open(Op::Upload(receiver, _)) = &mut self.phase else {
            return Err(ProtoError::InvalidCall("no upload awaits a decision"));
        };
        let offered = receiver
            .accept_resume(held)
            .map_err(|e| self.core.fail_unless_misuse(e))?;
        self.core
            .send(inner::RESUME, &[&msgs::encode_resume(&offered)])
    }

    /// Refuses the upload being offered, or gives up on the one being
    /// received (a write failed): its remaining data is skipped (an offer
    /// made for resume has none), and `outcome` (not Ok) is its answer
    /// under `ticket`, the upload's.
    ///
    /// # Errors
    /// `InvalidCall` (changing nothing) unless an upload is offered or
    /// being received and `ticket` is its ticket, or for Ok.
    pub fn refuse_upload(&mut self, ticket: Ticket, outcome: Outcome) -> Result<(), ProtoError> {
        self.core.check_open()?;
        let Phase::Open(Op::Upload(receiver, Some((owed, _)))) = &mut self.phase else {
            return Err(ProtoError::InvalidCall("no upload to refuse"));
        };
        if *owed != ticket {
            return Err(ProtoError::InvalidCall("not the ticket of the upload"));
        }
        if outcome.code == ResultCode::Ok {
            return Err(ProtoError::InvalidCall("a refusal cannot be Ok"));
        }
        receiver.skip()?;
        if receiver.is_ended() {
            self.set_op(Op::Idle);
        }
        self.give(ticket, Answer::Result(outcome))
    }

    /// Gives the answer owed under `ticket`: a MKDIR's, or an upload's
    /// failure (a stored upload is answered by
    /// [`answer_stored`](Self::answer_stored)). Answers go out in request
    /// order: this one is sent once every earlier one is known.
    ///
    /// # Errors
    /// `InvalidCall` for a ticket not owed or already answered, or for the
    /// upload still offered or being received (refuse it with
    /// [`refuse_upload`](Self::refuse_upload): its answer must not reach
    /// the client before its data is skipped or complete); the sticky
    /// error.
    pub fn answer(&mut self, ticket: Ticket, outcome: Outcome) -> Result<(), ProtoError> {
        self.give(ticket, Answer::Result(outcome))
    }

    /// Answers a stored upload under its `ticket` with RECEIPT: the
    /// server's `receipt` over the statement that
    /// [`ServerEvent::ReceiveComplete`] carried (§4.8). Sent in request
    /// order, as [`answer`](Self::answer).
    ///
    /// # Errors
    /// As [`answer`](Self::answer).
    pub fn answer_stored(&mut self, ticket: Ticket, receipt: &Receipt) -> Result<(), ProtoError> {
        let body = msgs::encode_receipt(receipt.stored, &receipt.signature);
        self.give(ticket, Answer::Receipt(body))
    }

    fn give(&mut self, ticket: Ticket, answer: Answer) -> Result<(), ProtoError> {
        self.core.check_alive()?;
        if let Phase::Open(Op::Upload(r, Some((owed, _)))) = &self.phase {
            if *owed == ticket && (r.is_offered() || r.is_receiving()) {
                return Err(ProtoError::InvalidCall("the upload is still in progress"));
            }
        }
        if !self.answers.give(ticket, answer) {
            return Err(ProtoError::InvalidCall(
                "no answer is owed under that ticket",
            ));
        }
        self.flush_answers()
    }

    /// How many answers are owed (for uploads and MKDIRs not yet answered).
    pub fn answers_owed(&self) -> usize {
        self.answers.len()
    }

    /// Whether the connection reads no further record until the
    /// application acts: a decision is pending, a file or listing is being
    /// sent, [`MAX_IN_FLIGHT`] answers are owed, or a GET or LIST waits for
    /// the answers owed before it. Never once this side has sent CLOSE.
    pub fn waits_for_app(&self) -> bool {
        self.waits()
    }

    /// Offers the requested file, `size` bytes with `meta`; its data
    /// follows through [`send_data`](Self::send_data). The OFFER carries
    /// exactly the path bytes of the GET. With `resumed`, a hash that has
    /// absorbed exactly the bytes the GET said the client holds (the
    /// application checked that its file starts with them), the OFFER says
    /// so and the data starts after them. `time` (Unix seconds, this
    /// side's clock) goes into the statement END carries (§4.8). When no
    /// data remains, END goes out at once and its signed statement is
    /// returned.
    ///
    /// # Errors
    /// `InvalidCall` (nothing changes) unless a download request is
    /// pending, or when resuming a GET that held nothing or more than
    /// `size` bytes; `Crypto`.
    pub fn offer_download(
        &mut self,
        size: u64,
        meta: Meta,
        resumed: Option<Sha256>,
        time: u64,
    ) -> Result<Option<Signed>, ProtoError> {
        self.core.check_open()?;
        let Phase::Open(op) = &mut self.phase else {
            return Err(ProtoError::InvalidCall("no download request is pending"));
        };
        // A refused call changes nothing: the operation in progress stays.
        let Op::DownloadDecision(asked, held) = op else {
            return Err(ProtoError::InvalidCall("no download request is pending"));
        };
        let resume = resumed.is_some();
        let (sender, empty) = match resumed {
            Some(_) if held.offset == 0 || held.offset > size => {
                return Err(ProtoError::InvalidCall("nothing held to resume after"));
            }
            Some(hash) => Sender::resumed(size, held.offset, hash)?,
            None => Sender::start(size)?,
        };
        let path = std::mem::take(asked);
        let offer = Offer {
            path: path.as_bytes().to_vec(),
            size,
            overwrite: false,
            preserve: false,
            meta,
            resume,
        };
        let Some(sha256) = empty else {
            *op = Op::Download(sender, Serving { path, size, time });
            self.core.send(inner::OFFER, &[&offer.encode()])?;
            return Ok(None);
        };
        *op = Op::Idle;
        self.core.send(inner::OFFER, &[&offer.encode()])?;
        self.send_end((path, size, sha256, time)).map(Some)
    }

    /// Whether the application should send the next listing page now: a
    /// listing is asked for and not finished or refused, and the output
    /// buffer is below [`super::SEND_HIGH_WATER`] (so the unsent output
    /// stays under that mark plus one record).
    pub fn wants_listing(&self) -> bool {
        matches!(&self.phase, Phase::Open(Op::Listing(_))) && self.core.output_has_room()
    }

    /// Sends the next page of the listing, one LISTING record, from
    /// `entries` (the rest of the listing, in any order): pulls entries
    /// until one does not fit the record (the connection keeps it for the
    /// next page) or they end, which makes this page the last. Names the
    /// client's rule would refuse are skipped. An `Err` from `entries`
    /// ends the listing with RESULT 5 in place of the page.
    ///
    /// # Errors
    /// `InvalidCall` unless a listing is being sent; the sticky error;
    /// `Closed` once closing.
    pub fn send_listing_page<E>(
        &mut self,
        entries: &mut impl Iterator<Item = Result<ListEntry, E>>,
    ) -> Result<ListingStep<E>, ProtoError> {
        self.core.check_open()?;
        let Phase::Open(op) = &mut self.phase else {
            return Err(ProtoError::InvalidCall("no listing is being sent"));
        };
        let Op::Listing(pager) = op else {
            return Err(ProtoError::InvalidCall("no listing is being sent"));
        };
        let (body, more) = match pager.next_page(entries) {
            Ok(page) => page,
            Err(e) => {
                *op = Op::Idle;
                let failed = Outcome::new(ResultCode::IoError, "server I/O error while listing");
                self.core.send_outcome(&failed)?;
                return Ok(ListingStep::SourceFailed(e));
            }
        };
        let step = if more {
            ListingStep::More
        } else {
            let entries = pager.sent();
            *op = Op::Idle;
            ListingStep::Done { entries }
        };
        self.core.send(inner::LISTING, &[&body])?;
        Ok(step)
    }

    /// Refuses the pending GET or LIST with `outcome` (not Ok). A listing
    /// may be refused after some of its pages: the client drops them.
    ///
    /// # Errors
    /// `InvalidCall` unless a download or listing awaits a decision (or a
    /// listing is being sent), or for Ok.
    pub fn refuse(&mut self, outcome: &Outcome) -> Result<(), ProtoError> {
        self.core.check_open()?;
        match &mut self.phase {
            Phase::Open(op @ (Op::DownloadDecision(..) | Op::Listing(_)))
                if outcome.code != ResultCode::Ok =>
            {
                *op = Op::Idle;
            }
            _ => return Err(ProtoError::InvalidCall("nothing to refuse")),
        }
        self.core.send_outcome(outcome)
    }

    /// Abandons the download being sent (its source changed): END of zero
    /// bytes goes out in place of the rest, and the client discards the
    /// file.
    ///
    /// # Errors
    /// `InvalidCall` unless a download is being sent; `Crypto`.
    pub fn abandon_send(&mut self) -> Result<(), ProtoError> {
        self.core.check_open()?;
        let Phase::Open(op @ Op::Download(..)) = &mut self.phase else {
            return Err(ProtoError::InvalidCall("not sending a file"));
        };
        *op = Op::Idle;
        self.core.send(inner::END, &[&End::Abandoned.encode()])
    }

    /// Whether the application should supply more download data now:
    /// sending, bytes remain, and the output buffer is below
    /// [`super::SEND_HIGH_WATER`].
    pub fn wants_data(&self) -> bool {
        matches!(&self.phase, Phase::Open(Op::Download(s, ..)) if s.wants_data())
            && self.core.output_has_room()
    }

    /// Sends the next `data` (1 to `CHUNK_LEN` bytes) of the download.
    /// After the last byte, END with the SHA-256 and this side's signed
    /// statement follows automatically, the statement is returned, and
    /// the next request may be read.
    ///
    /// # Errors
    /// `InvalidCall` unless sending, for empty or oversize `data`, or data
    /// past the announced size; `Crypto`.
    pub fn send_data(&mut self, data: &[u8]) -> Result<Option<Signed>, ProtoError> {
        self.core.check_open()?;
        let Phase::Open(op) = &mut self.phase else {
            return Err(ProtoError::InvalidCall("not sending a file"));
        };
        let Op::Download(sender, ..) = op else {
            return Err(ProtoError::InvalidCall("not sending a file"));
        };
        let Some(sha256) = self.core.send_chunk(sender, data)? else {
            return Ok(None);
        };
        let Op::Download(_, Serving { path, size, time }) = std::mem::replace(op, Op::Idle) else {
            return Err(ProtoError::InvalidCall("not sending a file"));
        };
        self.send_end((path, size, sha256, time)).map(Some)
    }
}

/// What [`ServerConnection::send_listing_page`] did.
#[derive(Debug, PartialEq, Eq)]
pub enum ListingStep<E> {
    /// A page went out and more follow: call again while
    /// [`ServerConnection::wants_listing`].
    More,
    /// The last page went out; the listing carried `entries` entries in
    /// all (skipped names not counted).
    Done { entries: usize },
    /// `entries` failed: RESULT 5 went out in place of this page and ended
    /// the listing, so the client drops the pages so far and never takes
    /// them for the whole listing.
    SourceFailed(E),
}
