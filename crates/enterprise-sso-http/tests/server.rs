//! The `enterprise-sso-server` binary as a process: start-up refusals, the store URL, the
//! access log (without the key), and a SIGTERM that lets an in-flight request finish.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_enterprise-sso-server");
const KEY: &str = "sk_test_server_process_key";

fn start(args: &[&str], key: Option<&str>) -> (Child, String) {
    start_with(args, key, &[])
}

fn start_with(args: &[&str], key: Option<&str>, env: &[(&str, &str)]) -> (Child, String) {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .envs(env.iter().copied())
        .env_remove("ENTERPRISE_SSO_API_KEYS")
        .env_remove("ENTERPRISE_SSO_STORE")
        .env_remove("ENTERPRISE_SSO_LISTEN")
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(k) = key {
        cmd.env("ENTERPRISE_SSO_API_KEYS", k);
    }
    let mut child = cmd.spawn().expect("spawn server");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("read");
    let addr = line
        .trim()
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_owned();
    (child, addr)
}

fn request(addr: &str, method: &str, path: &str, body: &str) -> String {
    let mut s = TcpStream::connect(addr).expect("connect");
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEY}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("write");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("read");
    out
}

fn sigterm(child: &Child) {
    let ok = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(ok.success());
}

fn stderr_of(mut child: Child) -> (Option<i32>, String) {
    let status = child.wait().expect("wait");
    let mut err = String::new();
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut err)
        .expect("read");
    (status.code(), err)
}

#[test]
fn refuses_to_start_without_keys_or_with_dev_mode_off_loopback() {
    let out = Command::new(BIN)
        .args(["--listen", "127.0.0.1:0", "--store", "sqlite::memory:"])
        .env_remove("ENTERPRISE_SSO_API_KEYS")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("ENTERPRISE_SSO_API_KEYS"));
    let out = Command::new(BIN)
        .args(["--listen", "0.0.0.0:0", "--dev-no-auth-loopback-only"])
        .env_remove("ENTERPRISE_SSO_API_KEYS")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a loopback address"));
    for bad in [
        ["--idle-timeout", "0"],
        ["--header-read-timeout", "10 minutes"],
        ["--body-read-timeout", "-1s"],
        ["--max-connections", "0"],
    ] {
        let out = Command::new(BIN)
            .args(["--listen", "127.0.0.1:0"])
            .args(bad)
            .env("ENTERPRISE_SSO_API_KEYS", KEY)
            .output()
            .expect("run");
        assert_eq!(out.status.code(), Some(2), "{bad:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(bad[0]),
            "{bad:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let out = Command::new(BIN)
        .args(["--store", "mysql://x"])
        .env("ENTERPRISE_SSO_API_KEYS", KEY)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn serves_a_sled_store_and_logs_each_request_without_the_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = format!("sled:{}", dir.path().join("db").display());
    let (child, addr) = start(&["--listen", "127.0.0.1:0", "--store", &store], Some(KEY));
    let created = request(
        &addr,
        "POST",
        "/v1/enterprise_connections",
        r#"{"name":"Sled","provider":"oidc_custom","domains":["sled-server.example.com"],"oidc":{"client_id":"c","client_secret":"s3cr3t-in-body"}}"#,
    );
    assert!(created.starts_with("HTTP/1.1 201"), "{created}");
    let listed = request(&addr, "GET", "/v1/enterprise_connections", "");
    assert!(listed.contains("\"total_count\":1"), "{listed}");
    sigterm(&child);
    let (code, log) = stderr_of(child);
    assert_eq!(code, Some(0), "{log}");
    assert!(
        log.contains("route=/v1/enterprise_connections") && log.contains("status=201"),
        "{log}"
    );
    assert!(
        !log.contains(KEY) && !log.contains("s3cr3t-in-body"),
        "{log}"
    );
}

#[test]
fn sigterm_lets_the_request_in_flight_finish() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = format!("sqlite:{}", dir.path().join("s.db").display());
    let (child, addr) = start(&["--listen", "127.0.0.1:0", "--store", &store], Some(KEY));
    let body = r#"{"name":"Slow","provider":"oidc_custom","domains":["slow.example.com"],"oidc":{"client_id":"c","client_secret":"s"}}"#;
    let (first, rest) = body.split_at(20);
    let mut s = TcpStream::connect(&addr).expect("connect");
    write!(
        s,
        "POST /v1/enterprise_connections HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEY}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{first}",
        body.len()
    )
    .expect("write head");
    s.flush().expect("flush");
    std::thread::sleep(Duration::from_millis(300));
    sigterm(&child);
    std::thread::sleep(Duration::from_millis(300));
    s.write_all(rest.as_bytes()).expect("write rest");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("read");
    assert!(
        out.starts_with("HTTP/1.1 201"),
        "the request in flight completed: {out}"
    );
    let (code, log) = stderr_of(child);
    assert_eq!(code, Some(0), "{log}");
    assert!(log.contains("shutting down"), "{log}");
}

