//! The revocation mirror of a [`SqlStore`]: on PostgreSQL, `LISTEN` on
//! the store's channel (sqlx's `PgListener`, on connections of its own
//! opened from the pool's options), the snapshot in one statement, and
//! what the store's writes hand to their own instance's mirror; on SQLite,
//! write-through, for the one process that holds the file's lock.

#[cfg(feature = "postgres")]
use std::sync::{Arc, Weak};
#[cfg(feature = "postgres")]
use std::time::Duration;

#[cfg(feature = "postgres")]
use sqlx::postgres::PgListener;

#[cfg(feature = "postgres")]
use super::Inner;
use super::{Backend, SqlStore};
use crate::store::StoreError;
use crate::store::mirror::{Change, Mirror, Snapshot};
#[cfg(feature = "postgres")]
use crate::store::mirror::{Feed, Source, follow};
#[cfg(feature = "postgres")]
use crate::store::outage::timed;

#[cfg(feature = "postgres")]
use super::call::Publish;

/// How long a write-through (SQLite) mirror answers nothing after a write
/// failed: longer than SQLite's 5 s busy timeout, within which a statement
/// the caller gave up on may still commit.
#[cfg(feature = "sqlite")]
pub(super) const WRITE_THROUGH_RELOAD: std::time::Duration = std::time::Duration::from_secs(10);

impl SqlStore {
    /// The mirror, if this store has one and it may answer now.
    pub(super) fn mirror(&self) -> Option<&Mirror> {
        self.inner.mirror.as_deref().filter(|m| m.trusted())
    }

    /// A change this store committed: a PostgreSQL mirror applies the
    /// event `line` (it carries the change's number), a SQLite one the
    /// change itself (no other process writes its file).
    pub(super) fn committed(&self, line: Option<&str>, change: &Change) {
        let Some(mirror) = &self.inner.mirror else { return };
        match line {
            Some(line) => mirror.note(line, crate::time::now()),
            None => mirror.note_change(change, crate::time::now()),
        }
    }

    /// Every live revocation, read in one statement.
    #[cfg(feature = "sqlite")]
    async fn revocations(&self, now: i64) -> Result<Vec<Change>, StoreError> {
        let query = &self.inner.sql.revocations;
        let rows: Vec<(String, String, i64, i64)> = self
            .call("mirror", async {
                on_pool!(self, pool => sqlx::query_as(self.q(query)).bind(now).fetch_all(pool).await)
                    .map_err(StoreError::from)
            })
            .await?;
        rows.into_iter().map(|(kind, id, a, b)| change_of(&kind, id, a, b)).collect()
    }

    /// SQLite with the mirror: loads every live revocation once; from then
    /// on this process's own writes keep it current (the file's lock makes
    /// sure no other store writes it).
    #[cfg(feature = "sqlite")]
    pub(super) async fn load_local_mirror(&self) -> Result<(), StoreError> {
        let Some(mirror) = &self.inner.mirror else { return Ok(()) };
        let now = crate::time::now();
        let changes = self.revocations(now).await?;
        mirror.reset(Snapshot { epoch: "local".into(), seq: 0, changes }, now);
        mirror.trust_always();
        Ok(())
    }

    /// Whether this store's mirror is write-through (SQLite): no channel,
    /// its own writes are all it learns from.
    pub(super) fn write_through(&self) -> bool {
        self.inner.mirror.is_some() && self.inner.sql.events.is_none()
    }

    /// SQLite with the mirror: revokes the family and keeps it revoked in
    /// memory until its end, read in the same statement.
    pub(super) async fn revoke_family_write_through(&self, family: &str) -> Result<(), StoreError> {
        let query = &self.inner.sql.revoke_family_returning;
        let until: Option<i64> = self.after_write(
            self.call("revoke_family", async {
                on_pool!(self, pool => sqlx::query_scalar(self.q(query)).bind(family).fetch_optional(pool).await)
                    .map_err(StoreError::from)
            })
            .await,
        )?;
        if let Some(until) = until {
            self.committed(None, &Change::Family { family: family.to_owned(), until });
        }
        Ok(())
    }

    /// What a write answered, passed on. A write-through (SQLite) mirror
    /// whose write failed, a timeout included (the database may still
    /// commit it), cannot know what the file holds: every check asks the
    /// file until the mirror has reloaded it, after
    /// [`WRITE_THROUGH_RELOAD`], past the time a late commit could land.
    pub(super) fn after_write<T>(&self, answer: Result<T, StoreError>) -> Result<T, StoreError> {
        if answer.is_err() && self.write_through() {
            self.reload_later();
        }
        answer
    }

