//! The hosted sign-in routes over OIDC against a real certified provider, npm
//! `oidc-provider` (idp/node/op.mjs), through the SSRF-safe fetcher in its loopback test
//! mode: `/sso/authorize` → the provider's login and consent (idp/oidc_follow.py) → the
//! callback route → a code → `/sso/token` with PKCE from the client. Then the callback's
//! own refusals: the state missing, the callback carried to another browser, no cookie.
//! And the user declining on the provider's consent page: the provider's `access_denied`
//! goes back to the client's redirect URI with the client's state, once.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod sso_support;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use enterprise_sso::{
    ClientSecret, CreateConnection, OidcPatch, Patch, Provider, UpdateConnection,
};
use enterprise_sso_fetch::{FetchOptions, Fetcher};
use enterprise_sso_flows::{HostedSettings, OidcSettings, SamlSettings};
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
    follow(auth_url, redirect_uri, &[])
}

/// The browser at the provider: login, then "[ Cancel ]" on the consent page.
fn decline(auth_url: &str, redirect_uri: &str) -> String {
    follow(auth_url, redirect_uri, &["--deny"])
}

fn follow(auth_url: &str, redirect_uri: &str, extra: &[&str]) -> String {
    let out = Command::new("python3")
        .current_dir(root())
        .args(["idp/oidc_follow.py", auth_url, redirect_uri])
        .args(extra)
        .output()
        .expect("run idp/oidc_follow.py");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// A world with an active OIDC connection for acme.com at a fresh oidc-provider.
struct OidcWorld {
    w: World,
    id: enterprise_sso::ConnectionId,
    /// The provider, stopped on drop.
    _op: Running,
    /// Its port.
    port: u16,
    /// The callback route's path.
    path: String,
    /// The callback URL registered at the provider.
    callback: String,
}

async fn oidc_world() -> OidcWorld {
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
    let op = provider(port, &callback);
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
    w.svc_flows
        .update_resolved(&conn.id, &activate, None, fetcher.as_ref())
        .await
        .unwrap();
    let path = format!("/saml/{}/callback", conn.id);
    OidcWorld {
        w,
        id: conn.id,
        _op: op,
        port,
        path,
        callback,
    }
}

fn start(state: &str) -> String {
    authorize_uri(&[
        ("client_id", "client_b"),
        ("redirect_uri", B_CB),
        ("response_type", "code"),
        ("login_hint", "jane@acme.com"),
        ("state", state),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
    ])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oidc_provider_signs_jane_in_through_the_hosted_routes() {
    if !available() {
        return;
    }
    let ow = oidc_world().await;
    let (w, port, path, callback) = (&ow.w, ow.port, &ow.path, &ow.callback);
    // The whole flow: routed by the login hint, PKCE from the client.
    let mut alice = Browser::default();
    let r = alice.get(&w.app, &start("s-oidc")).await;
    assert_eq!(r.status, StatusCode::FOUND, "{}", r.body);
    let auth_url = r.location().unwrap().to_owned();
    assert!(auth_url.starts_with(&format!("http://127.0.0.1:{port}/")));
    let query = login(&auth_url, callback);
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
    // The claims keep their JSON types (WorkOS's raw_attributes for OIDC).
    assert_eq!(p["raw_attributes"]["email"], "jane@acme.com");
    assert_eq!(
        p["raw_attributes"]["email_verified"],
        serde_json::json!(true)
    );
    assert!(
        p["raw_attributes"]["iat"].is_u64(),
        "{}",
        p["raw_attributes"]
    );
    assert!(
        p["raw_attributes"]["exp"].is_u64(),
        "{}",
        p["raw_attributes"]
    );
    // The same callback again: the state was taken.
    let r = alice.get(&w.app, &format!("{path}?{query}")).await;
    r.assert_page(400, "oidc_unknown_state");

    // The callback carried to another browser; with no cookie at all.
    let r = alice.get(&w.app, &start("s-2")).await;
    let query = login(r.location().unwrap(), callback);
    let mut bob = Browser::default();
    let _ = bob.get(&w.app, &start("s-bob")).await;
    let r = bob.get(&w.app, &format!("{path}?{query}")).await;
    r.assert_page(400, "oidc_browser_mismatch");
    let r = alice.get(&w.app, &start("s-3")).await;
    let query = login(r.location().unwrap(), callback);
    let r = Browser::default()
        .get(&w.app, &format!("{path}?{query}"))
        .await;
    r.assert_page(400, "oidc_browser_mismatch");

    // The state missing from the callback.
    let r = alice.get(&w.app, &start("s-4")).await;
    let query = login(r.location().unwrap(), callback);
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declined_consent_goes_back_to_the_client_with_access_denied() {
    if !available() {
        return;
    }
    let ow = oidc_world().await;
    let (w, id, path, callback) = (&ow.w, &ow.id, &ow.path, &ow.callback);
    let mut alice = Browser::default();
    let r = alice.get(&w.app, &start("s-deny")).await;
    assert_eq!(r.status, StatusCode::FOUND, "{}", r.body);
    // The user logs in and presses "[ Cancel ]" on the consent page: oidc-provider
    // redirects to the callback with error=access_denied, its description and the state.
    let query = decline(r.location().unwrap(), callback);
    assert!(query.contains("error=access_denied"), "{query}");
    let r = alice.get(&w.app, &format!("{path}?{query}")).await;
    // As WorkOS: back to the client's redirect URI with error, error_description and the
    // client's own state; no code.
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert!(r.location().unwrap().starts_with(&format!("{B_CB}?")));
    assert_eq!(r.param("error").as_deref(), Some("access_denied"));
    let description = r.param("error_description").unwrap();
    assert!(
        description.contains("access_denied") && description.contains("End-User aborted"),
        "{description}"
    );
    assert_eq!(r.param("state").as_deref(), Some("s-deny"));
    assert_eq!(r.param("code"), None);
    // The pending request was taken: the same callback again is a page, never a second
    // redirect.
    let r = alice.get(&w.app, &format!("{path}?{query}")).await;
    r.assert_page(400, "oidc_unknown_state");

    // A provider error whose state belongs to another browser's request is a page (the
    // callback proves nothing about where to send this browser), and uses that request up.
    let r = alice.get(&w.app, &start("s-deny-2")).await;
    let query = decline(r.location().unwrap(), callback);
    let mut mallory = Browser::default();
    let _ = mallory.get(&w.app, &start("s-mallory")).await;
    let r = mallory.get(&w.app, &format!("{path}?{query}")).await;
    r.assert_page(400, "oidc_browser_mismatch");
    let r = alice.get(&w.app, &format!("{path}?{query}")).await;
    r.assert_page(400, "oidc_unknown_state");

    // An error with no state answers no request: the provider's reason on a page.
    let iss = format!("http://127.0.0.1:{}", ow.port);
    let r = alice
        .get(
            &w.app,
            &format!(
                "{path}?error=access_denied&iss={}",
                url::form_urlencoded::byte_serialize(iss.as_bytes()).collect::<String>()
            ),
        )
        .await;
    r.assert_page(400, "oidc_provider_error");

    // No account; every refusal on the change feed with its reason.
    assert!(w
        .svc
        .find_accounts_by_email("jane@acme.com")
        .await
        .unwrap()
        .is_empty());
    let failed: Vec<(String, String)> = w
        .svc
        .events_after(0, 500)
        .await
        .unwrap()
        .events
        .iter()
        .filter(|e| e.kind.as_str() == "authentication.sso_failed")
        .map(|e| {
            assert_eq!(e.connection_id.as_ref(), Some(id));
            let f = e.failure.as_ref().unwrap();
            (f.code.clone(), f.message.clone())
        })
        .collect();
    let codes: Vec<&str> = failed.iter().map(|(c, _)| c.as_str()).collect();
    assert_eq!(
        codes,
        [
            "oidc_provider_error",
            "oidc_unknown_state",
            "oidc_browser_mismatch",
            "oidc_unknown_state",
            "oidc_provider_error"
        ]
    );
    assert!(failed[0].1.contains("access_denied"), "{}", failed[0].1);
}
