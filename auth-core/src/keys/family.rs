//! Key families (RSA, EC, Ed25519): which algorithm fits which key
//! material, reading a private PEM, and the JOSE names of the algorithms.

use jsonwebtoken::EncodingKey;

use super::{Algorithm, KeyError};

pub(super) fn private_key(alg: Algorithm, pem: &[u8]) -> Result<EncodingKey, KeyError> {
    Ok(match family(alg)? {
        Family::Rsa if cfg!(not(feature = "aws_lc_rs")) => return Err(KeyError::RsaNeedsAwsLc),
        Family::Rsa => EncodingKey::from_rsa_pem(pem)?,
        Family::Ec => EncodingKey::from_ec_pem(pem)?,
        Family::Ed => EncodingKey::from_ed_pem(pem)?,
    })
}

pub(super) enum Family {
    Rsa,
    Ec,
    Ed,
}

pub(super) fn family(alg: Algorithm) -> Result<Family, KeyError> {
    use Algorithm::*;
    match alg {
        RS256 | RS384 | RS512 | PS256 | PS384 | PS512 => Ok(Family::Rsa),
        ES256 | ES384 => Ok(Family::Ec),
        EdDSA => Ok(Family::Ed),
        _ => Err(KeyError::WrongAlgorithm(alg)),
    }
}

pub(super) fn alg_name(alg: Algorithm) -> Option<&'static str> {
    use Algorithm::*;
    Some(match alg {
        HS256 => "HS256",
        HS384 => "HS384",
        HS512 => "HS512",
        RS256 => "RS256",
        RS384 => "RS384",
        RS512 => "RS512",
        PS256 => "PS256",
        PS384 => "PS384",
        PS512 => "PS512",
        ES256 => "ES256",
        ES384 => "ES384",
        EdDSA => "EdDSA",
        _ => return None,
    })
}
