//! [`AuthClientLayer::grpc`] on a real tonic `Channel` over TCP, against a
//! real tonic server behind [`AuthLayer`](crate::AuthLayer), with the
//! standard dialect's HTTP login routes on another port, reached through
//! hyper-util's client ([`AuthClientLayer::with_login_service`]).
//!
//! The service is written by hand (`tonic::server::Grpc` and a prost
//! message without a .proto). Logins and refreshes are counted on the
//! client's login service and by the agent; refusals by the server.
//! Asserts are counts only.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use auth_core::agent::{Agent, AgentEvent, ClientDialect};
use auth_core::{
    AuthGuard, AuthIdentity, Authority, AuthorityConfig, JwtKey, KeySet, MemoryUsers, Principal, RouteSet,
    Standard,
};
use bytes::Bytes;
use futures_util::StreamExt as _;
use http::uri::PathAndQuery;
use http_body_util::Full;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tonic::body::Body;
use tonic::client::Grpc;
use tonic::server::NamedService;
use tonic::transport::Channel;
use tonic::{Code, Status, Streaming};
use tonic_prost::ProstCodec;
use tower::{Layer as _, ServiceBuilder};
use tower_service::Service;

use super::{AuthClient, AuthClientLayer, GrpcBodies};
use crate::{AuthLayer, AuthRoutes};

/// The one message of the test service.
#[derive(Clone, PartialEq, prost::Message)]
struct Say {
    #[prost(string, tag = "1")]
    text: String,
}

const SAY: &str = "/test.Echo/Say";
const COLLECT: &str = "/test.Echo/Collect";

/// `test.Echo`: `Say` (unary) echoes, `Collect` (client streaming) joins
/// the texts it is sent. Keeps the identity of the last call.
#[derive(Clone, Default)]
struct Echo {
    last: Arc<Mutex<Option<AuthIdentity>>>,
}

impl NamedService for Echo {
    const NAME: &'static str = "test.Echo";
}

impl Service<http::Request<Body>> for Echo {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<http::Response<Body>, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<Body>) -> Self::Future {
        if let Some(identity) = req.extensions().get::<AuthIdentity>() {
            *self.last.lock().expect("not poisoned") = Some(identity.clone());
        }
        Box::pin(async move {
            let mut grpc = tonic::server::Grpc::new(ProstCodec::<Say, Say>::default());
            Ok(match req.uri().path() {
                SAY => {
                    let say = tower::service_fn(|call: tonic::Request<Say>| async move {
                        Ok::<_, Status>(tonic::Response::new(Say {
                            text: format!("echo {}", call.into_inner().text),
                        }))
                    });
                    grpc.unary(say, req).await
                }
                COLLECT => {
                    let collect = tower::service_fn(|call: tonic::Request<Streaming<Say>>| async move {
                        let mut stream = call.into_inner();
                        let mut texts = Vec::new();
                        while let Some(say) = stream.message().await? {
                            texts.push(say.text);
                        }
                        Ok::<_, Status>(tonic::Response::new(Say { text: texts.join(",") }))
                    });
                    grpc.client_streaming(collect, req).await
                }
                _ => Status::unimplemented("no such method").into_http(),
            })
        })
    }
}

/// Holds the next `armed` calls until they have all reached the server,
/// so that they were all sent with the same credential.
struct Gate {
    armed: AtomicUsize,
    barrier: tokio::sync::Barrier,
}

impl Gate {
    fn take(&self) -> bool {
        self.armed.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1)).is_ok()
    }
}

/// The server: gRPC on one port, the standard dialect's HTTP routes
/// (`/auth/login`, `/auth/refresh`) on another.
struct Server {
    grpc: SocketAddr,
    http: SocketAddr,
    authority: Authority,
    echo: Echo,
    /// `grpc-status: 16` answers sent.
    refusals: Arc<AtomicUsize>,
    gate: Arc<Gate>,
}

/// Concurrent calls in the single-flight test.
const CONCURRENT: usize = 8;

