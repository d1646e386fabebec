//! gRPC: the same [`AuthLayer`](crate::AuthLayer) guards tonic services.
//!
//! tonic is tower underneath, so the layer goes in front of a tonic
//! server as it goes in front of an axum router
//! (`Server::builder().layer(authority.layer())`), or of both on one port.
//! It recognises a gRPC call by its `content-type` (`application/grpc`,
//! `application/grpc+proto`...) and refuses it the way gRPC clients
//! understand, with a trailers-only answer: `grpc-status` 16
//! `UNAUTHENTICATED` for missing or bad credentials, 7 `PERMISSION_DENIED`
//! for a missing role, 8 `RESOURCE_EXHAUSTED` when throttled, 14
//! `UNAVAILABLE` when the store or a key source is down, and the reason in
//! `grpc-message` (see [`auth_core::grpc`]). Other requests get their HTTP
//! answers as before.
//!
//! A call let through carries the identity in its extensions: read it in a
//! handler with [`identity`] (feature `grpc`), or require a role with
//! [`require_role`].
//!
//! A server stream opened with a token ends with `UNAUTHENTICATED` ("the
//! token has expired") once that token expires, so a stolen token cannot
//! hold a stream open for ever; [`AuthLayer::grpc_streams_outlive_tokens`](crate::AuthLayer::grpc_streams_outlive_tokens)
//! turns that off.

pub(crate) mod expiry;

#[cfg(feature = "grpc")]
mod handler;
#[cfg(feature = "grpc")]
pub use handler::{identity, require_role, status_of};
