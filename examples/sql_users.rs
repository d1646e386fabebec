//! [`SqlUsers`]: a [`UserStore`] over a `users` table in SQLite or
//! PostgreSQL, to copy into an application and adapt. It needs
//! `auth-core` and `sqlx` (features `runtime-tokio` and `sqlite` and/or
//! `postgres`; runtime queries only, no macros, no database at build
//! time): no `argon2` and no `async-trait`, since `auth_core` has the
//! helpers and re-exports the attribute.
//!
//! # The table
//!
//! | column | PostgreSQL | SQLite | meaning |
//! |---|---|---|---|
//! | `id` | `BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY` | `INTEGER PRIMARY KEY AUTOINCREMENT` | the principal id (the tokens' `sub`); never reused, so a deleted user's tokens never become another user's |
//! | `username` | `TEXT NOT NULL UNIQUE` | `TEXT NOT NULL UNIQUE` | the canonical form ([`UserStore::canonical_username`]: trimmed, lower case), so `Ann` and `ann` are one account |
//! | `password_hash` | `TEXT NOT NULL` | `TEXT NOT NULL` | an argon2id PHC string ([`auth_core::hash_password_async`]) |
//! | `roles` | `TEXT NOT NULL DEFAULT ''` | `TEXT NOT NULL DEFAULT ''` | role names, comma-separated (`admin,editor`) |
//! | `active` | `BOOLEAN NOT NULL DEFAULT TRUE` | `BOOLEAN NOT NULL DEFAULT TRUE` | `false`: no login, and [`UserStore::load`] finds nobody (with `check_principal` on, the user's tokens stop working) |
//!
//! [`SqlUsers::sqlite`], [`SqlUsers::postgres`] and [`SqlUsers::connect`]
//! create it if it does not exist ([`SQLITE_SCHEMA`], [`POSTGRES_SCHEMA`]:
//! copy them into your migrations if you have a migration tool).
//!
//! # What to keep when adapting it
//!
//! - One password check whether or not the user exists:
//!   [`verify_password_hash_or_dummy`] with the row's hash, or `None`
//!   when there is no row, so an unknown user takes as long as a wrong
//!   password; a disabled user is refused *after* the check, for the same
//!   reason.
//! - Hashing on the [`HashingPool`](auth_core::HashingPool) ([`verify_password_hash_or_dummy`],
//!   [`hash_password_async`]), never on the executor; a full pool answers
//!   [`UserStoreError::Busy`] (the login answers 503 with `Retry-After`),
//!   and [`UserStore::saturated`] says so before the throttle does work.
//! - A database error is [`UserStoreError::backend`]: the login answers
//!   503 and the error is logged, never shown to the client.
//! - Usernames are looked up in the canonical form they are stored in.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! use auth_core::{Authority, JwtKey, KeySet, UserStore};
//! use demo_app::sql_users::SqlUsers;
//!
//! let users = SqlUsers::connect("sqlite::memory:").await?;
//! users.add_user("Alice", "s3cret", &["admin"]).await?;
//! let alice = users.verify_password("alice", "s3cret").await?.expect("the right password");
//! assert_eq!(alice.roles, ["admin"]);
//! assert_eq!(users.verify_password("alice", "wrong").await?, None);
//! assert_eq!(users.verify_password("nobody", "s3cret").await?, None);
//!
//! let key = JwtKey::hs256("k1", &[7u8; 32]).expect("a key");
//! let authority = Authority::builder(KeySet::new(key).expect("keys")).users(users).build();
//! # let _ = authority;
//! # Ok::<(), auth_core::UserStoreError>(())
//! # }).unwrap();
//! ```

use std::str::FromStr;

use auth_core::{
    Principal, Registration, UserStore, UserStoreError, hash_password_async, is_acceptable_username,
    password_hash_needs_rehash, verify_password_hash_or_dummy,
};
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};

