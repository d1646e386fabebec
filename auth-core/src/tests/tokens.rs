//! Hostile and boundary tokens: each gets the exact rejection, status and challenge.

use serde_json::json;

use super::*;
use crate::{AuthError, AuthGuard, AuthorityConfig, Dialect as _, TokenRejection, TokenUse, Validation};

fn verify(authority: &Authority, token: &str, now: i64) -> Result<(), TokenRejection> {
    authority.verify(token, TokenUse::Access, now).map(|_| ())
}

const NOW: i64 = 1_800_000_000;

#[test]
fn a_good_token_passes() {
    let a = authority(AuthorityConfig::default());
    let t = craft_hmac(header("HS256"), access_claims(NOW), SECRET, Algorithm::HS256);
    assert_eq!(verify(&a, &t, NOW), Ok(()));
    // no kid: checked against the signing key
    let t = craft_hmac(json!({"alg": "HS256"}), access_claims(NOW), SECRET, Algorithm::HS256);
    assert_eq!(verify(&a, &t, NOW), Ok(()));
}

#[test]
fn alg_none_in_any_casing_is_refused() {
    let a = authority(AuthorityConfig::default());
    for alg in ["none", "None", "NONE", "nOnE"] {
        for sig in ["", "AAAA"] {
            let t = format!("{}.{}.{sig}", b64(&header(alg)), b64(&access_claims(NOW)));
            assert_eq!(verify(&a, &t, NOW), Err(TokenRejection::Algorithm), "{alg} {sig:?}");
        }
    }
}

#[test]
fn another_key_and_another_algorithm_are_refused() {
    let a = authority(AuthorityConfig::default());
    let other = craft_hmac(
        header("HS256"),
        access_claims(NOW),
        b"another-secret-that-is-32-bytes-long",
        Algorithm::HS256,
    );
    assert_eq!(verify(&a, &other, NOW), Err(TokenRejection::Signature));
    let hs512 = craft_hmac(header("HS512"), access_claims(NOW), SECRET, Algorithm::HS512);
    assert_eq!(verify(&a, &hs512, NOW), Err(TokenRejection::Algorithm));
    let unknown_kid =
        craft_hmac(json!({"alg": "HS256", "kid": "nope"}), access_claims(NOW), SECRET, Algorithm::HS256);
    assert_eq!(verify(&a, &unknown_kid, NOW), Err(TokenRejection::UnknownKey));
    let mut tampered = craft_hmac(header("HS256"), access_claims(NOW), SECRET, Algorithm::HS256);
    let payload = b64(&json!({"sub": "u-bob", "exp": NOW + 60, "token_use": "access"}));
    let parts: Vec<&str> = tampered.split('.').collect();
    tampered = format!("{}.{payload}.{}", parts[0], parts[2]);
    assert_eq!(verify(&a, &tampered, NOW), Err(TokenRejection::Signature));
}

#[test]
fn rs_hs_key_confusion_is_refused() {
    // We sign with HS256 and also trust a (verification-only) RSA key.
    let rsa = JwtKey::public_pem("rsa", Algorithm::RS256, &testdata("rsa_public.pem")).expect("rsa fixture");
    let signing = JwtKey::hs256("hs", &[5u8; 32]).expect("hmac");
    let a =
        Authority::builder(KeySet::new(signing).expect("a signing key").with_verification_key(rsa)).build();
    // the classic attack: HS256 over the public key's PEM bytes, naming the RSA kid
    let forged = craft_hmac(
        json!({"alg": "HS256", "kid": "rsa"}),
        access_claims(NOW),
        &testdata("rsa_public.pem"),
        Algorithm::HS256,
    );
    assert_eq!(verify(&a, &forged, NOW), Err(TokenRejection::Algorithm));
}

