//! What one iteration of the server loop may still do: the connections to
//! serve again without waiting for readiness, and the handshake steps left.

use std::collections::HashSet;

use mio::Token;

/// Handshake steps (turns of connections that have not authenticated) the
/// loop runs per iteration (8, about 3 ms of public-key work): a flood of
/// handshakes waits for later iterations instead of delaying established
/// sessions, which get their turn in every iteration.
pub const HANDSHAKES_PER_TURN: usize = 8;

/// Tokens to serve in the next iteration without waiting for readiness, in
/// the order they were queued, each once (constant time per push however
/// many wait).
#[derive(Default)]
pub(super) struct Again {
    order: Vec<Token>,
    queued: HashSet<Token>,
}

impl Again {
    pub fn push(&mut self, token: Token) {
        if self.queued.insert(token) {
            self.order.push(token);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// Everything queued, oldest first; the queue is empty afterwards.
    pub fn take(&mut self) -> Vec<Token> {
        self.queued.clear();
        std::mem::take(&mut self.order)
    }
}

/// The handshake steps one loop iteration may still run.
pub(super) struct HandshakeBudget(usize);

impl HandshakeBudget {
    pub fn new() -> Self {
        HandshakeBudget(HANDSHAKES_PER_TURN)
    }

    /// Takes one step; `false` when the iteration's are spent (the
    /// connection waits for the next iteration).
    pub fn take(&mut self) -> bool {
        let some = self.0 > 0;
        self.0 = self.0.saturating_sub(1);
        some
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn again_keeps_the_first_order_and_each_token_once() {
        let mut a = Again::default();
        for t in [3, 1, 3, 2, 1] {
            a.push(Token(t));
        }
        assert_eq!(a.take(), vec![Token(3), Token(1), Token(2)]);
        assert!(a.is_empty());
        a.push(Token(3));
        assert_eq!(a.take(), vec![Token(3)], "queued again after a take");
    }

    #[test]
    fn an_iteration_runs_handshakes_per_turn_handshake_steps_and_no_more() {
        let mut b = HandshakeBudget::new();
        for i in 0..HANDSHAKES_PER_TURN {
            assert!(b.take(), "step {i}");
        }
        assert!(!b.take(), "one past");
        assert!(!b.take());
        assert!(HandshakeBudget::new().take(), "the next iteration's");
    }
}
