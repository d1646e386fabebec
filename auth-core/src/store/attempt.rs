//! [`AttemptRule`]: the counter every store applies atomically for the login throttle.

/// How a counter lets attempts through: `free` at once, then each further
/// one only `first_delay`, `2 × first_delay`, `4 × first_delay` … seconds
/// (at most `max_delay`) after the last one let through. The counter is
/// forgotten `window_secs` after the last attempt (or when its delay ends,
/// if later).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttemptRule {
    /// Attempts let through before any delay.
    pub free: u32,
    /// Seconds of quiet after which the counter is forgotten.
    pub window_secs: i64,
    /// The first delay, in seconds.
    pub first_delay: i64,
    /// The longest delay, in seconds.
    pub max_delay: i64,
}

/// A counter's state, as a store keeps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AttemptState {
    /// Attempts counted (let through or not).
    pub count: u32,
    /// Attempts let through.
    pub passed: u32,
    /// No attempt is let through before this time (seconds since the epoch).
    pub next_at: i64,
    /// When the counter is forgotten.
    pub expires_at: i64,
}

/// What [`Store::count_attempt`](crate::Store::count_attempt) answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attempt {
    /// Whether this attempt may go on to the password check.
    pub allowed: bool,
    /// Attempts counted in the current window, this one included.
    pub count: u32,
    /// When refused: seconds until an attempt is let through again.
    pub retry_after: i64,
}

impl AttemptRule {
    /// The delay after the `passed`-th attempt let through (zero while
    /// attempts are free).
    pub fn delay_after(&self, passed: u32) -> i64 {
        if passed < self.free {
            return 0;
        }
        let doublings = (passed - self.free).min(62);
        self.first_delay.saturating_mul(1_i64 << doublings).min(self.max_delay).max(0)
    }

    /// One attempt at `now` against the stored state (`None`, or a state
    /// past its `expires_at`, is a fresh counter): the new state to store
    /// and the answer. Every store applies exactly this, atomically.
    pub fn apply(&self, state: Option<AttemptState>, now: i64) -> (AttemptState, Attempt) {
        let mut s = state.filter(|s| s.expires_at > now).unwrap_or_default();
        s.count = s.count.saturating_add(1);
        let allowed = s.passed < self.free || now >= s.next_at;
        if allowed {
            s.passed = s.passed.saturating_add(1);
            let delay = self.delay_after(s.passed);
            if delay > 0 {
                s.next_at = now.saturating_add(delay);
            }
        }
        s.expires_at = now.saturating_add(self.window_secs).max(s.next_at);
        let retry_after = if allowed { 0 } else { s.next_at.saturating_sub(now).max(1) };
        (s, Attempt { allowed, count: s.count, retry_after })
    }

    /// Takes one attempt that was let through back (it succeeded, or was
    /// never checked): the state to store.
    pub fn take_back(&self, mut state: AttemptState) -> AttemptState {
        state.count = state.count.saturating_sub(1);
        state.passed = state.passed.saturating_sub(1);
        state
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOCK: AttemptRule = AttemptRule { free: 3, window_secs: 100, first_delay: 100, max_delay: 100 };
    const SLOW: AttemptRule = AttemptRule { free: 2, window_secs: 100, first_delay: 1, max_delay: 8 };

    fn run(rule: AttemptRule, times: &[i64]) -> Vec<Attempt> {
        let mut state = None;
        times
            .iter()
            .map(|&now| {
                let (s, a) = rule.apply(state, now);
                state = Some(s);
                a
            })
            .collect()
    }

    #[test]
    fn lock_rule_refuses_past_the_limit_until_the_window_ends() {
        let got = run(LOCK, &[0, 0, 0, 0, 50, 100]);
        let allowed: Vec<bool> = got.iter().map(|a| a.allowed).collect();
        assert_eq!(allowed, [true, true, true, false, false, true]);
        assert_eq!(got[3].retry_after, 100);
        assert_eq!(got[4].retry_after, 50);
        assert_eq!(got[5].count, 6);
    }

    #[test]
    fn slow_rule_doubles_its_delay_up_to_the_cap() {
        // free twice, then waits of 1, 2, 4, 8, 8 seconds between let-throughs
        let got = run(SLOW, &[0, 0, 0, 1, 2, 3, 5, 7, 11, 19, 27]);
        let allowed: Vec<bool> = got.iter().map(|a| a.allowed).collect();
        assert_eq!(allowed, [true, true, false, true, false, true, false, true, false, true, true]);
        assert_eq!(got[2].retry_after, 1);
        assert_eq!(got[4].retry_after, 1);
    }

    #[test]
    fn refused_attempts_do_not_push_the_delay_out() {
        // hammering during a delay does not lengthen it
        let got = run(SLOW, &[0, 0, 0, 0, 0, 0, 1]);
        assert!(got[6].allowed);
        assert_eq!(got[6].count, 7);
    }

    #[test]
    fn counters_are_forgotten_after_a_quiet_window() {
        let got = run(LOCK, &[0, 0, 0, 0, 200]);
        assert!(got[4].allowed);
        assert_eq!(got[4].count, 1);
    }

    #[test]
    fn take_back_reopens_a_free_slot() {
        let (s, _) = LOCK.apply(None, 0);
        let (s, _) = LOCK.apply(Some(s), 0);
        let (s, _) = LOCK.apply(Some(s), 0);
        let s = LOCK.take_back(s);
        assert!(LOCK.apply(Some(s), 0).1.allowed);
    }
}