#[test]
fn asymmetric_keys_sign_and_verify() {
    for (alg, private, public) in [
        (Algorithm::RS256, "rsa_private.pem", "rsa_public.pem"),
        (Algorithm::PS256, "rsa_private.pem", "rsa_public.pem"),
        (Algorithm::ES256, "ec_private.pem", "ec_public.pem"),
        (Algorithm::EdDSA, "ed_private.pem", "ed_public.pem"),
    ] {
        let pair = JwtKey::pem_pair("k", alg, &testdata(private), &testdata(public));
        if matches!(alg, Algorithm::RS256 | Algorithm::PS256) && cfg!(not(feature = "aws_lc_rs")) {
            // RustCrypto's RSA has a timing side channel: no RSA signing keys there.
            assert!(matches!(pair, Err(crate::KeyError::RsaNeedsAwsLc)), "{alg:?}");
            continue;
        }
        let key = pair.expect("fixture key");
        let a = Authority::builder(KeySet::new(key).expect("a signing key")).build();
        let claims = crate::Claims {
            sub: "s".into(),
            exp: NOW + 60,
            iat: Some(NOW),
            jti: Some("j".into()),
            token_use: Some(TokenUse::Access),
            ..Default::default()
        };
        let token = crate::jwt::sign(
            &a.keys(),
            &Default::default(),
            &claims,
            &Default::default(),
            &Default::default(),
        )
        .expect("sign");
        assert_eq!(verify(&a, &token, NOW), Ok(()), "{alg:?}");
        assert_eq!(jsonwebtoken::decode_header(&token).expect("header").alg, alg);
    }
    assert!(matches!(
        JwtKey::hs256("k", &[0; 31]),
        Err(crate::KeyError::SecretTooShort { min: 32, len: 31 })
    ));
    assert!(matches!(JwtKey::hmac("k", Algorithm::RS256, &[0; 32]), Err(crate::KeyError::WrongAlgorithm(_))));
}

#[test]
fn rotation_keeps_retired_keys_verifying_until_they_are_removed() {
    rt().block_on(async {
        let old = JwtKey::private_pem(Algorithm::ES256, &testdata("ec_private.pem")).expect("ES256");
        let new = JwtKey::private_pem(Algorithm::EdDSA, &testdata("ed_private.pem")).expect("EdDSA");
        let (old_kid, new_kid) = (old.kid().to_owned(), new.kid().to_owned());
        let a = Authority::builder(KeySet::new(old).expect("signs")).users(users()).build();
        let before = a.login("alice", "alice-pw").await.expect("login").access_token;
        assert_eq!(
            jsonwebtoken::decode_header(&before).expect("header").kid.as_deref(),
            Some(old_kid.as_str())
        );
        // The newest key signs; the retired one still verifies.
        a.set_keys(a.keys().rotated(new).expect("rotate"));
        let after = a.login("alice", "alice-pw").await.expect("login").access_token;
        let header = jsonwebtoken::decode_header(&after).expect("header");
        assert_eq!((header.alg, header.kid.as_deref()), (Algorithm::EdDSA, Some(new_kid.as_str())));
        a.authenticate_token(&before).await.expect("a retired key's token still verifies");
        a.authenticate_token(&after).await.expect("the new key's token verifies");
        // Published: both public keys, newest first, nothing secret.
        let published = serde_json::to_value(a.keys().public_jwks()).expect("JSON");
        let kids: Vec<&str> =
            published["keys"].as_array().expect("keys").iter().filter_map(|k| k["kid"].as_str()).collect();
        assert_eq!(kids, [new_kid.as_str(), old_kid.as_str()]);
        assert!(published["keys"].as_array().expect("keys").iter().all(|k| k.get("d").is_none()));
        // Removed: its tokens stop verifying on the next request.
        a.set_keys(a.keys().without_key(&old_kid).expect("not the signing key"));
        assert_eq!(
            a.authenticate_token(&before).await,
            Err(AuthError::InvalidToken(TokenRejection::UnknownKey))
        );
        a.authenticate_token(&after).await.expect("still valid");
    });
}