/// The `users` table on SQLite (`AUTOINCREMENT`: an id is never reused).
pub const SQLITE_SCHEMA: &str = "CREATE TABLE IF NOT EXISTS users (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    username TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    roles TEXT NOT NULL DEFAULT '',
    active BOOLEAN NOT NULL DEFAULT TRUE
)";

/// The `users` table on PostgreSQL (an identity column: an id is never
/// reused).
pub const POSTGRES_SCHEMA: &str = "CREATE TABLE IF NOT EXISTS users (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    roles TEXT NOT NULL DEFAULT '',
    active BOOLEAN NOT NULL DEFAULT TRUE
)";

/// The key of the advisory lock that serialises the migration between
/// instances starting at once (PostgreSQL's `CREATE TABLE IF NOT EXISTS`
/// is not safe against a concurrent one); any constant of your own.
const MIGRATION_LOCK: i64 = 0x7573_6572_735f_7631; // "users_v1"

// The same text on both databases (sqlx numbers `$1`... on SQLite too).
const FIND_FOR_LOGIN: &str = "SELECT id, password_hash, roles, active FROM users WHERE username = $1";
const FIND_BY_ID: &str = "SELECT username, roles FROM users WHERE id = $1 AND active";
const INSERT: &str = "INSERT INTO users (username, password_hash, roles) VALUES ($1, $2, $3)
    ON CONFLICT (username) DO NOTHING RETURNING id";
const SET_ACTIVE: &str = "UPDATE users SET active = $1 WHERE username = $2";
const SET_HASH: &str = "UPDATE users SET password_hash = $1 WHERE id = $2";

/// The database, with the application's own pool.
#[derive(Clone, Debug)]
enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs `$body` with `$pool` bound to whichever pool `$db` holds (the
/// same query text, typed for each database).
macro_rules! on_db {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db {
            Db::Sqlite($pool) => $body,
            Db::Postgres($pool) => $body,
        }
    };
}

/// Users in a `users` table (see [the module](self) for its shape) on the
/// application's SQLite or PostgreSQL pool. Cheap to clone.
#[derive(Clone, Debug)]
pub struct SqlUsers {
    db: Db,
    sign_up: bool,
}

impl SqlUsers {
    /// Lets anyone create an account through a dialect's sign-up route
    /// (keytoken's `POST /users`). Off by default: an open sign-up is a
    /// decision (and a route that wants a throttle of its own).
    pub fn with_sign_up(mut self, allowed: bool) -> Self {
        self.sign_up = allowed;
        self
    }

    /// Users on a SQLite pool; creates the table if it does not exist.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let pool = sqlx::SqlitePool::connect("sqlite::memory:").await.expect("sqlite");
    /// let users = demo_app::sql_users::SqlUsers::sqlite(pool).await?;
    /// # let _ = users;
    /// # Ok::<(), auth_core::UserStoreError>(())
    /// # }).unwrap();
    /// ```
    pub async fn sqlite(pool: SqlitePool) -> Result<Self, UserStoreError> {
        let users = Self { db: Db::Sqlite(pool), sign_up: false };
        users.migrate().await?;
        Ok(users)
    }

