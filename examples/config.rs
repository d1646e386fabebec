//! The demo's command line.

use std::time::Duration;

use clap::{Parser, ValueEnum};

/// The web framework the demo serves with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Framework {
    /// axum 0.8 (tower).
    Axum,
    /// actix-web 4.
    Actix,
}

/// The wire format the demo speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DialectName {
    /// Our own OAuth 2-shaped default.
    Standard,
    /// ecHome (simplejwt).
    Echome,
    /// datarhei Core.
    Datarhei,
    /// Sachet (Flask + PyJWT).
    Sachet,
    /// Kent Hack Enough (opaque key/token).
    Keytoken,
    /// django-rest-framework-jwt.
    Drf,
}

/// A `--user NAME:PASSWORD[:ROLE]` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserSpec {
    /// The username.
    pub name: String,
    /// The password.
    pub password: String,
    /// An optional role.
    pub role: Option<String>,
}

fn parse_user(value: &str) -> Result<UserSpec, String> {
    let mut parts = value.splitn(3, ':');
    let name = parts.next().unwrap_or_default();
    let password = parts.next().ok_or("expected NAME:PASSWORD[:ROLE]")?;
    if name.is_empty() || password.is_empty() {
        return Err("expected NAME:PASSWORD[:ROLE] with a non-empty name and password".into());
    }
    let role = parts.next().filter(|r| !r.is_empty()).map(str::to_owned);
    Ok(UserSpec { name: name.to_owned(), password: password.to_owned(), role })
}

fn parse_ttl(value: &str) -> Result<Duration, String> {
    auth_core::parse_duration(value)
        .ok_or_else(|| format!("`{value}` is not a duration like 2s, 15m, 1h or 5d"))
}

fn parse_proxy(value: &str) -> Result<String, String> {
    auth_core::TrustedProxies::parse(value).map_err(|e| e.to_string())?;
    Ok(value.to_owned())
}

fn parse_secret(value: &str) -> Result<String, String> {
    if value.len() < auth_core::MIN_HMAC_SECRET_LEN {
        return Err(format!("must be at least {} bytes", auth_core::MIN_HMAC_SECRET_LEN));
    }
    Ok(value.to_owned())
}

/// Token authentication demo server.
#[derive(Debug, Clone, Parser)]
#[command(name = "demo", about = "Token authentication demo server (in-memory store).")]
pub struct DemoConfig {
    /// The web framework: axum or actix.
    #[arg(long, value_enum, default_value_t = Framework::Axum)]
    pub framework: Framework,
    /// The wire format.
    #[arg(long, value_enum, default_value_t = DialectName::Standard)]
    pub dialect: DialectName,
    /// Address to listen on (HOST:PORT).
    #[arg(long, default_value = "127.0.0.1:3000")]
    pub addr: String,
    /// A user, `NAME:PASSWORD[:ROLE]`; repeatable. Default: `demo:demo-password:admin`.
    #[arg(long = "user", value_name = "NAME:PASSWORD[:ROLE]", value_parser = parse_user)]
    pub users: Vec<UserSpec>,
    /// A client id (keytoken dialect); repeatable. Default: demo.
    #[arg(long = "client", value_name = "ID")]
    pub clients: Vec<String>,
    /// HS256 secret, at least 32 bytes. Default: random at every start.
    #[arg(long, value_parser = parse_secret)]
    pub secret: Option<String>,
    /// Access token lifetime (2s, 15m, 1h, 5d). Default: the dialect's.
    #[arg(long, value_parser = parse_ttl)]
    pub access_ttl: Option<Duration>,
    /// Refresh token lifetime. Default: the dialect's.
    #[arg(long, value_parser = parse_ttl)]
    pub refresh_ttl: Option<Duration>,
    /// No refresh after the original login plus this. Default: the dialect's.
    #[arg(long, value_parser = parse_ttl)]
    pub refresh_window: Option<Duration>,
    /// A proxy (address or CIDR network) whose `X-Forwarded-For` names the
    /// client for the login throttle; repeatable. Default: none (the TCP
    /// peer is the client).
    #[arg(long = "trusted-proxy", value_name = "ADDR|CIDR", value_parser = parse_proxy)]
    pub trusted_proxies: Vec<String>,
}

impl DemoConfig {
    /// The configured users, or the one demo user.
    pub fn users_or_default(&self) -> Vec<UserSpec> {
        if self.users.is_empty() {
            vec![UserSpec {
                name: "demo".into(),
                password: "demo-password".into(),
                role: Some("admin".into()),
            }]
        } else {
            self.users.clone()
        }
    }

    /// The secret's bytes, or 32 fresh random bytes (hex encoded).
    pub fn secret_bytes(&self) -> Vec<u8> {
        match &self.secret {
            Some(s) => s.as_bytes().to_vec(),
            None => {
                let bytes: [u8; 32] = rand::random();
                bytes.iter().map(|b| format!("{b:02x}")).collect::<String>().into_bytes()
            }
        }
    }

    /// The client ids, or `demo`.
    pub fn clients_or_default(&self) -> Vec<String> {
        if self.clients.is_empty() { vec!["demo".into()] } else { self.clients.clone() }
    }
}
