//! The revocation mirror on Redis: `SUBSCRIBE` to `{PREFIX}:events` on a
//! connection of its own, the snapshot in one script, and what the
//! store's writes hand to their own instance's mirror.

use std::sync::{Arc, Weak};
use std::time::Duration;

use futures_util::StreamExt;
use redis::aio::{PubSubSink, PubSubStream};

use super::connection::{invocation, t};
use super::scripts::{PROBE, SNAPSHOT};
use super::{Inner, RedisStore};
use crate::store::StoreError;
use crate::store::mirror::{Change, Feed, Mirror, Snapshot, Source, follow};

impl RedisStore {
    /// The mirror, if this store has one and it may answer now.
    pub(super) fn mirror(&self) -> Option<&Mirror> {
        self.inner.mirror.as_deref().filter(|m| m.trusted())
    }

    /// A change this instance committed, applied to its mirror at once.
    pub(super) fn noted(&self, line: Option<&str>) {
        if let (Some(mirror), Some(line)) = (&self.inner.mirror, line) {
            mirror.note(line, crate::time::now());
        }
    }

    /// The sequence hash and, for a revocation kind (`r`, `f`, `s`), its index.
    pub(super) fn event_keys(&self, kind: Option<&str>) -> (String, Option<String>) {
        let seq = format!("{}seq", self.inner.tag);
        (seq, kind.map(|kind| format!("{}i{kind}", self.inner.tag)))
    }

    /// Starts following the store's events, if it mirrors (inside a tokio runtime).
    pub(super) fn follow_events(&self) -> Result<(), StoreError> {
        let Some(mirror) = &self.inner.mirror else { return Ok(()) };
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| {
            StoreError::Backend("a mirrored Redis store must be made inside a tokio runtime".into())
        })?;
        let source = RedisSource {
            inner: Arc::downgrade(&self.inner),
            channel: format!("{}events", self.inner.tag),
            timeout: self.inner.timeout.max(Duration::from_secs(1)),
        };
        runtime.spawn(follow(source, Arc::downgrade(mirror)));
        Ok(())
    }
}

struct RedisSource {
    inner: Weak<Inner>,
    channel: String,
    timeout: Duration,
}

impl RedisSource {
    fn store(&self) -> Result<RedisStore, StoreError> {
        let inner =
            self.inner.upgrade().ok_or_else(|| StoreError::Backend("the store was dropped".into()))?;
        Ok(RedisStore { inner })
    }
}

type Flat = Vec<String>;

/// A number from the snapshot; anything unreadable fails the snapshot
/// (read as 0 it would look expired: a revocation lost).
fn number(text: &str) -> Result<i64, StoreError> {
    // scores come back as `%.17g`: integers print as integers
    text.parse()
        .ok()
        .or_else(|| text.parse::<f64>().ok().filter(|f| f.is_finite()).map(|f| f as i64))
        .ok_or_else(|| StoreError::Backend(format!("unreadable number {text:?} in the mirror's snapshot")))
}

#[async_trait::async_trait]
impl Source for RedisSource {
    async fn subscribe(&self) -> Result<Box<dyn Feed>, StoreError> {
        let mut pubsub = self.store()?.open_pubsub().await?;
        pubsub.subscribe(&self.channel).await.map_err(StoreError::from_source)?;
        let (sink, stream) = pubsub.split();
        Ok(Box::new(RedisFeed { _sink: sink, stream }))
    }

    async fn snapshot(&self, now: i64) -> Result<Snapshot, StoreError> {
        let store = self.store()?;
        let (seq, _) = store.event_keys(None);
        let index = |kind| store.event_keys(Some(kind)).1.unwrap_or_default();
        let (tokens, families, subjects) = (index("r"), index("f"), index("s"));
        let mut call = invocation(&SNAPSHOT, &[&seq, &tokens, &families, &subjects]);
        call.arg(t(now)).arg(store.key("s", "")).arg(glob_escaped(&store.inner.tag));
        let (epoch, seq, tokens, families, subjects): (String, String, Flat, Flat, Flat) =
            store.invoke("mirror", call).await?;
        let mut changes = Vec::with_capacity(tokens.len() / 2 + families.len() / 2 + subjects.len() / 3);
        for pair in tokens.chunks_exact(2) {
            changes.push(Change::Token { jti: pair[0].clone(), until: number(&pair[1])? });
        }
        for pair in families.chunks_exact(2) {
            changes.push(Change::Family { family: pair[0].clone(), until: number(&pair[1])? });
        }
        for triple in subjects.chunks_exact(3) {
            let (until, cut) = (number(&triple[1])?, number(&triple[2])?);
            changes.push(Change::Subject { sub: triple[0].clone(), cut, until });
        }
        let seq = u64::try_from(number(&seq)?).unwrap_or(0);
        Ok(Snapshot { epoch, seq, changes })
    }

    /// A script on the node that owns the store's slot: published there,
    /// in order with the events, so it proves the path they take.
    async fn probe(&self, nonce: &str) -> Result<(), StoreError> {
        let store = self.store()?;
        let (seq, _) = store.event_keys(None);
        let mut call = invocation(&PROBE, &[&seq]);
        call.arg(nonce);
        let published: i64 = store.invoke("mirror", call).await?;
        if published == 1 { Ok(()) } else { Err(StoreError::Backend("the event sequence is gone".into())) }
    }

    fn timeout(&self) -> Duration {
        self.timeout
    }

    fn backend(&self) -> &'static str {
        "redis"
    }
}

/// `tag` as a literal `SCAN MATCH` pattern.
fn glob_escaped(tag: &str) -> String {
    let mut out = String::with_capacity(tag.len() + 1);
    for c in tag.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('*');
    out
}

struct RedisFeed {
    /// Kept: dropping it would close the subscription.
    _sink: PubSubSink,
    stream: PubSubStream,
}

fn lost() -> StoreError {
    StoreError::Backend("the pub/sub connection was lost".into())
}

#[async_trait::async_trait]
impl Feed for RedisFeed {
    async fn next(&mut self) -> Result<String, StoreError> {
        let message = self.stream.next().await.ok_or_else(lost)?;
        // (an unreadable payload reads as an unreadable event: a resync)
        Ok(message.get_payload().unwrap_or_default())
    }
}
