//! The audit log's budget of refusals per client key
//! ([`super::requests::AUDITED_REFUSAL_RATE`]): at the limit every refusal
//! is recorded, one past it is not, and it refills with time.

use std::time::{Duration, Instant};

use super::requests::{log_refusal, AUDITED_REFUSAL_RATE};
use super::testkit::Bench;
use crate::proto::limiter::DEFAULT_KEY_RATE;
use crate::proto::msgs::{Outcome, ResultCode};

#[test]
fn a_keys_refusals_are_recorded_up_to_its_budget_and_not_one_more() {
    let burst = AUDITED_REFUSAL_RATE.burst.get() as usize;
    let mut b = Bench::established(DEFAULT_KEY_RATE, &[]);
    let refused = Outcome::new(ResultCode::NotFound, "no such file");
    let now = Instant::now();
    for _ in 0..burst {
        log_refusal(&b.session, &mut b.shared, now, ("download", "x"), &refused);
    }
    assert_eq!(b.audited_refusals(), burst, "at the limit: all recorded");
    log_refusal(&b.session, &mut b.shared, now, ("download", "x"), &refused);
    assert_eq!(b.audited_refusals(), 0, "one past the limit: not recorded");
    // One token's time later, one more.
    let later = now + AUDITED_REFUSAL_RATE.per / burst as u32 + Duration::from_millis(1);
    log_refusal(
        &b.session,
        &mut b.shared,
        later,
        ("download", "x"),
        &refused,
    );
    assert_eq!(b.audited_refusals(), 1);
}
