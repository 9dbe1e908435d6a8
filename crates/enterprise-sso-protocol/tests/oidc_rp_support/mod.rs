//! Shared test kit of the OIDC relying-party tests: test keys from idp/keys, a token
//! minter, and an in-process provider that answers the relying party's HTTP calls.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use base64::Engine;
use enterprise_sso_protocol::oidc::rp::{HttpError, HttpResponse, OidcHttp};
use enterprise_sso_protocol::secret::AccessToken;
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::{json, Value};

pub mod fixture;

pub fn b64u(b: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

pub fn keys_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../idp/keys")
}

pub fn pem_der(pem: &str) -> Vec<u8> {
    let body: String = pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect::<Vec<_>>()
        .concat();
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .expect("PEM body")
}

/// A test signing key: its jsonwebtoken key, its public JWK, and its algorithm.
#[derive(Clone)]
pub struct TestKey {
    pub kid: String,
    pub alg: Algorithm,
    pub encoding: EncodingKey,
    pub jwk: Value,
    /// The public key as SPKI PEM (for the HS256-with-public-key attack).
    pub public_pem: String,
}

impl TestKey {
    /// An RSA key from idp/keys (`idp`, `idp2`, `attacker`).
    pub fn rsa(name: &str, kid: &str, alg: Algorithm) -> Self {
        use rsa::pkcs1::EncodeRsaPrivateKey;
        use rsa::pkcs8::{DecodePrivateKey, EncodePublicKey};
        use rsa::traits::PublicKeyParts;
        let pem =
            std::fs::read_to_string(keys_dir().join(format!("{name}-key.pem"))).expect("test key");
        let key = rsa::PrivateKey::from_pkcs8_der(&pem_der(&pem)).expect("pkcs8 rsa");
        let der = key.to_pkcs1_der().expect("pkcs1");
        let public = key.to_public_key();
        let spki = public.to_public_key_der().expect("spki");
        let b64 = base64::engine::general_purpose::STANDARD.encode(spki.as_bytes());
        let lines: Vec<String> = b64
            .as_bytes()
            .chunks(64)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect();
        let public_pem = format!(
            "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
            lines.join("\n")
        );
        let jwk = json!({
            "kty": "RSA", "kid": kid, "use": "sig", "alg": alg_name(alg),
            "n": b64u(&public.n_bytes()), "e": b64u(&public.e_bytes()),
        });
        Self {
            kid: kid.into(),
            alg,
            encoding: EncodingKey::from_rsa_der(der.as_bytes()),
            jwk,
            public_pem,
        }
    }

    /// The P-256 key from idp/keys.
    pub fn ec(kid: &str) -> Self {
        let pem = std::fs::read_to_string(keys_dir().join("idp-ec-key.pem")).expect("ec key");
        let der = pem_der(&pem);
        use p256::pkcs8::DecodePrivateKey;
        let sk = p256::ecdsa::SigningKey::from_pkcs8_der(&der).expect("p256");
        let point = sk.verifying_key().to_sec1_point(false);
        let bytes = point.as_bytes();
        let jwk = json!({
            "kty": "EC", "kid": kid, "use": "sig", "crv": "P-256",
            "x": b64u(&bytes[1..33]), "y": b64u(&bytes[33..65]),
        });
        Self {
            kid: kid.into(),
            alg: Algorithm::ES256,
            encoding: EncodingKey::from_ec_der(&der),
            jwk,
            public_pem: String::new(),
        }
    }

    /// An Ed25519 key from a fixed seed.
    pub fn ed25519(kid: &str) -> Self {
        let seed = [7u8; 32];
        let sk = ed25519_dalek::SigningKey::from_bytes(&seed);
        let x = sk.verifying_key().to_bytes();
        // PKCS#8 v1 for Ed25519: fixed prefix + the 32-byte seed.
        let mut der = vec![
            0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22,
            0x04, 0x20,
        ];
        der.extend_from_slice(&seed);
        let jwk = json!({ "kty": "OKP", "kid": kid, "crv": "Ed25519", "x": b64u(&x) });
        Self {
            kid: kid.into(),
            alg: Algorithm::EdDSA,
            encoding: EncodingKey::from_ed_der(&der),
            jwk,
            public_pem: String::new(),
        }
    }

