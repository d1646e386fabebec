//! Cross-framework conformance: one table of cases (`src/table.rs`) run in order
//! against the axum demo app and the actix demo app, built the same way
//! from `examples/lib.rs`. A case may not be skipped for one framework.

#![forbid(unsafe_code)]

#[cfg(test)]
mod browser;
#[cfg(test)]
mod client;
#[cfg(test)]
mod cookies;
#[cfg(test)]
mod custom;
#[cfg(test)]
mod dialects;
#[cfg(test)]
mod grpc;
#[cfg(test)]
mod harness;
#[cfg(test)]
mod hostile;
#[cfg(test)]
mod idp_security;
#[cfg(test)]
mod jwks;
#[cfg(test)]
mod lockout;
#[cfg(test)]
mod memory;
#[cfg(test)]
mod mirror;
#[cfg(test)]
mod openapi;
#[cfg(test)]
mod operations;
#[cfg(test)]
mod pgproxy;
#[cfg(test)]
mod shared;
#[cfg(test)]
mod table;
#[cfg(test)]
mod tcp;
mod user_store;
#[cfg(test)]
mod wiring;
