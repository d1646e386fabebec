//! Strict parsing of [`Claims`] and [`Audience`], in one pass.
//!
//! A registered claim must have its exact JSON type (`null` is not a
//! string), appear once (under one spelling), and every other member name
//! must be unique at any depth. Written by hand because a derived
//! `Deserialize` lets `null` stand for an absent `Option`, silently skips
//! unknown members, and accepts two aliases of one field.

use std::fmt;

use serde::de::{self, Deserialize, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use super::{Audience, Claims};
use crate::strict_json::{Checked, Key, Seen, duplicate};

/// The claims [`Claims`] has a field for; dialect spellings map to one.
#[derive(Clone, Copy)]
enum Field {
    Sub,
    Iss,
    Aud,
    Exp,
    Nbf,
    Iat,
    Jti,
    TokenUse,
    Username,
    Roles,
    Scope,
    AuthTime,
    Fam,
}

/// The one spelling of each claim that dialects name differently that a
/// verifier reads; the other spellings are the application's own claims.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Spelling {
    /// `token_use`, `token_type` or `usefor`.
    pub token_use: &'static str,
    /// `auth_time` or `orig_iat`.
    pub auth_time: &'static str,
}

/// What a member name is to a visitor reading with `spelling`.
enum Name {
    /// A claim [`Claims`] has a field for.
    Field(Field),
    /// Another dialect's spelling of such a claim: read as the
    /// application's own, but never beside the configured spelling.
    Alias(Field),
    /// The application's own claim.
    Other,
}

impl Name {
    fn of(name: &str, spelling: Option<Spelling>) -> Self {
        match (Field::of(name, spelling), Field::of(name, None)) {
            (Some(field), _) => Self::Field(field),
            (None, Some(field)) => Self::Alias(field),
            (None, None) => Self::Other,
        }
    }
}

impl Field {
    fn of(name: &str, spelling: Option<Spelling>) -> Option<Self> {
        let read = |configured: fn(Spelling) -> &'static str| spelling.is_none_or(|s| configured(s) == name);
        Some(match name {
            "token_use" | "token_type" | "usefor" if read(|s| s.token_use) => Self::TokenUse,
            "auth_time" | "orig_iat" if read(|s| s.auth_time) => Self::AuthTime,
            "sub" => Self::Sub,
            "iss" => Self::Iss,
            "aud" => Self::Aud,
            "exp" => Self::Exp,
            "nbf" => Self::Nbf,
            "iat" => Self::Iat,
            "jti" => Self::Jti,
            "username" => Self::Username,
            "roles" => Self::Roles,
            "scope" => Self::Scope,
            "fam" => Self::Fam,
            _ => return None,
        })
    }

    fn bit(self) -> u16 {
        1 << self as u16
    }
}

/// Reads every spelling of the claims dialects name differently (for
/// claims of unknown origin); verification reads only the configured one
/// (`Spelling`).
impl<'de> Deserialize<'de> for Claims {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(ClaimsVisitor(None))
    }
}

impl<'de> DeserializeSeed<'de> for Spelling {
    type Value = Claims;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Claims, D::Error> {
        d.deserialize_map(ClaimsVisitor(Some(self)))
    }
}

struct ClaimsVisitor(Option<Spelling>);

impl<'de> Visitor<'de> for ClaimsVisitor {
    type Value = Claims;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object of claims")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Claims, A::Error> {
        let mut claims = Claims::default();
        let mut exp = None;
        let mut known: u16 = 0;
        let mut aliases: u16 = 0;
        let mut others = Seen::default();
        while let Some(Key(name)) = map.next_key()? {
            let field = match Name::of(&name, self.0) {
                Name::Field(field) => field,
                Name::Alias(field) => {
                    // one spelling per claim, whichever this verifier reads
                    aliases |= field.bit();
                    if known & field.bit() != 0 {
                        return Err(duplicate(&name));
                    }
                    map.next_value::<Checked>()?;
                    others.insert(name.clone());
                    continue;
                }
                Name::Other => {
                    map.next_value::<Checked>()?;
                    if !others.insert(name.clone()) {
                        return Err(duplicate(&name));
                    }
                    continue;
                }
            };
            if (known | aliases) & field.bit() != 0 {
                return Err(duplicate(&name));
            }
            known |= field.bit();
            match field {
                Field::Sub => claims.sub = map.next_value()?,
                Field::Iss => claims.iss = Some(map.next_value()?),
                Field::Aud => claims.aud = Some(map.next_value()?),
                Field::Exp => exp = Some(map.next_value()?),
                Field::Nbf => claims.nbf = Some(map.next_value()?),
                Field::Iat => claims.iat = Some(map.next_value()?),
                Field::Jti => claims.jti = Some(map.next_value()?),
                Field::TokenUse => claims.token_use = Some(map.next_value()?),
                Field::Username => claims.username = Some(map.next_value()?),
                Field::Roles => claims.roles = map.next_value()?,
                Field::Scope => claims.scope = Some(map.next_value()?),
                Field::AuthTime => claims.auth_time = Some(map.next_value()?),
                Field::Fam => claims.fam = Some(map.next_value()?),
            }
        }
        claims.exp = exp.ok_or_else(|| de::Error::missing_field("exp"))?;
        Ok(claims)
    }
}

