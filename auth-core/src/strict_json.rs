//! Strict JSON: objects whose member names are unique, at any depth.
//!
//! `serde_json` keeps the last of two members with the same name, and
//! derived structs skip unknown members without looking inside them. Two
//! parsers that disagree on which duplicate wins are how a token or a login
//! body says one thing to a proxy and another to us (RFC 8259 section 4
//! leaves it open; RFC 7515 section 5.2 and RFC 7519 section 7.2 say to
//! refuse). These visitors refuse in the same single pass that parses.

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, MapAccess, SeqAccess, Visitor};

/// A member name, borrowed from the input where it has no escapes.
pub(crate) struct Key<'de>(pub Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a member name")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

/// The member names seen so far in one object: a short list (the common
/// case: a handful of claims), a set once the object is large, so that a
/// body with thousands of members costs linear time.
#[derive(Default)]
pub(crate) struct Seen<'de> {
    few: Vec<Cow<'de, str>>,
    many: HashSet<Cow<'de, str>>,
}

impl<'de> Seen<'de> {
    const FEW: usize = 16;

    /// Records `name`; `false` if it was seen before.
    pub(crate) fn insert(&mut self, name: Cow<'de, str>) -> bool {
        if self.many.is_empty() {
            if self.few.contains(&name) {
                return false;
            }
            if self.few.len() < Self::FEW {
                self.few.push(name);
                return true;
            }
            self.many.extend(self.few.drain(..));
        }
        self.many.insert(name)
    }
}

/// The error for a repeated member name.
pub(crate) fn duplicate<E: de::Error>(name: &str) -> E {
    E::custom(format_args!("duplicate field `{name}`"))
}

/// Any JSON value, checked for duplicate member names but not kept: what
/// an unknown claim is parsed as.
pub(crate) struct Checked;

impl<'de> Deserialize<'de> for Checked {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(CheckVisitor)
    }
}

struct CheckVisitor;

impl<'de> Visitor<'de> for CheckVisitor {
    type Value = Checked;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_str<E>(self, _: &str) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_unit<E>(self) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_none<E>(self) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Checked, A::Error> {
        while seq.next_element::<Checked>()?.is_some() {}
        Ok(Checked)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Checked, A::Error> {
        let mut seen = Seen::default();
        while let Some(Key(name)) = map.next_key()? {
            map.next_value::<Checked>()?;
            if !seen.insert(name.clone()) {
                return Err(duplicate(&name));
            }
        }
        Ok(Checked)
    }
}

/// A JSON value built as a `serde_json::Value`, refusing duplicate member
/// names at any depth: what request bodies are parsed as.
pub(crate) struct StrictValue(pub serde_json::Value);

impl<'de> Deserialize<'de> for StrictValue {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ValueVisitor).map(StrictValue)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = serde_json::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
        Ok(v.into())
    }
    fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
        Ok(v.into())
    }
    fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
        Ok(v.into())
    }
    fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(serde_json::Value::Null, serde_json::Value::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(v.into())
    }
    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(v.into())
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(serde_json::Value::Null)
    }
    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(serde_json::Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::new();
        while let Some(StrictValue(v)) = seq.next_element()? {
            items.push(v);
        }
        Ok(items.into())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut members = serde_json::Map::new();
        while let Some(Key(name)) = map.next_key()? {
            let StrictValue(value) = map.next_value()?;
            if members.contains_key(name.as_ref()) {
                return Err(duplicate(&name));
            }
            members.insert(name.into_owned(), value);
        }
        Ok(members.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_are_refused_at_any_depth() {
        for bad in [
            r#"{"a":1,"a":2}"#,
            r#"{"a":{"b":1,"b":1}}"#,
            r#"[{"x":[{"y":1,"y":2}]}]"#,
            r#"{"a\u0062":1,"ab":2}"#,
        ] {
            assert!(serde_json::from_str::<Checked>(bad).is_err(), "{bad}");
            let err = serde_json::from_str::<StrictValue>(bad).err().expect(bad);
            assert!(err.to_string().starts_with("duplicate field `"), "{err}");
        }
        let ok = r#"{"a":{"b":1},"b":[{"a":1},{"a":2}],"c":null}"#;
        assert!(serde_json::from_str::<Checked>(ok).is_ok());
        assert_eq!(
            serde_json::from_str::<StrictValue>(ok).expect("valid").0,
            serde_json::from_str::<serde_json::Value>(ok).expect("valid")
        );
    }

    #[test]
    fn large_objects_switch_to_a_set() {
        let mut seen = Seen::default();
        for i in 0..100 {
            assert!(seen.insert(Cow::Owned(format!("k{i}"))));
        }
        assert!(!seen.insert(Cow::Borrowed("k3")));
        assert!(!seen.insert(Cow::Borrowed("k99")));
        assert!(seen.insert(Cow::Borrowed("k100")));
    }

    #[test]
    fn lone_surrogates_are_refused() {
        assert!(serde_json::from_str::<Checked>(r#"{"a":"\ud800"}"#).is_err());
        assert!(serde_json::from_str::<StrictValue>(r#"{"a":"\udc00x"}"#).is_err());
    }
}