    /// Users on a PostgreSQL pool; creates the table if it does not exist
    /// (safe when several instances start at once).
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), auth_core::UserStoreError> {
    /// let pool = sqlx::PgPool::connect("postgres://app@db.internal/app?sslmode=verify-full").await.expect("pg");
    /// let users = demo_app::sql_users::SqlUsers::postgres(pool).await?;
    /// # let _ = users; Ok(()) }
    /// ```
    pub async fn postgres(pool: PgPool) -> Result<Self, UserStoreError> {
        let users = Self { db: Db::Postgres(pool), sign_up: false };
        users.migrate().await?;
        Ok(users)
    }

    /// Opens a pool from a URL (`sqlite:PATH`, `sqlite::memory:`,
    /// `postgres://...`) and creates the table; a SQLite file is created
    /// if missing and runs in WAL mode. An application that has a pool
    /// already passes it to [`sqlite`](Self::sqlite) or
    /// [`postgres`](Self::postgres) instead.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// use demo_app::sql_users::SqlUsers;
    /// assert!(SqlUsers::connect("sqlite::memory:").await.is_ok());
    /// assert!(SqlUsers::connect("mysql://db/app").await.is_err());
    /// # })
    /// ```
    pub async fn connect(url: &str) -> Result<Self, UserStoreError> {
        if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)
                .map_err(UserStoreError::backend)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal);
            let pool =
                SqlitePoolOptions::new().connect_with(options).await.map_err(UserStoreError::backend)?;
            Self::sqlite(pool).await
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let pool = PgPoolOptions::new().connect(url).await.map_err(UserStoreError::backend)?;
            Self::postgres(pool).await
        } else {
            Err(UserStoreError::Failed("SqlUsers::connect wants a sqlite: or postgres:// URL".into()))
        }
    }

    /// Creates the `users` table if it does not exist (idempotent).
    pub async fn migrate(&self) -> Result<(), UserStoreError> {
        let migrated = match &self.db {
            Db::Sqlite(pool) => sqlx::raw_sql(SQLITE_SCHEMA).execute(pool).await.map(drop),
            Db::Postgres(pool) => {
                async {
                    let mut tx = pool.begin().await?;
                    sqlx::query("SELECT pg_advisory_xact_lock($1)")
                        .bind(MIGRATION_LOCK)
                        .execute(&mut *tx)
                        .await?;
                    // (PostgreSQL says "already exists, skipping" at every start otherwise)
                    sqlx::raw_sql("SET LOCAL client_min_messages = warning").execute(&mut *tx).await?;
                    sqlx::raw_sql(POSTGRES_SCHEMA).execute(&mut *tx).await?;
                    tx.commit().await
                }
                .await
            }
        };
        migrated.map_err(UserStoreError::backend)
    }

    /// Creates a user with these roles, the password hashed on the
    /// [`HashingPool`](auth_core::HashingPool); [`Registration::Taken`] if the username (in its
    /// canonical form) is. A role may not contain `,` (the column's
    /// separator).
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// use auth_core::Registration;
    /// let users = demo_app::sql_users::SqlUsers::connect("sqlite::memory:").await?;
    /// let Registration::Created(ann) = users.add_user("Ann", "pw", &["editor"]).await? else { panic!() };
    /// assert_eq!((ann.username.as_str(), ann.roles.as_slice()), ("ann", ["editor".to_owned()].as_slice()));
    /// assert_eq!(users.add_user(" ANN", "other", &[]).await?, Registration::Taken);
    /// # Ok::<(), auth_core::UserStoreError>(())
    /// # }).unwrap();
    /// ```
    pub async fn add_user(
        &self,
        username: &str,
        password: &str,
        roles: &[&str],
    ) -> Result<Registration, UserStoreError> {
        if roles.iter().any(|role| role.contains(',') || role.trim().is_empty()) {
            return Err(UserStoreError::Failed("a role name must be non-blank and contain no ','".into()));
        }
        if !is_acceptable_username(username) {
            return Ok(Registration::Refused);
        }
        let name = self.canonical_username(username);
        let phc = hash_password_async(password).await?;
        let joined = roles.join(",");
        let inserted: Option<i64> = on_db!(&self.db, pool => {
            sqlx::query_scalar(INSERT).bind(&name).bind(&phc).bind(&joined).fetch_optional(pool).await
        })
        .map_err(UserStoreError::backend)?;
        Ok(match inserted {
            Some(id) => Registration::Created(principal(id, name, &joined)),
            None => Registration::Taken,
        })
    }

    /// Disables (`false`) or re-enables a user; `false` if there is none.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// use auth_core::UserStore;
    /// let users = demo_app::sql_users::SqlUsers::connect("sqlite::memory:").await?;
    /// users.add_user("ann", "pw", &[]).await?;
    /// assert!(users.set_active("Ann", false).await?);
    /// assert_eq!(users.verify_password("ann", "pw").await?, None);
    /// # Ok::<(), auth_core::UserStoreError>(())
    /// # }).unwrap();
    /// ```
    pub async fn set_active(&self, username: &str, active: bool) -> Result<bool, UserStoreError> {
        let name = self.canonical_username(username);
        let updated = on_db!(&self.db, pool => {
            sqlx::query(SET_ACTIVE).bind(active).bind(&name).execute(pool).await.map(|r| r.rows_affected())
        })
        .map_err(UserStoreError::backend)?;
        Ok(updated > 0)
    }

    /// Closes the pool (at shutdown): every later call fails, as
    /// [`UserStoreError::backend`] errors.
    pub async fn close(&self) {
        on_db!(&self.db, pool => pool.close().await);
    }
}

