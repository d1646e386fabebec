//! External identity providers and published keys, on both frameworks:
//! a real local HTTP server plays the IdP (its JWKS, its OIDC discovery
//! document, a redirect), rotates its keys mid-test and goes down; the
//! demo's datarhei route set logs IdP users in, refuses every bad token
//! (refresh and ID tokens among them) with the exact status, challenge and
//! body, and serves `GET /api`; an RSA key published without `alg` (as
//! Microsoft Entra ID does) verifies; a JWKS URL over plain http to another
//! host is refused at start, and a redirect to one is never followed; a
//! token the demo signs with its own ES256 key is verified by a separate
//! process that knows only the demo's `/.well-known/jwks.json`; and our
//! own refresh token, verified elsewhere from our published keys, is not
//! an access token there.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::response::IntoResponse;
use base64::Engine as _;
use clap::Parser as _;
use demo_app::{Demo, DemoConfig};
use jsonwebtoken::{EncodingKey, Header};
use serde_json::{Value, json};

use crate::harness::{Client, Req, Res, actix_client, axum_client, demo_args, json_of};

/// The audience the demo's IdP tenant expects.
pub(crate) const AUDIENCE: &str = "https://core.example/api";
/// The subject allowed to log in (datarhei's "allowed users").
pub(crate) const ALICE: &str = "auth0|alice";

fn testdata(path: &str) -> Vec<u8> {
    let full = format!("{}/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&full).unwrap_or_else(|e| panic!("{full}: {e}"))
}

/// An IdP signing key: its `kid` (thumbprint), its public JWK, a signer.
pub(crate) struct IdpKey {
    kid: String,
    alg: jsonwebtoken::Algorithm,
    pub(crate) jwk: Value,
    signer: EncodingKey,
}

pub(crate) fn idp_key(pem_path: &str) -> IdpKey {
    let pem = testdata(pem_path);
    let key = auth_core::JwtKey::private_pem(auth_core::Algorithm::ES256, &pem).expect("an ES256 key");
    let jwk = serde_json::to_value(key.public_jwk().expect("public half")).expect("JWK as JSON");
    IdpKey {
        kid: key.kid().to_owned(),
        alg: jsonwebtoken::Algorithm::ES256,
        jwk,
        signer: EncodingKey::from_ec_pem(&pem).expect("EC PEM"),
    }
}

/// A verification-only JWK from a public PEM of auth-core's test data.
fn public_jwk(kid: &str, alg: auth_core::Algorithm, pem: &str) -> Value {
    let pem = testdata(&format!("../auth-core/testdata/{pem}"));
    let key = auth_core::JwtKey::public_pem(kid, alg, &pem).expect("public key");
    serde_json::to_value(key.public_jwk().expect("asymmetric")).expect("JSON")
}

/// The IdP: `GET /jwks.json` (counted; 503 while "down"; `Cache-Control:
/// max-age=300` unless changed), `GET /.well-known/openid-configuration`,
/// and `GET /moved` (counted), a 302 to wherever `redirect_to` says.
pub(crate) struct Idp {
    addr: std::net::SocketAddr,
    state: Arc<IdpState>,
    _runtime: tokio::runtime::Runtime,
}

#[derive(Default)]
struct IdpState {
    keys: Mutex<Vec<Value>>,
    fetches: AtomicUsize,
    down: AtomicBool,
    issuer: Mutex<String>,
    /// `Cache-Control` of the JWKS; `None`: `public, max-age=300`.
    cache_control: Mutex<Option<String>>,
    redirect_to: Mutex<String>,
    redirects: AtomicUsize,
}

async fn serve_jwks(State(state): State<Arc<IdpState>>) -> axum::response::Response {
    state.fetches.fetch_add(1, Ordering::SeqCst);
    if state.down.load(Ordering::SeqCst) {
        return (axum::http::StatusCode::SERVICE_UNAVAILABLE, "down").into_response();
    }
    let keys = state.keys.lock().expect("keys").clone();
    let cache_control =
        state.cache_control.lock().expect("cache-control").clone().unwrap_or("public, max-age=300".into());
    ([("cache-control", cache_control)], axum::Json(json!({ "keys": keys }))).into_response()
}

async fn serve_moved(State(state): State<Arc<IdpState>>) -> axum::response::Response {
    state.redirects.fetch_add(1, Ordering::SeqCst);
    let to = state.redirect_to.lock().expect("redirect").clone();
    (axum::http::StatusCode::FOUND, [("location", to)]).into_response()
}

async fn serve_discovery(State(state): State<Arc<IdpState>>) -> axum::Json<Value> {
    let issuer = state.issuer.lock().expect("issuer").clone();
    axum::Json(json!({"issuer": issuer, "jwks_uri": format!("{issuer}jwks.json")}))
}

impl Idp {
    pub(crate) fn start(keys: Vec<Value>) -> Self {
        let runtime =
            tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("rt");
        let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).expect("bind");
        let addr = listener.local_addr().expect("addr");
        let state = Arc::new(IdpState { keys: Mutex::new(keys), ..IdpState::default() });
        *state.issuer.lock().expect("issuer") = format!("http://{addr}/");
        let app = axum::Router::new()
            .route("/jwks.json", axum::routing::get(serve_jwks))
            .route("/.well-known/openid-configuration", axum::routing::get(serve_discovery))
            .route("/moved", axum::routing::get(serve_moved))
            .with_state(state.clone());
        runtime.spawn(async move { axum::serve(listener, app).await });
        Self { addr, state, _runtime: runtime }
    }

    pub(crate) fn issuer(&self) -> String {
        format!("http://{}/", self.addr)
    }

    fn fetches(&self) -> usize {
        self.state.fetches.load(Ordering::SeqCst)
    }

    fn publish(&self, keys: Vec<Value>) {
        *self.state.keys.lock().expect("keys") = keys;
    }
}

