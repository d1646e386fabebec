//! One suite of [`UserStore`] cases, run against `MemoryUsers` and against
//! the copyable `SqlUsers` example (`examples/sql_users.rs`) on SQLite (in
//! memory) and on PostgreSQL (`AUTH_TEST_POSTGRES_URL`: without it the
//! PostgreSQL tests say they skipped, and fail under `CI=true`). On a
//! shared PostgreSQL every test uses usernames of its own, so runs and
//! parallel tests do not meet in the `users` table.
//!
//! Whether an unknown user and a wrong password also take the same time
//! is measured, not tested: `cargo bench -p auth-core --bench login_timing`.

#![cfg(test)]

use std::future::Future;
use std::sync::atomic::{AtomicU32, Ordering};

use auth_core::{AuthError, MemoryUsers, Principal, Registration, UserStore, UserStoreError};
use demo_app::sql_users::SqlUsers;

const PASSWORD: &str = "correct horse battery";

/// The store under test.
enum Subject {
    Memory(MemoryUsers),
    Sql(SqlUsers),
}

/// A store and the names this test gives its users.
struct Fixture {
    subject: Subject,
    prefix: String,
    next_id: AtomicU32,
}

impl Fixture {
    fn new(subject: Subject) -> Self {
        Self { subject, prefix: format!("t{:08x}-", rand::random::<u32>()), next_id: AtomicU32::new(1) }
    }

    fn store(&self) -> &dyn UserStore {
        match &self.subject {
            Subject::Memory(users) => users,
            Subject::Sql(users) => users,
        }
    }

    /// This test's username for `who` (unique on a shared database).
    fn name(&self, who: &str) -> String {
        format!("{}{who}", self.prefix)
    }

    /// Creates the user `who` with [`PASSWORD`] and these roles, as the
    /// store's own administration does; answers the principal.
    async fn add(&self, who: &str, roles: &[&str]) -> Principal {
        let name = self.name(who);
        match &self.subject {
            Subject::Memory(users) => {
                let id = format!("m{}", self.next_id.fetch_add(1, Ordering::Relaxed));
                let principal = Principal::new(id, name).with_roles(roles.iter().copied());
                users.add_user(principal.clone(), PASSWORD).await.expect("add a user");
                principal
            }
            Subject::Sql(users) => match users.add_user(&name, PASSWORD, roles).await.expect("add a user") {
                Registration::Created(principal) => principal,
                other => panic!("{name}: {other:?}"),
            },
        }
    }

    async fn disable(&self, who: &str) {
        let name = self.name(who);
        let found = match &self.subject {
            Subject::Memory(users) => users.set_active(&name, false),
            Subject::Sql(users) => users.set_active(&name, false).await.expect("disable"),
        };
        assert!(found, "{name} exists");
    }

    /// Takes the store's backend away; `false` for a store without one.
    async fn break_backend(&self) -> bool {
        match &self.subject {
            Subject::Memory(_) => false,
            Subject::Sql(users) => {
                users.close().await;
                true
            }
        }
    }

    async fn login(&self, username: &str, password: &str) -> Result<Option<Principal>, UserStoreError> {
        self.store().verify_password(username, password).await
    }
}

async fn memory() -> Option<Fixture> {
    Some(Fixture::new(Subject::Memory(MemoryUsers::new())))
}

async fn sqlite() -> Option<Fixture> {
    let users = SqlUsers::connect("sqlite::memory:").await.expect("an in-memory SQLite").with_sign_up(true);
    Some(Fixture::new(Subject::Sql(users)))
}

async fn postgres() -> Option<Fixture> {
    let url = auth_core::store_tests::postgres_url()?;
    let users =
        SqlUsers::connect(&url).await.expect("the PostgreSQL of AUTH_TEST_POSTGRES_URL").with_sign_up(true);
    Some(Fixture::new(Subject::Sql(users)))
}

/// Runs `case` on a fresh store from `open` (nothing if `open` skips).
fn run<O, C>(open: impl FnOnce() -> O, case: impl FnOnce(Fixture) -> C)
where
    O: Future<Output = Option<Fixture>>,
    C: Future<Output = ()>,
{
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    rt.block_on(async {
        if let Some(fixture) = open().await {
            case(fixture).await;
        }
    });
}

async fn the_right_password_logs_in(f: Fixture) {
    let alice = f.add("alice", &[]).await;
    let found = f.login(&f.name("alice"), PASSWORD).await.expect("answers").expect("logs in");
    assert_eq!(found.id, alice.id);
}

