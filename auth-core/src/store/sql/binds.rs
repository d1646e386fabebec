//! Between the store's types and SQL: the bind values of a statement
//! ([`Binder`]) and the rows read back.

use crate::store::codec::{decode_record, encode_record};
use crate::store::family::Family;
use crate::store::{OpaqueRecord, StoreError};

pub(super) fn to_u32(n: i64) -> u32 {
    u32::try_from(n.max(0)).unwrap_or(u32::MAX)
}

/// The bind values of one statement, in order, for either database.
#[derive(Default)]
pub(super) struct Binder(Vec<Value>);

enum Value {
    Int(i64),
    Text(Option<String>),
    Bytes(Vec<u8>),
}

impl Binder {
    pub(super) fn int(mut self, v: i64) -> Self {
        self.0.push(Value::Int(v));
        self
    }
    pub(super) fn text(mut self, v: &str) -> Self {
        self.0.push(Value::Text(Some(v.to_owned())));
        self
    }
    pub(super) fn opt_text(mut self, v: Option<&str>) -> Self {
        self.0.push(Value::Text(v.map(str::to_owned)));
        self
    }
    pub(super) fn bytes(mut self, v: Vec<u8>) -> Self {
        self.0.push(Value::Bytes(v));
        self
    }

    pub(super) fn apply<'q, DB>(
        self,
        mut query: sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments>,
    ) -> sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments>
    where
        DB: sqlx::Database,
        i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
        Option<String>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
        Vec<u8>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    {
        for value in self.0 {
            query = match value {
                Value::Int(v) => query.bind(v),
                Value::Text(v) => query.bind(v),
                Value::Bytes(v) => query.bind(v),
            };
        }
        query
    }
}

pub(super) type FamilyRow = (String, Option<String>, i64, i64, i64, i64);
pub(super) type OpaqueRow = (Vec<u8>, Vec<u8>, Vec<u8>, i64);
pub(super) type AttemptRow = (i64, i64, i64, i64);

pub(super) fn family_of(row: FamilyRow) -> Family {
    let (current, prev, prev_at, prev_used, revoked, expires_at) = row;
    Family {
        current,
        previous: prev.map(|p| (p, prev_at, prev_used == 1)),
        revoked: revoked == 1,
        expires_at,
    }
}

pub(super) fn family_binds(id: &str, fam: &Family) -> Binder {
    let (prev, prev_at, used) = match &fam.previous {
        Some((p, at, used)) => (Some(p.as_str()), *at, i64::from(*used)),
        None => (None, 0, 0),
    };
    Binder::default()
        .text(id)
        .text(&fam.current)
        .opt_text(prev)
        .int(prev_at)
        .int(used)
        .int(i64::from(fam.revoked))
        .int(fam.expires_at)
}

pub(super) fn record_of(row: OpaqueRow) -> Result<OpaqueRecord, StoreError> {
    let (record, refresh_hash, retired, exp) = row;
    decode_record(&record, &refresh_hash, &retired, exp)
}

pub(super) fn opaque_binds(id: &str, record: &OpaqueRecord) -> Result<Binder, StoreError> {
    Ok(Binder::default()
        .text(id)
        .bytes(encode_record(record)?)
        .bytes(record.refresh_hash.to_vec())
        .bytes(record.retired.concat())
        .int(record.refresh_expires_at)
        .text(&record.sub)
        .int(record.issued_at))
}
