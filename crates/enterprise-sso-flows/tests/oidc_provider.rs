//! OIDC sign-in end to end against a real certified provider, npm `oidc-provider` (panva)
//! on loopback (idp/node/op.mjs), through the SSRF-safe fetcher in its loud loopback test
//! mode: a connection given only a client id, secret and discovery URL is activated with
//! the document's endpoints, `Flows::oidc_start` sends jane to the provider, its
//! devInteractions login and consent answer with a code, and `Flows::oidc_finish`
//! exchanges it (PKCE), verifies the ID token and records the sign-in. Then the flow's
//! own rules: a state used twice, another browser, a forged state.
//!
//! Needs `bash idp/install.sh`; without it the test skips with a notice, except with
//! `CI=true`, where it fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use enterprise_sso_flows::Flows;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use enterprise_sso::{
    ClientSecret, Connections, CreateConnection, Error, OidcPatch, Patch, Policy, Provider,
    UpdateConnection,
};
use enterprise_sso_fetch::{FetchOptions, Fetcher};
use enterprise_sso_flows::{
    AuthorizationRequest, CodeExchange, HostedOutcome, HostedSettings, OidcSettings, OidcStart,
    SamlSettings,
};

mod counting_support;
use counting_support::Counting;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn available() -> bool {
    if root().join("idp/node/node_modules/oidc-provider").exists() {
        return true;
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("idp/node/node_modules/oidc-provider is missing: run `bash idp/install.sh`");
    }
    eprintln!("skipped: oidc-provider is not installed (run `bash idp/install.sh`)");
    false
}

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
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
        .env("OP_CLIENT_AUTH_METHOD", "client_secret_basic")
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

/// The browser: idp/oidc_follow.py through the login and consent pages; the callback's
/// query string.
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

fn random(n: u8) -> [u8; 64] {
    let mut r = [0u8; 64];
    for (i, b) in r.iter_mut().enumerate() {
        *b = (i as u8).wrapping_mul(31).wrapping_add(n).wrapping_add(
            (std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .subsec_nanos()
                >> (i % 24)) as u8,
        );
    }
    r
}

