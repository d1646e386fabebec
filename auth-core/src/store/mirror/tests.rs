//! The mirror's rules, and the follow loop against a scripted source:
//! in-sequence events apply, a gap or another epoch distrusts at once and
//! resyncs, a lost subscription distrusts, the lease lapses.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::*;
use crate::store::StoreError;

const NOW: i64 = 1_000;

fn token(jti: &str, sub: &str, iat: i64) -> TokenRef<'static> {
    TokenRef { jti: Some(jti.to_owned().leak()), family: Some("fam"), sub: sub.to_owned().leak(), iat }
}

fn event(epoch: &str, seq: u64, change: Change) -> Event {
    Event { epoch: epoch.into(), seq, change }
}

fn snapshot(epoch: &str, seq: u64, changes: Vec<Change>) -> Snapshot {
    Snapshot { epoch: epoch.into(), seq, changes }
}

fn record(sub: &str, issued_at: i64) -> OpaqueRecord {
    OpaqueRecord {
        sub: sub.into(),
        username: "u".into(),
        roles: vec![],
        token_hash: [1; 32],
        refresh_hash: [2; 32],
        expires_at: NOW + 60,
        refresh_expires_at: NOW + 600,
        auth_time: 0,
        issued_at,
        retired: vec![],
    }
}

#[test]
fn revocations_answer_like_the_store() {
    let m = Mirror::new();
    m.reset(
        snapshot(
            "e",
            7,
            vec![
                Change::Token { jti: "j".into(), until: NOW + 10 },
                Change::Token { jti: "old".into(), until: NOW },
                Change::Subject { sub: "s".into(), cut: 500, until: NOW + 10 },
            ],
        ),
        NOW,
    );
    assert!(m.is_revoked(&token("j", "x", 0), NOW));
    assert!(!m.is_revoked(&token("old", "x", 0), NOW), "an expired mark revokes nothing");
    assert!(m.is_revoked(&token("k", "s", 500), NOW), "issued at the cut-off");
    assert!(!m.is_revoked(&token("k", "s", 501), NOW), "issued after it");
    assert_eq!(
        m.apply(&event("e", 8, Change::Family { family: "fam".into(), until: NOW + 5 }), NOW),
        Applied::Next
    );
    assert!(m.is_revoked(&token("k", "x", 0), NOW), "the family");
}

#[test]
fn only_the_next_event_of_the_same_epoch_applies() {
    let m = Mirror::new();
    m.reset(snapshot("e", 7, vec![]), NOW);
    let revoke = |jti: &str| Change::Token { jti: jti.into(), until: NOW + 10 };
    assert_eq!(m.apply(&event("e", 7, revoke("in-snapshot")), NOW), Applied::Old);
    assert!(!m.is_revoked(&token("in-snapshot", "x", 0), NOW), "old news is not applied twice");
    assert_eq!(m.apply(&event("e", 8, revoke("a")), NOW), Applied::Next);
    assert_eq!(m.apply(&event("e", 10, revoke("b")), NOW), Applied::Gap, "9 is missing");
    assert_eq!(m.apply(&event("other", 9, revoke("c")), NOW), Applied::Gap, "another epoch");
    assert_eq!(m.apply(&event("e", 9, revoke("d")), NOW), Applied::Next);
    assert_eq!(
        m.apply(&event("e", 8, revoke("e")), NOW),
        Applied::Gap,
        "past the snapshot, a number went back"
    );
}

#[test]
fn a_probe_renews_only_with_the_number_the_mirror_has_reached() {
    let m = Mirror::new();
    m.reset(snapshot("e", 7, vec![]), NOW);
    let probe = |epoch: &str, seq| event(epoch, seq, Change::Probe { nonce: "n1".into() });
    assert_eq!(m.apply(&probe("e", 7), NOW), Applied::Probe("n1".into()));
    assert_eq!(m.apply(&probe("e", 8), NOW), Applied::Gap, "the store is ahead: an event was lost");
    assert_eq!(m.apply(&probe("e", 6), NOW), Applied::Old, "published before the snapshot was read");
    assert_eq!(
        m.apply(&event("e", 8, Change::Token { jti: "j".into(), until: NOW + 9 }), NOW),
        Applied::Next
    );
    assert_eq!(m.apply(&probe("e", 7), NOW), Applied::Gap, "past the snapshot, the store went back");
    assert_eq!(m.apply(&probe("f", 7), NOW), Applied::Gap, "another epoch");
}

