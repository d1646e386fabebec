//! A refresh family's rules, once: the stores that keep a family as a
//! record in process or in a database row apply them here (the Redis
//! store applies the same rules in its script, and the contract suite
//! holds all of them to one behaviour).

use super::Rotation;

/// A refresh family as a store keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Family {
    /// The current refresh token id.
    pub(crate) current: String,
    /// The id rotated away last, when, and whether its one grace answer was used.
    pub(crate) previous: Option<(String, i64, bool)>,
    pub(crate) revoked: bool,
    pub(crate) expires_at: i64,
}

impl Family {
    /// A new family whose current token is `jti`.
    pub(crate) fn new(jti: &str, expires_at: i64) -> Self {
        Self { current: jti.to_owned(), previous: None, revoked: false, expires_at }
    }

    fn is_live(&self, now: i64) -> bool {
        !self.revoked && self.expires_at > now
    }

    /// Presents `presented`: the outcome, with `self` changed to what the
    /// store must keep ([`super::Store::rotate_family`]).
    pub(crate) fn rotate(
        &mut self,
        presented: &str,
        next: &str,
        grace_secs: i64,
        expires_at: i64,
        now: i64,
    ) -> Rotation {
        if !self.is_live(now) {
            return Rotation::Dead;
        }
        if self.current == presented {
            let old = std::mem::replace(&mut self.current, next.to_owned());
            self.previous = Some((old, now, false));
            self.expires_at = self.expires_at.max(expires_at);
            return Rotation::Rotated;
        }
        if let Some((prev, at, used)) = &mut self.previous
            && prev == presented
            && !*used
            && grace_secs > 0
            && now.saturating_sub(*at) <= grace_secs
        {
            *used = true;
            return Rotation::Grace { current: self.current.clone() };
        }
        self.revoked = true;
        Rotation::Reused
    }

    /// Whether `jti` is the current token of this live family.
    pub(crate) fn is_current(&self, jti: &str, now: i64) -> bool {
        self.is_live(now) && self.current == jti
    }

    /// Keeps a live family until at least `expires_at`; `false` if it is dead.
    pub(crate) fn extend(&mut self, expires_at: i64, now: i64) -> bool {
        if !self.is_live(now) {
            return false;
        }
        self.expires_at = self.expires_at.max(expires_at);
        true
    }
}
