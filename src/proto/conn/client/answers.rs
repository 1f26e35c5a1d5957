//! How a [`ClientConnection`] reads the server's messages once the session
//! is open: each is the answer, or part of it, to the oldest pending
//! request, except RESUME, which answers the upload offered for resume.

use super::*;

impl ClientConnection {
    /// An application message while the session is open: the answer (or
    /// part of it) to the oldest pending request.
    pub(super) fn on_message(
        &mut self,
        t: u8,
        range: Range<usize>,
    ) -> Result<Option<Ev>, ProtoError> {
        let max_listing = self.max_listing_entries;
        let Phase::Open(reqs) = &mut self.phase else {
            return Err(ProtoError::InvalidCall("no open session"));
        };
        let body = self.core.bytes(range.clone());
        let unexpected = |reqs: &Requests| ProtoError::UnexpectedMessage {
            got: msgs::inner_name(t),
            state: reqs.state_name(),
        };
        if t == inner::RESUME {
            // Not in answer order: the upload asked for it waits, and
            // nothing was sent after it.
            let Some(Resuming::Asked { size }) = reqs.resuming else {
                return Err(unexpected(reqs));
            };
            let held = msgs::parse_resume(body)?;
            if held.offset > size {
                return Err(ProtoError::Transfer(TransferError::BadResume));
            }
            reqs.resuming = Some(Resuming::Offered { size, held });
            return Ok(Some(Ev::ResumeOffered(held.offset)));
        }
        let Some(front) = reqs.pending.front_mut() else {
            return Err(unexpected(reqs));
        };
        let ev = match (t, front) {
            (inner::RESULT, Pending::Upload) => {
                let outcome = Outcome::parse(body)?;
                self.core.hold_for(&outcome);
                reqs.pending.pop_front();
                // The answer to the upload still being sent: the server
                // refused it and skips its data up to END, so END goes out
                // now (its hash is not checked), or it broke the rules.
                if reqs.pending.is_empty() && reqs.sending.is_some() {
                    if outcome.code == msgs::ResultCode::Ok {
                        return Err(ProtoError::Transfer(TransferError::OkEarly));
                    }
                    reqs.sending = None;
                    self.core.send_unprompted(inner::END, &ABANDONED)?;
                }
                // An upload offered for resume may be refused before its
                // RESUME, never after (its data is owed first).
                if reqs.pending.is_empty() {
                    match reqs.resuming {
                        Some(Resuming::Asked { .. }) if outcome.code != msgs::ResultCode::Ok => {
                            reqs.resuming = None;
                        }
                        Some(_) => return Err(ProtoError::Transfer(TransferError::OkEarly)),
                        None => {}
                    }
                }
                Ev::Outcome(outcome)
            }
            (inner::RESULT, Pending::Mkdir) => {
                let outcome = Outcome::parse(body)?;
                self.core.hold_for(&outcome);
                reqs.pending.pop_front();
                Ev::Outcome(outcome)
            }
            (inner::RESULT, Pending::Get(..) | Pending::List(_)) => {
                let outcome = Outcome::parse(body)?;
                self.core.hold_for(&outcome);
                if outcome.code == msgs::ResultCode::Ok {
                    return Err(ProtoError::Transfer(TransferError::OkEarly));
                }
                reqs.pending.pop_front();
                Ev::Outcome(outcome)
            }
            (inner::OFFER, Pending::Get(asked, max_size, held)) => {
                let offer = Offer::parse(body)?;
                // The offer must name exactly the bytes asked for: a server
                // may not substitute another path.
                if offer.path != *asked || offer.overwrite || offer.preserve {
                    return Err(ProtoError::Transfer(TransferError::OfferedOtherName));
                }
                if offer.size > *max_size {
                    return Err(ProtoError::Transfer(TransferError::OfferTooLarge));
                }
                let (receiver, from) = match (offer.resume, held.take()) {
                    (false, _) => {
                        let mut receiver = Receiver::offered(offer.size, false);
                        receiver.accept()?;
                        (receiver, 0)
                    }
                    (true, Some((offset, hash))) => {
                        (Receiver::resumed(offer.size, offset, hash)?, offset)
                    }
                    (true, None) => return Err(ProtoError::Transfer(TransferError::BadResume)),
                };
                if let Some(front) = reqs.pending.front_mut() {
                    *front = Pending::Download(receiver);
                }
                Ev::DownloadOffered(offer.size, offer.meta, from)
            }
            (inner::CHUNK | inner::END, Pending::Download(receiver)) => {
                match receiver.on_message(t, body)? {
                    Chunk::Data(at) => Ev::Data(range.start + at..range.end),
                    Chunk::Complete(hash) => {
                        reqs.pending.pop_front();
                        Ev::ReceiveComplete(hash)
                    }
                    Chunk::Corrupt => {
                        reqs.pending.pop_front();
                        Ev::ReceiveCorrupt
                    }
                    Chunk::Abandoned => {
                        reqs.pending.pop_front();
                        Ev::ReceiveAbandoned
                    }
                    Chunk::Skipped | Chunk::SkipEnded => {
                        return Err(ProtoError::InvalidCall("a download is never skipped"))
                    }
                }
            }
            (inner::LISTING, Pending::List(entries)) => {
                if msgs::parse_listing(body, entries, max_listing)? {
                    return Ok(None);
                }
                let entries = std::mem::take(entries);
                reqs.pending.pop_front();
                Ev::Listing(entries)
            }
            _ => return Err(unexpected(reqs)),
        };
        Ok(Some(ev))
    }
}
