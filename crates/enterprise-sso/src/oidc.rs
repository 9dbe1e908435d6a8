//! OpenID Connect discovery documents, parsed and checked.

use serde::Deserialize;

use crate::limits::Policy;
use crate::url_policy::{check_fetch_url_kind, check_url_kind};

/// Largest discovery document accepted, in bytes.
pub const MAX_DISCOVERY_BYTES: usize = 256 * 1024;

const WELL_KNOWN: &str = "/.well-known/openid-configuration";

/// Why a discovery document was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DiscoveryError {
    /// Larger than [`MAX_DISCOVERY_BYTES`].
    #[error("is larger than {max} bytes")]
    TooLarge {
        /// The limit.
        max: usize,
    },
    /// Not a JSON object of the expected shape.
    #[error("is not a JSON discovery document")]
    NotJson,
    /// Required members are missing.
    #[error("is missing {}", .0.join(", "))]
    MissingFields(Vec<&'static str>),
    /// `issuer` does not match the discovery URL.
    #[error("names an issuer that does not match the discovery URL")]
    IssuerMismatch,
    /// An endpoint is not an acceptable https URL.
    #[error("has an endpoint `{0}` that is not an allowed https URL")]
    BadEndpoint(&'static str),
}

/// The endpoints the library uses from a discovery document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Discovery {
    /// `issuer`.
    pub issuer: String,
    /// `authorization_endpoint`.
    pub authorization_endpoint: String,
    /// `token_endpoint`.
    pub token_endpoint: String,
    /// `userinfo_endpoint`.
    pub userinfo_endpoint: String,
    /// `jwks_uri`.
    pub jwks_uri: String,
}

#[derive(Deserialize)]
struct Raw {
    issuer: Option<String>,
    authorization_endpoint: Option<String>,
    token_endpoint: Option<String>,
    userinfo_endpoint: Option<String>,
    jwks_uri: Option<String>,
}

/// The issuer a discovery URL stands for: the URL without
/// `/.well-known/openid-configuration`, without a trailing slash.
pub fn issuer_of(discovery_url: &str) -> &str {
    let base = discovery_url
        .strip_suffix(WELL_KNOWN)
        .unwrap_or(discovery_url);
    base.trim_end_matches('/')
}

/// Parses a discovery document fetched from `discovery_url` and checks it: the issuer
/// matches the URL's, and the four endpoints are present and https (the server-fetched
/// ones, token, userinfo and JWKS, also pass the fetch-URL rule of `policy`).
pub fn parse_discovery(
    body: &[u8],
    discovery_url: &str,
    policy: &Policy,
) -> Result<Discovery, DiscoveryError> {
    if body.len() > MAX_DISCOVERY_BYTES {
        return Err(DiscoveryError::TooLarge {
            max: MAX_DISCOVERY_BYTES,
        });
    }
    let raw: Raw = serde_json::from_slice(body).map_err(|_| DiscoveryError::NotJson)?;
    let mut missing = Vec::new();
    let mut take = |name: &'static str, v: Option<String>| {
        let v = v.filter(|s| !s.trim().is_empty());
        if v.is_none() {
            missing.push(name);
        }
        v.unwrap_or_default()
    };
    let d = Discovery {
        issuer: take("issuer", raw.issuer),
        authorization_endpoint: take("authorization_endpoint", raw.authorization_endpoint),
        token_endpoint: take("token_endpoint", raw.token_endpoint),
        userinfo_endpoint: take("userinfo_endpoint", raw.userinfo_endpoint),
        jwks_uri: take("jwks_uri", raw.jwks_uri),
    };
    if !missing.is_empty() {
        return Err(DiscoveryError::MissingFields(missing));
    }
    if d.issuer.trim_end_matches('/') != issuer_of(discovery_url) {
        return Err(DiscoveryError::IssuerMismatch);
    }
    let https = |u: &str| check_url_kind(u).is_ok();
    let fetchable = |u: &str| check_fetch_url_kind(u, policy).is_ok();
    if !https(&d.authorization_endpoint) {
        return Err(DiscoveryError::BadEndpoint("authorization_endpoint"));
    }
    for (name, url) in [
        ("token_endpoint", &d.token_endpoint),
        ("userinfo_endpoint", &d.userinfo_endpoint),
        ("jwks_uri", &d.jwks_uri),
    ] {
        if !fetchable(url) {
            return Err(DiscoveryError::BadEndpoint(name));
        }
    }
    Ok(d)
}
