//! The demo's gRPC service, `tokenauth.demo.v1.Demo` (`proto/demo.proto`),
//! served by tonic behind the demo's own [`AuthLayer`]: the same guard,
//! authority, store and keys as its HTTP routes, so every dialect's
//! credentials (`Bearer`, drf's `Token`, keytoken's `Basic`) work here too.
//!
//! | method | needs | answers |
//! |---|---|---|
//! | `WhoAmI` | any valid access token | the token's `sub`, `username` and `roles` |
//! | `Admin` | the role `admin` | `{message: "hello, admin NAME"}` |
//! | `Watch` | any valid access token | `count` ticks (`n` = 1, 2...), `interval_ms` apart |
//!
//! Refusals come from the layer as gRPC statuses: 16 `UNAUTHENTICATED`
//! (no, bad, expired, revoked or wrong-kind token), 7 `PERMISSION_DENIED`
//! (`Admin` without the role), 14 `UNAVAILABLE` (the store down). A
//! `Watch` ends with `UNAUTHENTICATED` once the token it was opened with
//! expires.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! use clap::Parser;
//! let config = demo_app::DemoConfig::try_parse_from(["demo", "--user", "ann:pw-of-ann"]).unwrap();
//! let demo = demo_app::Demo::new(&config).await.unwrap();
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
//! let server = tokio::spawn(demo_app::grpc::serve(&demo, listener));
//! # server.abort();
//! # })
//! ```

use std::pin::Pin;
use std::time::Duration;

use auth_tower::AuthLayer;
use futures_util::Stream;
use tonic::{Request, Response, Status};

use crate::{Admin, Demo};

/// The code `build.rs` generates from `proto/demo.proto`: the messages,
/// `demo_server` (the service trait and its tonic server) and
/// `demo_client::DemoClient`.
#[allow(missing_docs, clippy::all, clippy::pedantic, clippy::unwrap_used)]
pub mod proto {
    tonic::include_proto!("tokenauth.demo.v1");
}

use proto::demo_server::{Demo as DemoRpc, DemoServer};
use proto::{AdminReply, AdminRequest, Tick, WatchRequest, WhoAmIReply, WhoAmIRequest};

/// The service's full name, as a client addresses it.
pub const SERVICE_NAME: &str = "tokenauth.demo.v1.Demo";

/// The most calls one HTTP/2 connection may have open at once.
pub const MAX_STREAMS_PER_CONNECTION: u32 = 256;

/// The most ticks one `Watch` may ask for.
pub const MAX_WATCH_COUNT: u32 = 10_000;

/// The longest pause between two ticks a `Watch` may ask for, in ms.
pub const MAX_WATCH_INTERVAL_MS: u32 = 60_000;

/// The handlers of `tokenauth.demo.v1.Demo`. They read the identity the
/// layer in front admitted the call with; alone, without a layer, every
/// call is `INTERNAL` (see [`auth_tower::grpc::identity`]).
#[derive(Clone, Copy, Debug, Default)]
pub struct DemoService;

/// The ticks of one `Watch`.
pub type TickStream = Pin<Box<dyn Stream<Item = Result<Tick, Status>> + Send + 'static>>;

#[tonic::async_trait]
impl DemoRpc for DemoService {
    async fn who_am_i(&self, request: Request<WhoAmIRequest>) -> Result<Response<WhoAmIReply>, Status> {
        let identity = auth_tower::grpc::identity(&request)?;
        Ok(Response::new(WhoAmIReply {
            sub: identity.sub().to_owned(),
            username: identity.username().to_owned(),
            roles: identity.roles().to_vec(),
        }))
    }

    async fn admin(&self, request: Request<AdminRequest>) -> Result<Response<AdminReply>, Status> {
        let identity = auth_tower::grpc::require_role::<Admin, _>(&request)?;
        Ok(Response::new(AdminReply { message: format!("hello, admin {}", identity.username()) }))
    }

    type WatchStream = TickStream;

    async fn watch(&self, request: Request<WatchRequest>) -> Result<Response<TickStream>, Status> {
        auth_tower::grpc::identity(&request)?;
        let WatchRequest { count, interval_ms } = request.into_inner();
        if count > MAX_WATCH_COUNT {
            return Err(Status::invalid_argument(format!("count: at most {MAX_WATCH_COUNT}")));
        }
        if interval_ms > MAX_WATCH_INTERVAL_MS {
            return Err(Status::invalid_argument(format!("interval_ms: at most {MAX_WATCH_INTERVAL_MS}")));
        }
        Ok(Response::new(ticks(count, Duration::from_millis(u64::from(interval_ms)))))
    }
}

/// `count` ticks: the first at once, the next ones `interval` apart.
fn ticks(count: u32, interval: Duration) -> TickStream {
    Box::pin(futures_util::stream::unfold(1, move |n| async move {
        if n > count {
            return None;
        }
        if n > 1 {
            tokio::time::sleep(interval).await;
        }
        Some((Ok(Tick { n }), n + 1))
    }))
}

/// The tonic service of [`DemoService`], with no layer: put it behind an
/// [`AuthLayer`] (as [`serve`] does), alone or beside HTTP routes.
pub fn service() -> DemoServer<DemoService> {
    DemoServer::new(DemoService)
}

/// Serves `tokenauth.demo.v1.Demo` over h2c on `listener` until an I/O
/// error, behind `AuthLayer::new(demo.guard.clone())`: the demo's guard,
/// so its authority, store and keys (and its dialect's schemes). The
/// future borrows nothing: spawn it.
pub fn serve(
    demo: &Demo,
    listener: tokio::net::TcpListener,
) -> impl Future<Output = Result<(), String>> + Send + 'static {
    let layer = AuthLayer::new(demo.guard.clone());
    async move {
        let incoming = tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
        tonic::transport::Server::builder()
            // open streams cost memory: bound them per connection
            .max_concurrent_streams(MAX_STREAMS_PER_CONNECTION)
            .layer(layer)
            .add_service(service())
            .serve_with_incoming(incoming)
            .await
            .map_err(|e| format!("gRPC server: {e}"))
    }
}
