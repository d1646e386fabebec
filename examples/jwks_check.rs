//! Verifies a JWT the way a separate service would, knowing only the
//! issuer's JWKS URL: `jwks_check --jwks-url http://HOST/.well-known/jwks.json
//! --token JWT`. It uses `jsonwebtoken` alone (and std's TCP for the plain
//! `http://` GET), none of this workspace's crates: the proof that what
//! the demo publishes is a standard JWKS. Prints the verified claims and
//! exits 0, or prints why not and exits 1.

use std::io::{Read, Write};
use std::process::ExitCode;

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{DecodingKey, Validation, decode, decode_header};

fn main() -> ExitCode {
    match run() {
        Ok(claims) => {
            println!("{claims}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("jwks_check: {e}");
            ExitCode::FAILURE
        }
    }
}

fn arg(name: &str) -> Result<String, String> {
    let mut args = std::env::args().skip_while(|a| a != name);
    args.nth(1).ok_or_else(|| format!("usage: jwks_check --jwks-url URL --token JWT (missing {name})"))
}

fn run() -> Result<serde_json::Value, String> {
    let _ = jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER.install_default();
    let url = arg("--jwks-url")?;
    let token = arg("--token")?;
    let jwks: JwkSet = serde_json::from_slice(&http_get(&url)?).map_err(|e| format!("not a JWKS: {e}"))?;
    let header = decode_header(&token).map_err(|e| format!("bad token header: {e}"))?;
    let kid = header.kid.ok_or("the token has no kid")?;
    let jwk = jwks.find(&kid).ok_or_else(|| format!("no key {kid} at {url}"))?;
    let alg = jwk.common.key_algorithm.ok_or("the JWK has no alg")?;
    let alg = alg.to_string().parse().map_err(|e| format!("JWK alg: {e}"))?;
    if header.alg != alg {
        return Err(format!("token alg {:?} is not the key's {alg:?}", header.alg));
    }
    let key = DecodingKey::from_jwk(jwk).map_err(|e| format!("JWK: {e}"))?;
    let mut validation = Validation::new(alg);
    validation.required_spec_claims = ["exp", "sub"].iter().map(|c| (*c).to_owned()).collect();
    let data =
        decode::<serde_json::Value>(&token, &key, &validation).map_err(|e| format!("invalid token: {e}"))?;
    Ok(data.claims)
}

/// A plain HTTP/1.0 GET (the demo serves http:// on loopback).
fn http_get(url: &str) -> Result<Vec<u8>, String> {
    let rest = url.strip_prefix("http://").ok_or("only http:// URLs")?;
    let (host, path) = rest.split_once('/').map_or((rest, "/".to_owned()), |(h, p)| (h, format!("/{p}")));
    let mut stream = std::net::TcpStream::connect(host).map_err(|e| format!("connect {host}: {e}"))?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {host}\r\nAccept: application/json\r\n\r\n")
        .map_err(|e| e.to_string())?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).map_err(|e| e.to_string())?;
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").ok_or("no HTTP header end")?;
    let head = String::from_utf8_lossy(&raw[..split]);
    if !head.starts_with("HTTP/1.1 200") && !head.starts_with("HTTP/1.0 200") {
        return Err(format!("GET {url}: {}", head.lines().next().unwrap_or_default()));
    }
    Ok(raw[split + 4..].to_vec())
}