#[test]
fn a_live_subject_mark_keeps_the_later_cut_off_and_an_expired_one_is_replaced() {
    let m = Mirror::new();
    m.reset(snapshot("e", 0, vec![Change::Subject { sub: "s".into(), cut: 900, until: NOW + 5 }]), NOW);
    m.note("e 0 s 100 2000 s", NOW);
    assert!(m.is_revoked(&token("k", "s", 900), NOW), "the later cut-off stays");
    m.reset(snapshot("e", 0, vec![Change::Subject { sub: "s".into(), cut: 900, until: NOW }]), NOW);
    m.note("e 0 s 100 2000 s", NOW);
    assert!(!m.is_revoked(&token("k", "s", 900), NOW), "an expired mark is replaced");
    assert!(m.is_revoked(&token("k", "s", 100), NOW));
}

#[test]
fn opaque_records_are_cached_unless_something_moved_and_forgotten_on_change() {
    let m = Mirror::new();
    m.reset(snapshot("e", 0, vec![]), NOW);
    let generation = m.opaque("k", NOW).expect_err("nothing cached");
    m.remember_opaque("k".into(), record("s", 10), generation);
    let (cached, revoked) = m.opaque("k", NOW).expect("cached");
    assert_eq!((cached.sub.as_str(), revoked), ("s", false));
    assert_eq!(m.opaque("k", NOW + 600).map(|_| ()), Err(m.read().generation), "past its end");

    m.note("e 0 s 10 2000 s", NOW);
    assert!(m.opaque("k", NOW).expect("cached").1, "a subject-wide revocation covers it");

    assert_eq!(m.apply(&event("e", 1, Change::Opaque { hashed_key: "k".into() }), NOW), Applied::Next);
    let generation = m.opaque("k", NOW).expect_err("forgotten");
    m.note("e 0 t 2000 0 j", NOW);
    m.remember_opaque("k".into(), record("s", 10), generation);
    assert!(m.opaque("k", NOW).is_err(), "read before a change: not cached");
}

#[test]
fn a_snapshot_older_than_this_instances_own_change_does_not_erase_it() {
    let m = Mirror::new();
    m.reset(snapshot("e", 3, vec![]), NOW);
    m.note(&format!("e 5 t {} 0 mine", NOW + 60), NOW);
    m.note(&format!("e 2 t {} 0 old", NOW + 60), NOW);
    // a resync whose snapshot (seq 4) was read before change 5 committed
    m.reset(snapshot("e", 4, vec![]), NOW);
    assert!(m.is_revoked(&token("mine", "x", 0), NOW), "still refused by the instance that made it");
    assert!(!m.is_revoked(&token("old", "x", 0), NOW), "what the snapshot covers is the snapshot's business");
    m.reset(snapshot("other", 9, vec![]), NOW);
    assert!(!m.is_revoked(&token("mine", "x", 0), NOW), "another epoch: the store was emptied");
}

#[test]
fn trust_is_a_lease() {
    let m = Mirror::new();
    assert!(!m.trusted(), "a new mirror answers nothing");
    m.trust_until(Instant::now() + Duration::from_secs(60));
    assert!(m.trusted());
    m.distrust();
    assert!(!m.trusted());
    m.trust_until(Instant::now() - Duration::from_millis(1));
    assert!(!m.trusted(), "a lapsed lease");
}

/// A store in a test's hands: it numbers and publishes changes like a
/// real one, and can lose one, roll back, or drop its subscribers.
#[derive(Clone, Default)]
struct Fake(Arc<Mutex<FakeState>>);

#[derive(Default)]
struct FakeState {
    seq: u64,
    changes: Vec<Change>,
    subscribers: Vec<mpsc::UnboundedSender<String>>,
    down: bool,
}

