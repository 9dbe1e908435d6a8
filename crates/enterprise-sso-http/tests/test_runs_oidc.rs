//! A connection test run over OIDC against npm `oidc-provider` (idp/node/op.mjs), through
//! the SSRF-safe fetcher in its loopback test mode: the run's URL → the provider's login
//! and consent (idp/oidc_follow.py) → the callback route → the outcome page, without an
//! account; the run shows the verified ID token and its claims, never the access token. A
//! callback whose code the provider refuses is a failed run with the relying party's
//! reason, and so is the admin declining consent (the provider's `access_denied`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod schema;
mod sso_support;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
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

fn login(auth_url: &str, redirect_uri: &str) -> String {
    follow(auth_url, redirect_uri, &[])
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

async fn api(w: &World, method: Method, uri: &str) -> Reply {
    let req = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::AUTHORIZATION, format!("Bearer {KEY}"))
        .body(Body::empty())
        .unwrap();
    send(&w.app, req).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oidc_test_run_shows_the_claims_and_signs_no_one_in() {
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
    let id = conn.id.clone();
    let callback = settings.oidc().unwrap().redirect_uri(&id);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let _op = provider(port, &callback);
    // Configured but left inactive: an admin tests before activating.
    let configure = UpdateConnection {
        oidc: Patch::Value(OidcPatch {
            discovery_url: Patch::Value(format!(
                "http://127.0.0.1:{port}/.well-known/openid-configuration"
            )),
            ..Default::default()
        }),
        ..Default::default()
    };
    w.svc_flows
        .update_resolved(&id, &configure, None, fetcher.as_ref())
        .await
        .unwrap();
    let runs = format!("/v1/enterprise_connections/{id}/test_runs");
    let cb_path = format!("/saml/{id}/callback");

    // Success.
    let r = api(&w, Method::POST, &runs).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let url = r.json()["url"].as_str().unwrap().to_owned();
    let mut admin = Browser::default();
    let r = admin
        .get(&w.app, url.strip_prefix("http://127.0.0.1:3000").unwrap())
        .await;
    assert_eq!(r.status, StatusCode::FOUND, "{}", r.body);
    let query = login(r.location().unwrap(), &callback);
    let r = admin.get(&w.app, &format!("{cb_path}?{query}")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.location().is_none(), "no code");
    assert!(
        r.body.contains("<strong id=\"status\">success</strong>"),
        "{}",
        r.body
    );
    assert!(w
        .svc
        .find_accounts_by_email("jane@acme.com")
        .await
        .unwrap()
        .is_empty());

    // A callback whose code the provider refuses.
    let r = api(&w, Method::POST, &runs).await;
    let url = r.json()["url"].as_str().unwrap().to_owned();
    let r = admin
        .get(&w.app, url.strip_prefix("http://127.0.0.1:3000").unwrap())
        .await;
    let query = login(r.location().unwrap(), &callback);
    let forged: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(url::form_urlencoded::parse(query.as_bytes()).map(|(k, v)| {
            if k == "code" {
                (k, "forged".into())
            } else {
                (k, v)
            }
        }))
        .finish();
    let r = admin.get(&w.app, &format!("{cb_path}?{forged}")).await;
    assert!(
        r.body.contains("<strong id=\"status\">failed</strong>"),
        "{}",
        r.body
    );

    // The admin declines consent: the provider's access_denied fails the run, once.
    let r = api(&w, Method::POST, &runs).await;
    let url = r.json()["url"].as_str().unwrap().to_owned();
    let r = admin
        .get(&w.app, url.strip_prefix("http://127.0.0.1:3000").unwrap())
        .await;
    let query = follow(r.location().unwrap(), &callback, &["--deny"]);
    assert!(query.starts_with("error=access_denied&"), "{query}");
    let r = admin.get(&w.app, &format!("{cb_path}?{query}")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(
        r.body.contains("<strong id=\"status\">failed</strong>")
            && r.body.contains("oidc_provider_error"),
        "{}",
        r.body
    );
    // Its request was used up: the same callback again ends no run and goes on as a
    // sign-in, which finds no request either.
    let r = admin.get(&w.app, &format!("{cb_path}?{query}")).await;
    r.assert_page(400, "oidc_unknown_state");

    let r = api(&w, Method::GET, &runs).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let j = r.json();
    schema::check("EnterpriseConnectionTestRuns", &j);
    assert_eq!(j["total_count"], 3);
    let denied = &j["data"][0];
    assert_eq!(denied["status"], "failed");
    let err = denied["logs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["level"] == "error")
        .unwrap();
    assert_eq!(err["code"], "oidc_provider_error");
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("access_denied: End-User aborted interaction"),
        "{err}"
    );
    assert!(denied["oauth"].get("id_token").is_none());
    let (failed, ok) = (&j["data"][1], &j["data"][2]);
    assert_eq!(ok["status"], "success");
    assert_eq!(ok["connection_type"], "oauth");
    assert!(ok["saml"].is_null());
    assert_eq!(ok["parsed_user_info"]["email_address"], "jane@acme.com");
    let claims: serde_json::Value =
        serde_json::from_str(ok["oauth"]["user_info"].as_str().unwrap()).unwrap();
    assert_eq!(claims["email"], "jane@acme.com");
    // The verified ID token, as the provider sent it: this client's, with the claims
    // shown; never the access token.
    assert!(ok["oauth"].get("access_token").is_none());
    let id_token = ok["oauth"]["id_token"].as_str().unwrap();
    let parts: Vec<&str> = id_token.split('.').collect();
    assert_eq!(parts.len(), 3, "a compact JWS");
    use base64::Engine as _;
    let payload: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(parts[1])
            .unwrap(),
    )
    .unwrap();
    assert_eq!(payload["aud"], "rp");
    assert_eq!(payload["iss"], format!("http://127.0.0.1:{port}"));
    assert_eq!(payload["sub"], claims["sub"]);
    assert_eq!(payload["nonce"], claims["nonce"]);
    assert!(ok["logs"]
        .as_array()
        .unwrap()
        .iter()
        .any(|l| l["code"] == "connection_inactive"));
    assert_eq!(failed["status"], "failed");
    let err = failed["logs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["level"] == "error")
        .unwrap();
    assert!(err["code"].as_str().unwrap().starts_with("oidc_"), "{err}");
    assert!(
        failed["oauth"].get("id_token").is_none(),
        "nothing verified"
    );
    assert!(!r.body.contains("rp-secret"), "never the client secret");
}
