//! Property tests: the parsers never panic on arbitrary bytes, and no
//! change to a valid token short of re-signing it gets through. Case
//! counts are small so the suite stays fast in CI; a failure prints the
//! smallest input that breaks the property.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use proptest::prelude::*;

use super::*;
use crate::{AuthorizationHeader, Body, Principal, Scheme, TokenUse, credentials_among, parse_authorization};

const NOW: i64 = 1_800_000_000;

fn valid_token() -> String {
    craft_hmac(header("HS256"), access_claims(NOW), SECRET, Algorithm::HS256)
}

/// One authority for every case (building one hashes its users' passwords).
fn shared() -> &'static Authority {
    static AUTHORITY: std::sync::OnceLock<Authority> = std::sync::OnceLock::new();
    AUTHORITY.get_or_init(|| authority(AuthorityConfig::default()))
}

fn verifies(token: &str) -> bool {
    shared().verify(token, TokenUse::Access, NOW).is_ok()
}

/// Bytes that look like what the parsers expect more often than pure noise.
fn header_like() -> impl Strategy<Value = Vec<u8>> {
    let pieces = prop::sample::select(vec![
        &b"Bearer"[..],
        b"bearer",
        b"Basic",
        b"Token",
        b" ",
        b"\t",
        b"  ",
        b"=",
        b":",
        b"a.b.c",
        b"YTpi",
        b"\xff",
        b"\x00",
        b",",
        b"\"",
        b"Og==",
    ]);
    prop::collection::vec(pieces, 0..12).prop_map(|p| p.concat())
}

fn json_like() -> impl Strategy<Value = Vec<u8>> {
    let pieces = prop::sample::select(vec![
        &b"{"[..],
        b"}",
        b"[",
        b"]",
        b"\"username\"",
        b"\"password\"",
        b":",
        b",",
        b"\"x\"",
        b"1",
        b"null",
        b"=",
        b"&",
        b"%",
        b"\\u00",
        b"\xc3",
        b" ",
    ]);
    prop::collection::vec(pieces, 0..24).prop_map(|p| p.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn header_parser_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..300), shaped in header_like()) {
        for value in [&bytes, &shaped] {
            let _ = parse_authorization(Some(value));
            let header = AuthorizationHeader::from(value.as_slice());
            let _ = credentials_among(&header, &[Scheme::Bearer, Scheme::Basic]);
        }
    }

    #[test]
    fn body_reader_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..300), shaped in json_like()) {
        for ct in [None, Some("application/json"), Some("application/x-www-form-urlencoded"), Some("text/plain")] {
            for body in [&bytes, &shaped] {
                if let Ok(body) = Body::parse(ct, body) {
                    let _ = body.get("username");
                }
            }
        }
    }

    #[test]
    fn verifier_never_panics(
        text in "[ -~]{0,200}",
        segments in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..80), 1..5),
    ) {
        prop_assert!(!verifies(&text));
        let token: Vec<String> = segments.iter().map(|s| URL_SAFE_NO_PAD.encode(s)).collect();
        prop_assert!(!verifies(&token.join(".")));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn any_single_byte_change_is_refused(index in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let token = valid_token();
        let mut bytes = token.clone().into_bytes();
        let i = index.index(bytes.len());
        prop_assume!(bytes[i] != byte);
        bytes[i] = byte;
        let changed = String::from_utf8_lossy(&bytes).into_owned();
        prop_assert!(!verifies(&changed), "accepted with byte {i} changed to {byte:#x}");
    }

    #[test]
    fn valid_tokens_round_trip(
        id in "[a-zA-Z0-9-]{1,40}",
        username in "[ -~]{1,40}",
        roles in prop::collection::vec("[a-z]{1,12}", 0..4),
    ) {
        let a = shared();
        let mut principal = Principal::new(id.clone(), username.clone());
        principal.roles = roles.clone();
        let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
        let pair = rt.block_on(a.issue(&principal)).expect("issue");
        let identity = a.verify(&pair.access_token, TokenUse::Access, crate::now()).expect("verifies");
        prop_assert_eq!(identity.sub(), id.as_str());
        prop_assert_eq!(identity.username(), username.as_str());
        prop_assert_eq!(identity.roles(), roles.as_slice());
        prop_assert_eq!(&identity.claims, &pair.access_claims);
    }
}

#[test]
fn segment_swaps_re_encodings_and_re_paddings_are_refused() {
    let token = valid_token();
    assert!(verifies(&token));
    let parts: Vec<&str> = token.split('.').collect();
    let [h, p, s] = parts[..] else { panic!("three segments") };
    let decode = |seg: &str| URL_SAFE_NO_PAD.decode(seg).expect("base64url");
    let standard = |seg: &str| base64::engine::general_purpose::STANDARD.encode(decode(seg));
    let pretty = |seg: &str| {
        let value: serde_json::Value = serde_json::from_slice(&decode(seg)).expect("json");
        URL_SAFE_NO_PAD.encode(serde_json::to_vec_pretty(&value).expect("json"))
    };
    let mut variants = vec![
        format!("{p}.{h}.{s}"),
        format!("{h}.{s}.{p}"),
        format!("{s}.{p}.{h}"),
        format!("{h}.{p}"),
        format!("{h}.{p}.{s}.{s}"),
        format!("{h}.{p}.{s}="),
        format!("{h}=.{p}.{s}"),
        format!("{h}.{p}=.{s}"),
        format!("{h}.{p}.{}", standard(s)),
        format!("{}.{p}.{s}", standard(h)),
        format!("{h}.{}.{s}", standard(p)),
        format!("{}.{p}.{s}", pretty(h)),
        format!("{h}.{}.{s}", pretty(p)),
        format!(" {token}"),
        format!("{token} "),
        token.replace('.', ".."),
    ];
    // every segment re-padded with `=` to a multiple of four
    let pad = |seg: &str| format!("{seg}{}", "=".repeat((4 - seg.len() % 4) % 4));
    variants.push(format!("{}.{}.{}", pad(h), pad(p), pad(s)));
    for variant in variants {
        if variant != token {
            assert!(!verifies(&variant), "accepted {variant}");
        }
    }
}