impl Fake {
    fn state(&self) -> std::sync::MutexGuard<'_, FakeState> {
        self.0.lock().expect("fake store")
    }

    fn publish(&self, line: String) {
        self.state().subscribers.retain(|tx| tx.send(line.clone()).is_ok());
    }

    /// Revokes `jti`; `publish: false` loses its event.
    fn revoke(&self, jti: &str, until: i64, publish: bool) {
        let change = Change::Token { jti: jti.into(), until };
        let seq = {
            let mut s = self.state();
            s.seq += 1;
            s.changes.push(change.clone());
            s.seq
        };
        if publish {
            self.publish(format!("e {seq} {}", change.tail()));
        }
    }

    fn drop_subscribers(&self) {
        self.state().subscribers.clear();
    }
}

struct FakeFeed(mpsc::UnboundedReceiver<String>);

#[async_trait::async_trait]
impl Feed for FakeFeed {
    async fn next(&mut self) -> Result<String, StoreError> {
        self.0.recv().await.ok_or_else(|| StoreError::Backend("subscription lost".into()))
    }
}

#[async_trait::async_trait]
impl Source for Fake {
    async fn subscribe(&self) -> Result<Box<dyn Feed>, StoreError> {
        let mut s = self.state();
        if s.down {
            return Err(StoreError::Backend("down".into()));
        }
        let (tx, rx) = mpsc::unbounded_channel();
        s.subscribers.push(tx);
        Ok(Box::new(FakeFeed(rx)))
    }
    async fn snapshot(&self, _now: i64) -> Result<Snapshot, StoreError> {
        let s = self.state();
        Ok(Snapshot { epoch: "e".into(), seq: s.seq, changes: s.changes.clone() })
    }
    async fn probe(&self, nonce: &str) -> Result<(), StoreError> {
        let seq = self.state().seq;
        self.publish(format!("e {seq} h 0 0 {nonce}"));
        Ok(())
    }
    fn timeout(&self) -> Duration {
        Duration::from_secs(1)
    }
    fn backend(&self) -> &'static str {
        "fake"
    }
}

async fn until(what: &str, mut done: impl FnMut() -> bool) {
    for _ in 0..2000 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("never: {what}");
}

#[tokio::test]
async fn a_lost_event_a_roll_back_or_a_lost_subscription_distrust_and_the_mirror_resyncs_by_itself() {
    let now = crate::time::now();
    let store = Fake::default();
    store.revoke("before", now + 60, true);
    let mirror = Arc::new(Mirror::new());
    tokio::spawn(follow(store.clone(), Arc::downgrade(&mirror)));
    until("trusted once its first probe came back", || mirror.trusted()).await;
    assert!(mirror.is_revoked(&token("before", "x", 0), now), "from the snapshot");

    store.revoke("a", now + 60, true);
    until("an event applied", || mirror.is_revoked(&token("a", "x", 0), now)).await;

    // a lost event: the next probe carries a number the mirror has not reached
    let resyncs = mirror.resyncs();
    store.revoke("lost", now + 60, false);
    until("resynced after the loss", || mirror.resyncs() > resyncs && mirror.trusted()).await;
    assert!(mirror.is_revoked(&token("lost", "x", 0), now), "the lost revocation came with the snapshot");

    // the store rolls back (a restart from an older copy, a failover): the number went back
    let resyncs = mirror.resyncs();
    {
        let mut s = store.state();
        s.seq -= 1;
        s.changes.pop();
    }
    until("resynced after the roll-back", || mirror.resyncs() > resyncs && mirror.trusted()).await;

    // the subscription drops and the store stays down: nothing is answered from memory
    store.state().down = true;
    store.drop_subscribers();
    until("distrusted when the subscription is lost", || !mirror.trusted()).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!mirror.trusted(), "no subscription, no answers from memory");
    store.state().down = false;
    until("back by itself", || mirror.trusted()).await;
}

#[tokio::test]
async fn a_silent_subscription_loses_its_lease() {
    let store = Fake::default();
    let mirror = Arc::new(Mirror::new());
    tokio::spawn(follow(store.clone(), Arc::downgrade(&mirror)));
    until("trusted", || mirror.trusted()).await;
    // probes are published to nobody: the channel went silent without closing
    let silent = store.state().subscribers.drain(..).collect::<Vec<_>>();
    until("distrusted when the lease lapses", || !mirror.trusted()).await;
    drop(silent);
}