async fn a_wrong_password_is_refused(f: Fixture) {
    f.add("alice", &[]).await;
    for wrong in ["correct horse battery ", "Correct horse battery", "", "x"] {
        assert_eq!(f.login(&f.name("alice"), wrong).await, Ok(None), "{wrong:?}");
    }
}

async fn an_unknown_user_is_refused(f: Fixture) {
    f.add("alice", &[]).await;
    assert_eq!(f.login(&f.name("nobody"), PASSWORD).await, Ok(None));
    assert_eq!(f.login("", PASSWORD).await, Ok(None));
}

async fn a_wrong_password_and_an_unknown_user_answer_alike(f: Fixture) {
    f.add("alice", &[]).await;
    f.add("dora", &[]).await;
    f.disable("dora").await;
    let wrong = f.login(&f.name("alice"), "wrong").await;
    let unknown = f.login(&f.name("nobody"), "wrong").await;
    let disabled = f.login(&f.name("dora"), PASSWORD).await;
    assert_eq!(wrong, Ok(None));
    assert_eq!(unknown, wrong);
    assert_eq!(disabled, wrong);
}

async fn usernames_are_canonical_as_canonical_username_says(f: Fixture) {
    let alice = f.add("alice", &[]).await;
    let shouted = format!("  {} ", f.name("alice").to_uppercase());
    let store = f.store();
    assert_eq!(store.canonical_username(&shouted), store.canonical_username(&f.name("alice")));
    let found = f.login(&shouted, PASSWORD).await.expect("answers").expect("logs in");
    assert_eq!(found.id, alice.id);
    assert_eq!(store.register(&shouted, "another").await, Ok(Registration::Taken));
    // the password is not folded
    assert_eq!(f.login(&shouted, &PASSWORD.to_uppercase()).await, Ok(None));
}

async fn a_registered_user_logs_in(f: Fixture) {
    let name = f.name("newcomer");
    let Ok(Registration::Created(created)) = f.store().register(&name, PASSWORD).await else {
        panic!("register {name}");
    };
    let found = f.login(&name, PASSWORD).await.expect("answers").expect("logs in");
    assert_eq!(found.id, created.id);
}

async fn names_that_print_alike_or_break_a_database_name_nobody(f: Fixture) {
    f.add("alice", &[]).await;
    let alice = f.name("alice");
    for bad in [format!("{alice}\u{0}"), format!("{alice}\u{200B}"), format!("\u{202E}{alice}"), "\n".into()]
    {
        // a sign-up is refused, not created beside the real account
        assert_eq!(f.store().register(&bad, PASSWORD).await, Ok(Registration::Refused), "{bad:?}");
        // a login with it is a login of nobody (not a backend error: no 503)
        assert_eq!(f.login(&bad, PASSWORD).await, Ok(None), "{bad:?}");
    }
    // names that print alike fold to one account: composed and decomposed
    // accents, fullwidth letters, runs of spaces, the braille blank
    let jose = f.add("jos\u{e9} lee", &[]).await;
    for alike in ["jose\u{301} lee", "jos\u{e9}  lee", "\u{ff4a}os\u{e9} lee", "JOS\u{c9} LEE"] {
        let alike = f.name(alike);
        assert_eq!(f.store().register(&alike, "another").await, Ok(Registration::Taken), "{alike:?}");
        let found = f.login(&alike, PASSWORD).await.expect("answers").expect("the same account");
        assert_eq!(found.id, jose.id, "{alike:?}");
    }
    let blank = format!("{alice}\u{2800}");
    assert_eq!(f.store().register(&blank, PASSWORD).await, Ok(Registration::Refused));
}

async fn a_disabled_user_is_refused_and_not_loaded(f: Fixture) {
    let dora = f.add("dora", &["admin"]).await;
    f.disable("dora").await;
    assert_eq!(f.login(&f.name("dora"), PASSWORD).await, Ok(None));
    assert_eq!(f.store().load(&dora.id).await, Ok(None));
}

async fn load_finds_a_user_by_id(f: Fixture) {
    let alice = f.add("alice", &["viewer"]).await;
    let bob = f.add("bob", &[]).await;
    let loaded = f.store().load(&alice.id).await.expect("answers").expect("found");
    assert_eq!(
        (loaded.id.as_str(), loaded.roles.as_slice()),
        (alice.id.as_str(), ["viewer".to_owned()].as_slice())
    );
    assert_eq!(f.store().load(&bob.id).await.expect("answers").map(|p| p.id), Some(bob.id));
    for unknown in ["", "no-such-id", "987654321987", "-1", "1.0"] {
        assert_eq!(f.store().load(unknown).await, Ok(None), "{unknown:?}");
    }
}

