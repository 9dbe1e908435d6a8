//! The attacker provider's fixtures: its discovery document, the relying party under
//! test, the standard claims and the verify helpers.

use enterprise_sso_protocol::limits::Policy;
use enterprise_sso_protocol::oidc::rp::*;
use enterprise_sso_protocol::secret::Nonce;
use jsonwebtoken::Algorithm;
use serde_json::{json, Value};

use super::*;

pub const ISSUER: &str = "https://op.example.com";
pub const DISCOVERY: &str = "https://op.example.com/.well-known/openid-configuration";
pub const JWKS_URI: &str = "https://op.example.com/jwks";
pub const TOKEN_URI: &str = "https://op.example.com/token";
pub const USERINFO_URI: &str = "https://op.example.com/me";
pub const CLIENT: &str = "rp";
pub const SECRET: &str = "rp-secret-0123456789";
pub const REDIRECT: &str = "https://app.example.com/cb";
pub const NONCE: &str = "n-0S6_WzA2Mj";
/// Now, on a whole second (NumericDates are seconds).
pub const NOW_S: i64 = 1_780_000_000;
pub const NOW: i64 = NOW_S * 1000;
pub const SKEW: i64 = DEFAULT_CLOCK_SKEW_MS;

pub fn discovery(extra: Value) -> Value {
    let mut d = json!({
        "issuer": ISSUER,
        "authorization_endpoint": "https://op.example.com/auth",
        "token_endpoint": TOKEN_URI,
        "userinfo_endpoint": USERINFO_URI,
        "jwks_uri": JWKS_URI,
        "response_types_supported": ["code"],
        "id_token_signing_alg_values_supported": ["RS256", "ES256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "authorization_response_iss_parameter_supported": true,
    });
    if let (Some(d), Value::Object(e)) = (d.as_object_mut(), extra) {
        for (k, v) in e {
            d.insert(k, v);
        }
    }
    d
}

pub fn metadata(extra: Value) -> ProviderMetadata {
    ProviderMetadata::from_discovery(
        discovery(extra).to_string().as_bytes(),
        DISCOVERY,
        &Policy::default(),
    )
    .expect("discovery")
}

pub fn client() -> ClientConfig {
    ClientConfig::new(CLIENT, Some(OidcClientSecret::new(SECRET)), REDIRECT)
}

pub fn rp_with(extra: Value, client: ClientConfig) -> RelyingParty {
    RelyingParty::new(metadata(extra), client).expect("rp")
}

pub fn rp() -> RelyingParty {
    rp_with(json!({}), client())
}

pub fn idp() -> TestKey {
    TestKey::rsa("idp", "idp", Algorithm::RS256)
}

pub fn claims() -> Value {
    json!({
        "iss": ISSUER, "sub": "user-1", "aud": CLIENT,
        "exp": NOW_S + 600, "iat": NOW_S, "nonce": NONCE,
        "email": "jane@acme.com", "email_verified": true,
        "given_name": "Jane", "family_name": "Doe",
    })
}

pub fn with(mut c: Value, k: &str, v: Value) -> Value {
    c[k] = v;
    c
}

pub fn without(mut c: Value, k: &str) -> Value {
    c.as_object_mut().expect("object").remove(k);
    c
}

pub fn cache_with(keys: &[&TestKey]) -> JwksCache {
    let c = JwksCache::new(JWKS_URI);
    c.load(&jwks(keys), NOW).expect("jwks");
    c
}

/// Verifies with a cache holding `keys`, never fetching.
pub fn verify_keys(
    rp: &RelyingParty,
    keys: &[&TestKey],
    token: &str,
    now: i64,
) -> Result<IdTokenClaims, OidcRefusal> {
    rp.verify_id_token_cached(&cache_with(keys), token, &Nonce::new(NONCE), None, now)
}

pub fn verify(token: &str) -> Result<IdTokenClaims, OidcRefusal> {
    verify_keys(&rp(), &[&idp()], token, NOW)
}

pub fn code_of(r: Result<IdTokenClaims, OidcRefusal>) -> &'static str {
    match r {
        Ok(_) => "ok",
        Err(e) => e.code(),
    }
}