    #[cfg(feature = "sqlite")]
    fn reload_later(&self) {
        let Some(mirror) = &self.inner.mirror else { return };
        mirror.distrust();
        let failure = self.inner.write_failures.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
        let inner = std::sync::Arc::downgrade(&self.inner);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(WRITE_THROUGH_RELOAD).await;
                let Some(inner) = inner.upgrade() else { return };
                // (a later failure reloads later still)
                if inner.write_failures.load(std::sync::atomic::Ordering::SeqCst) != failure {
                    return;
                }
                if (SqlStore { inner }).load_local_mirror().await.is_ok() {
                    return;
                }
            }
        });
    }

    #[cfg(not(feature = "sqlite"))]
    fn reload_later(&self) {}

    /// Starts following the store's events, if it mirrors (PostgreSQL).
    #[cfg(feature = "postgres")]
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

/// A row of a revocations query as a change.
fn change_of(kind: &str, id: String, a: i64, b: i64) -> Result<Change, StoreError> {
    match kind {
        "t" => Ok(Change::Token { jti: id, until: a }),
        "s" => Ok(Change::Subject { sub: id, cut: a, until: b }),
        "f" => Ok(Change::Family { family: id, until: a }),
        _ => Err(StoreError::Backend(format!("unexpected revocation row kind {kind:?}"))),
    }
}

/// The lock a SQLite store takes on its database file (a `.tokenauth.lock`
/// file beside it, held while the store lives): exclusive for a mirrored
/// store, whose memory must see every write, shared for the others, so a
/// mirrored store never starts beside another store of this crate on the
/// same file, in this process or another. (Advisory: a `sqlite3` shell
/// writing the file is not stopped.) An in-memory database needs none.
#[cfg(feature = "sqlite")]
pub(super) async fn lock_file(
    pool: &sqlx::SqlitePool,
    exclusive: bool,
) -> Result<Option<std::fs::File>, StoreError> {
    let rows: Vec<(i64, String, String)> = sqlx::query_as("PRAGMA database_list").fetch_all(pool).await?;
    let Some((_, _, path)) = rows.into_iter().find(|(_, name, _)| name == "main") else { return Ok(None) };
    if path.is_empty() {
        return Ok(None);
    }
    let lock_path = format!("{path}.tokenauth.lock");
    let file = std::fs::File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| StoreError::Backend(format!("cannot open {lock_path}: {e}")))?;
    let taken = if exclusive { file.try_lock() } else { file.try_lock_shared() };
    match taken {
        Ok(()) => Ok(Some(file)),
        Err(std::fs::TryLockError::WouldBlock) if exclusive => Err(StoreError::Backend(format!(
            "another store uses {path}: a SQLite store with the mirror must be the file's only user \
             (it answers from memory what only its own writes keep current)"
        ))),
        Err(std::fs::TryLockError::WouldBlock) => Err(StoreError::Backend(format!(
            "a store with the mirror uses {path} alone: stop it, or turn its mirror off"
        ))),
        Err(std::fs::TryLockError::Error(e)) => {
            Err(StoreError::Backend(format!("cannot lock {lock_path}: {e}")))
        }
    }
}

#[cfg(feature = "postgres")]
impl Publish for sqlx::PgConnection {
    async fn publish(&mut self, store: &SqlStore, change: &Change) -> Result<Option<String>, StoreError> {
        let Some(events) = &store.inner.sql.events else { return Ok(None) };
        let line: String =
            sqlx::query_scalar(store.q(&events.publish)).bind(change.tail()).fetch_one(&mut *self).await?;
        Ok(Some(line))
    }
}

#[cfg(feature = "postgres")]
struct PgSource {
    inner: Weak<Inner>,
    /// The mirror's own connections.
    pool: sqlx::PgPool,
    channel: String,
    timeout: Duration,
}

#[cfg(feature = "postgres")]
fn gone() -> StoreError {
    StoreError::Backend("the store was dropped".into())
}

#[cfg(feature = "postgres")]
impl PgSource {
    fn events(&self) -> Result<Arc<Inner>, StoreError> {
        self.inner.upgrade().filter(|inner| inner.sql.events.is_some()).ok_or_else(gone)
    }
}

#[cfg(feature = "postgres")]
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
        // (the mirror's own connections: timed, but not the store's outage log)
        let rows: Vec<(String, String, i64, i64)> = timed("sql", "mirror", async {
            Ok(sqlx::query_as(sqlx::AssertSqlSafe(query.clone())).bind(now).fetch_all(&self.pool).await?)
        })
        .await?;
        let mut snapshot = Snapshot::default();
        for (kind, id, a, b) in rows {
            match kind.as_str() {
                "m" => (snapshot.epoch, snapshot.seq) = (id, u64::try_from(a).unwrap_or(0)),
                _ => snapshot.changes.push(change_of(&kind, id, a, b)?),
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
        let rows = timed("sql", "mirror", async {
            Ok(sqlx::query(sqlx::AssertSqlSafe(query.clone())).bind(nonce).fetch_all(&self.pool).await?)
        })
        .await?;
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
#[cfg(feature = "postgres")]
struct PgFeed(PgListener);

#[cfg(feature = "postgres")]
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