async fn roles_round_trip(f: Fixture) {
    let roles = ["admin", "audit", "team:blue"];
    let carol = f.add("carol", &roles).await;
    assert_eq!(carol.roles, roles);
    let logged_in = f.login(&f.name("carol"), PASSWORD).await.expect("answers").expect("logs in");
    assert_eq!(logged_in.roles, roles);
    let loaded = f.store().load(&carol.id).await.expect("answers").expect("found");
    assert_eq!(loaded.roles, roles);
    let plain = f.add("plain", &[]).await;
    let loaded = f.store().load(&plain.id).await.expect("answers").expect("found");
    assert!(loaded.roles.is_empty(), "{:?}", loaded.roles);
}

async fn a_backend_error_surfaces_as_a_user_store_error(f: Fixture) {
    let alice = f.add("alice", &[]).await;
    if !f.break_backend().await {
        return; // MemoryUsers has no backend to fail
    }
    let failed = f.login(&f.name("alice"), PASSWORD).await.expect_err("the backend is gone");
    // the backend's own error: its text in the log, itself as the source
    assert!(failed.to_string().contains("closed"), "{failed}");
    let source = std::error::Error::source(&failed).expect("the backend's error is kept");
    assert!(source.downcast_ref::<sqlx::Error>().is_some(), "a sqlx::Error: {source:?}");
    let failed_load = f.store().load(&alice.id).await.expect_err("the backend is gone");
    assert!(matches!(failed_load, UserStoreError::Backend(_)), "{failed_load:?}");
    // answered 503 (not a wrong password, not busy)
    assert_eq!(AuthError::from(failed), AuthError::Unavailable);
}

/// One `#[test]` per case, on the stores `$open` makes.
macro_rules! tests_on {
    ($open:path; $($case:ident),* $(,)?) => {
        use super::*;
        $(
            #[test]
            fn $case() {
                run($open, super::$case);
            }
        )*
    };
}

/// Every case, for each store.
macro_rules! suite {
    ($open:path) => {
        tests_on!(
            $open;
            the_right_password_logs_in,
            a_wrong_password_is_refused,
            an_unknown_user_is_refused,
            a_wrong_password_and_an_unknown_user_answer_alike,
            usernames_are_canonical_as_canonical_username_says,
            a_registered_user_logs_in,
            names_that_print_alike_or_break_a_database_name_nobody,
            a_disabled_user_is_refused_and_not_loaded,
            load_finds_a_user_by_id,
            roles_round_trip,
            a_backend_error_surfaces_as_a_user_store_error,
        );
    };
}

mod memory_users {
    suite!(super::memory);
}

mod sql_users_on_sqlite {
    suite!(super::sqlite);
}

mod sql_users_on_postgres {
    suite!(super::postgres);
}

/// A hash made with older, cheaper parameters (argon2-cffi, m=4096, t=1)
/// still logs its user in, and is replaced by one of today's parameters.
#[test]
fn sql_users_rehash_a_legacy_hash_at_login() {
    const LEGACY: &str =
        "$argon2id$v=19$m=4096,t=1,p=1$txdMW5EQlMpXqqkeFWEkiw$ZtByAzwAoydq6ksAwyWBUeMiCz9NhYSC/plOGXd2H9g";
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    rt.block_on(async {
        let pool = sqlx::SqlitePool::connect("sqlite::memory:").await.expect("an in-memory SQLite");
        let users = SqlUsers::sqlite(pool.clone()).await.expect("the users table");
        users.add_user("legacy", "whatever", &[]).await.expect("a user");
        sqlx::query("UPDATE users SET password_hash = $1 WHERE username = 'legacy'")
            .bind(LEGACY)
            .execute(&pool)
            .await
            .expect("the legacy hash");
        assert_eq!(users.verify_password("legacy", "wrong").await, Ok(None));
        let stored: String =
            sqlx::query_scalar("SELECT password_hash FROM users").fetch_one(&pool).await.expect("row");
        assert_eq!(stored, LEGACY, "a wrong password rehashes nothing");
        assert!(users.verify_password("legacy", "legacy-pw").await.expect("answers").is_some());
        let stored: String =
            sqlx::query_scalar("SELECT password_hash FROM users").fetch_one(&pool).await.expect("row");
        assert!(!auth_core::password_hash_needs_rehash(&stored), "rehashed: {stored}");
        assert!(
            users.verify_password("legacy", "legacy-pw").await.expect("answers").is_some(),
            "and still logs in"
        );
    });
}