#[test]
fn published_keys_are_never_secrets_and_jwks_keys_must_fit_their_alg() {
    use crate::jwk::Jwk;
    let hmac = KeySet::new(JwtKey::hs256("hs", &[3u8; 32]).expect("hmac")).expect("set");
    assert!(hmac.public_jwks().keys.is_empty());
    let parse = |v: serde_json::Value| serde_json::from_value::<Jwk>(v).expect("a JWK");
    // An `oct` key (a shared secret) is never taken from a JWKS.
    assert!(
        JwtKey::from_jwk(&parse(json!({"kty": "oct", "k": "c2VjcmV0", "kid": "s", "alg": "HS256"})), None)
            .is_err()
    );
    // A JWK whose `alg` does not fit its key type is refused.
    let ed = JwtKey::private_pem(Algorithm::EdDSA, &testdata("ed_private.pem")).expect("EdDSA");
    let mut jwk = serde_json::to_value(ed.public_jwk().expect("public")).expect("JSON");
    jwk["alg"] = json!("ES256");
    assert!(JwtKey::from_jwk(&parse(jwk.clone()), None).is_err());
    jwk.as_object_mut().expect("object").remove("alg");
    assert_eq!(JwtKey::from_jwk(&parse(jwk), None).expect("inferred").algorithm(), Algorithm::EdDSA);
}

#[test]
fn time_claims_at_the_leeway_boundary() {
    let a = authority(AuthorityConfig::default()); // leeway 5 s
    let with = |patch: serde_json::Value| {
        let mut c = access_claims(NOW);
        for (k, v) in patch.as_object().expect("object") {
            c[k] = v.clone();
        }
        craft_hmac(header("HS256"), c, SECRET, Algorithm::HS256)
    };
    assert_eq!(verify(&a, &with(json!({"exp": NOW - 4})), NOW), Ok(()));
    assert_eq!(verify(&a, &with(json!({"exp": NOW - 5})), NOW), Err(TokenRejection::Expired));
    assert_eq!(verify(&a, &with(json!({"nbf": NOW + 5})), NOW), Ok(()));
    assert_eq!(verify(&a, &with(json!({"nbf": NOW + 6})), NOW), Err(TokenRejection::NotYetValid));
    assert_eq!(verify(&a, &with(json!({"iat": NOW + 5})), NOW), Ok(()));
    assert_eq!(verify(&a, &with(json!({"iat": NOW + 6})), NOW), Err(TokenRejection::IssuedInFuture));
    let mut no_exp = access_claims(NOW);
    no_exp.as_object_mut().expect("object").remove("exp");
    assert_eq!(
        verify(&a, &craft_hmac(header("HS256"), no_exp, SECRET, Algorithm::HS256), NOW),
        Err(TokenRejection::Malformed)
    );
    assert_eq!(verify(&a, &with(json!({"exp": "tomorrow"})), NOW), Err(TokenRejection::Malformed));
}

#[test]
fn issuer_and_audience_are_strict() {
    let config =
        AuthorityConfig::default().validation(Validation::default().with_issuer("me").with_audience("api"));
    let a = authority(config);
    let with = |iss: serde_json::Value, aud: serde_json::Value| {
        let mut c = access_claims(NOW);
        c["iss"] = iss;
        c["aud"] = aud;
        craft_hmac(header("HS256"), c, SECRET, Algorithm::HS256)
    };
    assert_eq!(verify(&a, &with(json!("me"), json!("api")), NOW), Ok(()));
    assert_eq!(verify(&a, &with(json!("me"), json!(["x", "api"])), NOW), Ok(()));
    assert_eq!(verify(&a, &with(json!("me"), json!(["x"])), NOW), Err(TokenRejection::Audience));
    assert_eq!(verify(&a, &with(json!("you"), json!("api")), NOW), Err(TokenRejection::Issuer));
    assert_eq!(verify(&a, &with(json!(["me"]), json!("api")), NOW), Err(TokenRejection::Malformed));
    assert_eq!(verify(&a, &with(json!(7), json!("api")), NOW), Err(TokenRejection::Malformed));
    assert_eq!(verify(&a, &with(json!("me"), json!(7)), NOW), Err(TokenRejection::Malformed));
    let mut none = access_claims(NOW);
    none["aud"] = json!("api");
    assert_eq!(
        verify(&a, &craft_hmac(header("HS256"), none, SECRET, Algorithm::HS256), NOW),
        Err(TokenRejection::Issuer)
    );
}

