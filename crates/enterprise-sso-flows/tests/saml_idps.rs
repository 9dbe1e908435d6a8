//! SAML sign-in end to end against real identity providers run on loopback: samlify (a
//! Node IdP library), SimpleSAMLphp (Debian's package, its real login form) and pysaml2
//! (its HTTP IdP). Each test creates a connection, starts an SP-initiated sign-in with
//! `Flows::saml_start`, lets the IdP authenticate jane, and posts the IdP's Response
//! to `Flows::saml_finish`, which verifies it and records the sign-in.
//!
//! The IdPs come from `bash idp/install.sh` (see idp/README.md). Without them the tests
//! print a notice and pass, except with `CI=true`, where a missing IdP fails the test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use enterprise_sso_flows::Flows;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use enterprise_sso::{
    ConnectionId, Connections, CreateConnection, EnterpriseConnection, Error, Patch, Provider,
    SamlPatch,
};
use enterprise_sso_flows::{SamlRefusal, SamlSettings, SamlStart};
use futures_executor::block_on;

mod counting_support;
use counting_support::Counting;

/// The store of these tests: memory, with its calls counted.
type Svc = Connections<std::sync::Arc<Counting>>;

const BASE: &str = "http://127.0.0.1:3000/saml";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Whether the tools exist; with `CI=true` a missing tool fails the test.
fn have(paths: &[&str]) -> bool {
    let missing: Vec<_> = paths
        .iter()
        .filter(|p| !root().join(p).exists() && !Path::new(p).exists())
        .collect();
    if missing.is_empty() {
        return true;
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("missing {missing:?}: run `bash idp/install.sh`");
    }
    eprintln!("skipped: missing {missing:?} (run `bash idp/install.sh`)");
    false
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A child process killed when dropped, with every process it started: the IdPs run in
/// their own process group, since `start.sh` leaves `php -S` behind when only the wrapper
/// is killed (SIGKILL runs no exit trap).
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.0.id())])
            .status();
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `cmd`, waits for its first stdout line (the IdP is ready then).
fn start(mut cmd: Command) -> Running {
    use std::os::unix::process::CommandExt;
    let mut child = cmd
        .process_group(0)
        .current_dir(root())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the IdP");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("the IdP did not become ready in 30 s");
    assert!(!line.is_empty(), "the IdP exited before it was ready");
    Running(child)
}

fn idp_cert() -> String {
    std::fs::read_to_string(root().join("idp/keys/idp-cert.pem")).unwrap()
}

fn connection(
    svc: &Svc,
    entity_id: &str,
    sso_url: &str,
    unsolicited: bool,
) -> EnterpriseConnection {
    let mut p = CreateConnection::new(Provider::SamlCustom, "Acme");
    p.domains = Some(vec!["acme.com".into()]);
    p.active = Some(true);
    p.saml = Some(SamlPatch {
        idp_entity_id: Patch::Value(entity_id.into()),
        idp_sso_url: Patch::Value(sso_url.into()),
        idp_certificate: Patch::Value(idp_cert()),
        allow_idp_initiated: Patch::Value(unsolicited),
        ..Default::default()
    });
    block_on(svc.create(&p)).unwrap()
}

fn begin(
    flows: &Flows<std::sync::Arc<Counting>>,
    settings: &SamlSettings,
    id: &ConnectionId,
    browser: &str,
    relay: Option<&str>,
) -> enterprise_sso_flows::SamlRedirect {
    let mut random = [0u8; 32];
    random[..16].copy_from_slice(&rand_bytes());
    block_on(flows.saml_start(
        settings,
        id,
        SamlStart {
            browser,
            relay_state: relay,
            random,
        },
    ))
    .unwrap()
}

/// 16 bytes that differ between calls (tests only; the library takes its randomness from
/// the host).
fn rand_bytes() -> [u8; 16] {
    use std::hash::{BuildHasher, Hasher};
    let mut out = [0u8; 16];
    for chunk in out.chunks_mut(8) {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos(),
        );
        chunk.copy_from_slice(&h.finish().to_le_bytes());
    }
    out
}