#[test]
fn a_key_ring_seals_secrets_and_a_ring_without_their_key_stops_the_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = format!("sqlite:{}", dir.path().join("s.db").display());
    let ring = "k2026:AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=";
    let (child, addr) = start_with(
        &["--listen", "127.0.0.1:0", "--store", &store],
        Some(KEY),
        &[("ENTERPRISE_SSO_KEYRING", ring)],
    );
    let created = request(
        &addr,
        "POST",
        "/v1/enterprise_connections",
        r#"{"name":"Enc","provider":"oidc_custom","domains":["enc-server.example.com"],"oidc":{"client_id":"c","client_secret":"MARKER-server-secret-91ab"}}"#,
    );
    assert!(created.starts_with("HTTP/1.1 201"), "{created}");
    sigterm(&child);
    assert_eq!(stderr_of(child).0, Some(0));
    let bytes = std::fs::read(dir.path().join("s.db")).expect("db");
    assert!(!bytes.windows(25).any(|w| w == b"MARKER-server-secret-91ab"));
    // A ring that lacks k2026: refuses to start, naming the key.
    let out = Command::new(BIN)
        .args(["--listen", "127.0.0.1:0", "--store", &store])
        .env("ENTERPRISE_SSO_API_KEYS", KEY)
        .env(
            "ENTERPRISE_SSO_KEYRING",
            "k2027:AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=",
        )
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("k2026"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A store written without a key ring moves to one: the server with the ring refuses the
/// plain secret (a downgrade it cannot tell from an attack); `reencrypt` without
/// `--accept-plain-values` names the connection and exits 1; with it the secret is sealed
/// and the server serves the connection again.
#[test]
fn reencrypt_moves_a_plain_store_to_a_key_ring() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = format!("sqlite:{}", dir.path().join("p.db").display());
    let ring = "k2026:AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=";
    let marker = "MARKER-plain-secret-77cd";
    let (child, addr) = start(&["--listen", "127.0.0.1:0", "--store", &store], Some(KEY));
    let created = request(
        &addr,
        "POST",
        "/v1/enterprise_connections",
        &format!(
            r#"{{"name":"Plain","provider":"oidc_custom","domains":["plain-server.example.com"],"oidc":{{"client_id":"c","client_secret":"{marker}"}}}}"#
        ),
    );
    assert!(created.starts_with("HTTP/1.1 201"), "{created}");
    let id = created
        .split("\"id\":\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("id")
        .to_owned();
    sigterm(&child);
    assert_eq!(stderr_of(child).0, Some(0));
    let db = || std::fs::read(dir.path().join("p.db")).expect("db");
    assert!(db().windows(marker.len()).any(|w| w == marker.as_bytes()));
    let get = |addr: &str| request(addr, "GET", &format!("/v1/enterprise_connections/{id}"), "");

    let with_ring = || {
        start_with(
            &["--listen", "127.0.0.1:0", "--store", &store],
            Some(KEY),
            &[("ENTERPRISE_SSO_KEYRING", ring)],
        )
    };
    let (child, addr) = with_ring();
    let refused = get(&addr);
    assert!(!refused.starts_with("HTTP/1.1 200"), "{refused}");
    assert!(!refused.contains(marker));
    sigterm(&child);
    stderr_of(child);

    let run = |extra: &[&str]| {
        Command::new(BIN)
            .args(["reencrypt", "--store", &store])
            .args(extra)
            .env("ENTERPRISE_SSO_KEYRING", ring)
            .output()
            .expect("run")
    };
    let out = run(&[]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains(&id) && text.contains("0 rewritten"), "{text}");
    assert!(!text.contains(marker));
    let out = run(&["--accept-plain-values"]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("1 rewritten under key k2026"), "{text}");
    assert!(!db().windows(marker.len()).any(|w| w == marker.as_bytes()));

    let (child, addr) = with_ring();
    let served = get(&addr);
    assert!(served.starts_with("HTTP/1.1 200"), "{served}");
    sigterm(&child);
    stderr_of(child);
    // Without a ring the command refuses to run.
    let out = Command::new(BIN)
        .args(["reencrypt", "--store", &store])
        .env_remove("ENTERPRISE_SSO_KEYRING")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
}

/// Serves one JSON document to every request on a loopback port; its base URL and a count
/// of the requests served.
fn serve_document(
    doc: impl Fn(&str) -> String + Send + 'static,
) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let body = doc(&base);
    let served = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = served.clone();
    std::thread::spawn(move || {
        for mut s in listener.incoming().flatten().take(16) {
            count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let _ = write!(
                s,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (base, served)
}

#[test]
fn an_oidc_connection_given_only_a_discovery_url_is_created_active() {
    let (base, served) = serve_document(|base| {
        format!(
            r#"{{"issuer":"{base}","authorization_endpoint":"https://login.acme.com/authorize","token_endpoint":"https://login.acme.com/token","userinfo_endpoint":"https://login.acme.com/userinfo","jwks_uri":"https://login.acme.com/jwks","response_types_supported":["code"]}}"#
        )
    });
    let body = format!(
        r#"{{"name":"Acme","provider":"oidc_custom","active":true,"domains":["discovered.example.com"],"oidc":{{"client_id":"c","client_secret":"s","discovery_url":"{base}/.well-known/openid-configuration"}}}}"#
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let store = format!("sqlite:{}", dir.path().join("s.db").display());
    // In production mode the loopback discovery URL is refused before any fetch.
    let (child, addr) = start(&["--listen", "127.0.0.1:0", "--store", &store], Some(KEY));
    let refused = request(&addr, "POST", "/v1/enterprise_connections", &body);
    assert!(refused.starts_with("HTTP/1.1 422"), "{refused}");
    sigterm(&child);
    let _ = stderr_of(child);
    // In the loud test mode it is fetched, and the endpoints come from the document.
    let (child, addr) = start_with(
        &["--listen", "127.0.0.1:0", "--store", &store],
        Some(KEY),
        &[
            ("ENTERPRISE_SSO_INSECURE_FETCH_LOOPBACK_FOR_TESTS", "1"),
            ("ENTERPRISE_SSO_REFRESH_INTERVAL", "1"),
        ],
    );
    let created = request(&addr, "POST", "/v1/enterprise_connections", &body);
    assert!(created.starts_with("HTTP/1.1 201"), "{created}");
    assert!(created.contains(r#""active":true"#), "{created}");
    assert!(
        created.contains("https://login.acme.com/authorize")
            && created.contains("https://login.acme.com/token"),
        "{created}"
    );
    // The scheduled refresh (every second here) reads the document again.
    let after_create = served.load(std::sync::atomic::Ordering::SeqCst);
    std::thread::sleep(Duration::from_millis(2_500));
    assert!(
        served.load(std::sync::atomic::Ordering::SeqCst) > after_create,
        "no scheduled refresh in 2.5 s"
    );
    sigterm(&child);
    let (code, log) = stderr_of(child);
    assert_eq!(code, Some(0), "{log}");
}