#[test]
fn dangerous_header_parameters_are_refused() {
    let a = authority(AuthorityConfig::default());
    for (name, value) in [
        ("crit", json!(["exp"])),
        ("jku", json!("https://evil.example/jwks")),
        ("x5u", json!("https://evil.example/cert")),
        ("x5c", json!(["MIIB"])),
        ("jwk", json!({"kty": "oct", "k": "AAAA"})),
    ] {
        let mut h = header("HS256");
        h[name] = value;
        let t = craft_hmac(h, access_claims(NOW), SECRET, Algorithm::HS256);
        assert_eq!(verify(&a, &t, NOW), Err(TokenRejection::ForbiddenHeader), "{name}");
    }
}

#[test]
fn oversized_and_malformed_tokens() {
    let a = authority(AuthorityConfig::default());
    let mut long = craft_hmac(header("HS256"), access_claims(NOW), SECRET, Algorithm::HS256);
    long.push('.');
    long.extend(std::iter::repeat_n('a', 8 * 1024 + 1 - long.len()));
    assert_eq!(long.len(), 8 * 1024 + 1);
    assert_eq!(verify(&a, &long, NOW), Err(TokenRejection::TooLong));
    for junk in ["", "a", "a.b", "a.b.c.d", "!!.??.**", "eyJhbGciOiJIUzI1NiJ9.e30.", "..."] {
        assert!(verify(&a, junk, NOW).is_err(), "{junk:?}");
    }
}

#[test]
fn the_use_claim_is_read_only_under_the_configured_name() {
    // a token minted by another system sharing the key, which spells the
    // use its own way, is not an access token here
    let a = authority(AuthorityConfig::default());
    for foreign in ["token_type", "usefor"] {
        let mut claims = access_claims(NOW);
        claims.as_object_mut().expect("object").remove("token_use");
        claims[foreign] = json!("access");
        let token = craft_hmac(header("HS256"), claims, SECRET, Algorithm::HS256);
        assert_eq!(verify(&a, &token, NOW), Err(TokenRejection::WrongUse), "{foreign}");
    }
    // a verifier configured for `usefor` reads `usefor` only
    let datarhei = crate::dialects::Datarhei::default().default_config().validation(Validation::default());
    let d = authority(datarhei);
    let mut claims = access_claims(NOW);
    let token = craft_hmac(header("HS256"), claims.clone(), SECRET, Algorithm::HS256);
    assert_eq!(verify(&d, &token, NOW), Err(TokenRejection::WrongUse));
    claims.as_object_mut().expect("object").remove("token_use");
    claims["usefor"] = json!("access");
    let token = craft_hmac(header("HS256"), claims, SECRET, Algorithm::HS256);
    assert_eq!(verify(&d, &token, NOW), Ok(()));
}

#[test]
fn token_use_is_checked_both_ways() {
    let a = authority(AuthorityConfig::default());
    let mut refresh = access_claims(NOW);
    refresh["token_use"] = json!("refresh");
    let refresh = craft_hmac(header("HS256"), refresh, SECRET, Algorithm::HS256);
    assert_eq!(verify(&a, &refresh, NOW), Err(TokenRejection::WrongUse));
    let access = craft_hmac(header("HS256"), access_claims(NOW), SECRET, Algorithm::HS256);
    assert!(matches!(a.verify(&access, TokenUse::Refresh, NOW), Err(TokenRejection::WrongUse)));
    let mut unmarked = access_claims(NOW);
    unmarked.as_object_mut().expect("object").remove("token_use");
    let unmarked = craft_hmac(header("HS256"), unmarked, SECRET, Algorithm::HS256);
    assert_eq!(verify(&a, &unmarked, NOW), Err(TokenRejection::WrongUse));
}