impl<'de> Deserialize<'de> for Audience {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(AudienceVisitor)
    }
}

struct AudienceVisitor;

impl<'de> Visitor<'de> for AudienceVisitor {
    type Value = Audience;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string or an array of strings")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Audience, E> {
        Ok(Audience::One(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Audience, E> {
        Ok(Audience::One(v))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Audience, A::Error> {
        let mut all = Vec::new();
        while let Some(a) = seq.next_element::<String>()? {
            all.push(a);
        }
        Ok(Audience::Many(all))
    }
}

#[cfg(test)]
mod tests {
    use crate::{Audience, Claims, TokenUse};

    fn parse(json: &str) -> Result<Claims, serde_json::Error> {
        serde_json::from_str(json)
    }

    #[test]
    fn registered_claims_have_exact_types() {
        let c = parse(r#"{"sub":"1","exp":5,"aud":["a"],"usefor":"refresh","orig_iat":3,"x":{"y":[1]}}"#)
            .expect("valid");
        assert_eq!(c.aud, Some(Audience::Many(vec!["a".into()])));
        assert_eq!(c.token_use, Some(TokenUse::Refresh));
        assert_eq!(c.auth_time, Some(3));
        for bad in [
            r#"{"exp":5,"iss":null}"#,
            r#"{"exp":5,"aud":null}"#,
            r#"{"exp":5,"aud":7}"#,
            r#"{"exp":5,"aud":["a",1]}"#,
            r#"{"exp":5,"sub":null}"#,
            r#"{"exp":5,"iat":1.5}"#,
            r#"{"exp":"5"}"#,
            r#"{"exp":null}"#,
            r#"{"sub":"1"}"#,
            r#"{"exp":5,"jti":null}"#,
            r#"{"exp":5,"roles":null}"#,
            r#"[1]"#,
            r#""claims""#,
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_verifier_reads_only_its_own_spelling() {
        use serde::de::DeserializeSeed as _;
        let seed = super::Spelling { token_use: "usefor", auth_time: "orig_iat" };
        let read =
            |json: &str| seed.deserialize(&mut serde_json::Deserializer::from_str(json)).expect("valid");
        let ours = read(r#"{"exp":5,"usefor":"access","orig_iat":1}"#);
        assert_eq!((ours.token_use, ours.auth_time), (Some(TokenUse::Access), Some(1)));
        // another system's spelling is just an application claim
        let theirs = read(r#"{"exp":5,"token_use":"access","auth_time":1}"#);
        assert_eq!((theirs.token_use, theirs.auth_time), (None, None));
        // both spellings together are still a duplicate, in either order
        for both in [
            r#"{"exp":5,"token_use":"refresh","usefor":"access"}"#,
            r#"{"exp":5,"usefor":"access","token_type":"refresh"}"#,
        ] {
            let err = seed.deserialize(&mut serde_json::Deserializer::from_str(both)).expect_err(both);
            assert!(err.to_string().starts_with("duplicate field"), "{both}: {err}");
        }
    }

    #[test]
    fn every_name_appears_once() {
        for bad in [
            r#"{"exp":5,"sub":"a","sub":"b"}"#,
            r#"{"exp":5,"exp":6}"#,
            r#"{"exp":5,"token_use":"access","usefor":"refresh"}"#,
            r#"{"exp":5,"auth_time":1,"orig_iat":2}"#,
            r#"{"exp":5,"tenant":"a","tenant":"b"}"#,
            r#"{"exp":5,"t":{"a":1,"a":2}}"#,
        ] {
            let err = parse(bad).expect_err(bad);
            assert!(err.to_string().starts_with("duplicate field"), "{bad}: {err}");
        }
    }
}
