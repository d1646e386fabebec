//! argon2 hashing and verification on the kept memory, against argon2's own.

use argon2::password_hash::{PasswordHasher, PasswordVerifier};

use super::*;
use crate::hashing::HashingPool;
use crate::hashing::test_support::rt;

/// argon2's own verification of `phc`, the reference.
fn plain_verify(phc: &str, password: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
}

/// argon2's own hash of `password` with these settings.
fn plain_hash(algorithm: Algorithm, version: Version, params: Params, password: &str) -> String {
    let salt = SaltString::generate(&mut OsRng);
    let hasher = Argon2::new(algorithm, version, params);
    hasher.hash_password(password.as_bytes(), &salt).expect("argon2 hashes").to_string()
}

fn params(m_cost: u32, t_cost: u32, p_cost: u32, output_len: Option<usize>) -> Params {
    Params::new(m_cost, t_cost, p_cost, output_len).expect("valid argon2 parameters")
}

/// The kept block of the current thread: `(address, length)`.
fn kept_block() -> Option<(usize, usize)> {
    KEPT.with(|kept| kept.borrow().as_ref().map(|m| (m.as_ptr() as usize, m.len())))
}

#[test]
fn our_hashes_verify_with_argon2_and_argon2s_with_ours() {
    // The users module's own hash: argon2id, OWASP parameters.
    let ours = crate::users::hash_password("correct horse").expect("hashes");
    assert!(ours.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{ours}");
    assert!(plain_verify(&ours, "correct horse"));
    assert!(!plain_verify(&ours, "correct horse "));
    assert!(verify_phc(&ours, b"correct horse"));
    assert!(!verify_phc(&ours, b"Correct horse"));
    let theirs = plain_hash(Algorithm::Argon2id, Version::V0x13, Params::default(), "battery staple");
    assert!(verify_phc(&theirs, b"battery staple"));
    assert!(!verify_phc(&theirs, b"battery stapl"));
    assert!(!verify_phc(&theirs, b""));
}

#[test]
fn stored_hashes_with_other_settings_verify_with_their_own() {
    let cases = [
        (Algorithm::Argon2id, Version::V0x13, params(8 * 1024, 3, 1, None)),
        (Algorithm::Argon2i, Version::V0x13, params(4 * 1024, 2, 2, Some(64))),
        (Algorithm::Argon2d, Version::V0x10, params(1024, 1, 1, Some(16))),
        (Algorithm::Argon2id, Version::V0x10, params(2 * 1024, 2, 4, None)),
    ];
    for (algorithm, version, params) in cases {
        let spec = HashSpec { algorithm, version, params: params.clone() };
        let ours = spec.hash(b"pw").expect("hashes");
        assert!(plain_verify(&ours, "pw"), "{ours}");
        assert!(!plain_verify(&ours, "pW"), "{ours}");
        let theirs = plain_hash(algorithm, version, params, "pw");
        assert!(verify_phc(&theirs, b"pw"), "{theirs}");
        assert!(!verify_phc(&theirs, b"pW"), "{theirs}");
    }
}

#[test]
fn verification_agrees_with_argon2_on_odd_and_broken_strings() {
    let good = plain_hash(Algorithm::Argon2id, Version::V0x13, params(1024, 1, 1, None), "pw");
    let (head, output) = good.rsplit_once('$').expect("a PHC string");
    let salt_at = head.rfind('$').expect("a salt");
    let params_part = "$m=1024,t=1,p=1$";
    let cases = [
        good.clone(),
        String::new(),
        "plain text".to_owned(),
        "$argon2id$".to_owned(),
        head.to_owned(),                                                           // no output
        format!("{head}$"),                                                        // an empty output
        format!("{head}${}", &output[..output.len() - 4]),                         // a shorter output
        format!("{head}${}A", &output[..output.len() - 1]),                        // another output
        good.replacen("argon2id", "argon2i", 1),                                   // another algorithm
        good.replacen("argon2id", "scrypt", 1),                                    // not argon2
        good.replacen("v=19", "v=16", 1),                                          // another version
        good.replacen("v=19", "v=20", 1),                                          // no such version
        good.replacen("$v=19", "", 1),                                             // no version: 0x13
        good.replacen(params_part, "$m=1024,t=1,p=1,x=1$", 1),                     // an unknown parameter
        good.replacen(params_part, "$m=1,t=1,p=1$", 1),                            // m below argon2's bound
        good.replacen(params_part, "$m=1024,t=0,p=1$", 1),                         // t below argon2's bound
        good.replacen(params_part, "$t=1$", 1),                                    // m and p defaulted
        format!("{}$c29tZXNhbHQ${output}", &head[..salt_at]),                      // another salt
        format!("{}$YWI${output}", &head[..salt_at]), // a salt too short for argon2
        "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW".to_owned(), // bcrypt
    ];
    for phc in &cases {
        assert_eq!(verify_phc(phc, b"pw"), plain_verify(phc, "pw"), "{phc:?}");
    }
    assert!(verify_phc(&good, b"pw"));
    assert!(verify_phc(&good.replacen("$v=19", "", 1), b"pw"), "no version means 0x13");
}

#[test]
fn a_pool_thread_reuses_one_block_and_grows_it_only_within_the_bound() {
    rt().block_on(async {
        let pool = HashingPool::new(1, 4);
        let default = crate::users::hash_password("pw").expect("hashes");
        let blocks = Params::default().block_count();
        let check = |phc: String| {
            pool.run(move || {
                let ok = verify_phc(&phc, b"pw") && !verify_phc(&phc, b"nope");
                (ok, kept_block())
            })
        };
        let (ok, first) = check(default.clone()).await.expect("runs");
        assert!(ok);
        let first = first.expect("a pool thread keeps a block");
        assert_eq!(first.1, blocks);
        // A smaller stored hash uses the front of the same block.
        let small = plain_hash(Algorithm::Argon2id, Version::V0x13, params(1024, 1, 1, None), "pw");
        assert_eq!(check(small).await.expect("runs"), (true, Some(first)));
        // New hashes on the pool use it too.
        let made = pool.run(|| (crate::users::hash_password("pw"), kept_block())).await.expect("runs");
        assert_eq!(made.1, Some(first));
        assert!(plain_verify(&made.0.expect("hashes"), "pw"));
        // Above the bound: a block for the call, the kept one untouched.
        let m_cost = u32::try_from(MAX_KEPT_BLOCKS).expect("fits") + 1024;
        let huge = plain_hash(Algorithm::Argon2id, Version::V0x13, params(m_cost, 1, 1, None), "pw");
        assert_eq!(check(huge).await.expect("runs"), (true, Some(first)));
        // Within the bound but bigger: the kept block grows, once.
        let bigger = plain_hash(Algorithm::Argon2id, Version::V0x13, params(24 * 1024, 1, 1, None), "pw");
        let (ok, grown) = check(bigger.clone()).await.expect("runs");
        assert!(ok);
        let grown = grown.expect("kept");
        assert_eq!(grown.1, 24 * 1024);
        assert_eq!(check(bigger).await.expect("runs"), (true, Some(grown)));
        // The grown block still verifies the default hashes.
        assert_eq!(check(default).await.expect("runs"), (true, Some(grown)));
    });
}

#[test]
fn other_threads_keep_no_block() {
    let phc = crate::users::hash_password("pw").expect("hashes");
    assert!(verify_phc(&phc, b"pw"));
    assert_eq!(kept_block(), None);
}

#[test]
fn a_stored_hash_cannot_ask_for_more_than_a_login_spends() {
    // 8 MiB, 80 passes: argon2 accepts it, we refuse to spend it per login
    let costly = plain_hash(Algorithm::Argon2id, Version::V0x13, params(8 * 1024, 80, 1, None), "pw");
    assert_eq!(check_phc(&costly, b"pw"), Verdict::OutOfBounds);
    // more lanes than the bound (cheap in memory and passes)
    let lanes = plain_hash(Algorithm::Argon2id, Version::V0x13, params(8 * 32, 1, 32, None), "pw");
    assert!(plain_verify(&lanes, "pw"), "a valid argon2 hash");
    assert_eq!(check_phc(&lanes, b"pw"), Verdict::OutOfBounds);
    // PHP's PASSWORD_ARGON2ID default (64 MiB, 4 passes) is within the bounds
    let php = plain_hash(Algorithm::Argon2id, Version::V0x13, params(64 * 1024, 4, 1, None), "pw");
    assert_eq!(check_phc(&php, b"pw"), Verdict::Match);
}

#[test]
fn hashes_made_otherwise_than_today_need_a_rehash() {
    let weak = plain_hash(Algorithm::Argon2id, Version::V0x13, params(4096, 1, 1, None), "pw");
    assert!(crate::password_hash_needs_rehash(&weak));
    assert_eq!(check_phc(&weak, b"pw"), Verdict::Match, "still verifies");
    let argon2i = plain_hash(Algorithm::Argon2i, Version::V0x13, params(19 * 1024, 2, 1, None), "pw");
    assert!(crate::password_hash_needs_rehash(&argon2i));
    let default = crate::users::hash_password("pw").expect("hashes");
    assert!(!crate::password_hash_needs_rehash(&default));
    assert!(crate::password_hash_needs_rehash("not a hash"));
}
