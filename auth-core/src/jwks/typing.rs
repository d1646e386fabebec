//! Whether a verified token of an issuer is an access token: the rules
//! [`TokenTypes`] documents.

use serde_json::Value;

use super::config::TokenTypes;
use crate::error::TokenRejection;

/// The header `typ` values an access token may carry when none is
/// required: none at all, `JWT`, or RFC 9068's `at+jwt`.
const ACCESS_TYPS: [&str; 2] = ["jwt", "at+jwt"];

/// The claims that say what a token is for, as this crate's dialects (and
/// AWS Cognito) spell them; each must say `access` when present.
const USE_CLAIMS: [&str; 3] = ["token_use", "token_type", "usefor"];

/// Claims OpenID Connect puts in ID tokens and never in access tokens.
const ID_TOKEN_MARKERS: [&str; 4] = ["nonce", "at_hash", "c_hash", "s_hash"];

/// A media type without its optional `application/` prefix.
fn bare(typ: &str) -> &str {
    match typ.get(..12) {
        Some(prefix) if prefix.eq_ignore_ascii_case("application/") => &typ[12..],
        _ => typ,
    }
}

fn same_type(a: &str, b: &str) -> bool {
    bare(a).eq_ignore_ascii_case(bare(b))
}

/// Refuses a token that is not an access token by `rule` (and by the
/// refusals that always apply). `typ` is the header's, `claims` the
/// verified payload.
pub(super) fn check(rule: &TokenTypes, typ: Option<&str>, claims: &Value) -> Result<(), TokenRejection> {
    let typ_ok = match (typ, rule.typ.is_empty()) {
        (None, true) => true,
        (None, false) => false,
        (Some(typ), true) => ACCESS_TYPS.iter().any(|t| same_type(t, typ)),
        (Some(typ), false) => rule.typ.iter().any(|t| same_type(t, typ)),
    };
    if !typ_ok {
        return Err(TokenRejection::Type);
    }
    let says = |name: &str, allowed: &[&str]| match claims.get(name) {
        None => true,
        Some(Value::String(s)) => allowed.iter().any(|a| a.eq_ignore_ascii_case(s)),
        Some(_) => false,
    };
    if !USE_CLAIMS.iter().all(|name| says(name, &["access", "access_token"])) {
        return Err(TokenRejection::WrongUse); // a refresh token, Cognito's ID token...
    }
    if !says("typ", &["Bearer", "at+jwt"]) {
        return Err(TokenRejection::WrongUse); // Keycloak's `ID`, `Refresh`, `Offline`, `Logout`
    }
    if ID_TOKEN_MARKERS.iter().any(|m| claims.get(m).is_some()) {
        return Err(TokenRejection::WrongUse);
    }
    let has = |name: &str, value: &str| match claims.get(name) {
        Some(Value::String(s)) => s == value,
        Some(Value::Array(items)) => items.iter().any(|i| i.as_str() == Some(value)),
        _ => false,
    };
    if !rule.claims.iter().all(|(name, value)| has(name, value)) {
        return Err(TokenRejection::WrongUse);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn open() -> TokenTypes {
        TokenTypes::default()
    }

    /// An Auth0 access token's payload: no type claim at all.
    fn auth0_access() -> Value {
        json!({"iss": "https://t.eu.auth0.com/", "sub": "auth0|a", "aud": ["api", "https://t.eu.auth0.com/userinfo"],
               "azp": "client", "scope": "openid profile", "iat": 1, "exp": 2})
    }

    fn with(extra: Value) -> Value {
        let mut claims = auth0_access();
        for (k, v) in extra.as_object().expect("object") {
            claims[k] = v.clone();
        }
        claims
    }

    #[test]
    fn untyped_access_tokens_pass_by_default() {
        for typ in [None, Some("JWT"), Some("jwt"), Some("at+jwt"), Some("application/at+JWT")] {
            assert_eq!(check(&open(), typ, &auth0_access()), Ok(()), "{typ:?}");
        }
        // our own access tokens, in each dialect's spelling, and Keycloak's
        for claim in [
            json!({"token_use": "access"}),
            json!({"token_type": "access"}),
            json!({"usefor": "access"}),
            json!({"typ": "Bearer"}),
        ] {
            assert_eq!(check(&open(), Some("JWT"), &with(claim.clone())), Ok(()), "{claim}");
        }
    }

    #[test]
    fn refresh_and_id_tokens_are_refused_by_default() {
        for typ in ["rt+jwt", "id_token+jwt", "logout+jwt", "secevent+jwt", "dpop+jwt", "JOSE", ""] {
            assert_eq!(check(&open(), Some(typ), &auth0_access()), Err(TokenRejection::Type), "{typ}");
        }
        for claim in [
            json!({"token_use": "refresh"}),
            json!({"token_type": "refresh"}),
            json!({"usefor": "refresh"}),
            json!({"token_use": "id"}),
            json!({"token_use": 1}),
            json!({"token_use": "access", "usefor": "refresh"}),
            json!({"typ": "Refresh"}),
            json!({"typ": "ID"}),
            json!({"typ": "Offline"}),
            json!({"nonce": "n-0S6_WzA2Mj"}),
            json!({"at_hash": "77QmUPtjPfzWtF2AnpK9RQ"}),
            json!({"c_hash": "LDktKdoQak3Pk0cnXxCltA"}),
            json!({"s_hash": "x"}),
        ] {
            assert_eq!(
                check(&open(), Some("JWT"), &with(claim.clone())),
                Err(TokenRejection::WrongUse),
                "{claim}"
            );
        }
    }

    #[test]
    fn required_typ_and_claims() {
        let rule = TokenTypes { typ: vec!["at+jwt".into()], claims: vec![] };
        assert_eq!(check(&rule, Some("at+jwt"), &auth0_access()), Ok(()));
        assert_eq!(check(&rule, Some("application/AT+JWT"), &auth0_access()), Ok(()));
        assert_eq!(check(&rule, Some("JWT"), &auth0_access()), Err(TokenRejection::Type));
        assert_eq!(check(&rule, None, &auth0_access()), Err(TokenRejection::Type));
        // a required typ does not let a refresh token through
        assert_eq!(
            check(&rule, Some("at+jwt"), &with(json!({"token_use": "refresh"}))),
            Err(TokenRejection::WrongUse)
        );

        let rule = TokenTypes { typ: vec![], claims: vec![("token_use".into(), "access".into())] };
        assert_eq!(check(&rule, Some("JWT"), &with(json!({"token_use": "access"}))), Ok(()));
        assert_eq!(check(&rule, Some("JWT"), &auth0_access()), Err(TokenRejection::WrongUse));
        assert_eq!(
            check(&rule, Some("JWT"), &with(json!({"token_use": "ACCESS"}))),
            Err(TokenRejection::WrongUse)
        );

        let rule = TokenTypes { typ: vec![], claims: vec![("scope".into(), "read".into())] };
        assert_eq!(check(&rule, None, &with(json!({"scope": ["read", "write"]}))), Ok(()));
        assert_eq!(check(&rule, None, &with(json!({"scope": ["write"]}))), Err(TokenRejection::WrongUse));
    }

    #[test]
    fn media_types() {
        assert_eq!(bare("application/at+jwt"), "at+jwt");
        assert_eq!(bare("APPLICATION/jwt"), "jwt");
        assert_eq!(bare("app"), "app");
        assert_eq!(bare("é"), "é");
        assert!(same_type("at+jwt", "Application/AT+JWT"));
        assert!(!same_type("at+jwt", "jwt"));
    }
}
