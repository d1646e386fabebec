//! The [`Store`] implementation of [`SqlStore`]: single-row changes in one
//! statement, read-modify-writes in one transaction that locks the row.

use super::binds::{
    AttemptRow, Binder, FamilyRow, OpaqueRow, family_binds, family_of, opaque_binds, record_of, to_u32,
};
use super::call::Publish;
use super::{Backend, SqlStore};
use crate::store::codec::hashed_key;
use crate::store::mirror::{Change, Mirror};
use crate::store::{
    Attempt, AttemptRule, AttemptState, OpaqueRecord, OpaqueRotation, Rotation, Store, StoreError, TokenRef,
};

#[async_trait::async_trait]
impl Store for SqlStore {
    async fn revoke_token(&self, jti: &str, expires_at: i64, _now: i64) -> Result<(), StoreError> {
        let sql = &self.inner.sql;
        let change = Change::Token { jti: jti.to_owned(), until: expires_at };
        self.change(
            "revoke_token",
            &sql.revoke_token,
            |e| &e.revoke_token,
            |b| b.text(jti).int(expires_at),
            change,
        )
        .await
        .map(drop)
    }

    async fn revoke_subject(
        &self,
        sub: &str,
        cutoff: i64,
        keep_until: i64,
        now: i64,
    ) -> Result<(), StoreError> {
        let binds = |b: Binder| b.text(sub).int(cutoff).int(keep_until).int(now);
        let change = Change::Subject { sub: sub.to_owned(), cut: cutoff, until: keep_until };
        self.change("revoke_subject", &self.inner.sql.revoke_subject, |e| &e.revoke_subject, binds, change)
            .await
            .map(drop)
    }

    async fn is_revoked(&self, token: &TokenRef<'_>, now: i64) -> Result<bool, StoreError> {
        let query = &self.inner.sql.is_revoked;
        let revoked: i64 = self
            .call("is_revoked", async {
                on_pool!(self, pool => sqlx::query_scalar(self.q(query))
                    .bind(token.jti)
                    .bind(token.family)
                    .bind(token.sub)
                    .bind(now)
                    .bind(token.iat)
                    .fetch_one(pool)
                    .await)
                .map_err(StoreError::from)
            })
            .await?;
        Ok(revoked == 1)
    }

    fn is_revoked_now(&self, token: &TokenRef<'_>, now: i64) -> Option<Result<bool, StoreError>> {
        self.mirror().map(|mirror| Ok(mirror.is_revoked(token, now)))
    }

    async fn create_family(
        &self,
        family: &str,
        jti: &str,
        expires_at: i64,
        _now: i64,
    ) -> Result<(), StoreError> {
        self.execute("create_family", &self.inner.sql.create_family, |b| {
            b.text(family).text(jti).int(expires_at)
        })
        .await
        .map(drop)
    }

    async fn rotate_family(
        &self,
        family: &str,
        presented: &str,
        next: &str,
        grace_secs: i64,
        expires_at: i64,
        now: i64,
    ) -> Result<Rotation, StoreError> {
        let sql = &self.inner.sql;
        let answer = self.call("rotate_family", async {
            on_pool!(self, pool => {
                let mut tx = pool.begin_with(self.begin()).await?;
                let row: Option<FamilyRow> =
                    sqlx::query_as(self.q(&sql.lock_family)).bind(family).fetch_optional(&mut *tx).await?;
                let Some(mut fam) = row.map(family_of) else { return Ok(Rotation::Dead) };
                let rotation = fam.rotate(presented, next, grace_secs, expires_at, now);
                if rotation != Rotation::Dead {
                    family_binds(family, &fam).apply(sqlx::query(self.q(&sql.save_family))).execute(&mut *tx).await?;
                }
                let change = Change::Family { family: family.to_owned(), until: fam.expires_at };
                let line = if rotation == Rotation::Reused { tx.publish(self, &change).await? } else { None };
                tx.commit().await?;
                if rotation == Rotation::Reused {
                    self.committed(line.as_deref(), &change);
                }
                Ok(rotation)
            })
        })
        .await;
        self.after_write(answer)
    }

    async fn family_is_current(&self, family: &str, jti: &str, now: i64) -> Result<bool, StoreError> {
        let query = &self.inner.sql.family_is_current;
        let count: i64 = self
            .call("family_is_current", async {
                on_pool!(self, pool => sqlx::query_scalar(self.q(query)).bind(family).bind(jti).bind(now).fetch_one(pool).await)
                    .map_err(StoreError::from)
            })
            .await?;
        Ok(count == 1)
    }

    async fn extend_family(&self, family: &str, expires_at: i64, now: i64) -> Result<bool, StoreError> {
        let changed = self
            .execute("extend_family", &self.inner.sql.extend_family, |b| {
                b.text(family).int(expires_at).int(now)
            })
            .await?;
        Ok(changed == 1)
    }

    async fn revoke_family(&self, family: &str, _now: i64) -> Result<(), StoreError> {
        if self.write_through() {
            return self.revoke_family_write_through(family).await;
        }
        let change = Change::Family { family: family.to_owned(), until: 0 };
        self.change(
            "revoke_family",
            &self.inner.sql.revoke_family,
            |e| &e.revoke_family,
            |b| b.text(family),
            change,
        )
        .await
        .map(drop)
    }

    async fn put_opaque(&self, key: &str, record: OpaqueRecord, _now: i64) -> Result<(), StoreError> {
        let id = hashed_key(key);
        let binds = opaque_binds(&id, &record)?;
        let change = Change::Opaque { hashed_key: id };
        self.change("opaque", &self.inner.sql.put_opaque, |e| &e.put_opaque, |_| binds, change)
            .await
            .map(drop)
    }

