//! The verifier against a real HTTP server on 127.0.0.1: token types, keys
//! published without `alg`, the transport rule and redirects, and option
//! values that must not panic.

use std::collections::HashMap;
use std::io::{Read as _, Write as _};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jsonwebtoken::{EncodingKey, Header};
use serde_json::{Value, json};

use super::*;
use crate::tests::{Warnings, rt, testdata};
use crate::{Algorithm, JwtKey};

const AUD: &str = "https://api.example/";

/// One canned answer.
#[derive(Clone)]
struct Answer {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: String,
}

impl Answer {
    fn json(body: Value) -> Self {
        Self {
            status: 200,
            headers: vec![("content-type", "application/json".into())],
            body: body.to_string(),
        }
    }

    fn redirect(to: &str) -> Self {
        Self { status: 302, headers: vec![("location", to.to_owned())], body: String::new() }
    }

    fn status(status: u16) -> Self {
        Self { status, headers: vec![], body: String::new() }
    }

    fn header(mut self, name: &'static str, value: &str) -> Self {
        self.headers.push((name, value.to_owned()));
        self
    }
}

/// A real HTTP/1.1 server on 127.0.0.1 answering from a table of paths
/// (404 for the rest), one connection at a time, counting requests.
struct Server {
    addr: SocketAddr,
    routes: Arc<Mutex<HashMap<String, Answer>>>,
    hits: Arc<Mutex<Vec<String>>>,
}

impl Server {
    fn start() -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let addr = listener.local_addr().expect("local addr");
        let routes: Arc<Mutex<HashMap<String, Answer>>> = Arc::default();
        let hits: Arc<Mutex<Vec<String>>> = Arc::default();
        let (r, h) = (routes.clone(), hits.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                serve_one(stream, &r, &h);
            }
        });
        Self { addr, routes, hits }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn answer(&self, path: &str, answer: Answer) {
        self.routes.lock().expect("routes").insert(path.to_owned(), answer);
    }

    fn hits(&self, path: &str) -> usize {
        self.hits.lock().expect("hits").iter().filter(|p| *p == path).count()
    }

    fn total_hits(&self) -> usize {
        self.hits.lock().expect("hits").len()
    }
}

fn serve_one(
    mut stream: std::net::TcpStream,
    routes: &Mutex<HashMap<String, Answer>>,
    hits: &Mutex<Vec<String>>,
) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut request = Vec::new();
    let mut buf = [0u8; 1024];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") && request.len() < 16 * 1024 {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => request.extend_from_slice(&buf[..n]),
        }
    }
    let text = String::from_utf8_lossy(&request);
    let path = text.split_whitespace().nth(1).unwrap_or("/").to_owned();
    hits.lock().expect("hits").push(path.clone());
    let answer = routes.lock().expect("routes").get(&path).cloned().unwrap_or(Answer::status(404));
    let mut head = format!(
        "HTTP/1.1 {} Canned\r\ncontent-length: {}\r\nconnection: close\r\n",
        answer.status,
        answer.body.len()
    );
    for (name, value) in &answer.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(answer.body.as_bytes());
}

/// The IdP's ES256 signing key and its public JWK (with `alg`).
fn es256() -> (JwtKey, Value) {
    let key = JwtKey::private_pem(Algorithm::ES256, &testdata("ec_private.pem")).expect("EC key");
    let jwk = serde_json::to_value(key.public_jwk().expect("public")).expect("JSON");
    (key, jwk)
}

/// An RSA JWK as Microsoft Entra ID publishes them: no `alg`, with `x5t`,
/// `x5c` and `issuer` members.
fn entra_rsa_jwk(kid: &str) -> Value {
    let key = JwtKey::public_pem(kid, Algorithm::RS256, &testdata("rsa_public.pem")).expect("RSA key");
    let mut jwk = serde_json::to_value(key.public_jwk().expect("public")).expect("JSON");
    let object = jwk.as_object_mut().expect("object");
    object.remove("alg");
    object.insert("x5t".into(), json!("dGhpcyBpcyBub3QgYSByZWFsIHg1dA"));
    object.insert("x5c".into(), json!(["MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA"]));
    object.insert("issuer".into(), json!("https://login.microsoftonline.com/{tenantid}/v2.0"));
    jwk
}

fn rsa_signer() -> EncodingKey {
    crate::crypto::ensure_provider();
    EncodingKey::from_rsa_pem(&testdata("rsa_private.pem")).expect("RSA private PEM")
}

