//! The RESULTs a server owes for uploads and MKDIRs, in request order.
//!
//! Requests are pipelined (PROTOCOL.md §4.3): a client may send its next
//! requests before the answers to earlier ones, and the server answers
//! strictly in order. An upload is answered only once its file is stored,
//! which the application may finish later, so each owed answer has a
//! [`Ticket`]; an answer given for a later ticket waits until every earlier
//! one is known.

use std::collections::VecDeque;

use crate::proto::msgs::{Outcome, RECEIPT_LEN};

/// Names one owed answer (the request's position in the session).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ticket(u64);

/// One answer: a RESULT, or the RECEIPT body of a stored upload.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Answer {
    Result(Outcome),
    Receipt([u8; RECEIPT_LEN]),
}

/// Owed answers, oldest first: `None` until the application gives one.
#[derive(Default)]
pub(super) struct Answers {
    /// Ticket of the front entry.
    front: u64,
    owed: VecDeque<Option<Answer>>,
}

impl Answers {
    /// How many answers are owed (given or not, not yet sent).
    pub(super) fn len(&self) -> usize {
        self.owed.len()
    }

    /// Owes one more answer; returns its ticket.
    pub(super) fn owe(&mut self) -> Ticket {
        self.owed.push_back(None);
        Ticket(self.front + self.owed.len() as u64 - 1)
    }

    /// Records the answer for `ticket`. Returns `false` for a ticket that
    /// is not owed or already answered.
    pub(super) fn give(&mut self, ticket: Ticket, answer: Answer) -> bool {
        let Some(i) = ticket.0.checked_sub(self.front) else {
            return false;
        };
        match usize::try_from(i).ok().and_then(|i| self.owed.get_mut(i)) {
            Some(slot @ None) => {
                *slot = Some(answer);
                true
            }
            _ => false,
        }
    }

    /// The next answer that may go out now (the oldest, once known).
    pub(super) fn next_ready(&mut self) -> Option<Answer> {
        if !matches!(self.owed.front(), Some(Some(_))) {
            return None;
        }
        self.front += 1;
        self.owed.pop_front().flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::msgs::ResultCode;

    fn r(code: ResultCode, reason: &str) -> Answer {
        Answer::Result(Outcome::new(code, reason))
    }

    #[test]
    fn answers_go_out_in_request_order_whatever_order_they_are_given_in() {
        let mut a = Answers::default();
        let (t0, t1, t2) = (a.owe(), a.owe(), a.owe());
        assert!(a.give(t2, r(ResultCode::Exists, "2")));
        assert!(a.give(t1, r(ResultCode::Exists, "1")));
        assert_eq!(a.next_ready(), None, "the first is still unknown");
        assert!(!a.give(t1, r(ResultCode::Ok, "")), "answered twice");
        assert!(a.give(t0, Answer::Receipt([7; RECEIPT_LEN])));
        let order: Vec<Answer> = std::iter::from_fn(|| a.next_ready()).collect();
        assert_eq!(
            order,
            [
                Answer::Receipt([7; RECEIPT_LEN]),
                r(ResultCode::Exists, "1"),
                r(ResultCode::Exists, "2")
            ]
        );
        assert_eq!(a.len(), 0);
        assert!(!a.give(t0, r(ResultCode::Ok, "")), "already sent");
        assert!(!a.give(Ticket(99), r(ResultCode::Ok, "")), "never owed");
        let t3 = a.owe();
        assert_eq!(t3, Ticket(3));
    }
}
