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
            (inner::RESULT, Pending::Upload(_)) => {
                let outcome = Outcome::parse(body)?;
                // A stored upload is answered by RECEIPT, never RESULT 0.
                if outcome.code == msgs::ResultCode::Ok {
                    return Err(ProtoError::Transfer(TransferError::UnsignedOk));
                }
                self.core.hold_for(&outcome);
                reqs.pending.pop_front();
                // The answer to the upload still being sent: the server
                // refused it and skips its data up to END, so END goes out
                // now (abandoning it).
                if reqs.pending.is_empty() && reqs.sending.is_some() {
                    reqs.sending = None;
                    reqs.outgoing = None;
                    self.core
                        .send_unprompted(inner::END, &End::Abandoned.encode())?;
                }
                // An upload offered for resume may be refused before its
                // RESUME, never after (its data is owed first).
                if reqs.pending.is_empty() {
                    match reqs.resuming {
                        Some(Resuming::Asked { .. }) => {
                            reqs.resuming = None;
                            reqs.outgoing = None;
                        }
                        Some(_) => return Err(ProtoError::Transfer(TransferError::OkEarly)),
                        None => {}
                    }
                }
                Ev::Outcome(outcome)
            }
            (inner::RECEIPT, Pending::Upload(signed)) => {
                // Only once this side's END (and statement) went out.
                let Some(signed) = signed.take() else {
                    return Err(ProtoError::Transfer(TransferError::OkEarly));
                };
                let (stored, signature) = msgs::parse_receipt(body)?;
                reqs.pending.pop_front();
                Ev::Stored(Receipt::verify(signed, stored, signature)?)
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
                if offer.path != asked.as_bytes() || offer.overwrite || offer.preserve {
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
                let path = std::mem::take(asked);
                if let Some(front) = reqs.pending.front_mut() {
                    *front = Pending::Download(receiver, path);
                }
                Ev::DownloadOffered(offer.size, offer.meta, from)
            }
            (inner::CHUNK | inner::END, Pending::Download(receiver, path)) => {
                match receiver.on_message(t, body)? {
                    Chunk::Data(at) => Ev::Data(range.start + at..range.end),
                    Chunk::Complete {
                        size,
                        sha256,
                        time,
                        signature,
                    } => {
                        let facts = (std::mem::take(path), size, sha256, time);
                        reqs.pending.pop_front();
                        let statement = self.statement(Direction::Download, facts)?;
                        Ev::ReceiveComplete(statement.verify(signature)?)
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