fn claims(issuer: &str, extra: Value) -> Value {
    let now = crate::now();
    let mut claims = json!({"iss": issuer, "aud": AUD, "sub": "alice", "iat": now, "exp": now + 600});
    for (k, v) in extra.as_object().expect("object") {
        claims[k] = v.clone();
    }
    claims
}

fn sign(alg: Algorithm, kid: &str, typ: Option<&str>, claims: &Value, key: &EncodingKey) -> String {
    let mut header = Header::new(alg);
    header.kid = Some(kid.to_owned());
    header.typ = typ.map(str::to_owned);
    jsonwebtoken::encode(&header, claims, key).expect("sign")
}

fn es_token(key: &JwtKey, issuer: &str, typ: Option<&str>, extra: Value) -> String {
    sign(Algorithm::ES256, key.kid(), typ, &claims(issuer, extra), key.encoding().expect("can sign"))
}

/// An IdP on `server`, whose JWKS is `keys`, and a verifier for it.
fn idp(server: &Server, keys: Vec<Value>) -> (String, IssuerConfig) {
    server.answer("/jwks.json", Answer::json(json!({ "keys": keys })).header("cache-control", "max-age=60"));
    let issuer = server.url("/");
    let config = IssuerConfig::new(issuer.clone(), AUD).jwks_url(server.url("/jwks.json"));
    (issuer, config)
}

fn verifier(config: IssuerConfig) -> JwksVerifier {
    JwksVerifier::new(vec![config], JwksOptions::default()).expect("verifier")
}

fn refusal(result: Result<ExternalSubject, AuthError>) -> Option<TokenRejection> {
    match result {
        Err(AuthError::InvalidToken(why)) => Some(why),
        _ => None,
    }
}

#[test]
fn refresh_tokens_id_tokens_and_other_types_are_not_access_tokens() {
    let server = Server::start();
    let (key, jwk) = es256();
    let (iss, config) = idp(&server, vec![jwk]);
    let v = verifier(config.clone());
    rt().block_on(async {
        let verify = |token: String| {
            let v = v.clone();
            async move { v.verify(&token).await }
        };
        // An Auth0-style access token (typ JWT, no type claim) and an RFC 9068 one pass.
        let who = verify(es_token(&key, &iss, Some("JWT"), json!({}))).await.expect("plain access token");
        assert_eq!(who, ExternalSubject::new(iss.clone(), "alice"));
        assert!(verify(es_token(&key, &iss, Some("at+jwt"), json!({}))).await.is_ok());
        assert!(verify(es_token(&key, &iss, None, json!({"token_use": "access"}))).await.is_ok());
        // Refresh tokens in each spelling, ID tokens (their `aud` overlaps
        // ours), and tokens typed as something else.
        let wrong_use = [
            json!({"token_use": "refresh"}),
            json!({"usefor": "refresh"}),
            json!({"token_type": "refresh"}),
            json!({"token_use": "id"}),
            json!({"typ": "Refresh"}),
            json!({"aud": [AUD, "client-123"], "nonce": "n-0S6_WzA2Mj", "azp": "client-123"}),
            json!({"aud": [AUD, "client-123"], "at_hash": "77QmUPtjPfzWtF2AnpK9RQ"}),
            json!({"aud": AUD, "c_hash": "LDktKdoQak3Pk0cnXxCltA"}),
        ];
        for extra in wrong_use {
            let token = es_token(&key, &iss, Some("JWT"), extra.clone());
            assert_eq!(refusal(verify(token).await), Some(TokenRejection::WrongUse), "{extra}");
        }
        for typ in ["rt+jwt", "refresh+jwt", "id_token+jwt", "logout+jwt"] {
            let token = es_token(&key, &iss, Some(typ), json!({}));
            assert_eq!(refusal(verify(token).await), Some(TokenRejection::Type), "{typ}");
        }
        // verify_claims (the claims API) refuses them too
        let refresh = es_token(&key, &iss, None, json!({"usefor": "refresh"}));
        assert_eq!(
            v.verify_claims(&refresh).await.err(),
            Some(AuthError::InvalidToken(TokenRejection::WrongUse))
        );
    });

    // An issuer that types its access tokens: an untyped one is refused too.
    let typed = verifier(config.clone().require_typ("at+jwt"));
    let ours = verifier(config.require_claim("token_use", "access"));
    rt().block_on(async {
        assert!(typed.verify(&es_token(&key, &iss, Some("application/at+jwt"), json!({}))).await.is_ok());
        let untyped = es_token(&key, &iss, Some("JWT"), json!({}));
        assert_eq!(refusal(typed.verify(&untyped).await), Some(TokenRejection::Type));
        assert_eq!(
            refusal(typed.verify(&es_token(&key, &iss, None, json!({}))).await),
            Some(TokenRejection::Type)
        );
        assert!(ours.verify(&es_token(&key, &iss, None, json!({"token_use": "access"}))).await.is_ok());
        assert_eq!(refusal(ours.verify(&untyped).await), Some(TokenRejection::WrongUse));
    });
}