/// The request ID inside a redirect URL's AuthnRequest.
fn samlify(args: &[&str]) -> String {
    let out = Command::new("node")
        .current_dir(root())
        .arg("idp/node/samlify-response.js")
        .args(args)
        .output()
        .expect("run samlify");
    assert!(
        out.status.success(),
        "samlify: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// Follows `url` through a real IdP's login (idp/follow.py) and returns the posted form.
fn follow(url: &str) -> (String, Option<String>, String) {
    let out = Command::new("python3")
        .current_dir(root())
        .args(["idp/follow.py", url])
        .output()
        .expect("run idp/follow.py");
    assert!(
        out.status.success(),
        "login: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    (
        v["SAMLResponse"].as_str().unwrap().to_owned(),
        v["RelayState"].as_str().map(str::to_owned),
        v["action"].as_str().unwrap_or_default().to_owned(),
    )
}

fn refusal(e: Error) -> SamlRefusal {
    match e {
        Error::SamlRefused(r) => *r,
        other => panic!("expected a SAML refusal, got {other:?}"),
    }
}

#[test]
fn samlify_sp_initiated_signs_in_once_and_refuses_the_flow_attacks() {
    if !have(&["idp/node/node_modules/samlify"]) {
        return;
    }
    let svc_flows = Flows::new(Connections::new(Default::default()));
    let svc = svc_flows.connections();
    let settings = SamlSettings::new(BASE);
    let idp = "http://127.0.0.1:7000/idp";
    let conn = connection(svc, idp, "http://127.0.0.1:7000/sso", false);
    let (entity, acs) = (settings.entity_id(&conn.id), settings.acs_url(&conn.id));
    let mint = |request_id: Option<&str>| {
        let mut a = vec![
            "--email",
            "jane@acme.com",
            "--sp-entity-id",
            &entity,
            "--acs",
            &acs,
            "--idp-entity-id",
            idp,
        ];
        match request_id {
            Some(r) => a.extend(["--request-id", r]),
            None => a.push("--unsolicited"),
        }
        samlify(&a)
    };

    // The control: SP-initiated, same browser.
    let r = begin(
        &svc_flows,
        &settings,
        &conn.id,
        "browser-1",
        Some("deep-link-7"),
    );
    let response = mint(Some(&r.request_id));
    svc.repo().take_calls();
    let done =
        block_on(svc_flows.saml_finish(&settings, &conn.id, &response, None, Some("browser-1")))
            .unwrap();
    assert_eq!(done.sign_in.account.email_address, "jane@acme.com");
    assert!(done.sign_in.created);
    // The request's take, the assertion ID and the account are one commit (the
    // connection's first sign-in is recorded on it after).
    let writes = Counting::writes(&svc.repo().take_calls());
    assert_eq!(writes.get("commit_sign_ins"), Some(&1), "{writes:?}");
    assert!(
        ["take_sign_in", "put_sign_in", "insert_account"]
            .iter()
            .all(|m| !writes.contains_key(m)),
        "{writes:?}"
    );
    assert_eq!(done.relay_state.as_deref(), Some("deep-link-7"));
    assert_eq!(
        done.assertion.in_response_to.as_deref(),
        Some(r.request_id.as_str())
    );

    // A returning user: the ACS reads the connection once (to verify the Response; the
    // sign-in's checks reuse that read) and commits once.
    let r2 = begin(&svc_flows, &settings, &conn.id, "browser-1", None);
    let second = mint(Some(&r2.request_id));
    svc.repo().take_calls();
    let again =
        block_on(svc_flows.saml_finish(&settings, &conn.id, &second, None, Some("browser-1")))
            .unwrap();
    assert!(!again.sign_in.created);
    let calls = svc.repo().take_calls();
    assert_eq!(calls.get("get"), Some(&1), "{calls:?}");
    assert_eq!(calls.get("commit_sign_ins"), Some(&1), "{calls:?}");

    // The same response again: its request was taken.
    let again = refusal(
        block_on(svc_flows.saml_finish(&settings, &conn.id, &response, None, Some("browser-1")))
            .unwrap_err(),
    );
    assert_eq!(again.code(), "saml_unknown_request", "{again}");

    // Another browser posts a response to a request started elsewhere.
    let r = begin(&svc_flows, &settings, &conn.id, "browser-1", None);
    let response = mint(Some(&r.request_id));
    let swapped = refusal(
        block_on(svc_flows.saml_finish(&settings, &conn.id, &response, None, Some("browser-2")))
            .unwrap_err(),
    );
    assert_eq!(swapped.code(), "saml_browser_mismatch");
    // No browser binding at all.
    let r = begin(&svc_flows, &settings, &conn.id, "browser-1", None);
    let response = mint(Some(&r.request_id));
    let none = refusal(
        block_on(svc_flows.saml_finish(&settings, &conn.id, &response, None, None)).unwrap_err(),
    );
    assert_eq!(none.code(), "saml_browser_mismatch");

    // A request ID this SP never issued.
    let forged = mint(Some("_0123456789abcdef0123456789abcdef"));
    let unknown = refusal(
        block_on(svc_flows.saml_finish(&settings, &conn.id, &forged, None, Some("browser-1")))
            .unwrap_err(),
    );
    assert_eq!(unknown.code(), "saml_unknown_request");

    // Unsolicited, on a connection that does not allow it.
    let unsolicited = mint(None);
    let off = refusal(
        block_on(svc_flows.saml_finish(&settings, &conn.id, &unsolicited, None, None)).unwrap_err(),
    );
    assert_eq!(off.code(), "saml_unsolicited_not_allowed");

    // A response minted for connection A posted to connection B (another tenant's ACS).
    let mut other = CreateConnection::new(Provider::SamlCustom, "Globex");
    other.domains = Some(vec!["globex.example".into()]);
    other.active = Some(true);
    other.saml = Some(SamlPatch {
        idp_entity_id: Patch::Value(idp.into()),
        idp_sso_url: Patch::Value("http://127.0.0.1:7000/sso".into()),
        idp_certificate: Patch::Value(idp_cert()),
        ..Default::default()
    });
    let other = block_on(svc.create(&other)).unwrap();
    let r = begin(&svc_flows, &settings, &conn.id, "browser-1", None);
    let response = mint(Some(&r.request_id));
    let crossed = refusal(
        block_on(svc_flows.saml_finish(&settings, &other.id, &response, None, Some("browser-1")))
            .unwrap_err(),
    );
    assert_eq!(crossed.code(), "saml_destination_mismatch", "{crossed}");
    // Exactly one account: no refusal wrote one.
    let accounts = block_on(svc.find_accounts_by_email("jane@acme.com")).unwrap();
    assert_eq!(accounts.len(), 1);
}

#[test]
fn samlify_idp_initiated_is_accepted_once_where_allowed() {
    if !have(&["idp/node/node_modules/samlify"]) {
        return;
    }
    let svc_flows = Flows::new(Connections::new(Default::default()));
    let svc = svc_flows.connections();
    let settings = SamlSettings::new(BASE);
    let idp = "http://127.0.0.1:7000/idp";
    let conn = connection(svc, idp, "http://127.0.0.1:7000/sso", true);
    let (entity, acs) = (settings.entity_id(&conn.id), settings.acs_url(&conn.id));
    let response = samlify(&[
        "--email",
        "jane@acme.com",
        "--sp-entity-id",
        &entity,
        "--acs",
        &acs,
        "--idp-entity-id",
        idp,
        "--unsolicited",
    ]);
    svc.repo().take_calls();
    let done =
        block_on(svc_flows.saml_finish(&settings, &conn.id, &response, Some("opaque"), None))
            .unwrap();
    assert_eq!(done.sign_in.account.email_address, "jane@acme.com");
    assert_eq!(done.relay_state.as_deref(), Some("opaque"));
    let writes = Counting::writes(&svc.repo().take_calls());
    assert_eq!(writes.get("commit_sign_ins"), Some(&1), "{writes:?}");
    assert!(!writes.contains_key("put_sign_in"), "{writes:?}");
    // The replay cache: the same assertion a second time.
    let replay = refusal(
        block_on(svc_flows.saml_finish(&settings, &conn.id, &response, None, None)).unwrap_err(),
    );
    assert_eq!(replay.code(), "saml_assertion_replayed", "{replay}");
    // A response to an SP-initiated request is never accepted as unsolicited, even here.
    let r = begin(&svc_flows, &settings, &conn.id, "browser-1", None);
    let solicited = samlify(&[
        "--email",
        "jane@acme.com",
        "--sp-entity-id",
        &entity,
        "--acs",
        &acs,
        "--idp-entity-id",
        idp,
        "--request-id",
        &r.request_id,
    ]);
    let err = refusal(
        block_on(svc_flows.saml_finish(&settings, &conn.id, &solicited, None, None)).unwrap_err(),
    );
    assert_eq!(err.code(), "saml_browser_mismatch");
}

/// A SimpleSAMLphp IdP on a free port for `conn`'s SP, with extra `start.sh` flags; its
/// base URL.
fn simplesamlphp(
    settings: &SamlSettings,
    conn: &ConnectionId,
    port: u16,
    flags: &[&str],
) -> Running {
    let mut cmd = Command::new("bash");
    cmd.args([
        "idp/simplesamlphp/start.sh",
        "--port",
        &port.to_string(),
        "--sp-entity-id",
    ])
    .arg(settings.entity_id(conn))
    .arg("--acs")
    .arg(settings.acs_url(conn))
    .args(flags);
    start(cmd)
}

fn read(path: &str) -> String {
    std::fs::read_to_string(root().join(path)).unwrap()
}

#[test]
fn simplesamlphp_encrypted_assertion_is_decrypted_with_the_sp_key() {
    if !have(&["/usr/share/simplesamlphp/www", "/usr/bin/php"]) {
        return;
    }
    let svc_flows = Flows::new(Connections::new(Default::default()));
    let svc = svc_flows.connections();
    let sp_key = enterprise_sso_protocol::saml::sp::SpKeyPair::from_pem(
        &read("idp/keys/sp-key.pem"),
        &read("idp/keys/sp-cert.pem"),
    )
    .unwrap();
    let with_key = SamlSettings::new(BASE).with_key(sp_key);
    let without_key = SamlSettings::new(BASE);
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let conn = connection(
        svc,
        &format!("{base}/saml2/idp/metadata.php"),
        &format!("{base}/saml2/idp/SSOService.php"),
        false,
    );
    let _idp = simplesamlphp(&with_key, &conn.id, port, &["--encrypt"]);
    // Without the SP's key the encrypted assertion cannot be read: refused, nothing written.
    let r = begin(&svc_flows, &without_key, &conn.id, "b", None);
    let (response, _, _) = follow(&r.url);
    let err = refusal(
        block_on(svc_flows.saml_finish(&without_key, &conn.id, &response, None, Some("b")))
            .unwrap_err(),
    );
    assert_eq!(err.code(), "saml_no_decryption_key", "{err}");
    assert!(block_on(svc.find_accounts_by_email("jane@acme.com"))
        .unwrap()
        .is_empty());
    // With it: decrypted, then verified like any other assertion.
    let r = begin(&svc_flows, &with_key, &conn.id, "b", None);
    let (response, _, _) = follow(&r.url);
    let done =
        block_on(svc_flows.saml_finish(&with_key, &conn.id, &response, None, Some("b"))).unwrap();
    assert!(done.assertion.encrypted);
    assert_eq!(done.sign_in.account.email_address, "jane@acme.com");
}

#[test]
fn simplesamlphp_rotation_signs_in_with_either_published_certificate() {
    if !have(&["/usr/share/simplesamlphp/www", "/usr/bin/php"]) {
        return;
    }
    let svc_flows = Flows::new(Connections::new(Default::default()));
    let svc = svc_flows.connections();
    let settings = SamlSettings::new(BASE);
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    // The connection trusts the current certificate and its published successor.
    let mut p = CreateConnection::new(Provider::SamlCustom, "Acme");
    p.domains = Some(vec!["acme.com".into()]);
    p.active = Some(true);
    p.saml = Some(SamlPatch {
        idp_entity_id: Patch::Value(format!("{base}/saml2/idp/metadata.php")),
        idp_sso_url: Patch::Value(format!("{base}/saml2/idp/SSOService.php")),
        idp_certificate: Patch::Value(format!("{}{}", idp_cert(), read("idp/keys/idp2-cert.pem"))),
        ..Default::default()
    });
    let conn = block_on(svc.create(&p)).unwrap();
    // The IdP has rolled over: it signs with idp2.
    let _idp = simplesamlphp(&settings, &conn.id, port, &["--key", "idp2"]);
    let r = begin(&svc_flows, &settings, &conn.id, "b", None);
    let (response, _, _) = follow(&r.url);
    let done =
        block_on(svc_flows.saml_finish(&settings, &conn.id, &response, None, Some("b"))).unwrap();
    assert_eq!(done.sign_in.account.email_address, "jane@acme.com");
    // Dropping the old certificate from the set (the rollover finished) keeps it working;
    // the verifier's own tests refuse a signer outside the set.
    let p = enterprise_sso::UpdateConnection {
        saml: Patch::Value(SamlPatch {
            idp_certificate: Patch::Value(read("idp/keys/idp2-cert.pem")),
            ..Default::default()
        }),
        ..Default::default()
    };
    block_on(svc.update(&conn.id, &p)).unwrap();
    let r = begin(&svc_flows, &settings, &conn.id, "b", None);
    let (response, _, _) = follow(&r.url);
    block_on(svc_flows.saml_finish(&settings, &conn.id, &response, None, Some("b"))).unwrap();
}

#[test]
fn simplesamlphp_login_form_signs_jane_in() {
    if !have(&["/usr/share/simplesamlphp/www", "/usr/bin/php"]) {
        return;
    }
    let svc_flows = Flows::new(Connections::new(Default::default()));
    let svc = svc_flows.connections();
    let settings = SamlSettings::new(BASE);
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let conn = connection(
        svc,
        &format!("{base}/saml2/idp/metadata.php"),
        &format!("{base}/saml2/idp/SSOService.php"),
        false,
    );
    let mut cmd = Command::new("bash");
    cmd.args([
        "idp/simplesamlphp/start.sh",
        "--port",
        &port.to_string(),
        "--sp-entity-id",
    ])
    .arg(settings.entity_id(&conn.id))
    .arg("--acs")
    .arg(settings.acs_url(&conn.id));
    let _idp = start(cmd);
    let r = begin(&svc_flows, &settings, &conn.id, "browser-ssp", Some("rs-1"));
    let (response, relay, action) = follow(&r.url);
    assert_eq!(
        action,
        settings.acs_url(&conn.id),
        "the IdP posts to our ACS"
    );
    assert_eq!(relay.as_deref(), Some("rs-1"));
    let done = block_on(svc_flows.saml_finish(
        &settings,
        &conn.id,
        &response,
        relay.as_deref(),
        Some("browser-ssp"),
    ))
    .unwrap();
    assert_eq!(done.sign_in.account.email_address, "jane@acme.com");
    assert_eq!(done.sign_in.account.first_name.as_deref(), Some("Jane"));
    assert!(done.assertion.signed.assertion && done.assertion.signed.response);
    assert_eq!(done.sign_in.connection.state().as_str(), "active");
}

#[test]
fn pysaml2_login_form_signs_jane_in() {
    if !have(&["idp/.venv/bin/python"]) {
        return;
    }
    let svc_flows = Flows::new(Connections::new(Default::default()));
    let svc = svc_flows.connections();
    let settings = SamlSettings::new(BASE);
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let conn = connection(
        svc,
        &format!("{base}/metadata"),
        &format!("{base}/sso"),
        false,
    );
    let mut cmd = Command::new(root().join("idp/.venv/bin/python"));
    cmd.args([
        "idp/pysaml2/server.py",
        "--port",
        &port.to_string(),
        "--sp-entity-id",
    ])
    .arg(settings.entity_id(&conn.id))
    .arg("--acs")
    .arg(settings.acs_url(&conn.id));
    let _idp = start(cmd);
    let r = begin(&svc_flows, &settings, &conn.id, "browser-py", None);
    let (response, _, action) = follow(&r.url);
    assert_eq!(action, settings.acs_url(&conn.id));
    let done =
        block_on(svc_flows.saml_finish(&settings, &conn.id, &response, None, Some("browser-py")))
            .unwrap();
    assert_eq!(done.sign_in.account.email_address, "jane@acme.com");
}
