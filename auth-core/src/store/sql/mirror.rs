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
        let (Some(mirror), Some(events)) = (&self.inner.mirror, &self.inner.sql.events) else { return };
        let source = PgSource {
            inner: Arc::downgrade(&self.inner),
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
    channel: String,
    timeout: Duration,
}

fn gone() -> StoreError {
    StoreError::Backend("the store was dropped".into())
}

impl PgSource {
    fn pool(&self) -> Result<(sqlx::PgPool, Arc<Inner>), StoreError> {
        let inner = self.inner.upgrade().ok_or_else(gone)?;
        match &inner.pool {
            Backend::Postgres(pool) => Ok((pool.clone(), inner.clone())),
            #[allow(unreachable_patterns)]
            _ => Err(gone()),
        }
    }
}

#[async_trait::async_trait]
impl Source for PgSource {
    async fn subscribe(&self) -> Result<Box<dyn Feed>, StoreError> {
        let (pool, _) = self.pool()?;
        let mut listener = PgListener::connect_with(&pool).await?;
        listener.ignore_pool_close_event(true);
        listener.listen(&self.channel).await?;
        // (operators see it in pg_stat_activity by this name)
        sqlx::query("SELECT set_config('application_name', $1, false)")
            .bind(format!("tokenauth mirror {}", self.channel))
            .execute(&mut listener)
            .await?;
        let pid = backend_pid(&mut listener).await?;
        Ok(Box::new(PgFeed { listener, pid }))
    }

    async fn snapshot(&self, now: i64) -> Result<Snapshot, StoreError> {
        let (pool, inner) = self.pool()?;
        let query = &inner.sql.events.as_ref().ok_or_else(gone)?.snapshot;
        let rows: Vec<(String, String, i64, i64)> =
            sqlx::query_as(sqlx::AssertSqlSafe(query.clone())).bind(now).fetch_all(&pool).await?;
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

    fn timeout(&self) -> Duration {
        self.timeout
    }

    fn backend(&self) -> &'static str {
        "postgres"
    }
}

/// The listening connection's server process: if it changes, sqlx
/// reconnected in between and notifications may have been lost.
async fn backend_pid(listener: &mut PgListener) -> Result<i32, StoreError> {
    Ok(sqlx::query_scalar("SELECT pg_backend_pid()").fetch_one(listener).await?)
}

struct PgFeed {
    listener: PgListener,
    pid: i32,
}

fn lost() -> StoreError {
    StoreError::Backend("the LISTEN connection was lost".into())
}

#[async_trait::async_trait]
impl Feed for PgFeed {
    async fn next(&mut self) -> Result<String, StoreError> {
        // `try_recv` is cancel-safe; `None` means the connection dropped.
        let notification = self.listener.try_recv().await?.ok_or_else(lost)?;
        Ok(notification.payload().to_owned())
    }

    /// `SELECT pg_backend_pid()` on the listening connection: PostgreSQL
    /// sends every notification committed before it ahead of its answer
    /// (sqlx buffers them), and the same pid proves no reconnect hid a gap.
    async fn heartbeat(&mut self) -> Result<(), StoreError> {
        if backend_pid(&mut self.listener).await? == self.pid { Ok(()) } else { Err(lost()) }
    }

    fn buffered(&mut self) -> Option<String> {
        self.listener.next_buffered().map(|n| n.payload().to_owned())
    }
}