fn now() -> i64 {
    auth_core::now()
}

/// An IdP access token: `claims` over the defaults (issuer, audience,
/// Alice, valid for an hour); header `typ: JWT`, as Auth0 sends them.
pub(crate) fn idp_token(idp: &Idp, key: &IdpKey, claims: Value) -> String {
    idp_token_typed(idp, key, "JWT", claims)
}

/// [`idp_token`] with another header `typ`.
fn idp_token_typed(idp: &Idp, key: &IdpKey, typ: &str, claims: Value) -> String {
    let mut body =
        json!({"iss": idp.issuer(), "aud": AUDIENCE, "sub": ALICE, "iat": now(), "exp": now() + 3600});
    for (k, v) in claims.as_object().expect("object") {
        body[k] = v.clone();
    }
    let mut header = Header::new(key.alg);
    header.kid = Some(key.kid.clone());
    header.typ = Some(typ.to_owned());
    jsonwebtoken::encode(&header, &body, &key.signer).expect("sign")
}

/// The `kid` of the RSA key the IdP publishes without `alg`.
const ENTRA_KID: &str = "entra-1";

/// An RSA JWK as Microsoft Entra ID publishes its keys: no `alg`, with
/// `x5t`, `x5c` and `issuer` members.
fn entra_jwk() -> Value {
    let mut jwk = public_jwk(ENTRA_KID, auth_core::Algorithm::RS256, "rsa_public.pem");
    let object = jwk.as_object_mut().expect("object");
    object.remove("alg");
    object.insert("x5t".into(), json!("bm90LWEtcmVhbC10aHVtYnByaW50"));
    object.insert("x5c".into(), json!(["MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA"]));
    object.insert("issuer".into(), json!("https://login.microsoftonline.com/{tenantid}/v2.0"));
    jwk
}

/// A token signed with the RSA key of [`entra_jwk`] under `alg`.
fn entra_token(idp: &Idp, alg: jsonwebtoken::Algorithm) -> String {
    let pem = testdata("../auth-core/testdata/rsa_private.pem");
    let key = IdpKey {
        kid: ENTRA_KID.into(),
        alg,
        jwk: Value::Null,
        signer: EncodingKey::from_rsa_pem(&pem).expect("RSA PEM"),
    };
    idp_token(idp, &key, json!({}))
}

/// A token with any header: `header` and `claims` as JSON, signed by
/// `sign` over `header.payload` (HS256 with a chosen secret, say).
fn forged(header: Value, claims: Value, sign: impl Fn(&[u8]) -> Vec<u8>) -> String {
    let b64 = |v: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
    let signing_input =
        format!("{}.{}", b64(header.to_string().as_bytes()), b64(claims.to_string().as_bytes()));
    let signature = sign(signing_input.as_bytes());
    format!("{signing_input}.{}", b64(&signature))
}

fn hs256(secret: &[u8], input: &[u8]) -> Vec<u8> {
    use hmac::Mac as _;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret).expect("any key length");
    mac.update(input);
    mac.finalize().into_bytes().to_vec()
}

fn demo_config(idp: &Idp, extra: &[&str]) -> DemoConfig {
    demo_config_for(&idp.issuer(), AUDIENCE, &format!("{}jwks.json", idp.issuer()), ALICE, extra)
}

/// The datarhei demo taking IdP logins of `user` from `issuer`, whose keys
/// are at `jwks`.
fn demo_config_for(issuer: &str, audience: &str, jwks: &str, user: &str, extra: &[&str]) -> DemoConfig {
    let mut args = demo_args("datarhei");
    args.extend(
        ["--idp-issuer", issuer, "--idp-audience", audience, "--idp-jwks", jwks, "--idp-user", user]
            .iter()
            .map(|s| (*s).to_owned()),
    );
    args.extend(extra.iter().map(|s| (*s).to_owned()));
    DemoConfig::try_parse_from(args).expect("demo flags")
}

pub(crate) async fn send(client: &Client, method: &'static str, path: &str, bearer: Option<&str>) -> Res {
    let headers = bearer.map(|t| ("authorization", format!("Bearer {t}"))).into_iter().collect();
    client(Req { method, path: path.to_owned(), headers, body: Vec::new(), peer: None }).await
}

pub(crate) fn claims_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("a JWT");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).expect("base64url");
    serde_json::from_slice(&bytes).expect("JSON claims")
}

/// Asserts a refused IdP login: 401, the Bearer challenge naming the
/// reason, and datarhei's envelope with that reason.
pub(crate) fn assert_refused(what: &str, res: &Res, reason: &str) {
    assert_eq!(res.status, 401, "{what}: {}", String::from_utf8_lossy(&res.body));
    assert_eq!(
        res.header("www-authenticate"),
        Some(
            format!("Bearer realm=\"api\", error=\"invalid_token\", error_description=\"{reason}\"").as_str()
        ),
        "{what}"
    );
    assert_eq!(json_of(res), json!({"code": 401, "message": "Unauthorized", "details": [reason]}), "{what}");
}

