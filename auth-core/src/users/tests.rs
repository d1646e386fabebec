//! The password helpers, `Principal::with_roles` and `UserStoreError::backend`.

use argon2::password_hash::PasswordHash;

use super::password::dummy_hash;
use super::*;
use crate::hashing::test_support::{block, futures_poll_once, rt};
use crate::hashing::{Verdict, check_phc};

#[test]
fn the_dummy_hash_costs_what_a_real_one_costs() {
    let real = hash_password("pw").expect("hashes");
    let (real, dummy) = (
        PasswordHash::new(&real).expect("a PHC string"),
        PasswordHash::new(dummy_hash()).expect("a PHC string"),
    );
    assert_eq!(dummy.algorithm, real.algorithm);
    assert_eq!(dummy.version, real.version);
    assert_eq!(dummy.params, real.params, "m, t, p");
    let len = |h: &PasswordHash<'_>| h.hash.map(|o| o.len());
    assert_eq!(len(&dummy), len(&real), "output length");
    let salt_len = |h: &PasswordHash<'_>| h.salt.map(|s| s.len());
    assert_eq!(salt_len(&dummy), salt_len(&real), "salt length");
    // a real argon2 computation that matches nothing
    assert_eq!(check_phc(dummy_hash(), b"pw"), Verdict::Mismatch);
    assert_eq!(check_phc(dummy_hash(), b""), Verdict::Mismatch);
}

#[test]
fn a_stored_hash_verifies_its_password_and_no_other() {
    rt().block_on(async {
        let phc = hash_password("correct horse").expect("hashes");
        assert_eq!(verify_password_hash(&phc, "correct horse").await, Ok(true));
        assert_eq!(verify_password_hash(&phc, "correct horse ").await, Ok(false));
        assert_eq!(verify_password_hash_or_dummy(Some(&phc), "correct horse").await, Ok(true));
        assert_eq!(verify_password_hash_or_dummy(Some(&phc), "Correct horse").await, Ok(false));
    });
}

#[test]
fn no_user_is_a_wrong_password_whatever_the_password() {
    rt().block_on(async {
        for password in ["", "pw", "correct horse"] {
            assert_eq!(verify_password_hash_or_dummy(None, password).await, Ok(false));
        }
    });
}

#[test]
fn a_malformed_hash_is_a_wrong_password_not_an_error() {
    rt().block_on(async {
        let bcrypt = "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW";
        for phc in ["", "plain text", "$argon2id$", bcrypt] {
            assert_eq!(verify_password_hash(phc, "pw").await, Ok(false), "{phc:?}");
            assert_eq!(verify_password_hash_or_dummy(Some(phc), "").await, Ok(false), "{phc:?}");
        }
    });
}

#[test]
fn new_hashes_are_made_on_the_pool_and_verify() {
    rt().block_on(async {
        let phc = hash_password_async("battery staple").await.expect("hashes");
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert_eq!(verify_password_hash(&phc, "battery staple").await, Ok(true));
        let pool = HashingPool::new(1, 1);
        let phc = pool.hash_password("staple").await.expect("hashes");
        assert_eq!(pool.verify_password_hash(&phc, "staple").await, Ok(true));
        assert_eq!(pool.verify_password_hash(&phc, "stapler").await, Ok(false));
    });
}

#[test]
fn a_full_pool_refuses_checks_and_hashes_as_busy() {
    let pool = HashingPool::new(1, 1);
    let release = block(&pool);
    rt().block_on(async {
        let mut queued = Box::pin(pool.run(|| ()));
        assert!(futures_poll_once(&mut queued).await.is_none(), "queued");
        let mut check = Box::pin(pool.verify_password_hash_or_dummy(None, "pw"));
        assert_eq!(futures_poll_once(&mut check).await, Some(Err(UserStoreError::Busy)));
        let mut hash = Box::pin(pool.hash_password("pw"));
        assert_eq!(futures_poll_once(&mut hash).await, Some(Err(UserStoreError::Busy)));
        drop(release);
        assert_eq!(queued.await, Ok(()));
    });
}

#[test]
fn with_roles_appends_each_role_in_order() {
    let p = Principal::new("1", "ann").with_roles(Vec::<String>::new());
    assert!(p.roles.is_empty());
    let p = p.with_role("a").with_roles(["b", "c"]).with_roles(vec![String::from("d")]);
    assert_eq!(p.roles, ["a", "b", "c", "d"]);
}

#[derive(Debug)]
struct Outer(std::io::Error);

impl std::fmt::Display for Outer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("error communicating with database")
    }
}

impl std::error::Error for Outer {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

#[test]
fn a_backend_error_keeps_its_chain_in_the_log_text() {
    let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "connection refused");
    let err = UserStoreError::backend(Outer(io));
    assert_eq!(err.to_string(), "user store failed: error communicating with database: connection refused");
    // the error itself is kept as the source, with its own chain
    let source = std::error::Error::source(&err).expect("a source");
    let outer = source.downcast_ref::<Outer>().expect("the backend's own type");
    assert_eq!(outer.0.kind(), std::io::ErrorKind::ConnectionRefused);
    // answered 503, not as a wrong password
    assert_eq!(crate::AuthError::from(err), crate::AuthError::Unavailable);
}
