//! Requests as the server reads them: each checked and turned into an
//! event, and the answers owed for them queued and sent in request order.

use super::*;

impl ServerConnection {
    /// A request read while idle (or a held GET or LIST, once no answers
    /// are owed).
    pub(super) fn on_request(&mut self, t: u8, body: &[u8]) -> Result<Option<Ev>, ProtoError> {
        let (next, ev) = match t {
            inner::OFFER => {
                let offer = Offer::parse(body)?;
                match name::sanitize_path(&offer.path) {
                    Ok(p) => {
                        let ticket = self.answers.owe();
                        let receiver = Receiver::offered(offer.size, offer.resume);
                        let op = Op::Upload(receiver, Some((ticket, p.clone())));
                        (op, Ev::UploadRequested(p, offer, ticket))
                    }
                    Err(e) => {
                        self.queue_answer(Outcome::new(ResultCode::BadName, e.to_string()))?;
                        // A client asking to resume sends nothing more.
                        let op = if offer.resume {
                            Op::Idle
                        } else {
                            Op::Upload(Receiver::skipping(), None)
                        };
                        (op, Ev::NameRefused(e))
                    }
                }
            }
            inner::MKDIR => {
                let mkdir = Mkdir::parse(body)?;
                match name::sanitize_path(&mkdir.path) {
                    Ok(p) => {
                        let ticket = self.answers.owe();
                        (Op::Idle, Ev::MkdirRequested(p, mkdir, ticket))
                    }
                    Err(e) => {
                        self.queue_answer(Outcome::new(ResultCode::BadName, e.to_string()))?;
                        (Op::Idle, Ev::NameRefused(e))
                    }
                }
            }
            inner::GET => {
                let get = Get::parse(body)?;
                match name::sanitize_path(&get.path) {
                    Ok(p) => (
                        Op::DownloadDecision(p.clone(), get.held),
                        Ev::DownloadRequested(p, get.max_size, get.held),
                    ),
                    Err(e) => {
                        self.queue_answer(Outcome::new(ResultCode::BadName, e.to_string()))?;
                        (Op::Idle, Ev::NameRefused(e))
                    }
                }
            }
            inner::LIST => {
                let raw = msgs::parse_list(body)?;
                let path = if raw.is_empty() {
                    Ok(String::new())
                } else {
                    name::sanitize_path(&raw)
                };
                match path {
                    Ok(p) => (Op::Listing(ListingPager::default()), Ev::ListRequested(p)),
                    Err(e) => {
                        self.queue_answer(Outcome::new(ResultCode::BadName, e.to_string()))?;
                        (Op::Idle, Ev::NameRefused(e))
                    }
                }
            }
            t => {
                return Err(ProtoError::UnexpectedMessage {
                    got: msgs::inner_name(t),
                    state: "idle",
                })
            }
        };
        self.set_op(next);
        Ok(Some(ev))
    }

    pub(super) fn set_op(&mut self, op: Op) {
        if let Phase::Open(slot) = &mut self.phase {
            *slot = op;
        }
    }

    /// Owes one answer that is known now (a refused name, a corrupt file)
    /// and sends what may go out.
    pub(super) fn queue_answer(&mut self, outcome: Outcome) -> Result<(), ProtoError> {
        let ticket = self.answers.owe();
        self.answers.give(ticket, Answer::Result(outcome));
        self.flush_answers()
    }

    /// Sends every owed answer that is known and whose turn has come. Once
    /// this side closes, nothing more is sent.
    pub(super) fn flush_answers(&mut self) -> Result<(), ProtoError> {
        while let Some(answer) = self.answers.next_ready() {
            if self.core.closing() {
                continue;
            }
            match answer {
                Answer::Result(outcome) => self.core.send_outcome(&outcome)?,
                Answer::Receipt(body) => self.core.send(inner::RECEIPT, &[&body])?,
            }
        }
        Ok(())
    }
}