/// The whole IdP story against one framework's app.
async fn idp_story(framework: &str, client: Client, idp: &Idp, a: &IdpKey, b: &IdpKey) {
    let fw = framework;
    // Discovery as datarhei's clients do it: GET /api, with or without a token.
    let about = send(&client, "GET", "/api", None).await;
    assert_eq!(about.status, 200, "{fw}");
    let domain = idp.issuer().trim_start_matches("http://").trim_end_matches('/').to_owned();
    assert_eq!(
        json_of(&about),
        json!({
            "app": "datarhei-core",
            "auths": ["localjwt", format!("auth0 domain={domain} audience={AUDIENCE} clientid=")],
            "version": {"number": "16.0.0"},
        }),
        "{fw}"
    );

    // IdP token in, the Core's own pair out.
    let login = send(&client, "POST", "/api/login", Some(&idp_token(idp, a, json!({})))).await;
    assert_eq!(login.status, 200, "{fw}: {}", String::from_utf8_lossy(&login.body));
    let pair = json_of(&login);
    let access = pair["access_token"].as_str().expect("access_token").to_owned();
    let refresh = pair["refresh_token"].as_str().expect("refresh_token").to_owned();
    // The subject here is the IdP's, namespaced by its issuer.
    let alice = auth_core::ExternalSubject::new(idp.issuer(), ALICE).principal_id();
    assert_eq!(claims_of(&access)["sub"], alice, "{fw}");
    assert_eq!(claims_of(&access)["iss"], "datarhei-core", "{fw}");
    assert_eq!(claims_of(&access)["usefor"], "access", "{fw}");

    // The pair works: protected route, full about, refresh.
    let whoami = send(&client, "GET", "/whoami", Some(&access)).await;
    assert_eq!((whoami.status, json_of(&whoami)["sub"].clone()), (200, json!(alice)), "{fw}");
    let full = json_of(&send(&client, "GET", "/api", Some(&access)).await);
    assert_eq!(full["version"]["number"], "16.16.0", "{fw}");
    assert!(full["uptime_seconds"].is_u64() && full["id"].is_string(), "{fw}: {full}");
    let refreshed = send(&client, "GET", "/api/login/refresh", Some(&refresh)).await;
    assert_eq!(refreshed.status, 200, "{fw}");
    let access2 = json_of(&refreshed)["access_token"].as_str().expect("access_token").to_owned();
    let whoami = send(&client, "GET", "/whoami", Some(&access2)).await;
    assert_eq!((whoami.status, json_of(&whoami)["sub"].clone()), (200, json!(alice)), "{fw}");

    // Access tokens typed as RFC 9068 says, and tokens of an RSA key
    // published without `alg` (Entra ID's): RS256 and PS256 both fit it.
    use jsonwebtoken::Algorithm::{PS256, RS256, RS384};
    for (what, token) in [
        ("typ at+jwt", idp_token_typed(idp, a, "at+jwt", json!({}))),
        ("RS256, key published without alg", entra_token(idp, RS256)),
        ("PS256, key published without alg", entra_token(idp, PS256)),
    ] {
        let res = send(&client, "POST", "/api/login", Some(&token)).await;
        assert_eq!(res.status, 200, "{fw}: {what}: {}", String::from_utf8_lossy(&res.body));
    }

    // Refusals, each with its exact answer.
    let rsa_public_pem = testdata("../auth-core/testdata/rsa_public.pem");
    let not_usable = "the token is not usable here";
    let refusals: Vec<(&str, String, &str)> = vec![
        (
            "wrong audience",
            idp_token(idp, a, json!({"aud": "https://other.example/api"})),
            "the token's audience is not accepted",
        ),
        (
            "wrong issuer",
            idp_token(idp, a, json!({"iss": "https://evil.example/"})),
            "the token's issuer is not accepted",
        ),
        (
            "unknown kid",
            idp_token(idp, &IdpKey { kid: "no-such-key".into(), ..idp_key("testdata/idp_a.pem") }, json!({})),
            "the token's key is unknown",
        ),
        (
            "subject not allowed",
            idp_token(idp, a, json!({"sub": "auth0|mallory"})),
            "the token's subject is not allowed to log in here",
        ),
        (
            "expired",
            idp_token(idp, a, json!({"iat": now() - 600, "exp": now() - 1})),
            "the token has expired",
        ),
        ("not yet valid", idp_token(idp, a, json!({"nbf": now() + 600})), "the token is not valid yet"),
        (
            // An EdDSA key's kid on an ES256 token.
            "alg does not match the JWK",
            idp_token(idp, &IdpKey { kid: "ed-1".into(), ..idp_key("testdata/idp_a.pem") }, json!({})),
            "the token's algorithm is not allowed",
        ),
        (
            // The classic confusion: HS256 keyed with the published RSA key.
            "HS256 with the RSA public key as secret",
            forged(
                json!({"alg": "HS256", "typ": "JWT", "kid": "rsa-1"}),
                json!({"iss": idp.issuer(), "aud": AUDIENCE, "sub": ALICE, "iat": now(), "exp": now() + 3600}),
                |input| hs256(&rsa_public_pem, input),
            ),
            "the token's algorithm is not allowed",
        ),
        (
            "signature by another key",
            idp_token(idp, &IdpKey { kid: a.kid.clone(), ..idp_key("testdata/idp_b.pem") }, json!({})),
            "the token's signature is invalid",
        ),
        // Not access tokens: refresh tokens in each spelling and typed so,
        // and ID tokens whose audience overlaps ours.
        ("refresh token (token_use)", idp_token(idp, a, json!({"token_use": "refresh"})), not_usable),
        ("refresh token (usefor)", idp_token(idp, a, json!({"usefor": "refresh"})), not_usable),
        ("refresh token (token_type)", idp_token(idp, a, json!({"token_type": "refresh"})), not_usable),
        (
            "refresh token typed rt+jwt",
            idp_token_typed(idp, a, "rt+jwt", json!({})),
            "the token's type is not accepted",
        ),
        (
            "ID token, audience overlapping ours, with nonce",
            idp_token(
                idp,
                a,
                json!({"aud": [AUDIENCE, "spa-client"], "azp": "spa-client", "nonce": "n-0S6_WzA2Mj", "auth_time": now()}),
            ),
            not_usable,
        ),
        (
            "ID token, audience overlapping ours, with at_hash",
            idp_token(idp, a, json!({"aud": [AUDIENCE, "spa-client"], "at_hash": "77QmUPtjPfzWtF2AnpK9RQ"})),
            not_usable,
        ),
        (
            "ID token typed id_token+jwt",
            idp_token_typed(idp, a, "id_token+jwt", json!({})),
            "the token's type is not accepted",
        ),
        // A key published without `alg` fits only the issuer's algorithms.
        ("RS384, key published without alg", entra_token(idp, RS384), "the token's algorithm is not allowed"),
        (
            "HS256 with the alg-less RSA key as secret",
            forged(
                json!({"alg": "HS256", "typ": "JWT", "kid": ENTRA_KID}),
                json!({"iss": idp.issuer(), "aud": AUDIENCE, "sub": ALICE, "iat": now(), "exp": now() + 3600}),
                |input| hs256(&rsa_public_pem, input),
            ),
            "the token's algorithm is not allowed",
        ),
    ];
    for (what, token, reason) in &refusals {
        let res = send(&client, "POST", "/api/login", Some(token)).await;
        assert_refused(&format!("{fw}: {what}"), &res, reason);
    }

    // Rotation at the IdP: B replaces A. After the kid cooldown (1 s
    // here), a token signed by B is accepted without a restart; A's are not.
    idp.publish(vec![b.jwk.clone(), public_jwk("ed-1", auth_core::Algorithm::EdDSA, "ed_public.pem")]);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let rotated = send(&client, "POST", "/api/login", Some(&idp_token(idp, b, json!({})))).await;
    assert_eq!(rotated.status, 200, "{fw}: after rotation: {}", String::from_utf8_lossy(&rotated.body));
    let old = send(&client, "POST", "/api/login", Some(&idp_token(idp, a, json!({})))).await;
    assert_refused(&format!("{fw}: a key rotated out"), &old, "the token's key is unknown");

    // The provider goes down: logins whose key is cached go on.
    idp.state.down.store(true, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let bogus = send(
        &client,
        "POST",
        "/api/login",
        Some(&idp_token(idp, &IdpKey { kid: "new?".into(), ..idp_key("testdata/idp_b.pem") }, json!({}))),
    )
    .await;
    assert_refused(&format!("{fw}: unknown kid while down"), &bogus, "the token's key is unknown");
    let cached = send(&client, "POST", "/api/login", Some(&idp_token(idp, b, json!({})))).await;
    assert_eq!(cached.status, 200, "{fw}: provider down, key cached");
    idp.state.down.store(false, Ordering::SeqCst);
}

fn keys_before_rotation(a: &IdpKey) -> Vec<Value> {
    vec![
        a.jwk.clone(),
        public_jwk("ed-1", auth_core::Algorithm::EdDSA, "ed_public.pem"),
        public_jwk("rsa-1", auth_core::Algorithm::RS256, "rsa_public.pem"),
        entra_jwk(),
    ]
}

#[test]
fn idp_login_rotation_and_refusals_on_both_frameworks() {
    let (a, b) = (idp_key("testdata/idp_a.pem"), idp_key("testdata/idp_b.pem"));
    let extra = ["--idp-kid-cooldown", "1s"];

    let idp = Idp::start(keys_before_rotation(&a));
    let config = demo_config(&idp, &extra);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    rt.block_on(async {
        let demo = Demo::new(&config).await.expect("demo");
        idp_story("axum", axum_client(&demo), &idp, &a, &b).await;
    });

    let idp = Idp::start(keys_before_rotation(&a));
    let config = demo_config(&idp, &extra);
    actix_rt::System::new().block_on(async {
        let demo = Demo::new(&config).await.expect("demo");
        idp_story("actix", actix_client(&demo).await, &idp, &a, &b).await;
    });
}

/// 1,000 tokens with made-up `kid`s: each refused, and the provider sees
/// at most a handful of fetches (the start-up fetch and one refetch per
/// 30 s cooldown).
async fn bogus_kids(framework: &str, client: Client, idp: &Idp) {
    let template = idp_key("testdata/idp_a.pem");
    let before = idp.fetches();
    for i in 0..1000 {
        let key =
            IdpKey { kid: format!("bogus-{i}-{}", rand::random::<u64>()), ..idp_key("testdata/idp_a.pem") };
        let res = send(&client, "POST", "/api/login", Some(&idp_token(idp, &key, json!({})))).await;
        if i % 100 == 0 {
            assert_refused(&format!("{framework}: bogus kid {i}"), &res, "the token's key is unknown");
        } else {
            assert_eq!(res.status, 401, "{framework}: bogus kid {i}");
        }
    }
    let during = idp.fetches() - before;
    assert!(during <= 1, "{framework}: 1000 bogus kids caused {during} JWKS fetches");
    // and the real key still logs in
    let ok = send(&client, "POST", "/api/login", Some(&idp_token(idp, &template, json!({})))).await;
    assert_eq!(ok.status, 200, "{framework}");
}

#[test]
fn bogus_kids_cost_at_most_a_handful_of_fetches() {
    let a = idp_key("testdata/idp_a.pem");
    let idp = Idp::start(keys_before_rotation(&a));
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    rt.block_on(async {
        let demo = Demo::new(&demo_config(&idp, &[])).await.expect("demo");
        assert_eq!(idp.fetches(), 1, "the start-up fetch");
        bogus_kids("axum", axum_client(&demo), &idp).await;
    });
    let idp = Idp::start(keys_before_rotation(&a));
    actix_rt::System::new().block_on(async {
        let demo = Demo::new(&demo_config(&idp, &[])).await.expect("demo");
        bogus_kids("actix", actix_client(&demo).await, &idp).await;
    });
}

#[test]
fn discovery_finds_the_jwks_and_a_provider_down_at_start_is_503_not_a_login() {
    let a = idp_key("testdata/idp_a.pem");
    let idp = Idp::start(keys_before_rotation(&a));
    let issuer = idp.issuer();
    let mut args = demo_args("datarhei");
    args.extend(
        ["--idp-issuer", &issuer, "--idp-audience", AUDIENCE, "--idp-user", ALICE].map(str::to_owned),
    );
    let config = DemoConfig::try_parse_from(args).expect("flags");
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    rt.block_on(async {
        let demo = Demo::new(&config).await.expect("demo");
        let client = axum_client(&demo);
        let res = send(&client, "POST", "/api/login", Some(&idp_token(&idp, &a, json!({})))).await;
        assert_eq!(res.status, 200, "via discovery: {}", String::from_utf8_lossy(&res.body));
    });
    // A provider that was never reachable: no keys, so no IdP login (503), never a pass.
    let down = Idp::start(keys_before_rotation(&a));
    down.state.down.store(true, Ordering::SeqCst);
    let config = demo_config(&down, &[]);
    actix_rt::System::new().block_on(async {
        let demo = Demo::new(&config).await.expect("demo");
        let client = actix_client(&demo).await;
        let res = send(&client, "POST", "/api/login", Some(&idp_token(&down, &a, json!({})))).await;
        assert_eq!(res.status, 503);
        assert_eq!(res.header("retry-after"), Some("1"));
        assert_eq!(json_of(&res)["code"], 503);
    });
}

#[test]
fn a_demo_token_is_verified_elsewhere_from_the_jwks_url_alone() {
    let server = crate::tcp::start_with(
        "standard",
        "axum",
        &["--signing-key", concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/demo_es256.pem")],
    );
    let base = format!("http://{}", server.addr);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let (token, jwks) = rt.block_on(async {
        let login = alice_login();
        let res = crate::tcp::send(server.addr, login).await;
        assert_eq!(res.status, 200);
        let token = json_of(&res)["access_token"].as_str().expect("token").to_owned();
        let jwks = crate::tcp::send(
            server.addr,
            Req {
                method: "GET",
                path: "/.well-known/jwks.json".into(),
                headers: vec![],
                body: vec![],
                peer: None,
            },
        )
        .await;
        (token, jwks)
    });
    // Public keys only: no private or secret members.
    assert_eq!(jwks.header("cache-control"), Some("public, max-age=300"));
    let set = json_of(&jwks);
    let key = &set["keys"][0];
    assert_eq!(
        (key["kty"].as_str(), key["alg"].as_str(), key["use"].as_str()),
        (Some("EC"), Some("ES256"), Some("sig"))
    );
    for secret in ["d", "k", "p", "q"] {
        assert!(key.get(secret).is_none(), "a private member `{secret}` was published");
    }
    let header = jsonwebtoken::decode_header(&token).expect("header");
    assert_eq!((header.alg, header.kid.as_deref()), (jsonwebtoken::Algorithm::ES256, key["kid"].as_str()));

    let checker = crate::tcp::example_binary("jwks_check");
    let url = format!("{base}/.well-known/jwks.json");
    let out = std::process::Command::new(&checker)
        .args(["--jwks-url", &url, "--token", &token])
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let claims: Value = serde_json::from_slice(&out.stdout).expect("claims on stdout");
    assert_eq!(claims["username"], "alice");
    // and it is a real check: a token with another signature fails there
    let mut parts: Vec<&str> = token.split('.').collect();
    let other = forged(json!({"alg": "ES256", "kid": key["kid"]}), claims_of(&token), |_| vec![7u8; 64]);
    parts[2] = other.split('.').nth(2).expect("signature");
    let tampered = parts.join(".");
    let out = std::process::Command::new(&checker)
        .args(["--jwks-url", &url, "--token", &tampered])
        .output()
        .expect("runs");
    assert!(!out.status.success());
}

#[test]
fn both_frameworks_publish_the_same_key_set() {
    let key = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/demo_es256.pem");
    let retired = concat!(env!("CARGO_MANIFEST_DIR"), "/../auth-core/testdata/ed_private.pem");
    let mut args = demo_args("standard");
    args.extend(["--signing-key", key, "--signing-key", retired].map(str::to_owned));
    let config = DemoConfig::try_parse_from(args).expect("flags");
    let get = |client: Client| async move {
        let req = |method| Req {
            method,
            path: "/.well-known/jwks.json".into(),
            headers: vec![],
            body: vec![],
            peer: None,
        };
        (client(req("GET")).await, client(req("POST")).await)
    };
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let (axum_get, axum_post) =
        rt.block_on(async { get(axum_client(&Demo::new(&config).await.expect("demo"))).await });
    let (actix_get, actix_post) = actix_rt::System::new()
        .block_on(async { get(actix_client(&Demo::new(&config).await.expect("demo")).await).await });
    for (fw, res) in [("axum", &axum_get), ("actix", &actix_get)] {
        assert_eq!(res.status, 200, "{fw}");
        assert_eq!(res.header("cache-control"), Some("public, max-age=300"), "{fw}");
        assert_eq!(res.header("pragma"), None, "{fw}");
        let algs: Vec<Value> =
            json_of(res)["keys"].as_array().expect("keys").iter().map(|k| k["alg"].clone()).collect();
        assert_eq!(algs, [json!("ES256"), json!("EdDSA")], "{fw}: newest (signing) key first");
    }
    assert_eq!(json_of(&axum_get), json_of(&actix_get));
    assert_eq!((axum_post.status, actix_post.status), (405, 405));
    assert_eq!(axum_post.header("allow"), Some("GET"));
    assert_eq!(actix_post.header("allow"), Some("GET"));
}

/// The standard dialect, opted in with `AuthorityBuilder::external_identity`:
/// an IdP token as Bearer with no body logs in; passwords still work.
async fn standard_idp_story(fw: &str, client: Client, idp: &Idp, a: &IdpKey) {
    let login = |bearer: Option<String>, body: &'static [u8]| {
        let mut headers = vec![("content-type", "application/json".to_owned())];
        headers.extend(bearer.map(|t| ("authorization", format!("Bearer {t}"))));
        client(Req { method: "POST", path: "/auth/login".into(), headers, body: body.to_vec(), peer: None })
    };
    let res = login(Some(idp_token(idp, a, json!({}))), b"").await;
    assert_eq!(res.status, 200, "{fw}: {}", String::from_utf8_lossy(&res.body));
    let body = json_of(&res);
    assert_eq!(body["token_type"], "Bearer", "{fw}");
    let alice = auth_core::ExternalSubject::new(idp.issuer(), ALICE).principal_id();
    assert_eq!(claims_of(body["access_token"].as_str().expect("access_token"))["sub"], alice, "{fw}");
    let res = login(Some(idp_token(idp, a, json!({"sub": "auth0|mallory"}))), b"").await;
    assert_eq!(res.status, 401, "{fw}");
    let reason = "the token's subject is not allowed to log in here";
    assert_eq!(json_of(&res), json!({"error": "invalid_token", "error_description": reason}), "{fw}");
    assert_eq!(
        res.header("www-authenticate"),
        Some(
            format!("Bearer realm=\"api\", error=\"invalid_token\", error_description=\"{reason}\"").as_str()
        ),
        "{fw}"
    );
    let res = login(None, br#"{"username":"alice","password":"alice-pw"}"#).await;
    assert_eq!(res.status, 200, "{fw}: password logins still work");
}

fn standard_with_idp(idp: &Idp) -> auth_core::RouteSet {
    standard_with_idp_options(idp, auth_core::jwks::JwksOptions::default())
}

fn standard_with_idp_options(idp: &Idp, options: auth_core::jwks::JwksOptions) -> auth_core::RouteSet {
    use auth_core::jwks::{IssuerConfig, JwksVerifier};
    let tenant = IssuerConfig::new(idp.issuer(), AUDIENCE)
        .jwks_url(format!("{}jwks.json", idp.issuer()))
        .allow_subjects([ALICE]);
    let verifier = JwksVerifier::new(vec![tenant], options).expect("verifier");
    let keys = auth_core::KeySet::new(auth_core::JwtKey::hs256("k", &[9u8; 32]).expect("key")).expect("keys");
    let users = auth_core::MemoryUsers::new()
        .with_user(auth_core::Principal::new("u-alice", "alice"), "alice-pw")
        .expect("user");
    // The IdP's Alice is a user of her own here (never the local alice).
    let alice = auth_core::ExternalSubject::new(idp.issuer(), ALICE);
    users.add_external(auth_core::Principal::new(alice.principal_id(), ALICE));
    let authority = auth_core::Authority::builder(keys).users(users).external_identity(verifier).build();
    auth_core::RouteSet::new(authority, auth_core::Standard).at("/auth")
}

#[test]
fn the_standard_dialect_takes_idp_logins_when_opted_in() {
    let a = idp_key("testdata/idp_a.pem");
    let idp = Idp::start(keys_before_rotation(&a));
    let routes = standard_with_idp(&idp);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    rt.block_on(async {
        let router = axum::Router::new().fallback_service(auth_tower::AuthRoutes::new(routes.clone()));
        standard_idp_story("axum", crate::harness::router_client(router), &idp, &a).await;
    });
    actix_rt::System::new().block_on(async {
        let routes = routes.clone();
        let client = crate::harness::configured_client(move |cfg| {
            cfg.default_service(auth_actix::service(routes));
        })
        .await;
        standard_idp_story("actix", client, &idp, &a).await;
    });
}

#[test]
fn a_plain_http_jwks_url_to_another_host_is_refused_when_the_verifier_is_built() {
    use auth_core::jwks::{IssuerConfig, JwksError, JwksOptions, JwksVerifier};
    let url = "http://idp.invalid/jwks.json";
    let tenant = IssuerConfig::new("https://idp.invalid/", AUDIENCE).jwks_url(url);
    match JwksVerifier::new(vec![tenant.clone()], JwksOptions::default()) {
        Err(JwksError::Config(message)) => {
            assert!(message.contains(url), "{message}");
            assert!(message.contains("https") && message.contains("loopback"), "{message}");
        }
        other => panic!("built with {url}: {other:?}"),
    }
    // Discovery from a plain-http issuer is the same fetch.
    let discovery = IssuerConfig::new("http://idp.invalid/", AUDIENCE);
    assert!(matches!(JwksVerifier::new(vec![discovery], JwksOptions::default()), Err(JwksError::Config(_))));
    // The demo does not start with it, and says why.
    let config = demo_config_for("https://idp.invalid/", AUDIENCE, url, ALICE, &[]);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    match rt.block_on(Demo::new(&config)) {
        Err(message) => assert!(message.contains(url), "{message}"),
        Ok(_) => panic!("the demo started with {url}"),
    }
    // Opted in, it builds (and logs a warning).
    let options = JwksOptions { allow_insecure_http: true, ..JwksOptions::default() };
    assert!(JwksVerifier::new(vec![tenant], options).is_ok());
}

/// The IdP's JWKS URL redirects to plain http on another host: nothing
/// is fetched, so no IdP login (503), never a pass.
async fn refused_redirect(fw: &str, client: Client, idp: &Idp, a: &IdpKey) {
    let res = send(&client, "POST", "/api/login", Some(&idp_token(idp, a, json!({})))).await;
    assert_eq!(res.status, 503, "{fw}: {}", String::from_utf8_lossy(&res.body));
    assert_eq!(res.header("retry-after"), Some("1"), "{fw}");
    assert_eq!(json_of(&res)["code"], 503, "{fw}");
    assert!(idp.state.redirects.load(Ordering::SeqCst) >= 1, "{fw}: the redirect was asked for");
    assert_eq!(idp.fetches(), 0, "{fw}: no key set was fetched");
}

#[test]
fn a_jwks_url_redirecting_to_plain_http_elsewhere_yields_no_keys() {
    let a = idp_key("testdata/idp_a.pem");
    let start = |redirect_to: &dyn Fn(&Idp) -> String| {
        let idp = Idp::start(keys_before_rotation(&a));
        *idp.state.redirect_to.lock().expect("redirect") = redirect_to(&idp);
        let config = demo_config_for(&idp.issuer(), AUDIENCE, &format!("{}moved", idp.issuer()), ALICE, &[]);
        (idp, config)
    };
    let elsewhere = |_: &Idp| "http://idp.invalid/jwks.json".to_owned();
    let (idp, config) = start(&elsewhere);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let logged = crate::harness::Capture::default();
    let guard = logged.capture();
    rt.block_on(async {
        let demo = Demo::new(&config).await.expect("demo");
        refused_redirect("axum", axum_client(&demo), &idp, &a).await;
    });
    drop(guard);
    // refused by the policy, not merely failing to reach a host that never resolves
    let text = logged.text();
    assert!(text.contains("redirect refused") && text.contains("http://idp.invalid/jwks.json"), "{text}");
    let (idp, config) = start(&elsewhere);
    actix_rt::System::new().block_on(async {
        let demo = Demo::new(&config).await.expect("demo");
        refused_redirect("actix", actix_client(&demo).await, &idp, &a).await;
    });
    // From loopback http to loopback http, the redirect is followed.
    let (idp, config) = start(&|idp: &Idp| format!("{}jwks.json", idp.issuer()));
    rt.block_on(async {
        let demo = Demo::new(&config).await.expect("demo");
        let res =
            send(&axum_client(&demo), "POST", "/api/login", Some(&idp_token(&idp, &a, json!({})))).await;
        assert_eq!(res.status, 200, "{}", String::from_utf8_lossy(&res.body));
        assert_eq!((idp.state.redirects.load(Ordering::SeqCst), idp.fetches()), (1, 1));
    });
}

#[test]
fn options_that_cannot_work_are_refused_and_the_largest_never_panic() {
    use auth_core::jwks::{IssuerConfig, JwksError, JwksOptions, JwksVerifier};
    let a = idp_key("testdata/idp_a.pem");
    let idp = Idp::start(keys_before_rotation(&a));
    let tenant = IssuerConfig::new(idp.issuer(), AUDIENCE).jwks_url(format!("{}jwks.json", idp.issuer()));
    let crossed = JwksOptions {
        min_max_age: Duration::from_secs(3600),
        max_max_age: Duration::from_secs(60),
        ..JwksOptions::default()
    };
    match JwksVerifier::new(vec![tenant], crossed) {
        Err(JwksError::Config(message)) => {
            assert!(message.contains("min_max_age") && message.contains("max_max_age"), "{message}")
        }
        other => panic!("built: {other:?}"),
    }
    assert_eq!(idp.fetches(), 0);

    // Every duration as long as it gets. The key set (max-age 1 s) goes
    // stale while the provider is down: `max-age + max_stale` saturates
    // and the stale set keeps logging in, on both frameworks.
    let huge = || JwksOptions {
        default_max_age: Duration::MAX,
        min_max_age: Duration::from_secs(1),
        max_max_age: Duration::MAX,
        unknown_kid_cooldown: Duration::MAX,
        retry_after_failure: Duration::ZERO,
        max_stale: Duration::MAX,
        connect_timeout: Duration::MAX,
        timeout: Duration::MAX,
        ..JwksOptions::default()
    };
    let login = |client: Client| {
        let token = idp_token(&idp, &a, json!({}));
        async move {
            let mut headers = vec![("content-type", "application/json".to_owned())];
            headers.push(("authorization", format!("Bearer {token}")));
            client(Req { method: "POST", path: "/auth/login".into(), headers, body: vec![], peer: None })
                .await
        }
    };
    *idp.state.cache_control.lock().expect("cache-control") = Some("max-age=1".into());
    let routes = standard_with_idp_options(&idp, huge());
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    rt.block_on(async {
        let client = crate::harness::router_client(
            axum::Router::new().fallback_service(auth_tower::AuthRoutes::new(routes.clone())),
        );
        assert_eq!(login(client.clone()).await.status, 200, "axum");
        idp.state.down.store(true, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(1100)).await; // the set is stale now
        let stale = login(client).await;
        assert_eq!(stale.status, 200, "axum, stale keys: {}", String::from_utf8_lossy(&stale.body));
        idp.state.down.store(false, Ordering::SeqCst);
    });
    let fetched = idp.fetches();
    assert!(fetched >= 2, "the stale set was fetched again ({fetched})");
    let routes = standard_with_idp_options(&idp, huge());
    actix_rt::System::new().block_on(async {
        let client = crate::harness::configured_client(move |cfg| {
            cfg.default_service(auth_actix::service(routes));
        })
        .await;
        assert_eq!(login(client.clone()).await.status, 200, "actix");
        idp.state.down.store(true, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let stale = login(client).await;
        assert_eq!(stale.status, 200, "actix, stale keys: {}", String::from_utf8_lossy(&stale.body));
    });
}

/// The audience of the service whose keys another one trusts.
const OUR_AUDIENCE: &str = "https://tokens.example/api";

/// Our own service on 127.0.0.1: the standard dialect at `/auth`, signing
/// with the demo's ES256 key (`--signing-key testdata/demo_es256.pem`)
/// and writing `iss` (its URL) and `aud`, and its public keys at
/// `/.well-known/jwks.json`.
struct Publisher {
    addr: std::net::SocketAddr,
    _runtime: tokio::runtime::Runtime,
}

impl Publisher {
    fn start() -> Self {
        use auth_core::Dialect as _;
        let runtime =
            tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("rt");
        let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).expect("bind");
        let addr = listener.local_addr().expect("addr");
        let pem = std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/demo_es256.pem"));
        let key = demo_app::load_signing_key(&pem).expect("the demo's key");
        let keys = auth_core::KeySet::new(key).expect("keys");
        let mut config = auth_core::Standard.default_config();
        config.validation =
            config.validation.with_issuer(format!("http://{addr}/")).with_audience(OUR_AUDIENCE);
        let users = auth_core::MemoryUsers::new()
            .with_user(auth_core::Principal::new("u-alice", "alice"), "alice-pw")
            .expect("user");
        let authority = auth_core::Authority::builder(keys).users(users).config(config).build();
        let jwks = auth_core::RouteSet::new(authority.clone(), auth_core::dialects::Jwks);
        let routes = auth_core::RouteSet::new(authority, auth_core::Standard).at("/auth");
        let app = axum::Router::new()
            .route_service(demo_app::JWKS_PATH, auth_tower::AuthRoutes::new(jwks))
            .fallback_service(auth_tower::AuthRoutes::new(routes));
        runtime.spawn(async move { axum::serve(listener, app).await });
        Self { addr, _runtime: runtime }
    }

    fn issuer(&self) -> String {
        format!("http://{}/", self.addr)
    }

    fn jwks_url(&self) -> String {
        format!("{}.well-known/jwks.json", self.issuer())
    }
}

#[test]
fn our_refresh_token_is_no_access_token_where_our_published_keys_are_trusted() {
    let ours = Publisher::start();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let pair = rt.block_on(async {
        let login = alice_login();
        let res = crate::tcp::send(ours.addr, login).await;
        assert_eq!(res.status, 200, "{}", String::from_utf8_lossy(&res.body));
        json_of(&res)
    });
    let access = pair["access_token"].as_str().expect("access_token").to_owned();
    let refresh = pair["refresh_token"].as_str().expect("refresh_token").to_owned();
    assert_eq!(claims_of(&refresh)["token_use"], "refresh");
    assert_eq!(claims_of(&refresh)["aud"], OUR_AUDIENCE, "signed for the same audience as the access token");

    // Another service trusts our keys, from the JWKS URL alone.
    use auth_core::jwks::{IssuerConfig, JwksOptions, JwksVerifier};
    use auth_core::{AuthError, ExternalIdentity as _, ExternalSubject, TokenRejection};
    let tenant = IssuerConfig::new(ours.issuer(), OUR_AUDIENCE).jwks_url(ours.jwks_url());
    let strict = tenant.clone().require_claim("token_use", "access");
    let verifier = JwksVerifier::new(vec![tenant], JwksOptions::default()).expect("verifier");
    let strict = JwksVerifier::new(vec![strict], JwksOptions::default()).expect("verifier");
    rt.block_on(async {
        for v in [&verifier, &strict] {
            assert_eq!(v.verify(&access).await, Ok(ExternalSubject::new(ours.issuer(), "u-alice")));
            assert_eq!(v.verify(&refresh).await, Err(AuthError::InvalidToken(TokenRejection::WrongUse)));
        }
    });

    // The demo as that other service, on both frameworks: the refresh
    // token is refused with the exact answer, the access token logs in.
    let config = demo_config_for(&ours.issuer(), OUR_AUDIENCE, &ours.jwks_url(), "u-alice", &[]);
    let story = |fw: &'static str, client: Client| {
        let (access, refresh) = (access.clone(), refresh.clone());
        async move {
            let res = send(&client, "POST", "/api/login", Some(&refresh)).await;
            assert_refused(&format!("{fw}: our refresh token"), &res, "the token is not usable here");
            let res = send(&client, "POST", "/api/login", Some(&access)).await;
            assert_eq!(res.status, 200, "{fw}: our access token: {}", String::from_utf8_lossy(&res.body));
        }
    };
    rt.block_on(async {
        let demo = Demo::new(&config).await.expect("demo");
        story("axum", axum_client(&demo)).await;
    });
    actix_rt::System::new().block_on(async {
        let demo = Demo::new(&config).await.expect("demo");
        story("actix", actix_client(&demo).await).await;
    });
}

/// The standard dialect's `POST /auth/login` of the tables' alice.
fn alice_login() -> Req {
    Req {
        method: "POST",
        path: "/auth/login".into(),
        headers: vec![("content-type", "application/json".into())],
        body: br#"{"username":"alice","password":"alice-pw"}"#.to_vec(),
        peer: None,
    }
}