fn refusal_code(e: Error) -> &'static str {
    match e {
        Error::OidcRefused(r) => r.code(),
        other => panic!("expected an OIDC refusal, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oidc_provider_signs_jane_in_and_the_flow_refuses_replays_and_other_browsers() {
    if !available() {
        return;
    }
    let fetcher =
        Arc::new(Fetcher::new(FetchOptions::insecure_allow_loopback_for_tests()).unwrap());
    let svc_flows = Flows::new(Connections::new(Arc::new(Counting::default())).with_policy(
        Policy {
            allow_loopback_fetch: true,
        },
    ));
    let svc = svc_flows.connections();
    let settings = Arc::new(OidcSettings::new(
        "http://127.0.0.1:3000/oidc",
        fetcher.clone(),
    ));
    // The connection exists first (its id is in the redirect URI the provider registers).
    let mut p = CreateConnection::new(Provider::OidcCustom, "Acme");
    p.domains = Some(vec!["acme.com".into()]);
    p.oidc = Some(OidcPatch {
        client_id: Patch::Value("rp".into()),
        client_secret: Patch::Value(ClientSecret::new("rp-secret")),
        ..Default::default()
    });
    let conn = svc.create(&p).await.unwrap();
    let redirect_uri = settings.redirect_uri(&conn.id);
    let port = free_port();
    let _op = provider(port, &redirect_uri);
    // Given only the discovery URL, the update fetches it and can activate the connection.
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
    let conn = svc_flows
        .update_resolved(&conn.id, &activate, None, fetcher.as_ref())
        .await
        .unwrap();
    assert!(conn.active);
    assert_eq!(
        conn.oidc().unwrap().issuer.as_deref(),
        Some(format!("http://127.0.0.1:{port}").as_str())
    );

    let start = |browser| OidcStart {
        browser,
        login_hint: Some("jane@acme.com"),
        domain_hint: None,
        random: random(browser.len() as u8),
    };
    let url = svc_flows
        .oidc_start(&settings, &conn.id, start("browser-1"))
        .await
        .unwrap();
    let query = login(&url, &redirect_uri);
    svc.repo().take_calls();
    let done = svc_flows
        .oidc_finish(&settings, &conn.id, &query, Some("browser-1"))
        .await
        .unwrap();
    assert_eq!(done.sign_in.account.email_address, "jane@acme.com");
    assert_eq!(done.identity.subject, "jane@acme.com");
    assert!(done.sign_in.created);
    assert_eq!(done.sign_in.connection.state().as_str(), "active");
    // The state's take and the account's insert are one commit; the connection's first
    // sign-in is recorded on it after.
    let writes = Counting::writes(&svc.repo().take_calls());
    assert_eq!(writes.get("commit_sign_ins"), Some(&1), "{writes:?}");
    assert!(
        ["take_sign_in", "insert_account", "update_account"]
            .iter()
            .all(|m| !writes.contains_key(m)),
        "{writes:?}"
    );
    // A returning user: one commit in all.
    let url = svc_flows
        .oidc_start(&settings, &conn.id, start("browser-1"))
        .await
        .unwrap();
    let query2 = login(&url, &redirect_uri);
    svc.repo().take_calls();
    let again = svc_flows
        .oidc_finish(&settings, &conn.id, &query2, Some("browser-1"))
        .await
        .unwrap();
    assert!(!again.sign_in.created);
    assert_eq!(again.sign_in.account.id, done.sign_in.account.id);
    let writes = Counting::writes(&svc.repo().take_calls());
    assert_eq!(writes, [("commit_sign_ins", 1)].into(), "one commit");

    // The hosted flow (the WorkOS API): the provider's callback takes the state and the
    // client's authorization request, writes the account and stores the client's code,
    // all in one commit; the code is then good at the token endpoint.
    let hosted = HostedSettings::new(SamlSettings::new("http://127.0.0.1:3000/saml"))
        .with_oidc(settings.clone());
    let mut r64 = [0u8; 64];
    r64.copy_from_slice(&random(9));
    let url = svc_flows
        .hosted_start(
            &hosted,
            &conn.id,
            &AuthorizationRequest {
                client_id: "client_app",
                redirect_uri: "https://app.example.com/callback",
                state: Some("app-state"),
                code_challenge: None,
                login_hint: Some("jane@acme.com"),
                domain_hint: None,
            },
            "browser-9",
            r64,
        )
        .await
        .unwrap();
    let query = login(&url, &redirect_uri);
    svc.repo().take_calls();
    let outcome = svc_flows
        .hosted_oidc_finish(&hosted, &conn.id, &query, Some("browser-9"), [7; 32])
        .await
        .unwrap();
    let HostedOutcome::SignedIn(redirect) = outcome else {
        panic!("not signed in: {outcome:?}");
    };
    let writes = Counting::writes(&svc.repo().take_calls());
    assert_eq!(writes, [("commit_sign_ins", 1)].into(), "one commit");
    assert_eq!(redirect.state.as_deref(), Some("app-state"));
    assert_eq!(redirect.redirect_uri, "https://app.example.com/callback");
    assert_eq!(redirect.profile.email, "jane@acme.com");
    let grant = svc_flows
        .exchange_code(
            &hosted,
            &redirect.code,
            &CodeExchange {
                client_id: "client_app",
                client_authenticated: true,
                code_verifier: None,
                redirect_uri: Some("https://app.example.com/callback"),
                random: [8; 32],
            },
        )
        .await
        .unwrap();
    assert_eq!(grant.profile.email, "jane@acme.com");
    assert_eq!(grant.profile.id, redirect.profile.id);
    // The callback again: the state and the client's request are gone.
    let again = svc_flows
        .hosted_oidc_finish(&hosted, &conn.id, &query, Some("browser-9"), [9; 32])
        .await
        .unwrap_err();
    assert_eq!(refusal_code(again), "oidc_unknown_state");

    // The same callback again: its state was taken.
    let again = svc_flows
        .oidc_finish(&settings, &conn.id, &query, Some("browser-1"))
        .await
        .unwrap_err();
    assert_eq!(refusal_code(again), "oidc_unknown_state");

    // A callback carried to another browser.
    let url = svc_flows
        .oidc_start(&settings, &conn.id, start("browser-22"))
        .await
        .unwrap();
    let query = login(&url, &redirect_uri);
    let other = svc_flows
        .oidc_finish(&settings, &conn.id, &query, Some("browser-3"))
        .await
        .unwrap_err();
    assert_eq!(refusal_code(other), "oidc_browser_mismatch");

    // A forged state.
    let forged = svc_flows
        .oidc_finish(
            &settings,
            &conn.id,
            &format!("code=abc&state=forged&iss=http%3A%2F%2F127.0.0.1%3A{port}"),
            Some("browser-1"),
        )
        .await
        .unwrap_err();
    assert_eq!(refusal_code(forged), "oidc_unknown_state");

    // A callback refused after its state was read (the provider refuses a code it never
    // issued): the state is used up all the same, and the real code then finds no request.
    let url = svc_flows
        .oidc_start(&settings, &conn.id, start("browser-1"))
        .await
        .unwrap();
    let query = login(&url, &redirect_uri);
    let bogus = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(url::form_urlencoded::parse(query.as_bytes()).map(|(k, v)| {
            if k == "code" {
                (k, "bogus".into())
            } else {
                (k, v)
            }
        }))
        .finish();
    let refused = svc_flows
        .oidc_finish(&settings, &conn.id, &bogus, Some("browser-1"))
        .await
        .unwrap_err();
    assert_ne!(refusal_code(refused), "oidc_unknown_state");
    let late = svc_flows
        .oidc_finish(&settings, &conn.id, &query, Some("browser-1"))
        .await
        .unwrap_err();
    assert_eq!(refusal_code(late), "oidc_unknown_state");

    // The same callback twice at once: at most one signs in (the state is taken by one
    // commit; the provider may also refuse the code's second use first).
    let url = svc_flows
        .oidc_start(&settings, &conn.id, start("browser-1"))
        .await
        .unwrap();
    let query = login(&url, &redirect_uri);
    let (a, b) = tokio::join!(
        svc_flows.oidc_finish(&settings, &conn.id, &query, Some("browser-1")),
        svc_flows.oidc_finish(&settings, &conn.id, &query, Some("browser-1")),
    );
    assert!(a.is_err() || b.is_err(), "both callbacks signed in");
    for r in [a, b] {
        if let Err(e) = r {
            refusal_code(e);
        }
    }
    assert_eq!(
        svc.find_accounts_by_email("jane@acme.com")
            .await
            .unwrap()
            .len(),
        1
    );
}
