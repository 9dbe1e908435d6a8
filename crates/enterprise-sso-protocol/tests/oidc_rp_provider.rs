//! The OIDC relying party against a real, OpenID-certified provider: npm `oidc-provider`
//! (panva) started on loopback by this test (idp/node/op.mjs, see idp/README.md).
//!
//! Discovery, the authorization request, the devInteractions login and consent driven
//! over plain HTTP, the RFC 9207 `iss` in the callback, the code exchanged with PKCE for
//! the confidential client (`client_secret_basic`, chosen from discovery) and the public
//! client (PKCE only), the ID token verified against the provider's JWKS, user info, a
//! code replayed, and a signing-key rotation mid-test (the JWKS cache fetches the new key
//! once, on the unknown `kid`).
//!
//! Needs `node` and idp/node/node_modules (`bash idp/install.sh`). Without them the test
//! prints a notice and passes, except with `CI=true`, where it runs `npm ci` in idp/node
//! itself and fails if that does not work.

#![allow(clippy::unwrap_used)]

mod oidc_rp_support;

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use async_trait::async_trait;
use base64::Engine;
use enterprise_sso_protocol::limits::Policy;
use enterprise_sso_protocol::oidc::rp::*;
use enterprise_sso_protocol::secret::AccessToken;
use sha2::Digest;

const REDIRECT: &str = "http://127.0.0.1:3000/cb";

fn idp_node() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../idp/node")
}

fn node_ready() -> Result<(), String> {
    let node = Command::new("node")
        .arg("--version")
        .output()
        .map_err(|e| format!("node not runnable: {e}"))?;
    if !node.status.success() {
        return Err("node --version failed".into());
    }
    if idp_node().join("node_modules/oidc-provider").is_dir() {
        return Ok(());
    }
    Err("idp/node/node_modules is missing (bash idp/install.sh)".into())
}

/// `Ok(true)`: run; `Ok(false)`: skip with a notice.
fn provider_available() -> bool {
    match node_ready() {
        Ok(()) => true,
        Err(why) if std::env::var("CI").as_deref() == Ok("true") => {
            // CI installs from the committed lock file rather than skipping.
            let status = Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
                .current_dir(idp_node())
                .env("PUPPETEER_SKIP_DOWNLOAD", "1")
                .status();
            match (status, node_ready()) {
                (Ok(s), Ok(())) if s.success() => true,
                (s, r) => panic!("oidc-provider test needs node and idp/node/node_modules under CI: {why}; npm ci: {s:?}; then: {r:?}"),
            }
        }
        Err(why) => {
            eprintln!("NOTICE: oidc-provider test skipped: {why}");
            false
        }
    }
}

/// The provider process, stopped when dropped.
struct Op {
    child: Child,
    discovery_url: String,
    base: String,
}

impl Op {
    fn start() -> Op {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let mut child = Command::new("node")
            .arg(idp_node().join("op.mjs"))
            .arg(port.to_string())
            .env("OP_CLIENT_REDIRECT_URIS", REDIRECT)
            .env("OP_PUBLIC_REDIRECT_URIS", REDIRECT)
            .env("OP_CLIENT_AUTH_METHOD", "client_secret_basic")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("node op.mjs");
        let mut line = String::new();
        let stdout = child.stdout.take().expect("stdout");
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("op.mjs ready line");
        let discovery_url = line.trim().to_owned();
        assert!(
            discovery_url.ends_with("/.well-known/openid-configuration"),
            "{discovery_url:?}"
        );
        Op {
            child,
            discovery_url,
            base: format!("http://127.0.0.1:{port}"),
        }
    }
}