async fn start(access_ttl: Duration) -> Server {
    let users = MemoryUsers::new().with_user(Principal::new("u-alice", "alice"), "alice-pw").expect("a user");
    let key = JwtKey::hs256("k1", b"grpc-client-test-secret-32-bytes!").expect("key");
    let authority = Authority::builder(KeySet::new(key).expect("a key set"))
        .users(users)
        .config(AuthorityConfig::default().access_ttl(access_ttl).leeway(Duration::ZERO))
        .build();

    let http_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let http = http_listener.local_addr().expect("address");
    let routes = axum::Router::new()
        .nest_service("/auth", AuthRoutes::new(RouteSet::new(authority.clone(), Standard)))
        .into_make_service_with_connect_info::<SocketAddr>();
    tokio::spawn(async move { axum::serve(http_listener, routes).await });

    let grpc_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let grpc = grpc_listener.local_addr().expect("address");
    let refusals = Arc::new(AtomicUsize::new(0));
    let gate = Arc::new(Gate { armed: AtomicUsize::new(0), barrier: tokio::sync::Barrier::new(CONCURRENT) });
    let counted = refusals.clone();
    let held = gate.clone();
    let stack = ServiceBuilder::new()
        .map_response(move |res: http::Response<axum::body::Body>| {
            if res.headers().get("grpc-status").is_some_and(|v| v == "16") {
                counted.fetch_add(1, Ordering::SeqCst);
            }
            res
        })
        .map_future(move |answer| {
            let gate = held.clone();
            async move {
                if gate.take() {
                    gate.barrier.wait().await;
                }
                answer.await
            }
        })
        .layer(AuthLayer::new(AuthGuard::new(authority.clone())));
    let echo = Echo::default();
    let router = tonic::transport::Server::builder().layer(stack).add_service(echo.clone());
    let incoming = tonic::transport::server::TcpIncoming::from(grpc_listener);
    tokio::spawn(router.serve_with_incoming(incoming));
    Server { grpc, http, authority, echo, refusals, gate }
}

impl Server {
    fn refusals(&self) -> usize {
        self.refusals.load(Ordering::SeqCst)
    }

    /// Revokes the access token of the last call: the next calls with it
    /// are refused, its refresh token still works.
    async fn revoke_last(&self) {
        let identity = self.echo.last.lock().expect("not poisoned").clone().expect("a call was admitted");
        self.authority.revoke(&identity.claims).await.expect("revoked");
    }
}

/// What the client's login service sent, and what the agent reported.
#[derive(Default)]
struct Counts {
    login_requests: AtomicUsize,
    refresh_requests: AtomicUsize,
    logged_in: AtomicUsize,
    refreshed: AtomicUsize,
}

impl Counts {
    fn get(&self) -> [usize; 4] {
        [&self.login_requests, &self.refresh_requests, &self.logged_in, &self.refreshed]
            .map(|c| c.load(Ordering::SeqCst))
    }
}

type GrpcClient = Grpc<AuthClient<Channel, GrpcBodies>>;

/// A tonic client logging in over HTTP and calling gRPC, as a user writes
/// it, with counters on the login service and the agent's events.
async fn client(server: &Server, margin: Option<Duration>) -> (GrpcClient, Arc<Counts>) {
    let counts = Arc::new(Counts::default());
    let events = counts.clone();
    let agent =
        Agent::builder(ClientDialect::Standard, format!("http://{}", server.http), "alice", "alice-pw")
            .refresh_margin(margin)
            .on_event(move |event| match event {
                AgentEvent::LoggedIn { .. } => _ = events.logged_in.fetch_add(1, Ordering::SeqCst),
                AgentEvent::Refreshed { .. } => _ = events.refreshed.fetch_add(1, Ordering::SeqCst),
                _ => {}
            })
            .build()
            .expect("agent");
    let sent = counts.clone();
    let http = ServiceBuilder::new()
        .map_request(move |req: http::Request<Full<Bytes>>| {
            match req.uri().path() {
                "/auth/login" => _ = sent.login_requests.fetch_add(1, Ordering::SeqCst),
                "/auth/refresh" => _ = sent.refresh_requests.fetch_add(1, Ordering::SeqCst),
                other => panic!("the login service sent {other}"),
            }
            req
        })
        .service(Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>());
    let channel = Channel::from_shared(format!("http://{}", server.grpc))
        .expect("uri")
        .connect()
        .await
        .expect("connect");
    let channel = AuthClientLayer::grpc(agent, http).layer(channel);
    (Grpc::new(channel), counts)
}

async fn say(client: &mut GrpcClient, text: &str) -> Result<String, Status> {
    client.ready().await.map_err(Status::from_error)?;
    let call = tonic::Request::new(Say { text: text.to_owned() });
    let answer =
        client.unary(call, PathAndQuery::from_static(SAY), ProstCodec::<Say, Say>::default()).await?;
    Ok(answer.into_inner().text)
}

async fn collect<S>(client: &mut GrpcClient, messages: S) -> Result<String, Status>
where
    S: futures_util::Stream<Item = Say> + Send + 'static,
{
    client.ready().await.map_err(Status::from_error)?;
    let path = PathAndQuery::from_static(COLLECT);
    let answer = client
        .client_streaming(tonic::Request::new(messages), path, ProstCodec::<Say, Say>::default())
        .await?;
    Ok(answer.into_inner().text)
}

fn says(texts: &[&str]) -> Vec<Say> {
    texts.iter().map(|t| Say { text: (*t).to_owned() }).collect()
}

/// Messages that come one by one, the first after a while: the layer
/// finds the stream waiting and cannot keep it to replay it.
fn trickle(texts: &[&str]) -> impl futures_util::Stream<Item = Say> + Send + 'static {
    futures_util::stream::iter(says(texts)).then(|say| async move {
        tokio::time::sleep(Duration::from_millis(5)).await;
        say
    })
}