#[test]
fn rsa_keys_published_without_alg_verify_with_the_issuers_rsa_algorithms() {
    let server = Server::start();
    let (iss, config) = idp(&server, vec![entra_rsa_jwk("entra-1")]);
    let v = verifier(config.clone());
    let signer = rsa_signer();
    let token = |alg| sign(alg, "entra-1", Some("JWT"), &claims(&iss, json!({})), &signer);
    rt().block_on(async {
        assert_eq!(v.verify(&token(Algorithm::RS256)).await, Ok(ExternalSubject::new(iss.clone(), "alice")));
        assert!(v.verify(&token(Algorithm::PS256)).await.is_ok(), "PS256");
        // not an algorithm this issuer allows
        assert_eq!(refusal(v.verify(&token(Algorithm::RS384)).await), Some(TokenRejection::Algorithm));
        // never HMAC, whatever the "secret"
        let rsa_pem = testdata("rsa_public.pem");
        let hs = sign(
            Algorithm::HS256,
            "entra-1",
            None,
            &claims(&iss, json!({})),
            &EncodingKey::from_secret(&rsa_pem),
        );
        assert_eq!(refusal(v.verify(&hs).await), Some(TokenRejection::Algorithm));
        // a signature by another key
        let other = JwtKey::private_pem(Algorithm::ES256, &testdata("ec_private.pem")).expect("EC");
        let es = sign(
            Algorithm::ES256,
            "entra-1",
            None,
            &claims(&iss, json!({})),
            other.encoding().expect("signs"),
        );
        assert_eq!(refusal(v.verify(&es).await), Some(TokenRejection::Algorithm));
    });
    // An issuer allowing RS384 as well verifies it with the same key; one
    // allowing no RSA algorithm has no use for the key.
    let wider = verifier(config.clone().algorithms([Algorithm::RS256, Algorithm::RS384]));
    let ec_only = verifier(config.algorithms([Algorithm::ES256]));
    rt().block_on(async {
        assert!(wider.verify(&token(Algorithm::RS384)).await.is_ok());
        assert_eq!(refusal(wider.verify(&token(Algorithm::PS256)).await), Some(TokenRejection::Algorithm));
        assert_eq!(refusal(ec_only.verify(&token(Algorithm::RS256)).await), Some(TokenRejection::UnknownKey));
    });
}

#[test]
fn plain_http_key_urls_are_refused_when_the_verifier_is_built() {
    let refused = |config: IssuerConfig| match JwksVerifier::new(vec![config], JwksOptions::default()) {
        Err(JwksError::Config(message)) => message,
        other => panic!("built: {other:?}"),
    };
    let message =
        refused(IssuerConfig::new("https://idp.invalid/", AUD).jwks_url("http://idp.invalid/jwks.json"));
    assert!(message.contains("`http://idp.invalid/jwks.json`"), "{message}");
    assert!(message.contains("https") && message.contains("loopback"), "{message}");
    // discovery from an http issuer is the same fetch
    let message = refused(IssuerConfig::new("http://idp.invalid/", AUD));
    assert!(message.contains("http://idp.invalid/.well-known/openid-configuration"), "{message}");
    // not a URL at all
    refused(IssuerConfig::new("https://idp.invalid/", AUD).jwks_url("idp.invalid/jwks.json"));
    // https anywhere, http on loopback: fine
    for url in [
        "https://idp.invalid/jwks.json",
        "http://127.0.0.1:9/jwks.json",
        "http://[::1]:9/k",
        "http://localhost/k",
    ] {
        let config = IssuerConfig::new("https://idp.invalid/", AUD).jwks_url(url);
        assert!(JwksVerifier::new(vec![config], JwksOptions::default()).is_ok(), "{url}");
    }
}