impl Drop for Op {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        for _ in 0..20 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A plain-HTTP client for loopback only: the test's `OidcHttp`.
#[derive(Debug)]
struct Loopback {
    client: reqwest::Client,
}

fn loopback_only(url: &str) -> Result<(), HttpError> {
    let u = url::Url::parse(url)?;
    if u.host_str() != Some("127.0.0.1") {
        return Err(format!(
            "the test client talks to 127.0.0.1 only, not {:?}",
            u.host_str()
        )
        .into());
    }
    Ok(())
}

async fn read(resp: reqwest::Response, max: usize) -> Result<HttpResponse, HttpError> {
    let status = resp.status().as_u16();
    let content_type = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = resp.bytes().await?.to_vec();
    if body.len() > max {
        return Err(format!("body over {max} bytes").into());
    }
    Ok(HttpResponse {
        status,
        content_type,
        body,
    })
}

#[async_trait]
impl OidcHttp for Loopback {
    async fn get(&self, url: &str, max: usize) -> Result<HttpResponse, HttpError> {
        loopback_only(url)?;
        read(self.client.get(url).send().await?, max).await
    }
    async fn get_with_bearer(
        &self,
        url: &str,
        token: &AccessToken,
        max: usize,
    ) -> Result<HttpResponse, HttpError> {
        loopback_only(url)?;
        let r = self
            .client
            .get(url)
            .bearer_auth(token.expose_secret())
            .send()
            .await?;
        read(r, max).await
    }
    async fn post_form(
        &self,
        url: &str,
        form: &[(&str, &str)],
        basic: Option<(&str, &str)>,
        max: usize,
    ) -> Result<HttpResponse, HttpError> {
        loopback_only(url)?;
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let mut req = self
            .client
            .post(url)
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(body);
        if let Some((id, secret)) = basic {
            // RFC 6749 §2.3.1: each part form-encoded, then Basic.
            let enc =
                |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
            let creds = base64::engine::general_purpose::STANDARD.encode(format!(
                "{}:{}",
                enc(id),
                enc(secret)
            ));
            req = req.header(reqwest::header::AUTHORIZATION, format!("Basic {creds}"));
        }
        read(req.send().await?, max).await
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn random() -> [u8; AUTHORIZATION_RANDOM_BYTES] {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let seed = format!(
        "{}-{}-{}",
        now_ms(),
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    );
    let a = sha2::Sha256::digest(format!("a{seed}").as_bytes());
    let b = sha2::Sha256::digest(format!("b{seed}").as_bytes());
    let mut out = [0u8; AUTHORIZATION_RANDOM_BYTES];
    out[..32].copy_from_slice(&a);
    out[32..].copy_from_slice(&b);
    out
}

/// A browser: a cookie jar, no redirects followed automatically.
struct Browser {
    client: reqwest::Client,
    jar: HashMap<String, String>,
}

impl Browser {
    fn new(client: reqwest::Client) -> Self {
        Browser {
            client,
            jar: HashMap::new(),
        }
    }

    async fn go(
        &mut self,
        url: &str,
        form: Option<&[(&str, &str)]>,
    ) -> (u16, Option<String>, String) {
        let cookie = self
            .jar
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        let req = match form {
            None => self.client.get(url),
            Some(f) => self
                .client
                .post(url)
                .header(
                    reqwest::header::CONTENT_TYPE,
                    "application/x-www-form-urlencoded",
                )
                .body(
                    url::form_urlencoded::Serializer::new(String::new())
                        .extend_pairs(f)
                        .finish(),
                ),
        };
        let resp = req
            .header(reqwest::header::COOKIE, cookie)
            .send()
            .await
            .expect("browser request");
        for c in resp.headers().get_all(reqwest::header::SET_COOKIE) {
            let c = c.to_str().unwrap_or_default();
            let kv = c.split(';').next().unwrap_or_default();
            if let Some((k, v)) = kv.split_once('=') {
                self.jar.insert(k.trim().to_owned(), v.to_owned());
            }
        }
        let status = resp.status().as_u16();
        let location = resp
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        (status, location, resp.text().await.unwrap_or_default())
    }

    /// Follows the authorization URL through devInteractions login and consent to the
    /// redirect URI; returns the callback's query string.
    async fn sign_in(&mut self, base: &str, auth_url: &str, login: &str) -> String {
        let (_, mut loc, _) = self.go(auth_url, None).await;
        for _ in 0..10 {
            let l = loc.clone().expect("a redirect");
            let abs = url::Url::parse(base).unwrap().join(&l).unwrap().to_string();
            if abs.starts_with(REDIRECT) {
                return url::Url::parse(&abs)
                    .unwrap()
                    .query()
                    .unwrap_or_default()
                    .to_owned();
            }
            if url::Url::parse(&abs)
                .unwrap()
                .path()
                .starts_with("/interaction/")
            {
                let (_, _, page) = self.go(&abs, None).await;
                let form: Vec<(&str, &str)> = if page.contains("name=\"login\"") {
                    vec![("prompt", "login"), ("login", login), ("password", "x")]
                } else {
                    vec![("prompt", "consent")]
                };
                loc = self.go(&abs, Some(&form)).await.1;
            } else {
                loc = self.go(&abs, None).await.1;
            }
        }
        panic!("no redirect to the client after 10 hops");
    }
}

/// The caller's pending-request store: taken once by state.
#[derive(Default)]
struct Pending(HashMap<String, Vec<u8>>);

impl Pending {
    fn put(&mut self, req: &AuthorizationRequest) {
        self.0.insert(
            req.state.expose_secret().to_owned(),
            req.pending.to_payload().to_vec(),
        );
    }
    fn take(&mut self, cb: &Callback) -> Option<PendingAuthorization> {
        self.0
            .remove(cb.state.expose_secret())
            .map(|b| PendingAuthorization::from_payload(&b).expect("pending payload"))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn code_flow_with_pkce_against_oidc_provider() {
    if !provider_available() {
        return;
    }
    let op = Op::start();
    // In a workspace build reqwest's features are unified with enterprise-sso-fetch's
    // (`rustls-no-provider`): a client is built only once a rustls provider is installed.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()
        .expect("client");
    let http = Loopback {
        client: client.clone(),
    };
    let policy = Policy {
        allow_loopback_fetch: true,
    };

    // Discovery.
    let meta = RelyingParty::discover(&http, &op.discovery_url, &policy)
        .await
        .expect("discovery");
    assert_eq!(meta.issuer(), op.base);
    assert!(
        meta.authorization_response_iss_parameter_supported,
        "oidc-provider advertises RFC 9207"
    );
    let confidential = RelyingParty::new(
        meta.clone(),
        ClientConfig::new("rp", Some(OidcClientSecret::new("rp-secret")), REDIRECT),
    )
    .expect("rp");
    assert_eq!(
        confidential.token_auth_method().unwrap(),
        TokenAuthMethod::ClientSecretBasic
    );
    let public = RelyingParty::new(meta.clone(), ClientConfig::new("rp-public", None, REDIRECT))
        .expect("rp-public");
    assert_eq!(public.token_auth_method().unwrap(), TokenAuthMethod::None);
    // One JWKS cache per provider, shared by both clients.
    let jwks = confidential.new_jwks_cache();
    let mut store = Pending::default();

    // ---- confidential client, step by step ----
    let opts = AuthorizationOptions {
        login_hint: Some("jane@acme.com".into()),
        domain_hint: None,
    };
    let req = confidential
        .authorization_request(&random(), &opts, now_ms())
        .expect("auth request");
    store.put(&req);
    let query = Browser::new(client.clone())
        .sign_in(&op.base, &req.url, "jane@acme.com")
        .await;
    assert!(
        query.contains("iss="),
        "RFC 9207 iss in the callback: {query}"
    );
    let cb = confidential.callback(&query).expect("callback");
    let pending = store.take(&cb).expect("the state's pending record");
    assert!(store.take(&cb).is_none(), "a state is taken once");
    let tokens = confidential
        .exchange_code(&http, &cb.code, &pending)
        .await
        .expect("token");
    let id = confidential
        .verify_id_token(
            &http,
            &jwks,
            &tokens.id_token,
            &pending.nonce,
            Some(&tokens.access_token),
            now_ms(),
        )
        .await
        .expect("ID token");
    assert_eq!(id.subject, "jane@acme.com");
    assert_eq!(id.kid, "idp");
    assert_eq!(id.alg, "RS256");
    assert_eq!(jwks.fetch_count(), 1);
    let info = confidential
        .userinfo(&http, &id, &tokens.access_token)
        .await
        .expect("userinfo");
    assert_eq!(info["family_name"], "Doe");
    let who = confidential.identity(&id, Some(&info));
    assert_eq!(who.email.as_deref(), Some("jane@acme.com"));
    assert_eq!(who.email_verification, Some(EmailVerification::Claim));
    assert_eq!(who.given_name.as_deref(), Some("Jane"));
    // The same code again: the provider refuses it, typed.
    let again = confidential
        .exchange_code(&http, &cb.code, &pending)
        .await
        .unwrap_err();
    assert_eq!(again.code(), "oidc_token_error", "{again}");
    // The ID token under another nonce (a replay into another browser's flow).
    let other = confidential
        .authorization_request(&random(), &opts, now_ms())
        .unwrap();
    let err = confidential
        .verify_id_token(
            &http,
            &jwks,
            &tokens.id_token,
            &other.pending.nonce,
            None,
            now_ms(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), "oidc_nonce_mismatch");
    // The confidential client's token presented to the public client (another audience).
    let err = public
        .verify_id_token(
            &http,
            &jwks,
            &tokens.id_token,
            &pending.nonce,
            None,
            now_ms(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), "oidc_aud_mismatch");

    // ---- public client, the whole flow ----
    let req = public
        .authorization_request(&random(), &opts, now_ms())
        .unwrap();
    store.put(&req);
    let query = Browser::new(client.clone())
        .sign_in(&op.base, &req.url, "john@acme.com")
        .await;
    let cb = public.callback(&query).unwrap();
    let pending = store.take(&cb).unwrap();
    let who = public
        .complete(&http, &jwks, &cb, &pending, now_ms())
        .await
        .expect("public flow")
        .identity;
    assert_eq!(who.subject, "john@acme.com");
    assert_eq!(who.family_name.as_deref(), Some("Roe"));
    assert_eq!(jwks.fetch_count(), 1, "the cached keys serve");

    // ---- rotation: idp2 signs, idp stays published ----
    let rotate = |use_: &'static str| {
        let client = client.clone();
        let url = format!("{}/__admin/keys?use={use_}", op.base);
        async move {
            client
                .post(url)
                .send()
                .await
                .expect("rotate")
                .status()
                .as_u16()
        }
    };
    assert_eq!(rotate("idp2,idp").await, 200);
    let req = confidential
        .authorization_request(&random(), &opts, now_ms())
        .unwrap();
    store.put(&req);
    let query = Browser::new(client.clone())
        .sign_in(&op.base, &req.url, "jane@acme.com")
        .await;
    let cb = confidential.callback(&query).unwrap();
    let pending = store.take(&cb).unwrap();
    let tokens = confidential
        .exchange_code(&http, &cb.code, &pending)
        .await
        .unwrap();
    let id = confidential
        .verify_id_token(
            &http,
            &jwks,
            &tokens.id_token,
            &pending.nonce,
            Some(&tokens.access_token),
            now_ms(),
        )
        .await
        .expect("ID token after rotation");
    assert_eq!(id.kid, "idp2");
    assert_eq!(jwks.fetch_count(), 2, "one fetch for the new kid");
    // The old key is dropped; a token signed by idp2 keeps working from the cache.
    assert_eq!(rotate("idp2").await, 200);
    let req = public
        .authorization_request(&random(), &opts, now_ms())
        .unwrap();
    store.put(&req);
    let query = Browser::new(client.clone())
        .sign_in(&op.base, &req.url, "jane@acme.com")
        .await;
    let cb = public.callback(&query).unwrap();
    let pending = store.take(&cb).unwrap();
    let who = public
        .complete(&http, &jwks, &cb, &pending, now_ms())
        .await
        .expect("after dropping idp")
        .identity;
    assert_eq!(who.subject, "jane@acme.com");
    assert_eq!(jwks.fetch_count(), 2);
    drop(op);
}
