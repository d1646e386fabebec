//! The [`Store`] implementation of [`RedisStore`]: a script or one read
//! command per operation.

use super::RedisStore;
use super::connection::{invocation, t};
use super::scripts::{
    COUNT_ATTEMPT, CREATE_FAMILY, DELETE_OPAQUE, EXTEND_FAMILY, GET_OPAQUE_CHECKED, IS_REVOKED, PUT_OPAQUE,
    REVOKE_FAMILY, REVOKE_SUBJECT, REVOKE_TOKEN, ROTATE_FAMILY, ROTATE_OPAQUE, TAKE_BACK_ATTEMPT,
};
use crate::store::codec::{corrupt, decode_record, encode_record, hashed_key};
use crate::store::mirror::Mirror;
use crate::store::{
    Attempt, AttemptRule, MAX_RETIRED_SECRETS, OpaqueRecord, OpaqueRotation, Rotation, Store, StoreError,
    TokenRef,
};

#[async_trait::async_trait]
impl Store for RedisStore {
    async fn revoke_token(&self, jti: &str, expires_at: i64, now: i64) -> Result<(), StoreError> {
        let (key, (seq, index)) = (self.key("r", jti), self.event_keys(Some("r")));
        let mut call = invocation(&REVOKE_TOKEN, &[&key, &seq, &index.unwrap_or_default()]);
        call.arg(t(expires_at)).arg(t(now)).arg(jti);
        let line: Option<String> = self.invoke("revoke_token", call).await?;
        self.noted(line.as_deref());
        Ok(())
    }

    async fn revoke_subject(
        &self,
        sub: &str,
        cutoff: i64,
        keep_until: i64,
        now: i64,
    ) -> Result<(), StoreError> {
        let (key, (seq, index)) = (self.key("s", sub), self.event_keys(Some("s")));
        let mut call = invocation(&REVOKE_SUBJECT, &[&key, &seq, &index.unwrap_or_default()]);
        call.arg(t(cutoff)).arg(t(keep_until)).arg(t(now)).arg(sub);
        let line: Option<String> = self.invoke("revoke_subject", call).await?;
        self.noted(line.as_deref());
        Ok(())
    }

    async fn is_revoked(&self, token: &TokenRef<'_>, now: i64) -> Result<bool, StoreError> {
        let subject = self.key("s", token.sub);
        // Absent parts are flagged off; the subject's key stands in for them.
        let jti = token.jti.map(|j| self.key("r", j));
        let family = token.family.map(|f| self.key("f", f));
        let keys = [jti.as_deref().unwrap_or(&subject), family.as_deref().unwrap_or(&subject), &subject];
        let flag = |on: bool| if on { "1" } else { "0" };
        let mut call = invocation(&IS_REVOKED, &keys);
        call.arg(t(now)).arg(flag(token.jti.is_some())).arg(flag(token.family.is_some())).arg(t(token.iat));
        let revoked: i64 = self.invoke("is_revoked", call).await?;
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
        now: i64,
    ) -> Result<(), StoreError> {
        let key = self.key("f", family);
        let mut call = invocation(&CREATE_FAMILY, &[&key]);
        call.arg(jti).arg(t(expires_at)).arg(t(now));
        self.invoke::<i64>("create_family", call).await.map(drop)
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
        let (key, (seq, index)) = (self.key("f", family), self.event_keys(Some("f")));
        let mut call = invocation(&ROTATE_FAMILY, &[&key, &seq, &index.unwrap_or_default()]);
        call.arg(presented).arg(next).arg(t(grace_secs)).arg(t(expires_at)).arg(t(now)).arg(family);
        let answer: Vec<String> = self.invoke("rotate_family", call).await?;
        match answer.as_slice() {
            [kind] if kind == "rotated" => Ok(Rotation::Rotated),
            [kind, current] if kind == "grace" => Ok(Rotation::Grace { current: current.clone() }),
            [kind, line] if kind == "reused" => {
                self.noted(Some(line));
                Ok(Rotation::Reused)
            }
            [kind] if kind == "dead" => Ok(Rotation::Dead),
            _ => Err(corrupt("rotation answer")),
        }
    }

    async fn family_is_current(&self, family: &str, jti: &str, now: i64) -> Result<bool, StoreError> {
        let key = self.key("f", family);
        let mut conn = self.conn();
        let (current, exp, rev): (Option<String>, Option<i64>, Option<String>) = self
            .call("family_is_current", async move {
                redis::cmd("HMGET").arg(&key).arg("cur").arg("exp").arg("rev").query_async(&mut conn).await
            })
            .await?;
        Ok(current.as_deref() == Some(jti) && exp.is_some_and(|e| e > now) && rev.is_none())
    }

    async fn extend_family(&self, family: &str, expires_at: i64, now: i64) -> Result<bool, StoreError> {
        let key = self.key("f", family);
        let mut call = invocation(&EXTEND_FAMILY, &[&key]);
        call.arg(t(expires_at)).arg(t(now));
        let extended: i64 = self.invoke("extend_family", call).await?;
        Ok(extended == 1)
    }

    async fn revoke_family(&self, family: &str, now: i64) -> Result<(), StoreError> {
        let (key, (seq, index)) = (self.key("f", family), self.event_keys(Some("f")));
        let mut call = invocation(&REVOKE_FAMILY, &[&key, &seq, &index.unwrap_or_default()]);
        call.arg(family).arg(t(now));
        let line: Option<String> = self.invoke("revoke_family", call).await?;
        self.noted(line.as_deref());
        Ok(())
    }

