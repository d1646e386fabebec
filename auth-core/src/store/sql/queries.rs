//! The schema and every statement of a [`SqlStore`](super::SqlStore), with the
//! configured table names, for PostgreSQL or SQLite.

use std::sync::Arc;

/// A query built at start-up (the table names are configured), shared.
pub(super) type Sql = Arc<str>;

/// Every statement, with the configured table names, for one database.
pub(super) struct Queries {
    pub(super) tables: String,
    pub(super) begin: &'static str,
    /// Serialises migrations between instances (PostgreSQL).
    pub(super) migration_lock: Option<Sql>,
    pub(super) schema: Sql,
    pub(super) revoke_token: Sql,
    pub(super) revoke_subject: Sql,
    pub(super) is_revoked: Sql,
    pub(super) create_family: Sql,
    pub(super) lock_family: Sql,
    pub(super) save_family: Sql,
    pub(super) family_is_current: Sql,
    pub(super) extend_family: Sql,
    pub(super) revoke_family: Sql,
    pub(super) put_opaque: Sql,
    pub(super) get_opaque: Sql,
    pub(super) get_opaque_checked: Sql,
    pub(super) lock_opaque: Sql,
    pub(super) delete_opaque: Sql,
    pub(super) touch_attempt: Sql,
    pub(super) lock_attempt: Sql,
    pub(super) save_attempt: Sql,
    pub(super) take_back_attempt: Sql,
    pub(super) attempts: Sql,
    pub(super) clear_attempts: Sql,
    pub(super) trim_attempts: Sql,
    pub(super) sweep: Vec<Sql>,
}

const TABLES: [&str; 5] = ["revoked", "subjects", "families", "opaque", "attempts"];