#[test]
fn plain_http_opted_in_is_logged_once_at_build_time() {
    let warnings = Warnings::default();
    let options = JwksOptions { allow_insecure_http: true, ..JwksOptions::default() };
    let issuers = vec![
        IssuerConfig::new("https://a.invalid/", AUD).jwks_url("http://a.invalid/jwks.json"),
        IssuerConfig::new("http://b.invalid/", AUD),
        IssuerConfig::new("https://c.invalid/", AUD).jwks_url("http://127.0.0.1:9/jwks.json"),
    ];
    let built = tracing::subscriber::with_default(warnings.clone(), || JwksVerifier::new(issuers, options));
    assert!(built.is_ok());
    let logged = warnings.0.lock().expect("warnings").clone();
    assert_eq!(logged.len(), 1, "{logged:?}");
    assert!(logged[0].contains("http://a.invalid/jwks.json"), "{logged:?}");
    assert!(logged[0].contains("http://b.invalid/.well-known/openid-configuration"), "{logged:?}");
    assert!(!logged[0].contains("127.0.0.1"), "loopback is not insecure: {logged:?}");
    // without plain http to another host, nothing is logged
    let quiet = Warnings::default();
    let config = IssuerConfig::new("https://c.invalid/", AUD).jwks_url("http://127.0.0.1:9/jwks.json");
    let built = tracing::subscriber::with_default(quiet.clone(), || {
        JwksVerifier::new(vec![config], JwksOptions::default())
    });
    assert!(built.is_ok());
    assert!(quiet.0.lock().expect("warnings").is_empty());
}

#[test]
fn redirects_never_step_down_to_plain_http() {
    let server = Server::start();
    let (key, jwk) = es256();
    let (iss, _) = idp(&server, vec![jwk]);
    server.answer("/to-remote-http", Answer::redirect("http://idp.invalid/jwks.json"));
    server.answer("/to-loopback-http", Answer::redirect(&server.url("/jwks.json")));
    server.answer("/to-https", Answer::redirect("https://idp.invalid/jwks.json"));
    server.answer("/loop", Answer::redirect(&server.url("/loop")));
    let options = JwksOptions::default();
    let client = reqwest::Client::builder()
        .redirect(transport::redirect_policy(false))
        .timeout(Duration::from_secs(30)) // a resolver that never answers must not hang the test
        .build()
        .expect("client");
    rt().block_on(async {
        let fetch = |path: &str| {
            let (client, url, options) = (client.clone(), server.url(path), options.clone());
            async move { fetch::jwks(&client, &url, &[Algorithm::ES256], &options).await }
        };
        // refused by the policy: nothing is sent to the other host
        match fetch("/to-remote-http").await {
            Err(fetch::FetchError::Redirect(why)) => {
                assert!(why.contains("http://idp.invalid/jwks.json") && why.contains("https"), "{why}")
            }
            Err(other) => panic!("not refused as a redirect: {other}"),
            Ok(_) => panic!("followed a redirect to plain http"),
        }
        // loopback to loopback: followed
        let keys = fetch("/to-loopback-http").await.map(|f| f.keys.len()).map_err(|e| e.to_string());
        assert_eq!(keys, Ok(1));
        // to https: followed (and then fails: the host never resolves)
        assert!(matches!(fetch("/to-https").await, Err(fetch::FetchError::Http(_))));
        // a loop stops
        assert!(matches!(fetch("/loop").await, Err(fetch::FetchError::Redirect(_))));
        assert!(server.hits("/loop") <= 4, "{}", server.hits("/loop"));
    });

    // The verifier's own client: no keys through the refused redirect, so
    // no IdP login (503), never a pass.
    let config = IssuerConfig::new(iss.clone(), AUD).jwks_url(server.url("/to-remote-http"));
    let v = verifier(config);
    rt().block_on(async {
        let before = server.hits("/to-remote-http");
        assert!(!v.prefetch().await);
        assert_eq!(server.hits("/to-remote-http"), before + 1);
        assert_eq!(v.verify(&es_token(&key, &iss, None, json!({}))).await, Err(AuthError::Unavailable));
    });
}