/// The principal of a row: the id as text, the roles split.
fn principal(id: i64, username: String, roles: &str) -> Principal {
    let roles = roles.split(',').map(str::trim).filter(|role| !role.is_empty());
    Principal::new(id.to_string(), username).with_roles(roles)
}

#[auth_core::async_trait]
impl UserStore for SqlUsers {
    async fn verify_password(
        &self,
        username: &str,
        password: &str,
    ) -> Result<Option<Principal>, UserStoreError> {
        if !is_acceptable_username(username) {
            // nobody can be called that (and PostgreSQL refuses a `\0`):
            // the same answer and cost as an unknown user, no query
            verify_password_hash_or_dummy(None, password).await?;
            return Ok(None);
        }
        let name = self.canonical_username(username);
        let row: Option<(i64, String, String, bool)> =
            on_db!(&self.db, pool => sqlx::query_as(FIND_FOR_LOGIN).bind(&name).fetch_optional(pool).await)
                .map_err(UserStoreError::backend)?;
        // One check, the row's hash or a dummy: an unknown user, a wrong
        // password and a disabled user all cost the same time.
        let stored = row.as_ref().map(|(_, phc, _, _)| phc.as_str());
        let ok = verify_password_hash_or_dummy(stored, password).await?;
        let Some((id, phc, roles, true)) = row.filter(|_| ok) else { return Ok(None) };
        if password_hash_needs_rehash(&phc) {
            // A hash from older parameters answers in its own time (faster or
            // slower than an unknown user): replace it while the password is
            // at hand. A failure here costs the user nothing.
            let rehashed = hash_password_async(password).await?;
            let updated = on_db!(&self.db, pool => {
                sqlx::query(SET_HASH).bind(&rehashed).bind(id).execute(pool).await.map(drop)
            });
            if let Err(err) = updated {
                tracing::warn!(error = %err, "could not store a rehashed password; keeping the old hash");
            }
        }
        Ok(Some(principal(id, name, &roles)))
    }

    async fn load(&self, id: &str) -> Result<Option<Principal>, UserStoreError> {
        // Not one of ours (an external identity's id, say): nobody.
        let Ok(id) = id.parse::<i64>() else { return Ok(None) };
        let row: Option<(String, String)> =
            on_db!(&self.db, pool => sqlx::query_as(FIND_BY_ID).bind(id).fetch_optional(pool).await)
                .map_err(UserStoreError::backend)?;
        Ok(row.map(|(username, roles)| principal(id, username, &roles)))
    }

    /// Self-service sign-up (keytoken's `POST /users`) only when
    /// [`with_sign_up`](SqlUsers::with_sign_up) turned it on.
    async fn register(&self, username: &str, password: &str) -> Result<Registration, UserStoreError> {
        if !self.sign_up {
            return Ok(Registration::Unsupported);
        }
        self.add_user(username, password, &[]).await
    }
}
