//! The client side (feature `client`): a tower layer for outgoing requests
//! that logs in, attaches the dialect's credential and renews it, for any
//! `Service<http::Request<B>>` (hyper-util's client, a tonic channel, a
//! `tower::util::BoxCloneService`...), and (feature `reqwest`)
//! `AuthClientMiddleware` for `reqwest-middleware`.
//!
//! The decisions are [`auth_core::agent`]'s ([`Agent`]: when to log in,
//! refresh, give up); this module only turns its plain requests into HTTP
//! requests and sends them: through the wrapped service (the tower layer),
//! or through a client of the middleware's own that follows no redirect
//! (`AuthClientMiddleware`). A redirect answering a login or refresh is an
//! error, never followed.
//!
//! What the layer does to a request:
//! - a request to another origin than the agent's server, or one that
//!   already has an `Authorization` header, passes untouched (a token is
//!   never sent to another host); so does a request with a relative URI,
//!   unless the layer was told that the wrapped service only talks to the
//!   agent's server ([`AuthClientLayer::assume_origin`], for a tonic
//!   channel);
//! - otherwise it gets the agent's credential (a login first if there is
//!   none, a refresh first if it is due; concurrent requests share one);
//! - on a 401, or a gRPC `UNAUTHENTICATED` (`grpc-status: 16` in the
//!   headers of a trailers-only answer), the agent renews (once for any
//!   number of requests refused with the same credential) and the request
//!   is sent once more, if its body can be replayed
//!   ([`ClientBody::try_clone`], or a [`BodyPolicy`] for body types of
//!   other crates); if not, the refusal is returned and the next request
//!   renews.
//!
//! The agent's logins and refreshes go through the wrapped service, or
//! through an HTTP client of their own
//! ([`AuthClientLayer::with_login_service`]).
//!
//! # gRPC (feature `grpc-client`)
//!
//! [`AuthClientLayer::grpc`] goes around a tonic `Channel`: every call
//! carries the credential as `authorization` metadata, an
//! `UNAUTHENTICATED` answer renews it, and a unary call is replayed once
//! ([`GrpcBodies`]; a stream still being fed is sent once and its refusal
//! returned). The logins usually go over HTTP to another port: give the
//! layer an HTTP client for them.
//!
//! ```no_run
//! # #[cfg(feature = "grpc-client")]
//! # async fn run() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
//! use auth_tower::client::{Agent, AuthClientLayer, ClientDialect};
//! use hyper_util::{client::legacy::Client, rt::TokioExecutor};
//! use tower::ServiceBuilder;
//!
//! let agent = Agent::builder(ClientDialect::Standard, "http://127.0.0.1:8080", "alice", "alice-pw").build()?;
//! let http = Client::builder(TokioExecutor::new()).build_http::<http_body_util::Full<bytes::Bytes>>();
//! let channel = tonic::transport::Channel::from_static("http://127.0.0.1:50051").connect().await?;
//! let channel = ServiceBuilder::new()
//!     .layer(AuthClientLayer::grpc(agent, http))
//!     .service(channel);
//! // `channel` goes where a `Channel` goes: `EchoClient::new(channel)` for a tonic-generated client
//! # let _ = channel; Ok(()) }
//! ```
//!
//! ```no_run
//! use auth_tower::client::{Agent, ClientDialect};
//! use auth_tower::client::AuthClientLayer;
//! use http_body_util::Full;
//! use bytes::Bytes;
//! use tower::{Service, ServiceBuilder, ServiceExt};
//!
//! # async fn run<S>(http_client: S) -> Result<(), auth_core::agent::BoxError>
//! # where S: Service<http::Request<Full<Bytes>>, Response = http::Response<Full<Bytes>>> + Clone + Send + 'static,
//! #       S::Future: Send, S::Error: Into<auth_core::agent::BoxError> {
//! let agent = Agent::builder(ClientDialect::Datarhei, "http://127.0.0.1:8080", "admin", "secret").build()?;
//! let mut api = ServiceBuilder::new().layer(AuthClientLayer::new(agent)).service(http_client);
//! let req = http::Request::get("http://127.0.0.1:8080/api/v3/process").body(Full::new(Bytes::new()))?;
//! let res = api.ready().await?.call(req).await?; // logged in, `Authorization: Bearer ...` attached
//! # let _ = res; Ok(()) }
//! ```

mod body;
#[cfg(feature = "grpc-client")]
mod grpc;
#[cfg(all(test, feature = "grpc-client"))]
mod grpc_tests;
#[cfg(feature = "reqwest")]
mod reqwest_middleware;
mod service;

pub use auth_core::agent::{
    Agent, AgentError, AgentEvent, ClientDialect, FileTokenStore, MemoryTokenStore, TokenStore,
};
pub use body::{BodyPolicy, ClientBodies, ClientBody};
#[cfg(feature = "grpc-client")]
pub use grpc::{DEFAULT_GRPC_REPLAY_LEN, GrpcBodies};
#[cfg(feature = "reqwest")]
pub use reqwest_middleware::AuthClientMiddleware;
pub use service::{AuthClient, AuthClientFuture, AuthClientLayer};
