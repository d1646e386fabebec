//! The revocation mirror on PostgreSQL: `LISTEN` on the store's channel
//! (sqlx's `PgListener`, a connection of its own opened from the pool's
//! options), the snapshot in one statement, and what the store's writes
//! hand to their own instance's mirror.

use std::sync::{Arc, Weak};
use std::time::Duration;

use sqlx::postgres::PgListener;

use super::{Backend, Inner, SqlStore};
use crate::store::StoreError;
use crate::store::mirror::{Change, Feed, Mirror, Snapshot, Source, follow};

use super::call::Publish;

impl SqlStore {
    /// The mirror, if this store has one and it may answer now.
    pub(super) fn mirror(&self) -> Option<&Mirror> {
        self.inner.mirror.as_deref().filter(|m| m.trusted())
    }

    /// Starts following the store's events, if it mirrors.
    pub(super) fn follow_events(&self) {
        let (Some(mirror), Some(events), Backend::Postgres(pool)) =
            (&self.inner.mirror, &self.inner.sql.events, &self.inner.pool)
        else {
            return;
        };
        // Two connections of its own (the listener, and snapshots and
        // probes), from the application pool's options (TLS included) under
        // a name operators see in pg_stat_activity: the mirror never holds
        // or uses one of the application's connections.
        let name = format!("tokenauth mirror {}", events.channel);
        let options = pool.connect_options().as_ref().clone().application_name(&name);
        let own = sqlx::postgres::PgPoolOptions::new()
            .max_connections(2)
            .acquire_timeout(self.inner.timeout.max(Duration::from_secs(1)))
            .connect_lazy_with(options);
        let source = PgSource {
            inner: Arc::downgrade(&self.inner),
            pool: own,
            channel: events.channel.clone(),
            timeout: self.inner.timeout.max(Duration::from_secs(1)),
        };
        tokio::spawn(follow(source, Arc::downgrade(mirror)));
    }
}

impl Publish for sqlx::PgConnection {
    async fn publish(&mut self, store: &SqlStore, change: &Change) -> Result<Option<String>, StoreError> {
        let Some(events) = &store.inner.sql.events else { return Ok(None) };
        let line: String =
            sqlx::query_scalar(store.q(&events.publish)).bind(change.tail()).fetch_one(&mut *self).await?;
        Ok(Some(line))
    }
}

struct PgSource {
    inner: Weak<Inner>,
    /// The mirror's own connections.
    pool: sqlx::PgPool,
    channel: String,
    timeout: Duration,
}

fn gone() -> StoreError {
    StoreError::Backend("the store was dropped".into())
}

impl PgSource {
    fn events(&self) -> Result<Arc<Inner>, StoreError> {
        self.inner.upgrade().filter(|inner| inner.sql.events.is_some()).ok_or_else(gone)
    }
}

#[async_trait::async_trait]
impl Source for PgSource {
    async fn subscribe(&self) -> Result<Box<dyn Feed>, StoreError> {
        let mut listener = PgListener::connect_with(&self.pool).await?;
        listener.ignore_pool_close_event(true);
        listener.listen(&self.channel).await?;
        Ok(Box::new(PgFeed(listener)))
    }

    async fn snapshot(&self, now: i64) -> Result<Snapshot, StoreError> {
        let inner = self.events()?;
        let query = &inner.sql.events.as_ref().ok_or_else(gone)?.snapshot;
        let rows: Vec<(String, String, i64, i64)> =
            sqlx::query_as(sqlx::AssertSqlSafe(query.clone())).bind(now).fetch_all(&self.pool).await?;
        let mut snapshot = Snapshot::default();
        for (kind, id, a, b) in rows {
            match kind.as_str() {
                "m" => (snapshot.epoch, snapshot.seq) = (id, u64::try_from(a).unwrap_or(0)),
                "t" => snapshot.changes.push(Change::Token { jti: id, until: a }),
                "s" => snapshot.changes.push(Change::Subject { sub: id, cut: a, until: b }),
                "f" => snapshot.changes.push(Change::Family { family: id, until: a }),
                _ => return Err(StoreError::Backend(format!("unexpected snapshot row kind {kind:?}"))),
            }
        }
        if snapshot.epoch.is_empty() {
            return Err(StoreError::Backend("the mirror's sequence row is missing".into()));
        }
        Ok(snapshot)
    }

    async fn probe(&self, nonce: &str) -> Result<(), StoreError> {
        let inner = self.events()?;
        let query = &inner.sql.events.as_ref().ok_or_else(gone)?.probe;
        let rows = sqlx::query(sqlx::AssertSqlSafe(query.clone())).bind(nonce).fetch_all(&self.pool).await?;
        if rows.len() == 1 {
            Ok(())
        } else {
            Err(StoreError::Backend("the mirror's sequence row is missing".into()))
        }
    }

    fn timeout(&self) -> Duration {
        self.timeout
    }

    fn backend(&self) -> &'static str {
        "postgres"
    }
}

/// The listening connection. sqlx reconnects it silently when it drops
/// (notifications in between are lost): that shows as a number the
/// mirror never reached in the next probe, so it resyncs.
struct PgFeed(PgListener);

#[async_trait::async_trait]
impl Feed for PgFeed {
    async fn next(&mut self) -> Result<String, StoreError> {
        // `try_recv` is cancel-safe; `None` means the connection dropped.
        let notification = self
            .0
            .try_recv()
            .await?
            .ok_or_else(|| StoreError::Backend("the LISTEN connection was lost".into()))?;
        Ok(notification.payload().to_owned())
    }
}