#[test]
fn guard_answers_exact_status_and_challenge() {
    rt().block_on(async {
        let a = authority(AuthorityConfig::default());
        let guard = AuthGuard::new(a.clone());
        let now = crate::now();
        let good = craft_hmac(header("HS256"), access_claims(now), SECRET, Algorithm::HS256);
        let mut refresh = access_claims(now);
        refresh["token_use"] = json!("refresh");
        let refresh = craft_hmac(header("HS256"), refresh, SECRET, Algorithm::HS256);
        let none = format!("{}.{}.", b64(&header("none")), b64(&access_claims(now)));
        let mut expired = access_claims(now);
        expired["exp"] = json!(now - 100);
        let expired = craft_hmac(header("HS256"), expired, SECRET, Algorithm::HS256);
        let huge = format!("Bearer {}", "a".repeat(64 * 1024));
        let invalid_token =
            |d: &str| format!(r#"Bearer realm="api", error="invalid_token", error_description="{d}""#);
        let invalid_request =
            |d: &str| format!(r#"Bearer realm="api", error="invalid_request", error_description="{d}""#);
        let cases: Vec<(Option<String>, u16, Option<String>)> = vec![
            (None, 401, Some(r#"Bearer realm="api""#.into())),
            (Some("Digest x=y".into()), 401, Some(r#"Bearer realm="api""#.into())),
            (Some("Bearer".into()), 400, Some(invalid_request("the authorization header is malformed"))),
            (Some("Bearer ".into()), 400, Some(invalid_request("the authorization header is malformed"))),
            (
                Some("Bearer caf\u{e9}".into()),
                400,
                Some(invalid_request("the authorization header is malformed")),
            ),
            (Some(huge), 400, Some(invalid_request("the authorization header is too long"))),
            (Some(format!("Bearer {good}")), 200, None),
            (Some(format!("bearer {good}")), 200, None),
            (Some(format!("Bearer {refresh}")), 401, Some(invalid_token("the token is not usable here"))),
            (
                Some(format!("Bearer {none}")),
                401,
                Some(invalid_token("the token's algorithm is not allowed")),
            ),
            (Some(format!("Bearer {expired}")), 401, Some(invalid_token("the token has expired"))),
            (Some("Bearer a.b.c".into()), 401, Some(invalid_token("the token is malformed"))),
        ];
        for (value, status, challenge) in cases {
            let shown = value.as_deref().map(|v| v.chars().take(40).collect::<String>());
            match guard.check(value.as_deref().map(str::as_bytes)).await {
                Ok(Some(id)) => {
                    assert_eq!(status, 200, "{shown:?}");
                    assert_eq!(id.sub(), "u-alice");
                }
                Ok(None) => panic!("anonymous pass in required mode: {shown:?}"),
                Err(err) => {
                    let res = guard.reject(&err);
                    assert_eq!(res.status, status, "{shown:?}");
                    assert_eq!(res.header("www-authenticate"), challenge.as_deref(), "{shown:?}");
                    let body = res.json_body().expect("json body");
                    assert_eq!(body["error"], err.error_code().unwrap_or("unauthorized"));
                }
            }
        }
    });
}

#[test]
fn optional_guard_lets_anonymous_through_but_not_bad_tokens() {
    rt().block_on(async {
        let guard = AuthGuard::new(authority(AuthorityConfig::default())).optional(true);
        assert_eq!(guard.check(None).await, Ok(None));
        assert_eq!(
            guard.check(Some(b"Bearer a.b.c")).await,
            Err(AuthError::InvalidToken(TokenRejection::Malformed))
        );
        let custom = AuthGuard::new(authority(AuthorityConfig::default()))
            .render_errors_with(|e: &AuthError| json!({"message": e.to_string()}));
        let res = custom.reject(&AuthError::MissingCredentials);
        assert_eq!(res.status, 401);
        assert_eq!(res.header("www-authenticate"), Some(r#"Bearer realm="api""#));
        assert_eq!(res.json_body(), Some(json!({"message": "authentication is required"})));
    });
}

#[test]
fn header_allow_list_is_configurable_but_never_for_key_carriers() {
    let strict = authority(AuthorityConfig::default());
    let validation =
        Validation::default().with_token_type("at+jwt").with_header_param("cty").with_header_param("jku");
    let lax = authority(AuthorityConfig::default().validation(validation));
    let with = |patch: serde_json::Value| {
        let mut h = header("HS256");
        for (k, v) in patch.as_object().expect("object") {
            h[k] = v.clone();
        }
        craft_hmac(h, access_claims(NOW), SECRET, Algorithm::HS256)
    };
    let at_jwt = with(json!({"typ": "application/AT+JWT"}));
    assert_eq!(verify(&strict, &at_jwt, NOW), Err(TokenRejection::Type));
    assert_eq!(verify(&lax, &at_jwt, NOW), Ok(()));
    assert_eq!(verify(&lax, &with(json!({"typ": "jwt"})), NOW), Ok(()));
    let cty = with(json!({"cty": "json"}));
    assert_eq!(verify(&strict, &cty, NOW), Err(TokenRejection::ForbiddenHeader));
    assert_eq!(verify(&lax, &cty, NOW), Ok(()));
    let jku = with(json!({"jku": "https://evil.example/jwks"}));
    assert_eq!(verify(&lax, &jku, NOW), Err(TokenRejection::ForbiddenHeader));
    let no_typ =
        craft_hmac(json!({"alg": "HS256", "kid": "k1"}), access_claims(NOW), SECRET, Algorithm::HS256);
    assert_eq!(verify(&strict, &no_typ, NOW), Ok(()));
    let no_alg = craft_hmac(json!({"kid": "k1"}), access_claims(NOW), SECRET, Algorithm::HS256);
    assert_eq!(verify(&strict, &no_alg, NOW), Err(TokenRejection::Algorithm));
}

#[test]
fn lifetime_is_capped_per_token_use_with_leeway() {
    let a = authority(AuthorityConfig::default()); // access 15 min, refresh 1 day, leeway 5 s
    let with = |use_: &str, lifetime: i64| {
        let mut c = access_claims(NOW);
        c["token_use"] = json!(use_);
        c["iat"] = json!(NOW - 10);
        c["exp"] = json!(NOW - 10 + lifetime);
        craft_hmac(header("HS256"), c, SECRET, Algorithm::HS256)
    };
    assert_eq!(verify(&a, &with("access", 905), NOW), Ok(()));
    assert_eq!(verify(&a, &with("access", 906), NOW), Err(TokenRejection::Lifetime));
    let refresh = |lifetime| a.verify(&with("refresh", lifetime), TokenUse::Refresh, NOW).map(|_| ());
    assert_eq!(refresh(86_405), Ok(()));
    assert_eq!(refresh(86_406), Err(TokenRejection::Lifetime));
}

#[test]
fn required_claims_and_unrequested_audiences() {
    let a = authority(AuthorityConfig::default());
    let with = |patch: serde_json::Value| {
        let mut c = access_claims(NOW);
        let map = c.as_object_mut().expect("object");
        for (k, v) in patch.as_object().expect("object") {
            match v {
                serde_json::Value::Null => map.remove(k),
                v => map.insert(k.clone(), v.clone()),
            };
        }
        craft_hmac(header("HS256"), c, SECRET, Algorithm::HS256)
    };
    let cases = [
        (json!({"sub": null}), TokenRejection::MissingClaim("sub")),
        (json!({"sub": ""}), TokenRejection::MissingClaim("sub")),
        (json!({"jti": null}), TokenRejection::MissingClaim("jti")),
        (json!({"jti": ""}), TokenRejection::InvalidClaim("jti")),
        (json!({"jti": "j".repeat(crate::MAX_JTI_LEN + 1)}), TokenRejection::InvalidClaim("jti")),
        (json!({"iat": null}), TokenRejection::MissingClaim("iat")),
        (json!({"iat": -1}), TokenRejection::InvalidClaim("iat")),
        (json!({"auth_time": NOW + 60}), TokenRejection::InvalidClaim("auth_time")),
        (json!({"aud": "api"}), TokenRejection::Audience),
        (json!({"aud": []}), TokenRejection::Audience),
    ];
    for (patch, expected) in cases {
        assert_eq!(verify(&a, &with(patch.clone()), NOW), Err(expected), "{patch}");
    }
    assert_eq!(verify(&a, &with(json!({"jti": "j".repeat(crate::MAX_JTI_LEN)})), NOW), Ok(()));
    assert_eq!(verify(&a, &with(json!({"iss": "anyone"})), NOW), Ok(()));
}
