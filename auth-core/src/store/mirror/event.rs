//! What travels on a store's notification channel: one line per change
//! that can turn a 200 into a 401, and the snapshot an instance loads
//! when it (re)subscribes.
//!
//! A line is `EPOCH SEQ KIND A B ID`, fields separated by one space, the
//! identifier last (it may itself contain spaces):
//!
//! | kind | meaning | A | B |
//! |---|---|---|---|
//! | `t` | token id `ID` revoked | until | 0 |
//! | `s` | subject `ID` revoked up to a cut-off | cut-off | until |
//! | `f` | refresh family `ID` revoked | until | 0 |
//! | `o` | the opaque credential stored under the hashed key `ID` changed or went | 0 | 0 |
//! | `h` | a probe: no change; `SEQ` is the store's current number, `ID` the prober's nonce | 0 | 0 |
//!
//! `SEQ` counts every event of one store, without holes, in the order the
//! writes committed; `EPOCH` names one life of that counter (it changes
//! when the store loses it: a flushed or restarted Redis, a recreated
//! table), so that a counter starting again from 1 is never mistaken for
//! old news. A probe is published by the store itself, in order with
//! the events, with the number it has reached: a mirror that has not
//! reached the same number has lost something (or the store has lost
//! something, rolled back by a restart or a failover) and resyncs; the
//! prober's own probe coming back renews its lease.

/// One change, as the store committed it (the values are the stored ones,
/// after merging with what was there).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Change {
    /// A token id is revoked until `until`.
    Token { jti: String, until: i64 },
    /// Every token of `sub` issued at or before `cut` is revoked, until `until`.
    Subject { sub: String, cut: i64, until: i64 },
    /// A refresh family is revoked (kept until `until`).
    Family { family: String, until: i64 },
    /// The opaque record under this hashed key changed or was deleted.
    Opaque { hashed_key: String },
    /// No change: the store's current number, published in order with the
    /// events by an instance checking its mirror (`nonce` is the prober's).
    Probe { nonce: String },
}

/// A change with its place in the store's sequence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Event {
    pub(crate) epoch: String,
    pub(crate) seq: u64,
    pub(crate) change: Change,
}

impl Event {
    /// Reads one line; `None` for anything else (a line this version does
    /// not know is treated like a lost event: the mirror resyncs).
    pub(crate) fn parse(line: &str) -> Option<Self> {
        let mut parts = line.splitn(6, ' ');
        let epoch = parts.next()?.to_owned();
        let seq = parts.next()?.parse().ok()?;
        let kind = parts.next()?;
        let a: i64 = parts.next()?.parse().ok()?;
        let b: i64 = parts.next()?.parse().ok()?;
        let id = parts.next()?.to_owned();
        let change = match kind {
            "t" => Change::Token { jti: id, until: a },
            "s" => Change::Subject { sub: id, cut: a, until: b },
            "f" => Change::Family { family: id, until: a },
            "o" => Change::Opaque { hashed_key: id },
            "h" => Change::Probe { nonce: id },
            _ => return None,
        };
        Some(Self { epoch, seq, change })
    }
}

impl Change {
    /// `KIND A B ID`: the part of a line the writer composes (the store
    /// puts `EPOCH SEQ` in front when it commits).
    #[cfg_attr(
        not(any(feature = "postgres", test)),
        allow(dead_code, reason = "Redis composes its lines in Lua")
    )]
    pub(crate) fn tail(&self) -> String {
        match self {
            Change::Token { jti, until } => format!("t {until} 0 {jti}"),
            Change::Subject { sub, cut, until } => format!("s {cut} {until} {sub}"),
            Change::Family { family, until } => format!("f {until} 0 {family}"),
            Change::Opaque { hashed_key } => format!("o 0 0 {hashed_key}"),
            Change::Probe { nonce } => format!("h 0 0 {nonce}"),
        }
    }
}

/// Everything live, as of one sequence number: what an instance starts
/// from when it (re)subscribes.
#[derive(Debug, Clone, Default)]
pub(crate) struct Snapshot {
    pub(crate) epoch: String,
    pub(crate) seq: u64,
    /// Every live revocation (never `Change::Opaque`).
    pub(crate) changes: Vec<Change>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_round_trip_and_ids_may_hold_spaces() {
        for change in [
            Change::Token { jti: "j 1".into(), until: 1_900_000_000 },
            Change::Subject { sub: "ext|https://idp|a b".into(), cut: 5, until: 9 },
            Change::Family { family: "f".into(), until: -3 },
            Change::Opaque { hashed_key: "k".into() },
            Change::Probe { nonce: "12345".into() },
        ] {
            let line = format!("e1 42 {}", change.tail());
            let event = Event::parse(&line).expect("parses");
            assert_eq!((event.epoch.as_str(), event.seq), ("e1", 42));
            assert_eq!(event.change, change);
        }
    }

    #[test]
    fn anything_else_is_refused() {
        for line in ["", "e", "e 1", "e x t 1 0 j", "e 1 z 1 0 j", "e 1 t one 0 j", "e 1 t 1 0"] {
            assert_eq!(Event::parse(line), None, "{line:?}");
        }
    }
}
