//! OIDC relying party: ID token verification (RS256, JWKS already loaded) and the whole
//! callback without network, each beside its floor, one RSA-2048 PKCS#1 v1.5 SHA-256
//! verify of the same signing input:
//!
//! - `verify_id_token_cached`: an Okta/Entra-sized RS256 ID token (~1.3 KB, 20 claims)
//!   against a loaded JWKS, every rule (header, key choice, signature, iss, aud, azp,
//!   exp/iat/nbf, nonce, at_hash);
//! - floors: aws-lc-rs (the verifier's crate, in the tree through rustls) with the key
//!   parsed once (what the verifier keeps per JWKS key) and built from `n`/`e` per call
//!   (what jsonwebtoken 12's aws_lc_rs backend does per verification); `rsa` 0.10 (the
//!   crate of jsonwebtoken's RustCrypto backend, used before) the same two ways;
//! - the callback: `oidc_start` + `oidc_finish` on `SqliteRepo` in a temporary directory
//!   and on `MemoryRepo`, over an `OidcHttp` with canned answers (discovery, a token
//!   response carrying an ID token minted before the timed part, one per iteration from a
//!   batch, the JWKS once): the provider metadata (cached in `OidcSettings`, fetched once),
//!   state put (sealed) and take, token response parse, verification, `record_sign_in` of
//!   a returning user (an account update).
//!
//! The token, JWKS and expectations are written to `target/bench-data/oidc/token.json`
//! for the `jose` peer (`node benches/polis/jose_verify.mjs`).
//!
//! Run: `cargo bench -p enterprise-sso-benches --bench oidc_verify`.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use enterprise_sso_flows::Flows;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine;
use criterion::{criterion_group, criterion_main, Criterion};
use enterprise_sso::{
    ClientSecret, Connections, CreateConnection, OidcPatch, Patch, Provider, SignInStore, Store,
};
use enterprise_sso_flows::{OidcSettings, OidcStart};
use enterprise_sso_protocol::limits::Policy;
use enterprise_sso_protocol::oidc::rp::{
    AuthorizationOptions, ClientConfig, HttpError, HttpResponse, OidcClientSecret, OidcHttp,
    ProviderMetadata, RelyingParty,
};
use enterprise_sso_protocol::secret::{AccessToken, Nonce};
use enterprise_sso_sqlite::SqliteRepo;
use futures_executor::block_on;
use rsa::pkcs1::EncodeRsaPublicKey;
use rsa::pkcs8::DecodePrivateKey;
use rsa::sha2::{Digest, Sha256};
use rsa::signature::{SignatureEncoding, Signer, Verifier};
use rsa::traits::PublicKeyParts;
use serde_json::{json, Value};

const ISSUER: &str = "https://acme.okta.example.com/oauth2/default";
const DISCOVERY: &str =
    "https://acme.okta.example.com/oauth2/default/.well-known/openid-configuration";
const TOKEN_URI: &str = "https://acme.okta.example.com/oauth2/default/v1/token";
const JWKS_URI: &str = "https://acme.okta.example.com/oauth2/default/v1/keys";
const CLIENT: &str = "0oa1b2c3d4e5f6g7h8i9";
const SECRET: &str = "bench-client-secret-0123456789abcdef";
const KID: &str = "Yk7zQd0W8mC2vR9x4LpN1sT6uH3jF5aB0eG8iK2oM4q";
/// Now, on a whole second (NumericDates are seconds).
const NOW_S: i64 = 1_780_000_000;
const NOW: i64 = NOW_S * 1000;
/// Pre-minted tokens the callback cycles through (each with its own state, nonce, code
/// and access token).
const BATCH: usize = 256;

