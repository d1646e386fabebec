//! How the network stores write an [`OpaqueRecord`]: the parts their
//! scripts and queries never look at as one JSON document, the refresh
//! hash and the retired hashes as raw bytes beside it, and the key itself
//! only as its SHA-256.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{OpaqueRecord, StoreError};

/// An opaque key as stored: base64url SHA-256 (43 characters), so a dump
/// of the store holds no half of a credential.
pub(crate) fn hashed_key(key: &str) -> String {
    B64.encode(Sha256::digest(key.as_bytes()))
}

pub(crate) fn corrupt(what: &str) -> StoreError {
    StoreError::Backend(format!("malformed {what} in Redis"))
}

/// The parts of an [`OpaqueRecord`] the scripts never look at.
#[derive(Serialize, Deserialize)]
struct StoredOpaque {
    sub: String,
    username: String,
    roles: Vec<String>,
    token_hash: String,
    expires_at: i64,
    auth_time: i64,
    issued_at: i64,
}

pub(crate) fn encode_record(record: &OpaqueRecord) -> Result<Vec<u8>, StoreError> {
    let stored = StoredOpaque {
        sub: record.sub.clone(),
        username: record.username.clone(),
        roles: record.roles.clone(),
        token_hash: B64.encode(record.token_hash),
        expires_at: record.expires_at,
        auth_time: record.auth_time,
        issued_at: record.issued_at,
    };
    serde_json::to_vec(&stored).map_err(StoreError::from_source)
}

fn hash32(bytes: &[u8]) -> Option<[u8; 32]> {
    bytes.try_into().ok()
}

pub(crate) fn decode_record(
    rec: &[u8],
    rh: &[u8],
    retired: &[u8],
    exp: i64,
) -> Result<OpaqueRecord, StoreError> {
    let stored: StoredOpaque = serde_json::from_slice(rec).map_err(|_| corrupt("opaque record"))?;
    let token_hash = B64
        .decode(stored.token_hash)
        .ok()
        .and_then(|h| hash32(&h))
        .ok_or_else(|| corrupt("opaque token hash"))?;
    let refresh_hash = hash32(rh).ok_or_else(|| corrupt("opaque refresh hash"))?;
    if !retired.len().is_multiple_of(32) {
        return Err(corrupt("opaque retired hashes"));
    }
    let retired = retired.chunks_exact(32).filter_map(hash32).collect();
    Ok(OpaqueRecord {
        sub: stored.sub,
        username: stored.username,
        roles: stored.roles,
        token_hash,
        refresh_hash,
        expires_at: stored.expires_at,
        refresh_expires_at: exp,
        auth_time: stored.auth_time,
        issued_at: stored.issued_at,
        retired,
    })
}
