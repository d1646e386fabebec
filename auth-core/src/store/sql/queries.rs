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
    /// Every live revocation (`$1`: now): rows `(kind, id, a, b)` as in
    /// [`Events::snapshot`].
    pub(super) revocations: Sql,
    /// [`revoke_family`](Self::revoke_family) answering the family's end
    /// (what a SQLite mirror keeps its revocation until), in one statement.
    pub(super) revoke_family_returning: Sql,
    /// PostgreSQL: the revocation mirror's statements (see [`Events`]).
    pub(super) events: Option<Events>,
}

/// PostgreSQL's revocation events: the statements that change what a
/// protected request sees, each also taking the next number of the
/// store's sequence (one row every writer updates, so numbers follow
/// commit order) and sending `EPOCH SEQ KIND A B ID` with `pg_notify` in
/// the same statement; each answers that line (no row: nothing changed).
#[cfg_attr(not(feature = "postgres"), allow(dead_code, reason = "built for PostgreSQL only"))]
pub(super) struct Events {
    /// The `LISTEN` channel.
    pub(super) channel: String,
    pub(super) revoke_token: Sql,
    pub(super) revoke_subject: Sql,
    pub(super) revoke_family: Sql,
    pub(super) put_opaque: Sql,
    pub(super) delete_opaque: Sql,
    /// `$1`: `KIND A B ID` of a change a transaction just made.
    pub(super) publish: Sql,
    /// Every live revocation and the sequence, in one statement (one
    /// snapshot): rows `(kind, id, a, b)`, kind `m` for the sequence.
    pub(super) snapshot: Sql,
    /// `$1`: a nonce. Notifies `EPOCH SEQ h 0 0 NONCE` with the number
    /// reached, the row locked like a writer's (so in commit order with
    /// the events); answers the number (no row: the sequence is gone).
    pub(super) probe: Sql,
}

impl Events {
    fn new(prefix: &str, q: &Queries) -> Self {
        let (mirror, channel) = (format!("{prefix}mirror"), format!("{prefix}events").to_lowercase());
        let (revoked, subjects, opaque) =
            (format!("{prefix}revoked"), format!("{prefix}subjects"), format!("{prefix}opaque"));
        let next = format!("UPDATE {mirror} SET seq = seq + 1 WHERE id = 1");
        let send = format!("SELECT m.msg FROM m, LATERAL pg_notify('{channel}', m.msg) AS n");
        // the write, then the number and the line only if it changed a row
        let evented = |write: &str, kind: &str, returning: &str| -> Sql {
            format!(
                "WITH w AS ({write} RETURNING {returning}),
                 s AS ({next} AND EXISTS (SELECT 1 FROM w) RETURNING seq, epoch),
                 m AS (SELECT s.epoch || ' ' || s.seq || ' {kind} ' || w.a || ' ' || w.b || ' ' || w.id AS msg
                       FROM w, s)
                 {send}"
            )
            .into()
        };
        Self {
            revoke_token: evented(&q.revoke_token, "t", &format!("{revoked}.expires_at AS a, 0 AS b, {revoked}.id AS id")),
            revoke_subject: evented(
                &q.revoke_subject,
                "s",
                &format!("{subjects}.cutoff AS a, {subjects}.expires_at AS b, {subjects}.id AS id"),
            ),
            revoke_family: evented(&q.revoke_family, "f", "expires_at AS a, 0 AS b, id AS id"),
            put_opaque: evented(&q.put_opaque, "o", &format!("0 AS a, 0 AS b, {opaque}.id AS id")),
            delete_opaque: evented(&q.delete_opaque, "o", "0 AS a, 0 AS b, id AS id"),
            publish: format!(
                "WITH s AS ({next} RETURNING seq, epoch), m AS (SELECT s.epoch || ' ' || s.seq || ' ' || $1 AS msg FROM s)
                 {send}"
            )
            .into(),
            snapshot: format!(
                "SELECT 'm' AS kind, epoch AS id, seq AS a, CAST(0 AS BIGINT) AS b FROM {mirror} WHERE id = 1
                 UNION ALL {}",
                q.revocations
            )
            .into(),
            probe: format!(
                "WITH m AS (SELECT epoch || ' ' || seq || ' h 0 0 ' || $1 AS msg FROM {mirror} WHERE id = 1 FOR UPDATE)
                 {send}"
            )
            .into(),
            channel,
        }
    }
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
        if postgres {
            // the revocation events' sequence, and the epoch naming this life of it
            schema.push_str(&format!(
                "CREATE TABLE IF NOT EXISTS {prefix}mirror (id INT PRIMARY KEY, seq BIGINT NOT NULL, epoch TEXT NOT NULL);
INSERT INTO {prefix}mirror (id, seq, epoch) VALUES (1, 0, md5(random()::text || clock_timestamp()::text))
  ON CONFLICT (id) DO NOTHING;
"
            ));
        }
        let mut queries = Self {
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
            revocations: sql(format!(
                "SELECT 't' AS kind, id, expires_at AS a, CAST(0 AS BIGINT) AS b FROM {revoked} WHERE expires_at > $1
                 UNION ALL SELECT 's', id, cutoff, expires_at FROM {subjects} WHERE expires_at > $1
                 UNION ALL SELECT 'f', id, expires_at, 0 FROM {families} WHERE revoked = 1 AND expires_at > $1"
            )),
            revoke_family_returning: sql(format!("UPDATE {families} SET revoked = 1 WHERE id = $1 RETURNING expires_at")),
            events: None,
        };
        if postgres {
            queries.events = Some(Events::new(prefix, &queries));
        }
        queries
    }
}

/// A stable advisory-lock key for a prefix (PostgreSQL wants a bigint).
fn advisory_key(prefix: &str) -> i64 {
    let digest = <sha2::Sha256 as sha2::Digest>::digest(format!("tokenauth:{prefix}").as_bytes());
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(bytes)
}
