//! The client side (feature `agent`): log in to an API that speaks one of
//! this crate's dialects, attach its credential to every request, renew it
//! before it expires and after a 401, one renewal at a time.
//!
//! This module is framework-neutral: [`Agent`] decides when to log in or
//! refresh and [`ClientDialect`] knows each dialect's requests and answers;
//! an adapter sends them through its HTTP client ([`Transport`]). The
//! adapters are in `auth_tower::client`: a tower layer for any
//! `Service<http::Request<B>>` and a `reqwest-middleware` middleware.
//!
//! | dialect | login | renewal | credential |
//! |---|---|---|---|
//! | standard | `POST /auth/login` JSON | `POST /auth/refresh {refresh_token}` (rotated) | `Bearer` |
//! | echome | `POST /api/v1/identity/token` form | `POST .../token/refresh`, `refresh=` form + access token as `Bearer` | `Bearer` |
//! | datarhei | `POST /api/login` JSON | `GET /api/login/refresh`, refresh token as `Bearer` | `Bearer` |
//! | sachet | `POST /users/login` JSON | `POST /users/extend` while the token lives | `Bearer` |
//! | keytoken | `POST /users/token {client, email, password}` | `POST /users/token/refresh {client, key, refresh}` (rotated) | `Basic key:token` |
//! | drf | `POST /auth/access_token/` JSON | `POST /auth/refresh_token/ {token}` while the token lives | `Token` |
//!
//! Expiry comes from the answer (`expires_in` seconds, keytoken's
//! `expires`, drf's `expires_in` time) or the JWT's `exp`, read without
//! verification (a client only schedules with it). A refused refresh falls
//! back to a login. A redirect answering a login or refresh is an error
//! ([`AgentError::Redirected`]), never followed: the password or refresh
//! token goes to the configured server only. (The reqwest adapter sends
//! them through a client of its own that follows no redirect; the tower
//! layer sends them through the service it wraps, which must not follow
//! redirects itself.) Tokens and passwords never appear in `Debug` output,
//! errors or `tracing` events.
//!
//! ```
//! use auth_core::agent::{Agent, ClientDialect, Exchange, Reply, Transport, BoxError};
//!
//! // A transport that answers every login itself, to show the flow.
//! struct Canned;
//! impl Transport for Canned {
//!     async fn send(&self, exchange: Exchange) -> Result<Reply, BoxError> {
//!         assert_eq!(exchange.url, "http://api.example/auth/login");
//!         let body = br#"{"access_token":"t1","token_type":"Bearer","expires_in":60,"refresh_token":"r1"}"#;
//!         Ok(Reply::new(200, body.to_vec()))
//!     }
//! }
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let agent = Agent::builder(ClientDialect::Standard, "http://api.example", "ann", "pw").build().unwrap();
//! let credential = agent.authorization(&Canned).await.unwrap();
//! assert_eq!(credential.header_value(), "Bearer t1");
//! assert_eq!(agent.logins(), 1);
//! // the second request reuses it
//! assert_eq!(agent.authorization(&Canned).await.unwrap(), credential);
//! assert_eq!(agent.logins(), 1);
//! # })
//! ```

mod error;
mod persist;
mod session;
mod tokens;
mod wire;

pub use error::{AgentError, BoxError};
pub use persist::{FileTokenStore, MemoryTokenStore, TokenStore};
pub use session::{Agent, AgentBuilder, AgentEvent, Credential, DEFAULT_REFRESH_MARGIN, Transport};
pub use tokens::Tokens;
pub use wire::{CLIENT_DIALECTS, ClientDialect, Exchange, MAX_REPLY_LEN, Reply};