#[test]
fn a_discovered_jwks_uri_obeys_the_same_rule() {
    let server = Server::start();
    let (key, jwk) = es256();
    let (iss, _) = idp(&server, vec![jwk]);
    let discovery = "/.well-known/openid-configuration";
    server
        .answer(discovery, Answer::json(json!({"issuer": iss, "jwks_uri": "http://idp.invalid/jwks.json"})));
    let v = verifier(IssuerConfig::new(iss.clone(), AUD));
    rt().block_on(async {
        assert!(!v.prefetch().await);
        assert_eq!(server.hits(discovery), 1);
        assert_eq!(v.verify(&es_token(&key, &iss, None, json!({}))).await, Err(AuthError::Unavailable));
    });
    // a loopback jwks_uri works
    server.answer(discovery, Answer::json(json!({"issuer": iss, "jwks_uri": server.url("/jwks.json")})));
    let v = verifier(IssuerConfig::new(iss.clone(), AUD));
    rt().block_on(async {
        assert!(v.verify(&es_token(&key, &iss, None, json!({}))).await.is_ok());
    });
}

#[test]
fn options_that_cannot_work_are_refused_when_the_verifier_is_built() {
    let config =
        || vec![IssuerConfig::new("https://idp.invalid/", AUD).jwks_url("https://idp.invalid/jwks.json")];
    let refused = |options: JwksOptions| match JwksVerifier::new(config(), options) {
        Err(JwksError::Config(message)) => message,
        other => panic!("built: {other:?}"),
    };
    let crossed = JwksOptions {
        min_max_age: Duration::from_secs(600),
        max_max_age: Duration::from_secs(60),
        ..JwksOptions::default()
    };
    let message = refused(crossed);
    assert!(message.contains("min_max_age") && message.contains("max_max_age"), "{message}");
    assert!(refused(JwksOptions { timeout: Duration::ZERO, ..JwksOptions::default() }).contains("timeout"));
    assert!(
        refused(JwksOptions { connect_timeout: Duration::ZERO, ..JwksOptions::default() })
            .contains("timeout")
    );
    assert!(refused(JwksOptions { max_keys: 0, ..JwksOptions::default() }).contains("max_keys"));
    assert!(refused(JwksOptions { max_document: 0, ..JwksOptions::default() }).contains("max_document"));
}

#[test]
fn the_largest_durations_never_panic() {
    let server = Server::start();
    let (key, jwk) = es256();
    let (iss, config) = idp(&server, vec![jwk]);
    let options = JwksOptions {
        default_max_age: Duration::MAX,
        min_max_age: Duration::from_secs(1),
        max_max_age: Duration::MAX,
        unknown_kid_cooldown: Duration::MAX,
        retry_after_failure: Duration::MAX,
        max_stale: Duration::MAX,
        connect_timeout: Duration::MAX,
        timeout: Duration::MAX,
        ..JwksOptions::default()
    };
    let v = JwksVerifier::new(vec![config], options).expect("every duration may be Duration::MAX");
    let token = es_token(&key, &iss, None, json!({}));
    rt().block_on(async {
        assert!(v.verify(&token).await.is_ok());
        // The provider goes down; an hour later the set (max-age 60 s) is
        // stale: the fetch fails, the stale set is used (max_stale is
        // unbounded), and `max-age + max_stale` saturates.
        server.answer("/jwks.json", Answer::status(503));
        let state = &v.issuers[0];
        let later = Instant::now().checked_add(Duration::from_secs(3600)).expect("an hour from now");
        let stale = state.keys(later).await.expect("the stale set");
        assert_eq!(stale.keys.len(), 1);
        assert_eq!(server.hits("/jwks.json"), 2);
        // an unknown kid waits out its (endless) cooldown: no fetch
        let unknown =
            sign(Algorithm::ES256, "nope", None, &claims(&iss, json!({})), key.encoding().expect("signs"));
        assert_eq!(refusal(v.verify(&unknown).await), Some(TokenRejection::UnknownKey));
        assert_eq!(server.total_hits(), 2);
    });
    // A key set without Cache-Control lives `default_max_age` (Duration::MAX):
    // the refresh-ahead point is computed without overflow.
    let server = Server::start();
    let (iss, config) = idp(&server, vec![es256().1]);
    server.answer("/jwks.json", Answer::json(json!({"keys": [es256().1]})));
    let v = JwksVerifier::new(
        vec![config],
        JwksOptions { default_max_age: Duration::MAX, max_max_age: Duration::MAX, ..JwksOptions::default() },
    )
    .expect("verifier");
    rt().block_on(async {
        assert!(v.verify(&es_token(&key, &iss, None, json!({}))).await.is_ok());
        assert!(v.verify(&es_token(&key, &iss, None, json!({}))).await.is_ok());
        assert_eq!(server.total_hits(), 1);
    });
}
