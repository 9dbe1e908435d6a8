//! The hosted sign-in routes over OIDC against a real certified provider, npm
//! `oidc-provider` (idp/node/op.mjs), through the SSRF-safe fetcher in its loopback test
//! mode: `/sso/authorize` → the provider's login and consent (idp/oidc_follow.py) → the
//! callback route → a code → `/sso/token` with PKCE from the client. Then the callback's
//! own refusals: the state missing, the callback carried to another browser, no cookie.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod sso_support;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use enterprise_sso::{
    ClientSecret, CreateConnection, HostedSettings, OidcPatch, OidcSettings, Patch, Provider,
    SamlSettings, UpdateConnection,
};
use enterprise_sso_fetch::{FetchOptions, Fetcher};
use sso_support::*;

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn available() -> bool {
    if root().join("idp/node/node_modules/oidc-provider").exists() {
        return true;
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("oidc-provider is missing: run `bash idp/install.sh`");
    }
    eprintln!("skipped: oidc-provider is not installed (run `bash idp/install.sh`)");
    false
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn provider(port: u16, redirect_uri: &str) -> Running {
    let mut child = Command::new("node")
        .current_dir(root())
        .args(["idp/node/op.mjs", &port.to_string()])
        .env("OP_CLIENT_REDIRECT_URIS", redirect_uri)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start oidc-provider");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("provider ready");
    assert!(!line.is_empty(), "oidc-provider exited");
    Running(child)
}

/// The browser at the provider: login and consent; the callback's query string.
fn login(auth_url: &str, redirect_uri: &str) -> String {
    let out = Command::new("python3")
        .current_dir(root())
        .args(["idp/oidc_follow.py", auth_url, redirect_uri])
        .output()
        .expect("run idp/oidc_follow.py");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oidc_provider_signs_jane_in_through_the_hosted_routes() {
    if !available() {
        return;
    }
    let fetcher =
        Arc::new(Fetcher::new(FetchOptions::insecure_allow_loopback_for_tests()).unwrap());
    let settings = HostedSettings::new(SamlSettings::new(BASE))
        .with_oidc(Arc::new(OidcSettings::new(BASE, fetcher.clone())));
    let w = World::with(settings.clone(), BASE);
    let mut p = CreateConnection::new(Provider::OidcCustom, "Acme OIDC");
    p.domains = Some(vec!["acme.com".into()]);
    p.oidc = Some(OidcPatch {
        client_id: Patch::Value("rp".into()),
        client_secret: Patch::Value(ClientSecret::new("rp-secret")),
        ..Default::default()
    });
    let conn = w.svc.create(&p).await.unwrap();
    let callback = settings.oidc().unwrap().redirect_uri(&conn.id);
    assert_eq!(callback, format!("{BASE}/{}/callback", conn.id));
    let port = free_port();
    let _op = provider(port, &callback);
    let activate = UpdateConnection {
        active: Patch::Value(true),
        oidc: Patch::Value(OidcPatch {
            discovery_url: Patch::Value(format!(
                "http://127.0.0.1:{port}/.well-known/openid-configuration"
            )),
            ..Default::default()
        }),
        ..Default::default()
    };
    w.svc
        .update_resolved(&conn.id, &activate, None, fetcher.as_ref())
        .await
        .unwrap();
    let path = format!("/saml/{}/callback", conn.id);
    let start = |state: &'static str| {
        authorize_uri(&[
            ("client_id", "client_b"),
            ("redirect_uri", B_CB),
            ("response_type", "code"),
            ("login_hint", "jane@acme.com"),
            ("state", state),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
        ])
    };

    // The whole flow: routed by the login hint, PKCE from the client.
    let mut alice = Browser::default();
    let r = alice.get(&w.app, &start("s-oidc")).await;
    assert_eq!(r.status, StatusCode::FOUND, "{}", r.body);
    let auth_url = r.location().unwrap().to_owned();
    assert!(auth_url.starts_with(&format!("http://127.0.0.1:{port}/")));
    let query = login(&auth_url, &callback);
    let r = alice.get(&w.app, &format!("{path}?{query}")).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert!(r.location().unwrap().starts_with(B_CB));
    assert_eq!(r.param("state").as_deref(), Some("s-oidc"));
    let code = r.param("code").unwrap();
    let t = token(
        &w.app,
        &[
            ("client_id", "client_b"),
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("code_verifier", VERIFIER),
        ],
    )
    .await;
    assert_eq!(t.status, StatusCode::OK, "{}", t.body);
    let p = &t.json()["profile"];
    assert_eq!(p["email"], "jane@acme.com");
    assert_eq!(p["connection_type"], "GenericOIDC");
    assert_eq!(p["idp_id"], "jane@acme.com");
    assert_eq!(p["raw_attributes"]["email"], "jane@acme.com");
    // The same callback again: the state was taken.
    let r = alice.get(&w.app, &format!("{path}?{query}")).await;
    r.assert_page(400, "oidc_unknown_state");

    // The callback carried to another browser; with no cookie at all.
    let r = alice.get(&w.app, &start("s-2")).await;
    let query = login(r.location().unwrap(), &callback);
    let mut bob = Browser::default();
    let _ = bob.get(&w.app, &start("s-bob")).await;
    let r = bob.get(&w.app, &format!("{path}?{query}")).await;
    r.assert_page(400, "oidc_browser_mismatch");
    let r = alice.get(&w.app, &start("s-3")).await;
    let query = login(r.location().unwrap(), &callback);
    let r = Browser::default()
        .get(&w.app, &format!("{path}?{query}"))
        .await;
    r.assert_page(400, "oidc_browser_mismatch");

    // The state missing from the callback.
    let r = alice.get(&w.app, &start("s-4")).await;
    let query = login(r.location().unwrap(), &callback);
    let without_state: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(url::form_urlencoded::parse(query.as_bytes()).filter(|(k, _)| k != "state"))
        .finish();
    let r = alice.get(&w.app, &format!("{path}?{without_state}")).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert!(r.location().is_none());
    assert!(r.body.contains("<code id=\"error\">oidc_"), "{}", r.body);
    // Exactly one account.
    assert_eq!(
        w.svc
            .find_accounts_by_email("jane@acme.com")
            .await
            .unwrap()
            .len(),
        1
    );
}