    async fn get_opaque(&self, key: &str, now: i64) -> Result<Option<OpaqueRecord>, StoreError> {
        let (id, query) = (hashed_key(key), &self.inner.sql.get_opaque);
        let row: Option<OpaqueRow> = self
            .call("opaque", async {
                on_pool!(self, pool => sqlx::query_as(self.q(query)).bind(&id).bind(now).fetch_optional(pool).await)
                    .map_err(StoreError::from)
            })
            .await?;
        row.map(record_of).transpose()
    }

    async fn get_opaque_checked(
        &self,
        key: &str,
        now: i64,
    ) -> Result<Option<(OpaqueRecord, bool)>, StoreError> {
        let (id, query) = (hashed_key(key), &self.inner.sql.get_opaque_checked);
        let row: Option<(Vec<u8>, Vec<u8>, Vec<u8>, i64, i64)> = self
            .call("opaque", async {
                on_pool!(self, pool => sqlx::query_as(self.q(query)).bind(&id).bind(now).fetch_optional(pool).await)
                    .map_err(StoreError::from)
            })
            .await?;
        row.map(|(record, refresh_hash, retired, exp, revoked)| {
            Ok((record_of((record, refresh_hash, retired, exp))?, revoked == 1))
        })
        .transpose()
    }

    async fn get_opaque_for_request(
        &self,
        key: &str,
        now: i64,
    ) -> Result<Option<(OpaqueRecord, bool)>, StoreError> {
        Mirror::opaque_or(self.mirror(), key, now, self.get_opaque_checked(key, now)).await
    }

    async fn rotate_opaque(
        &self,
        key: &str,
        refresh_hash: &[u8; 32],
        next: OpaqueRecord,
        grace_secs: i64,
        now: i64,
    ) -> Result<OpaqueRotation, StoreError> {
        let (id, sql) = (hashed_key(key), &self.inner.sql);
        let answer = self.call("opaque", async {
            on_pool!(self, pool => {
                let mut tx = pool.begin_with(self.begin()).await?;
                let row: Option<OpaqueRow> =
                    sqlx::query_as(self.q(&sql.lock_opaque)).bind(&id).bind(now).fetch_optional(&mut *tx).await?;
                let Some(record) = row.map(record_of).transpose()? else { return Ok(OpaqueRotation::Unknown) };
                let answer = if record.is_current(refresh_hash) || record.in_grace(refresh_hash, grace_secs, now) {
                    let binds = opaque_binds(&id, &record.succeeded_by(next))?;
                    binds.apply(sqlx::query(self.q(&sql.put_opaque))).execute(&mut *tx).await?;
                    OpaqueRotation::Rotated
                } else if record.is_retired(refresh_hash) {
                    sqlx::query(self.q(&sql.delete_opaque)).bind(&id).execute(&mut *tx).await?;
                    OpaqueRotation::Reused
                } else {
                    return Ok(OpaqueRotation::Unknown);
                };
                let change = Change::Opaque { hashed_key: id.clone() };
                let line = tx.publish(self, &change).await?;
                tx.commit().await?;
                self.committed(line.as_deref(), &change);
                Ok(answer)
            })
        })
        .await;
        self.after_write(answer)
    }

    async fn delete_opaque(&self, key: &str, _now: i64) -> Result<bool, StoreError> {
        let id = hashed_key(key);
        let change = Change::Opaque { hashed_key: id.clone() };
        self.change("opaque", &self.inner.sql.delete_opaque, |e| &e.delete_opaque, |b| b.text(&id), change)
            .await
    }

    async fn count_attempt(&self, key: &str, rule: &AttemptRule, now: i64) -> Result<Attempt, StoreError> {
        let sql = &self.inner.sql;
        self.call("count_attempt", async {
            on_pool!(self, pool => {
                let mut tx = pool.begin_with(self.begin()).await?;
                sqlx::query(self.q(&sql.touch_attempt)).bind(key).execute(&mut *tx).await?;
                let (count, passed, next_at, expires_at): AttemptRow =
                    sqlx::query_as(self.q(&sql.lock_attempt)).bind(key).fetch_one(&mut *tx).await?;
                let old = AttemptState { count: to_u32(count), passed: to_u32(passed), next_at, expires_at };
                let (state, attempt) = rule.apply(Some(old), now);
                sqlx::query(self.q(&sql.save_attempt))
                    .bind(key)
                    .bind(i64::from(state.count))
                    .bind(i64::from(state.passed))
                    .bind(state.next_at)
                    .bind(state.expires_at)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(attempt)
            })
        })
        .await
    }

    async fn take_back_attempt(&self, key: &str, _rule: &AttemptRule, _now: i64) -> Result<(), StoreError> {
        self.execute("take_back_attempt", &self.inner.sql.take_back_attempt, |b| b.text(key)).await.map(drop)
    }

    async fn attempts(&self, key: &str, now: i64) -> Result<u32, StoreError> {
        let query = &self.inner.sql.attempts;
        let count: Option<i64> = self
            .call("attempts", async {
                on_pool!(self, pool => sqlx::query_scalar(self.q(query)).bind(key).bind(now).fetch_optional(pool).await)
                    .map_err(StoreError::from)
            })
            .await?;
        Ok(count.map_or(0, to_u32))
    }

    async fn clear_attempts(&self, key: &str, _now: i64) -> Result<(), StoreError> {
        self.execute("clear_attempts", &self.inner.sql.clear_attempts, |b| b.text(key)).await.map(drop)
    }
}