/// 100 unary calls, 70 ms apart (7 s: three expiries of 2 s tokens at the
/// least), with the access tokens renewed as `margin` says.
async fn hundred_calls(margin: Option<Duration>) -> (Server, [usize; 4], usize) {
    let server = start(Duration::from_secs(2)).await;
    let (mut client, counts) = client(&server, margin).await;
    let mut failed = 0;
    for i in 0..100 {
        match say(&mut client, &i.to_string()).await {
            Ok(text) => assert_eq!(text, format!("echo {i}")),
            Err(status) => {
                eprintln!("call {i} failed: {status:?}");
                failed += 1;
            }
        }
        tokio::time::sleep(Duration::from_millis(70)).await;
    }
    let counts = counts.get();
    eprintln!(
        "margin {margin:?}: [logins, refreshes sent; logged in, refreshed] {counts:?}, {} refusals",
        server.refusals()
    );
    (server, counts, failed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_unary_calls_through_expiries_log_in_once_renewing_on_unauthenticated() {
    // No renewal ahead of time: every expiry is found by a refused call.
    let (server, [logins, refreshes, logged_in, refreshed], failed) = hundred_calls(None).await;
    assert_eq!(failed, 0, "no call failed");
    assert_eq!((logins, logged_in), (1, 1), "one login");
    assert!(refreshes >= 3, "renewed at each of the expiries: {refreshes}");
    assert_eq!(refreshed, refreshes);
    assert_eq!(server.refusals(), refreshes, "each expiry: one UNAUTHENTICATED, one refresh, one replay");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_unary_calls_through_expiries_log_in_once_renewing_ahead() {
    // The default margin: renewed half way through each token's life.
    let (_server, [logins, refreshes, logged_in, refreshed], failed) =
        hundred_calls(Some(auth_core::agent::DEFAULT_REFRESH_MARGIN)).await;
    assert_eq!(failed, 0, "no call failed");
    assert_eq!((logins, logged_in), (1, 1), "one login");
    assert!(refreshes >= 3, "renewed through the expiries: {refreshes}");
    assert_eq!(refreshed, refreshes);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_calls_refused_with_one_credential_cause_one_refresh() {
    let server = start(Duration::from_secs(60)).await;
    let (mut client, counts) = client(&server, None).await;
    assert_eq!(say(&mut client, "first").await.unwrap(), "echo first");
    assert_eq!(counts.get(), [1, 0, 1, 0]);

    server.revoke_last().await;
    // The next calls all reach the server before any is answered: all
    // carry the revoked token and are refused.
    server.gate.armed.store(CONCURRENT, Ordering::SeqCst);
    let calls: Vec<_> = (0..CONCURRENT)
        .map(|i| {
            let mut client = client.clone();
            tokio::spawn(async move { say(&mut client, &i.to_string()).await })
        })
        .collect();
    for (i, call) in calls.into_iter().enumerate() {
        assert_eq!(call.await.unwrap().unwrap(), format!("echo {i}"), "replayed after the refresh");
    }
    assert_eq!(server.refusals(), CONCURRENT, "all {CONCURRENT} were refused");
    assert_eq!(counts.get(), [1, 1, 1, 1], "one login, one refresh for the {CONCURRENT} refusals");

    assert_eq!(say(&mut client, "after").await.unwrap(), "echo after");
    assert_eq!(counts.get(), [1, 1, 1, 1]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_that_cannot_be_replayed_gets_its_refusal_and_a_whole_one_is_replayed() {
    let server = start(Duration::from_secs(60)).await;
    let (mut client, counts) = client(&server, None).await;

    // A stream fed as it goes is sent as it comes (not held back by the layer).
    assert_eq!(collect(&mut client, trickle(&["a", "b", "c"])).await.unwrap(), "a,b,c");
    assert_eq!(counts.get(), [1, 0, 1, 0]);

    // Refused: the stream was still waiting when sent, so it is not
    // replayed; the caller gets UNAUTHENTICATED and nothing is renewed yet.
    server.revoke_last().await;
    let refused = collect(&mut client, trickle(&["d", "e"])).await.unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated, "{refused:?}");
    assert_eq!(server.refusals(), 1);
    assert_eq!(counts.get(), [1, 0, 1, 0], "no renewal for a call that cannot be replayed");

    // The next call renews first, and is not refused.
    assert_eq!(say(&mut client, "next").await.unwrap(), "echo next");
    assert_eq!(server.refusals(), 1);
    assert_eq!(counts.get(), [1, 1, 1, 1]);

    // A client stream whose messages are all there is whole: refused, then
    // renewed and replayed.
    server.revoke_last().await;
    let all_there = futures_util::stream::iter(says(&["x", "y", "z"]));
    assert_eq!(collect(&mut client, all_there).await.unwrap(), "x,y,z");
    assert_eq!(server.refusals(), 2);
    assert_eq!(counts.get(), [1, 2, 1, 2]);
}
