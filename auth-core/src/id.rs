//! Fresh random identifiers (token ids, families, opaque keys).

/// A new random UUID (v4), as text.
pub(crate) fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}
