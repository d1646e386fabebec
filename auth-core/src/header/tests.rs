//! The unit tests of the `Authorization` header parser.

use super::grammar::is_token68_char;
use super::*;
use crate::error::AuthError;

fn parse(v: &[u8]) -> Result<Credentials, HeaderError> {
    parse_authorization(Some(v))
}

#[test]
fn token68_characters_are_exactly_the_grammar() {
    for b in 0..=255u8 {
        let expected = b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/');
        assert_eq!(is_token68_char(b), expected, "byte {b:#04x}");
    }
}

#[test]
fn schemes_are_case_insensitive() {
    for v in [&b"Bearer abc"[..], b"bearer abc", b"BEARER abc", b"bEaReR   abc"] {
        assert_eq!(parse(v), Ok(Credentials::Bearer("abc".into())));
    }
    assert_eq!(parse(b"token a.b.c"), Ok(Credentials::Token("a.b.c".into())));
    assert_eq!(parse(b"basic YTpi"), Ok(Credentials::Basic { user: "a".into(), password: "b".into() }));
}

#[test]
fn missing_and_foreign_schemes_are_not_malformed() {
    assert_eq!(parse_authorization(None), Err(HeaderError::Missing));
    assert_eq!(parse(b""), Err(HeaderError::Missing));
    assert_eq!(parse(b"   "), Err(HeaderError::Missing));
    assert_eq!(parse(b"Digest foo=bar"), Err(HeaderError::UnsupportedScheme));
    assert_eq!(AuthError::from(HeaderError::UnsupportedScheme).status(), 401);
}

#[test]
fn junk_is_rejected_with_400() {
    let cases: &[(&[u8], HeaderError)] = &[
        (b"Bearer", HeaderError::Malformed),
        (b"Bearer ", HeaderError::Malformed),
        (b"Bearer a b", HeaderError::Malformed),
        (b"Bearer ab=c", HeaderError::InvalidToken68),
        (b"Bearer ===", HeaderError::InvalidToken68),
        (b"Bearer a,b", HeaderError::InvalidToken68),
        ("Bearer caf\u{e9}".as_bytes(), HeaderError::Malformed),
        (b"Bearer a\x00b", HeaderError::Malformed),
        (b"Basic abcde", HeaderError::InvalidBase64),
        (b"Basic !!!!", HeaderError::InvalidToken68),
        (b"Basic YWJj", HeaderError::MissingColon),
        (b"Basic YTpi=", HeaderError::InvalidBase64),
        (b"Basic /w==", HeaderError::InvalidUtf8),
        (b"Basic YQpiOmM=", HeaderError::Malformed),
    ];
    for (value, expected) in cases {
        let got = parse(value);
        assert_eq!(got.as_ref().err(), Some(expected), "{:?}", String::from_utf8_lossy(value));
        let err = AuthError::from(*expected);
        assert_eq!(err.status(), 400);
        assert_eq!(err.error_code(), Some("invalid_request"));
    }
}

#[test]
fn only_spaces_separate_scheme_and_credentials() {
    assert_eq!(parse(b"Bearer\tabc"), Err(HeaderError::Malformed));
    assert_eq!(parse(b"Bearer \tabc"), Err(HeaderError::Malformed));
    assert_eq!(parse(b"Bearer\x0babc"), Err(HeaderError::Malformed));
    assert_eq!(parse(b"Bea@rer abc"), Err(HeaderError::Malformed));
    assert_eq!(parse(b"\tBearer   abc\t"), Ok(Credentials::Bearer("abc".into())));
    assert_eq!(parse(b"Digest\tx"), Err(HeaderError::Malformed));
    assert_eq!(AuthError::from(HeaderError::Repeated).status(), 400);
}

#[test]
fn foreign_schemes_are_no_credentials_whatever_follows() {
    let among = |v: &[u8], s: &[Scheme]| credentials_among(&AuthorizationHeader::from(v), s);
    for junk in [&b"Basic !!!"[..], b"Basic", b"Basic YWJj", b"Token a b", b"Digest x=y, z"] {
        assert_eq!(among(junk, &[Scheme::Bearer]), Ok(None), "{:?}", String::from_utf8_lossy(junk));
    }
    assert_eq!(among(b"Basic YWJj", &[Scheme::Basic]), Err(HeaderError::MissingColon));
    assert_eq!(among(b"bearer", &[Scheme::Bearer]), Err(HeaderError::Malformed));
    assert_eq!(among(b"Bearer\tx", &[Scheme::Token]), Err(HeaderError::Malformed));
    let repeated = AuthorizationHeader::from_values([&b"Basic Og=="[..], b"Basic Og=="]);
    assert_eq!(credentials_among(&repeated, &[Scheme::Bearer]), Err(HeaderError::Repeated));
    assert_eq!(
        credentials_of(&repeated, Scheme::Bearer),
        Err(AuthError::InvalidRequest("more than one authorization header".into()))
    );
    assert!(!format!("{:?}", AuthorizationHeader::from(&b"Bearer secret"[..])).contains("secret"));
}

#[test]
fn length_cap_is_exact() {
    let mut ok = b"Bearer ".to_vec();
    ok.resize(MAX_HEADER_LEN, b'a');
    assert!(parse(&ok).is_ok());
    ok.push(b'a');
    assert_eq!(parse(&ok), Err(HeaderError::TooLong));
    let huge = vec![b'a'; 64 * 1024];
    assert_eq!(parse(&huge), Err(HeaderError::TooLong));
}

#[test]
fn basic_splits_at_first_colon_and_allows_empty_parts() {
    // "user:pa:ss"
    assert_eq!(
        parse(b"Basic dXNlcjpwYTpzcw=="),
        Ok(Credentials::Basic { user: "user".into(), password: "pa:ss".into() })
    );
    // ":"
    assert_eq!(parse(b"Basic Og=="), Ok(Credentials::Basic { user: String::new(), password: String::new() }));
    // "jos\u{e9}:pw" in UTF-8
    assert_eq!(
        parse(b"Basic am9zw6k6cHc="),
        Ok(Credentials::Basic { user: "jos\u{e9}".into(), password: "pw".into() })
    );
}

#[test]
fn debug_never_shows_secrets() {
    let shown = format!("{:?}", Credentials::Basic { user: "u".into(), password: "hunter2".into() });
    assert!(!shown.contains("hunter2"));
    assert!(!format!("{:?}", Credentials::Bearer("secret.jwt".into())).contains("secret"));
}