    pub fn with_kid(mut self, kid: &str) -> Self {
        self.kid = kid.into();
        self.jwk["kid"] = json!(kid);
        self
    }
}

pub fn alg_name(alg: Algorithm) -> &'static str {
    match alg {
        Algorithm::HS256 => "HS256",
        Algorithm::HS384 => "HS384",
        Algorithm::HS512 => "HS512",
        Algorithm::RS256 => "RS256",
        Algorithm::RS384 => "RS384",
        Algorithm::RS512 => "RS512",
        Algorithm::PS256 => "PS256",
        Algorithm::PS384 => "PS384",
        Algorithm::PS512 => "PS512",
        Algorithm::ES256 => "ES256",
        Algorithm::ES384 => "ES384",
        Algorithm::EdDSA => "EdDSA",
        _ => "unknown",
    }
}

/// Signs `header` + `claims` with `key` under `alg` (the header is used as given).
pub fn mint_raw(header: &Value, claims: &Value, key: &EncodingKey, alg: Algorithm) -> String {
    let input = format!(
        "{}.{}",
        b64u(header.to_string().as_bytes()),
        b64u(claims.to_string().as_bytes())
    );
    let sig = jsonwebtoken::crypto::sign(input.as_bytes(), key, alg).expect("sign");
    format!("{input}.{sig}")
}

/// Signs with a test key, header `{alg, kid, typ: JWT}`.
pub fn mint(key: &TestKey, claims: &Value) -> String {
    let header = json!({ "alg": alg_name(key.alg), "kid": key.kid, "typ": "JWT" });
    mint_raw(&header, claims, &key.encoding, key.alg)
}

pub fn jwks(keys: &[&TestKey]) -> Vec<u8> {
    json!({ "keys": keys.iter().map(|k| k.jwk.clone()).collect::<Vec<_>>() })
        .to_string()
        .into_bytes()
}

/// What the provider saw of one request.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: &'static str,
    pub url: String,
    pub form: Vec<(String, String)>,
    pub basic: Option<(String, String)>,
    pub bearer: Option<String>,
}

/// An in-process provider: routes URL -> response, and a log of requests.
#[derive(Debug, Default)]
pub struct FakeProvider {
    routes: Mutex<HashMap<String, HttpResponse>>,
    seen: Mutex<Vec<Seen>>,
}

pub fn ok_json(body: impl Into<Vec<u8>>) -> HttpResponse {
    HttpResponse {
        status: 200,
        content_type: Some("application/json".into()),
        body: body.into(),
    }
}

impl FakeProvider {
    pub fn route(&self, url: &str, resp: HttpResponse) {
        self.routes.lock().unwrap().insert(url.into(), resp);
    }

    pub fn hits(&self, url: &str) -> usize {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.url == url)
            .count()
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    fn answer(&self, seen: Seen) -> Result<HttpResponse, HttpError> {
        let url = seen.url.clone();
        self.seen.lock().unwrap().push(seen);
        self.routes
            .lock()
            .unwrap()
            .get(&url)
            .cloned()
            .ok_or_else(|| format!("no route for {url}").into())
    }
}

#[async_trait]
impl OidcHttp for FakeProvider {
    async fn get(&self, url: &str, _max: usize) -> Result<HttpResponse, HttpError> {
        self.answer(Seen {
            method: "GET",
            url: url.into(),
            form: vec![],
            basic: None,
            bearer: None,
        })
    }
    async fn get_with_bearer(
        &self,
        url: &str,
        token: &AccessToken,
        _max: usize,
    ) -> Result<HttpResponse, HttpError> {
        self.answer(Seen {
            method: "GET",
            url: url.into(),
            form: vec![],
            basic: None,
            bearer: Some(token.expose_secret().into()),
        })
    }
    async fn post_form(
        &self,
        url: &str,
        form: &[(&str, &str)],
        basic: Option<(&str, &str)>,
        _max: usize,
    ) -> Result<HttpResponse, HttpError> {
        self.answer(Seen {
            method: "POST",
            url: url.into(),
            form: form
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            basic: basic.map(|(u, p)| (u.into(), p.into())),
            bearer: None,
        })
    }
}

/// Runs a future to completion on a current-thread runtime.
pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(f)
}