fn b64u(b: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

fn root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The test IdP's RSA-2048 key from idp/keys.
fn signing_key() -> rsa::PrivateKey {
    let pem = std::fs::read_to_string(root().join("idp/keys/idp-key.pem")).unwrap();
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(body)
        .unwrap();
    rsa::PrivateKey::from_pkcs8_der(&der).unwrap()
}

struct Minter {
    signer: rsa::pkcs1v15::SigningKey<Sha256>,
    public: rsa::PublicKey,
}

impl Minter {
    fn new() -> Self {
        let key = signing_key();
        let public = key.to_public_key();
        assert_eq!(public.n_bytes().len(), 256, "an RSA-2048 key");
        Minter {
            signer: rsa::pkcs1v15::SigningKey::new(key),
            public,
        }
    }

    fn jwks(&self) -> Value {
        json!({ "keys": [
            // Okta and Entra publish two or more keys; ours is not the first.
            { "kty": "RSA", "kid": "previous-key-0000000000000000000000000000", "use": "sig",
              "alg": "RS256", "n": b64u(&self.public.n_bytes()), "e": "AQAB" },
            { "kty": "RSA", "kid": KID, "use": "sig", "alg": "RS256",
              "n": b64u(&self.public.n_bytes()), "e": b64u(&self.public.e_bytes()) },
        ]})
    }

    fn mint(&self, claims: &Value) -> String {
        let header = json!({ "kid": KID, "alg": "RS256", "typ": "JWT" });
        let input = format!(
            "{}.{}",
            b64u(header.to_string().as_bytes()),
            b64u(claims.to_string().as_bytes())
        );
        let sig = self.signer.sign(input.as_bytes()).to_vec();
        format!("{input}.{}", b64u(&sig))
    }
}

fn at_hash(access_token: &str) -> String {
    b64u(&Sha256::digest(access_token.as_bytes())[..16])
}

/// Claims shaped like an Okta ID token with Entra's extra identifiers (~1.3 KB token).
fn claims(sub: &str, email: &str, nonce: &str, access_token: &str) -> Value {
    json!({
        "sub": sub, "ver": 1, "iss": ISSUER, "aud": CLIENT, "azp": CLIENT,
        "iat": NOW_S - 5, "nbf": NOW_S - 5, "exp": NOW_S + 3595, "auth_time": NOW_S - 30,
        "jti": "ID.3mQ9xN0vZk2Lr8Tg5Hc7Wb1Fy4Ps6Ja0De2Gi8Mo",
        "amr": ["pwd", "mfa", "otp"], "idp": "00o1abcdefghij2k3l4m",
        "nonce": nonce, "name": "Jane Doe", "given_name": "Jane", "family_name": "Doe",
        "preferred_username": email, "email": email, "email_verified": true,
        "at_hash": at_hash(access_token),
        "tid": "72f988bf-86f1-41af-91ab-2d7cd011db47",
        "oid": "00000000-0000-0000-66f3-3332eca7ea81",
        "groups": ["Everyone", "Engineering", "SSO-Admins", "VPN-Users"],
    })
}

fn discovery() -> Value {
    json!({
        "issuer": ISSUER,
        "authorization_endpoint": format!("{ISSUER}/v1/authorize"),
        "token_endpoint": TOKEN_URI,
        "userinfo_endpoint": format!("{ISSUER}/v1/userinfo"),
        "jwks_uri": JWKS_URI,
        "response_types_supported": ["code", "id_token", "code id_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": ["openid", "email", "profile", "groups"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "code_challenge_methods_supported": ["S256"],
        "authorization_response_iss_parameter_supported": true,
    })
}

fn relying_party(redirect_uri: &str) -> RelyingParty {
    let provider = ProviderMetadata::from_discovery(
        discovery().to_string().as_bytes(),
        DISCOVERY,
        &Policy::default(),
    )
    .unwrap();
    RelyingParty::new(
        provider,
        ClientConfig::new(
            CLIENT,
            Some(OidcClientSecret::new(SECRET)),
            redirect_uri.to_owned(),
        ),
    )
    .unwrap()
}

/// Verification and its floors.
fn verify(c: &mut Criterion, minter: &Minter) {
    let nonce = "n-0S6_WzA2MjQ5NzE0ZmYx";
    let access = "eyJraWQiOiJhY2Nlc3MtdG9rZW4ifQ.bench-access-token-0123456789";
    let token = minter.mint(&claims(
        "00u1a2b3c4d5e6f7g8h9",
        "jane@acme.com",
        nonce,
        access,
    ));
    let jwks_body = minter.jwks().to_string();
    let rp = relying_party("https://app.example.com/sso/callback");
    let jwks = rp.new_jwks_cache();
    jwks.load(jwks_body.as_bytes(), NOW).unwrap();
    let nonce_s = Nonce::new(nonce);
    let access_s = AccessToken::new(access);
    let ok = rp
        .verify_id_token_cached(&jwks, &token, &nonce_s, Some(&access_s), NOW)
        .unwrap();
    assert_eq!(ok.subject, "00u1a2b3c4d5e6f7g8h9");

    // For the jose peer: the same token, JWKS and expectations.
    let dir = enterprise_sso_benches::data_dir().join("oidc");
    std::fs::create_dir_all(&dir).unwrap();
    let fixture = json!({
        "token": token, "jwks": minter.jwks(), "issuer": ISSUER, "audience": CLIENT,
        "nonce": nonce, "now_s": NOW_S, "clock_tolerance_s": 120,
    });
    std::fs::write(dir.join("token.json"), fixture.to_string()).unwrap();

    let (signing_input, sig_b64) = token.rsplit_once('.').unwrap();
    let sig = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(sig_b64)
        .unwrap();
    println!(
        "ID token: {} bytes (signing input {} bytes), JWKS {} bytes",
        token.len(),
        signing_input.len(),
        jwks_body.len()
    );

    let mut g = c.benchmark_group("oidc_verify");
    g.measurement_time(Duration::from_secs(5));
    g.bench_function("verify_id_token_cached", |b| {
        b.iter(|| {
            rp.verify_id_token_cached(&jwks, &token, &nonce_s, Some(&access_s), NOW)
                .unwrap()
        })
    });

    // Floor, `rsa` 0.10: the public key built once.
    let rsa_sig = rsa::pkcs1v15::Signature::try_from(sig.as_slice()).unwrap();
    let vk = rsa::pkcs1v15::VerifyingKey::<Sha256>::new(minter.public.clone());
    g.bench_function("floor_rsa_verify", |b| {
        b.iter(|| vk.verify(signing_input.as_bytes(), &rsa_sig).unwrap())
    });
    // `rsa` 0.10 with the key built from n and e per call (what jsonwebtoken 12 does).
    let (n, e) = (minter.public.n_bytes(), minter.public.e_bytes());
    g.bench_function("floor_rsa_verify_key_per_call", |b| {
        b.iter(|| {
            let key = rsa::PublicKey::new(
                rsa::BoxedUint::from_be_slice_vartime(&n),
                rsa::BoxedUint::from_be_slice_vartime(&e),
            )
            .unwrap();
            rsa::pkcs1v15::VerifyingKey::<Sha256>::new(key)
                .verify(signing_input.as_bytes(), &rsa_sig)
                .unwrap()
        })
    });

    // Floor, aws-lc-rs: the key parsed once, and built from n and e per call.
    use aws_lc_rs::signature::{
        ParsedPublicKey, RsaPublicKeyComponents, RSA_PKCS1_2048_8192_SHA256,
    };
    let pkcs1 = minter.public.to_pkcs1_der().unwrap();
    let parsed = ParsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, pkcs1.as_bytes()).unwrap();
    g.bench_function("floor_aws_lc_verify", |b| {
        b.iter(|| parsed.verify_sig(signing_input.as_bytes(), &sig).unwrap())
    });
    let components = RsaPublicKeyComponents {
        n: n.as_ref(),
        e: e.as_ref(),
    };
    g.bench_function("floor_aws_lc_verify_key_per_call", |b| {
        b.iter(|| {
            components
                .verify(&RSA_PKCS1_2048_8192_SHA256, signing_input.as_bytes(), &sig)
                .unwrap()
        })
    });
    g.finish();
}

/// The provider's side of the callback, canned: discovery, the JWKS, and the token
/// response for `code=c{i}` carrying pre-minted ID token `i`.
#[derive(Debug)]
struct Canned {
    discovery: Vec<u8>,
    jwks: Vec<u8>,
    tokens: Vec<Vec<u8>>,
    jwks_fetches: AtomicUsize,
    discovery_fetches: AtomicUsize,
}

fn ok(body: &[u8]) -> HttpResponse {
    HttpResponse {
        status: 200,
        content_type: Some("application/json".into()),
        body: body.to_vec(),
    }
}

#[async_trait]
impl OidcHttp for Canned {
    async fn get(&self, url: &str, _max: usize) -> Result<HttpResponse, HttpError> {
        match url {
            DISCOVERY => {
                self.discovery_fetches.fetch_add(1, Ordering::Relaxed);
                Ok(ok(&self.discovery))
            }
            JWKS_URI => {
                self.jwks_fetches.fetch_add(1, Ordering::Relaxed);
                Ok(ok(&self.jwks))
            }
            _ => Err(format!("no route for {url}").into()),
        }
    }
    async fn get_with_bearer(
        &self,
        url: &str,
        _token: &AccessToken,
        _max: usize,
    ) -> Result<HttpResponse, HttpError> {
        Err(format!("no user info expected ({url})").into())
    }
    async fn post_form(
        &self,
        url: &str,
        form: &[(&str, &str)],
        _basic: Option<(&str, &str)>,
        _max: usize,
    ) -> Result<HttpResponse, HttpError> {
        assert_eq!(url, TOKEN_URI);
        let code = form.iter().find(|(k, _)| *k == "code").unwrap().1;
        let i: usize = code.strip_prefix('c').unwrap().parse().unwrap();
        Ok(ok(&self.tokens[i]))
    }
}

/// Deterministic, not all equal: the 64 bytes `oidc_start` makes state, nonce and PKCE
/// verifier from.
fn random(i: usize) -> [u8; 64] {
    let mut x = (i as u64).wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut r = [0u8; 64];
    for chunk in r.chunks_mut(8) {
        x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = x;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        chunk.copy_from_slice(&(z ^ (z >> 31)).to_le_bytes());
    }
    r
}

/// `oidc_start` + `oidc_finish` on `svc`, cycling through `BATCH` pre-minted sign-ins.
fn callback<R: Store + SignInStore + 'static>(
    c: &mut Criterion,
    name: &str,
    minter: &Minter,
    svc: Connections<R>,
) {
    let svc_flows = Flows::new(svc);
    let svc = svc_flows.connections();
    let mut p = CreateConnection::new(Provider::OidcCustom, "Acme");
    p.domains = Some(vec!["acme.com".into()]);
    p.active = Some(true);
    p.oidc = Some(OidcPatch {
        client_id: Patch::Value(CLIENT.into()),
        client_secret: Patch::Value(ClientSecret::new(SECRET)),
        discovery_url: Patch::Value(DISCOVERY.into()),
        auth_url: Patch::Value(format!("{ISSUER}/v1/authorize")),
        token_url: Patch::Value(TOKEN_URI.into()),
        ..Default::default()
    });
    let conn = block_on(svc.create(&p)).unwrap();

    // The same relying party the service builds, to learn each request's state and nonce.
    let base = "https://app.example.com/sso/oidc";
    let rp = relying_party(&format!("{base}/{}/callback", conn.id));
    let iss = url_encode(ISSUER);
    let mut queries = Vec::with_capacity(BATCH);
    let mut tokens = Vec::with_capacity(BATCH);
    for i in 0..BATCH {
        let req = rp
            .authorization_request(&random(i), &AuthorizationOptions::default(), NOW)
            .unwrap();
        let access = format!("eyJraWQiOiJhY2Nlc3MtdG9rZW4ifQ.bench-access-token-{i:04}");
        let id_token = minter.mint(&claims(
            &format!("00u{i:017}"),
            &format!("user{i}@acme.com"),
            req.pending.nonce.expose_secret(),
            &access,
        ));
        tokens.push(
            json!({
                "token_type": "Bearer", "expires_in": 3600, "access_token": access,
                "scope": "openid email profile", "id_token": id_token,
            })
            .to_string()
            .into_bytes(),
        );
        queries.push(format!(
            "code=c{i}&state={}&iss={iss}",
            req.state.expose_secret()
        ));
    }
    let http = Arc::new(Canned {
        discovery: discovery().to_string().into_bytes(),
        jwks: minter.jwks().to_string().into_bytes(),
        tokens,
        jwks_fetches: AtomicUsize::new(0),
        discovery_fetches: AtomicUsize::new(0),
    });
    let settings = OidcSettings::new(base, http.clone());
    let run = |i: usize| {
        block_on(async {
            svc_flows
                .oidc_start(
                    &settings,
                    &conn.id,
                    OidcStart {
                        browser: "browser-cookie-0123456789abcdef",
                        login_hint: None,
                        domain_hint: None,
                        random: random(i),
                    },
                )
                .await
                .unwrap();
            svc_flows
                .oidc_finish(
                    &settings,
                    &conn.id,
                    &queries[i],
                    Some("browser-cookie-0123456789abcdef"),
                )
                .await
                .unwrap()
        })
    };
    // Every user signs in once (JIT), so the timed sign-ins are returning users.
    for i in 0..BATCH {
        assert!(run(i).sign_in.created);
    }
    assert_eq!(http.jwks_fetches.load(Ordering::Relaxed), 1);
    // The provider metadata is cached in OidcSettings (the clock stands still).
    assert_eq!(http.discovery_fetches.load(Ordering::Relaxed), 1);

    let mut g = c.benchmark_group("oidc_callback");
    g.measurement_time(Duration::from_secs(10));
    let mut i = 0;
    g.bench_function(name, |b| {
        b.iter(|| {
            let done = run(i);
            i = (i + 1) % BATCH;
            assert!(!done.sign_in.created);
        })
    });
    g.finish();
}

fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn benches(c: &mut Criterion) {
    let minter = Minter::new();
    verify(c, &minter);
    sqlite_callback(c, &minter);
    callback(
        c,
        "start_finish_memory",
        &minter,
        Connections::new(enterprise_sso_memory::MemoryRepo::new()).with_clock(Arc::new(|| NOW)),
    );
}

/// The callback on `SqliteRepo` in a temporary directory (its sign-in store keeps the
/// pending state: three write transactions per sign-in, state put, state take and the
/// account update, each committed with `synchronous = FULL`).
fn sqlite_callback(c: &mut Criterion, minter: &Minter) {
    let dir = tempfile::tempdir().unwrap();
    let repo = SqliteRepo::open(dir.path().join("oidc.db")).unwrap();
    callback(
        c,
        "start_finish_sqlite",
        minter,
        Connections::new(repo).with_clock(Arc::new(|| NOW)),
    );
}

criterion_group!(oidc, benches);
criterion_main!(oidc);