impl Queries {
    pub(super) fn new(prefix: &str, postgres: bool) -> Self {
        let t = |name: &str| format!("{prefix}{name}");
        let (revoked, subjects, families, opaque, attempts) =
            (t("revoked"), t("subjects"), t("families"), t("opaque"), t("attempts"));
        let (bytes, for_update) = if postgres { ("BYTEA", " FOR UPDATE") } else { ("BLOB", "") };
        let sql = |s: String| -> Sql { s.into() };
        // (PostgreSQL says "already exists, skipping" at every start otherwise)
        let quiet = if postgres { "SET LOCAL client_min_messages = warning;\n" } else { "" };
        let mut schema = format!(
            "{quiet}CREATE TABLE IF NOT EXISTS {revoked} (id TEXT PRIMARY KEY, expires_at BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS {subjects} (id TEXT PRIMARY KEY, cutoff BIGINT NOT NULL, expires_at BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS {families} (id TEXT PRIMARY KEY, cur TEXT NOT NULL, prev TEXT, prev_at BIGINT NOT NULL,
  prev_used BIGINT NOT NULL, revoked BIGINT NOT NULL, expires_at BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS {opaque} (id TEXT PRIMARY KEY, record {bytes} NOT NULL, refresh_hash {bytes} NOT NULL,
  retired {bytes} NOT NULL, expires_at BIGINT NOT NULL, sub TEXT NOT NULL, issued_at BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS {attempts} (id TEXT PRIMARY KEY, count BIGINT NOT NULL, passed BIGINT NOT NULL,
  next_at BIGINT NOT NULL, expires_at BIGINT NOT NULL);
"
        );
        for table in TABLES {
            schema.push_str(&format!(
                "CREATE INDEX IF NOT EXISTS {prefix}{table}_expiry ON {prefix}{table} (expires_at);\n"
            ));
        }
        Self {
            tables: format!("{prefix}*"),
            begin: if postgres { "BEGIN" } else { "BEGIN IMMEDIATE" },
            migration_lock: postgres
                .then(|| sql(format!("SELECT pg_advisory_xact_lock({})", advisory_key(prefix)))),
            schema: sql(schema),
            revoke_token: sql(format!(
                "INSERT INTO {revoked} (id, expires_at) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET
                 expires_at = CASE WHEN {revoked}.expires_at > excluded.expires_at
                              THEN {revoked}.expires_at ELSE excluded.expires_at END"
            )),
            // a live mark keeps the later cut-off and the later end; an expired one is replaced
            revoke_subject: sql(format!(
                "INSERT INTO {subjects} (id, cutoff, expires_at) VALUES ($1, $2, $3) ON CONFLICT (id) DO UPDATE SET
                 cutoff = CASE WHEN {subjects}.expires_at > $4 AND {subjects}.cutoff > excluded.cutoff
                          THEN {subjects}.cutoff ELSE excluded.cutoff END,
                 expires_at = CASE WHEN {subjects}.expires_at > $4 AND {subjects}.expires_at > excluded.expires_at
                              THEN {subjects}.expires_at ELSE excluded.expires_at END"
            )),
            is_revoked: sql(format!(
                "SELECT CAST(CASE WHEN
                   EXISTS (SELECT 1 FROM {revoked} WHERE id = $1 AND expires_at > $4)
                   OR EXISTS (SELECT 1 FROM {families} WHERE id = $2 AND revoked = 1)
                   OR EXISTS (SELECT 1 FROM {subjects} WHERE id = $3 AND cutoff >= $5 AND expires_at > $4)
                 THEN 1 ELSE 0 END AS BIGINT)"
            )),
            create_family: sql(format!(
                "INSERT INTO {families} (id, cur, prev, prev_at, prev_used, revoked, expires_at)
                 VALUES ($1, $2, NULL, 0, 0, 0, $3) ON CONFLICT (id) DO UPDATE SET
                 cur = excluded.cur, prev = NULL, prev_at = 0, prev_used = 0, revoked = 0,
                 expires_at = excluded.expires_at"
            )),
            lock_family: sql(format!(
                "SELECT cur, prev, prev_at, prev_used, revoked, expires_at FROM {families} WHERE id = $1{for_update}"
            )),
            save_family: sql(format!(
                "UPDATE {families} SET cur = $2, prev = $3, prev_at = $4, prev_used = $5, revoked = $6, expires_at = $7
                 WHERE id = $1"
            )),
            family_is_current: sql(format!(
                "SELECT CAST(COUNT(*) AS BIGINT) FROM {families}
                 WHERE id = $1 AND cur = $2 AND revoked = 0 AND expires_at > $3"
            )),
            extend_family: sql(format!(
                "UPDATE {families} SET expires_at = CASE WHEN expires_at > $2 THEN expires_at ELSE $2 END
                 WHERE id = $1 AND revoked = 0 AND expires_at > $3"
            )),
            revoke_family: sql(format!("UPDATE {families} SET revoked = 1 WHERE id = $1")),
            put_opaque: sql(format!(
                "INSERT INTO {opaque} (id, record, refresh_hash, retired, expires_at, sub, issued_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)
                 ON CONFLICT (id) DO UPDATE SET record = excluded.record, refresh_hash = excluded.refresh_hash,
                 retired = excluded.retired, expires_at = excluded.expires_at, sub = excluded.sub,
                 issued_at = excluded.issued_at"
            )),
            get_opaque: sql(format!(
                "SELECT record, refresh_hash, retired, expires_at FROM {opaque} WHERE id = $1 AND expires_at > $2"
            )),
            get_opaque_checked: sql(format!(
                "SELECT o.record, o.refresh_hash, o.retired, o.expires_at, CAST(CASE WHEN EXISTS
                   (SELECT 1 FROM {subjects} s WHERE s.id = o.sub AND s.cutoff >= o.issued_at AND s.expires_at > $2)
                 THEN 1 ELSE 0 END AS BIGINT)
                 FROM {opaque} o WHERE o.id = $1 AND o.expires_at > $2"
            )),
            lock_opaque: sql(format!(
                "SELECT record, refresh_hash, retired, expires_at FROM {opaque}
                 WHERE id = $1 AND expires_at > $2{for_update}"
            )),
            delete_opaque: sql(format!("DELETE FROM {opaque} WHERE id = $1")),
            touch_attempt: sql(format!(
                "INSERT INTO {attempts} (id, count, passed, next_at, expires_at) VALUES ($1, 0, 0, 0, 0)
                 ON CONFLICT (id) DO NOTHING"
            )),
            lock_attempt: sql(format!(
                "SELECT count, passed, next_at, expires_at FROM {attempts} WHERE id = $1{for_update}"
            )),
            save_attempt: sql(format!(
                "UPDATE {attempts} SET count = $2, passed = $3, next_at = $4, expires_at = $5 WHERE id = $1"
            )),
            take_back_attempt: sql(format!(
                "UPDATE {attempts} SET count = CASE WHEN count > 0 THEN count - 1 ELSE 0 END,
                 passed = CASE WHEN passed > 0 THEN passed - 1 ELSE 0 END WHERE id = $1"
            )),
            attempts: sql(format!("SELECT count FROM {attempts} WHERE id = $1 AND expires_at > $2")),
            clear_attempts: sql(format!("DELETE FROM {attempts} WHERE id = $1")),
            trim_attempts: sql(format!(
                "DELETE FROM {attempts} WHERE id IN (SELECT id FROM {attempts}
                 ORDER BY CASE WHEN expires_at > $1 THEN 1 ELSE 0 END DESC, passed DESC, expires_at DESC, id
                 LIMIT $2 OFFSET $3)"
            )),
            sweep: TABLES
                .iter()
                .map(|table| {
                    sql(format!(
                        "DELETE FROM {prefix}{table} WHERE id IN
                         (SELECT id FROM {prefix}{table} WHERE expires_at <= $1 LIMIT $2)"
                    ))
                })
                .collect(),
        }
    }
}

/// A stable advisory-lock key for a prefix (PostgreSQL wants a bigint).
fn advisory_key(prefix: &str) -> i64 {
    let digest = <sha2::Sha256 as sha2::Digest>::digest(format!("tokenauth:{prefix}").as_bytes());
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(bytes)
}
