//! Two mirrored instances of one network store, for the backends' tests:
//! every kind of revocation made on one is refused on the other, checks
//! answered from the mirror cost no round trip, a killed subscription or
//! a lost event never lets a revoked token through and heals by itself.

use std::time::{Duration, Instant};

use crate::store::{OpaqueRecord, Store, TokenRef};

/// What the pair test needs of a backend beyond [`Store`].
pub(crate) trait Mirrored: Store + Clone {
    /// Whether its mirror may answer now.
    fn mirror_trusted(&self) -> bool;
    /// How many snapshots its mirror has loaded.
    fn mirror_resyncs(&self) -> u64;
    /// Round trips to the backend so far.
    fn round_trips(&self) -> u64;
}

/// The backend's own ways of breaking the channel.
#[async_trait::async_trait]
pub(crate) trait Breaker: Sync {
    /// Kills every subscription (`CLIENT KILL TYPE pubsub`, `pg_terminate_backend`).
    async fn kill_subscriptions(&self);
    /// Takes a number of the event sequence without publishing it (a lost event).
    async fn lose_an_event(&self);
    /// Takes the last number back (a store restarted from an older copy).
    async fn roll_back(&self);
    /// Revokes `jti` in the store behind every script's back (no event).
    async fn revoke_silently(&self, jti: &str, until: i64);
}

async fn eventually(what: &str, mut done: impl AsyncFnMut() -> bool) -> Duration {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        if done().await {
            return start.elapsed();
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    panic!("never within 10 s: {what}");
}

fn token<'a>(jti: &'a str, family: Option<&'a str>, sub: &'a str, iat: i64) -> TokenRef<'a> {
    TokenRef { jti: Some(jti), family, sub, iat }
}

/// An opaque record of subject `opaque-sub`, live for ten minutes.
pub(crate) fn record(now: i64) -> OpaqueRecord {
    OpaqueRecord {
        sub: "opaque-sub".into(),
        username: "ann".into(),
        roles: vec!["user".into()],
        token_hash: [1; 32],
        refresh_hash: [2; 32],
        expires_at: now + 60,
        refresh_expires_at: now + 600,
        auth_time: now,
        issued_at: now,
        retired: vec![],
    }
}

/// Whether `b` refuses `token` without a round trip (its mirror answers).
fn refused_from_memory<S: Mirrored>(b: &S, token: &TokenRef<'_>, now: i64) -> bool {
    matches!(b.is_revoked_now(token, now), Some(Ok(true)))
}

/// What a protected request on `b` is told: the mirror's answer, or the store's.
async fn protected<S: Mirrored>(b: &S, token: &TokenRef<'_>, now: i64) -> bool {
    match b.is_revoked_now(token, now) {
        Some(answer) => answer.expect("check"),
        None => b.is_revoked(token, now).await.expect("check"),
    }
}