    async fn put_opaque(&self, key: &str, record: OpaqueRecord, now: i64) -> Result<(), StoreError> {
        let hashed = hashed_key(key);
        let (key, (seq, _)) = (self.key("o", &hashed), self.event_keys(None));
        let rec = encode_record(&record)?;
        let retired = record.retired.concat();
        let mut call = invocation(&PUT_OPAQUE, &[&key, &seq]);
        call.arg(rec)
            .arg(record.refresh_hash.as_slice())
            .arg(retired)
            .arg(t(record.refresh_expires_at))
            .arg(t(now))
            .arg(&record.sub)
            .arg(t(record.issued_at))
            .arg(&hashed);
        let line: Option<String> = self.invoke("opaque", call).await?;
        self.noted(line.as_deref());
        Ok(())
    }

    async fn get_opaque(&self, key: &str, now: i64) -> Result<Option<OpaqueRecord>, StoreError> {
        let key = self.opaque_key(key);
        let mut conn = self.conn();
        type Row = (Option<Vec<u8>>, Option<Vec<u8>>, Option<Vec<u8>>, Option<i64>);
        let (rec, rh, retired, exp): Row = self
            .call("opaque", async move {
                redis::cmd("HMGET")
                    .arg(&key)
                    .arg("rec")
                    .arg("rh")
                    .arg("ret")
                    .arg("exp")
                    .query_async(&mut conn)
                    .await
            })
            .await?;
        match (rec, rh, exp) {
            (Some(rec), Some(rh), Some(exp)) if exp > now => {
                decode_record(&rec, &rh, retired.as_deref().unwrap_or_default(), exp).map(Some)
            }
            _ => Ok(None),
        }
    }

    async fn get_opaque_checked(
        &self,
        key: &str,
        now: i64,
    ) -> Result<Option<(OpaqueRecord, bool)>, StoreError> {
        let key = self.opaque_key(key);
        let mut call = invocation(&GET_OPAQUE_CHECKED, &[&key]);
        call.arg(t(now)).arg(self.key("s", ""));
        type Row = Option<(Vec<u8>, Vec<u8>, Vec<u8>, i64, i64)>;
        let row: Row = self.invoke("opaque", call).await?;
        row.map(|(rec, rh, retired, exp, revoked)| {
            Ok((decode_record(&rec, &rh, &retired, exp)?, revoked == 1))
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
        let hashed = hashed_key(key);
        let (key, (seq, _)) = (self.key("o", &hashed), self.event_keys(None));
        let rec = encode_record(&next)?;
        let mut call = invocation(&ROTATE_OPAQUE, &[&key, &seq]);
        call.arg(refresh_hash.as_slice())
            .arg(rec)
            .arg(next.refresh_hash.as_slice())
            .arg(t(next.refresh_expires_at))
            .arg(t(now))
            .arg(MAX_RETIRED_SECRETS)
            .arg(&next.sub)
            .arg(t(next.issued_at))
            .arg(grace_secs.max(0))
            .arg(&hashed);
        let answer: Vec<String> = self.invoke("opaque", call).await?;
        let rotation = match answer.first().map(String::as_str) {
            Some("rotated") => OpaqueRotation::Rotated,
            Some("reused") => OpaqueRotation::Reused,
            Some("unknown") => OpaqueRotation::Unknown,
            _ => return Err(corrupt("opaque rotation answer")),
        };
        self.noted(answer.get(1).map(String::as_str));
        Ok(rotation)
    }

    async fn delete_opaque(&self, key: &str, _now: i64) -> Result<bool, StoreError> {
        let hashed = hashed_key(key);
        let (key, (seq, _)) = (self.key("o", &hashed), self.event_keys(None));
        let mut call = invocation(&DELETE_OPAQUE, &[&key, &seq]);
        call.arg(&hashed);
        let line: Option<String> = self.invoke("opaque", call).await?;
        self.noted(line.as_deref());
        Ok(line.is_some())
    }

    async fn count_attempt(&self, key: &str, rule: &AttemptRule, now: i64) -> Result<Attempt, StoreError> {
        let key = self.key("a", key);
        let mut call = invocation(&COUNT_ATTEMPT, &[&key]);
        call.arg(t(now))
            .arg(rule.free)
            .arg(t(rule.window_secs))
            .arg(t(rule.first_delay))
            .arg(t(rule.max_delay));
        let (allowed, count, retry_after): (i64, i64, i64) = self.invoke("count_attempt", call).await?;
        Ok(Attempt { allowed: allowed == 1, count: u32::try_from(count).unwrap_or(u32::MAX), retry_after })
    }

    async fn take_back_attempt(&self, key: &str, _rule: &AttemptRule, _now: i64) -> Result<(), StoreError> {
        let key = self.key("a", key);
        self.invoke::<i64>("take_back_attempt", invocation(&TAKE_BACK_ATTEMPT, &[&key])).await.map(drop)
    }

    async fn attempts(&self, key: &str, now: i64) -> Result<u32, StoreError> {
        let key = self.key("a", key);
        let mut conn = self.conn();
        let (count, exp): (Option<i64>, Option<i64>) = self
            .call("attempts", async move {
                redis::cmd("HMGET").arg(&key).arg("c").arg("e").query_async(&mut conn).await
            })
            .await?;
        match (count, exp) {
            (Some(count), Some(exp)) if exp > now => Ok(u32::try_from(count).unwrap_or(u32::MAX)),
            _ => Ok(0),
        }
    }

    async fn clear_attempts(&self, key: &str, _now: i64) -> Result<(), StoreError> {
        let key = self.key("a", key);
        let mut conn = self.conn();
        self.call(
            "clear_attempts",
            async move { redis::cmd("DEL").arg(&key).query_async::<i64>(&mut conn).await },
        )
        .await
        .map(drop)
    }
}