/// The whole scenario on two instances `a` and `b` of one store.
pub(crate) async fn run<S: Mirrored>(a: S, b: S, breaker: &impl Breaker) {
    eventually("both mirrors current", async || a.mirror_trusted() && b.mirror_trusted()).await;
    let now = crate::time::now();
    let u = uuid::Uuid::new_v4().simple().to_string();
    let id = |name: &str| format!("{name}-{u}");

    // a revoked token id: at once on a, within milliseconds on b
    let j1 = id("j1");
    let t1 = token(&j1, None, "s", now);
    assert!(!refused_from_memory(&b, &t1, now));
    a.revoke_token(&j1, now + 600, now).await.expect("revoke");
    assert!(refused_from_memory(&a, &t1, now), "the writer's own mirror knows at once");
    let took = eventually("b refuses a's revocation", async || refused_from_memory(&b, &t1, now)).await;
    eprintln!("a token revocation reached the other instance in {took:?}");

    // answers from the mirror cost no round trip (b's own probe, every
    // 200 ms, is one: a window it fell in is tried again)
    let live = id("live");
    eventually("checks answered from the mirror", async || {
        let before = b.round_trips();
        for _ in 0..20 {
            let fresh = b.is_revoked_now(&token(&live, Some("nofam"), "nobody", now), now);
            assert!(matches!(fresh, Some(Ok(false))), "{fresh:?}");
            assert!(refused_from_memory(&b, &t1, now));
        }
        b.round_trips() == before
    })
    .await;

    // a refresh family revoked by reuse
    let (fam, r1, r2, r3) = (id("fam"), id("r1"), id("r2"), id("r3"));
    a.create_family(&fam, &r1, now + 600, now).await.expect("family");
    assert_eq!(
        a.rotate_family(&fam, &r1, &r2, 0, now + 600, now).await.expect("rotate"),
        crate::Rotation::Rotated
    );
    let in_family = token(&r2, Some(&fam), "s", now);
    assert!(!refused_from_memory(&b, &in_family, now));
    assert_eq!(
        a.rotate_family(&fam, &r1, &r3, 0, now + 600, now).await.expect("reuse"),
        crate::Rotation::Reused
    );
    eventually("b refuses the reused family", async || refused_from_memory(&b, &in_family, now)).await;

    // a subject-wide revocation
    let sub = id("sub");
    let of_sub = token(&live, None, &sub, now);
    a.revoke_subject(&sub, now, now + 600, now).await.expect("revoke subject");
    eventually("b refuses the subject", async || refused_from_memory(&b, &of_sub, now)).await;
    assert!(!refused_from_memory(&b, &token(&live, None, &sub, now + 1), now), "issued after the cut-off");

    // an opaque credential: cached on b, forgotten when a deletes it
    let key = id("key");
    a.put_opaque(&key, record(now), now).await.expect("put");
    // (the put's own event may arrive while b reads it: that read is not cached)
    eventually("b caches it", async || {
        let before = b.round_trips();
        assert!(b.get_opaque_for_request(&key, now).await.expect("get").is_some(), "b reads it");
        b.round_trips() == before
    })
    .await;
    eventually("a later read is answered from the mirror", async || {
        let before = b.round_trips();
        let (cached, revoked) = b.get_opaque_for_request(&key, now).await.expect("get").expect("cached");
        assert_eq!((cached.username.as_str(), revoked), ("ann", false));
        b.round_trips() == before
    })
    .await;
    assert!(a.delete_opaque(&key, now).await.expect("delete"));
    eventually("b forgets the deleted credential", async || {
        b.get_opaque_for_request(&key, now).await.expect("get").is_none()
    })
    .await;
    assert!(b.get_opaque_checked(&key, now).await.expect("get").is_none(), "and the store agrees");

    // a refresh or an extension asks the store, never the mirror: a
    // revocation the mirror cannot know of is still seen there
    let silent = id("silent");
    let ts = token(&silent, None, "s", now);
    breaker.revoke_silently(&silent, now + 600).await;
    let before = b.round_trips();
    assert!(b.is_revoked(&ts, now).await.expect("check"), "is_revoked is the store's answer");
    assert!(b.round_trips() > before, "it made a round trip");

    // the subscription killed (b notices when the socket closes) and a
    // revocation written meanwhile: refused, from the store or from a
    // mirror that resynced after the write
    let resyncs = b.mirror_resyncs();
    breaker.kill_subscriptions().await;
    eventually("b notices", async || !b.mirror_trusted() || b.mirror_resyncs() > resyncs).await;
    let j2 = id("j2");
    let t2 = token(&j2, None, "s", now);
    a.revoke_token(&j2, now + 600, now).await.expect("revoke");
    if !b.mirror_trusted() {
        assert!(protected(&b, &t2, now).await, "a mirror that knows it is behind asks the store");
    }
    eventually("b refuses the revocation", async || protected(&b, &t2, now).await).await;
    eventually("b resynced by itself", async || b.mirror_trusted() && b.mirror_resyncs() > resyncs).await;
    assert!(refused_from_memory(&b, &t2, now), "and knows the revocation it missed");

    // a lost event: noticed at the next one, healed by a resync
    let resyncs = b.mirror_resyncs();
    breaker.lose_an_event().await;
    let j3 = id("j3");
    let t3 = token(&j3, None, "s", now);
    a.revoke_token(&j3, now + 600, now).await.expect("revoke");
    // (the event after the gap applies nothing: it makes b resync)
    eventually("b refuses across the gap", async || protected(&b, &t3, now).await).await;
    eventually("b resynced after the gap", async || b.mirror_trusted() && b.mirror_resyncs() > resyncs).await;
    assert!(refused_from_memory(&b, &t3, now));

    // the store's sequence goes back (a restart from an older copy, a
    // failover to a replica that lagged): the next probe shows it
    let resyncs = b.mirror_resyncs();
    breaker.roll_back().await;
    eventually("b resynced after the roll-back", async || b.mirror_trusted() && b.mirror_resyncs() > resyncs)
        .await;
    let j4 = id("j4");
    let t4 = token(&j4, None, "s", now);
    a.revoke_token(&j4, now + 600, now).await.expect("revoke");
    eventually("and follows the events again", async || refused_from_memory(&b, &t4, now)).await;
}
