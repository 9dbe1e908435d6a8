//! The fetcher against scripted servers on loopback: the address rule at connect time
//! (DNS names resolving to forbidden addresses, re-resolution per connection), redirects,
//! the body cap, timeouts, the scheme rule, the extra CA bundle, and `refresh` through it.
//!
//! Every address a test could make the fetcher reach, even with the code under test
//! broken, is on this machine: in production mode the forbidden addresses used are
//! loopback ones, and in test mode (loopback allowed) the forbidden one is `0.0.0.0` /
//! `::`, which Linux also routes to this machine. The other ranges are refused before any
//! connection and are covered by `ip_allowed`'s unit tests and the resolver's.
#![allow(clippy::unwrap_used)]

mod support;

use enterprise_sso_flows::Flows;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use enterprise_sso_fetch::{FetchError, FetchOptions, Fetcher, DEFAULT_MAX_BODY_BYTES};
use enterprise_sso_protocol::url_policy::UrlError;
use support::{bounded, pki, serve, serve_keepalive, serve_tls, MapResolver, Refused, Reply};

const MIB: usize = 1024 * 1024;

fn test_mode(resolver: Arc<MapResolver>) -> Fetcher {
    Fetcher::new(FetchOptions::insecure_allow_loopback_for_tests().resolver(resolver)).unwrap()
}

fn production(resolver: Arc<MapResolver>) -> Fetcher {
    // A bundle of our own so the fetcher builds even where the system has no CA store.
    Fetcher::new(
        FetchOptions::new()
            .resolver(resolver)
            .extra_ca_pem(pki(&["unused.test"]).ca_pem),
    )
    .unwrap()
}

// ---- the address rule at connect time ---------------------------------------------------

#[tokio::test]
async fn a_name_resolving_to_loopback_is_refused_at_connect_time_in_production() {
    bounded(async {
        let server = serve(|_| Reply::ok("secret")).await;
        let port = server.port();
        for (name, addrs) in [
            ("rebind.test", &["127.0.0.1"][..]),
            ("rebind6.test", &["::1"]),
            ("mapped.test", &["::ffff:127.0.0.1"]),
            ("compat.test", &["::127.0.0.1"]),
            ("nat64.test", &["64:ff9b::7f00:1"]),
            ("loop8.test", &["127.3.2.1"]),
        ] {
            let resolver = MapResolver::new(&[(name, addrs)]);
            let fetcher = production(resolver.clone());
            let err = fetcher
                .get(&format!("https://{name}:{port}/md"))
                .await
                .refused();
            match &err {
                FetchError::ForbiddenAddress { host, addr } => {
                    assert_eq!(host, name);
                    assert_eq!(
                        *addr,
                        addrs[0].parse::<std::net::IpAddr>().unwrap(),
                        "{name}"
                    );
                }
                other => panic!("{name}: {other:?}"),
            }
            assert_eq!(resolver.calls(), 1, "{name}: resolved once, by the fetcher");
        }
        assert_eq!(
            server.accepted.load(Ordering::SeqCst),
            0,
            "nothing connected"
        );
    })
    .await;
}

#[tokio::test]
async fn production_refuses_loopback_literals_and_localhost_before_connecting() {
    bounded(async {
        let server = serve(|_| Reply::ok("secret")).await;
        let port = server.port();
        let fetcher = production(MapResolver::new(&[]));
        for (url, want) in [
            (format!("https://127.0.0.1:{port}/"), Some("127.0.0.1")),
            (format!("https://[::1]:{port}/"), Some("::1")),
            (
                format!("https://[::ffff:127.0.0.1]:{port}/"),
                Some("127.0.0.1"),
            ),
            (format!("https://0x7f.1:{port}/"), Some("127.0.0.1")),
            (format!("https://2130706433:{port}/"), Some("127.0.0.1")),
            (format!("https://localhost:{port}/"), None),
            (format!("https://a.localhost.:{port}/"), None),
        ] {
            match fetcher.get(&url).await.refused() {
                FetchError::ForbiddenAddress { addr, .. } => {
                    let addr = match addr {
                        std::net::IpAddr::V6(v6) => {
                            v6.to_ipv4_mapped().map_or(addr, std::net::IpAddr::V4)
                        }
                        v4 => v4,
                    };
                    assert_eq!(Some(addr.to_string().as_str()), want, "{url}")
                }
                FetchError::ForbiddenHost { .. } => assert_eq!(want, None, "{url}"),
                other => panic!("{url}: {other:?}"),
            }
        }
        assert_eq!(server.accepted.load(Ordering::SeqCst), 0);
    })
    .await;
}

#[tokio::test]
async fn the_connector_uses_the_checked_answer_and_resolves_again_per_connection() {
    bounded(async {
        // Keep-alive: a client that pooled connections would reuse the first one.
        let server = serve_keepalive(|path| match path {
            "/hop" => Reply::redirect(302, "/end"),
            _ => Reply::ok("ok"),
        })
        .await;
        let port = server.port();
        // `idp.localhost` is not in any DNS: only the test resolver knows it. Its first
        // answer is allowed (loopback, test mode), its later answers are `0.0.0.0`.
        let resolver = MapResolver::new(&[]);
        resolver.push("idp.localhost", &["127.0.0.1"]);
        resolver.push("idp.localhost", &["0.0.0.0"]);
        let fetcher = test_mode(resolver.clone());
        let url = format!("http://idp.localhost:{port}/x");
        assert_eq!(fetcher.get(&url).await.unwrap(), b"ok");
        assert!(server.requests.lock().unwrap()[0].contains(&format!("idp.localhost:{port}")));
        // The second fetch resolves again (no pinned address) and is refused.
        assert!(matches!(
            fetcher.get(&url).await.refused(),
            FetchError::ForbiddenAddress { addr, .. } if addr.is_unspecified()
        ));
        assert_eq!(resolver.calls(), 2);
        assert_eq!(server.accepted.load(Ordering::SeqCst), 1);

        // The same within one fetch: the redirect's hop to the same host resolves again.
        resolver.push("hop.localhost", &["127.0.0.1"]);
        resolver.push("hop.localhost", &["::"]);
        let err = fetcher
            .get(&format!("http://hop.localhost:{port}/hop"))
            .await.refused();
        assert!(
            matches!(&err, FetchError::ForbiddenAddress { host, addr } if host == "hop.localhost" && addr.is_unspecified()),
            "{err:?}"
        );
        assert_eq!(server.paths(), ["/x", "/hop"], "/end never requested");
    })
    .await;
}

#[tokio::test]
async fn an_unknown_name_is_a_resolve_error() {
    bounded(async {
        let fetcher = test_mode(MapResolver::new(&[]));
        let err = fetcher.get("http://nowhere.localhost:1/").await.refused();
        assert!(
            matches!(&err, FetchError::Resolve { host, .. } if host == "nowhere.localhost"),
            "{err:?}"
        );
    })
    .await;
}

// ---- the scheme rule ----------------------------------------------------------------------

#[tokio::test]
async fn http_is_refused_in_production_mode() {
    bounded(async {
        let server = serve(|_| Reply::ok("plain")).await;
        let port = server.port();
        let resolver = MapResolver::new(&[("idp.example.com", &["127.0.0.1"])]);
        let fetcher = production(resolver.clone());
        for url in [
            "http://idp.example.com/md".to_owned(),
            format!("http://localhost:{port}/md"),
            format!("http://127.0.0.1:{port}/md"),
            format!("HTTP://idp.example.com:{port}/md"),
        ] {
            let err = fetcher.get(&url).await.refused();
            assert!(
                matches!(err, FetchError::InsecureScheme { .. }),
                "{url}: {err:?}"
            );
        }
        for (url, reason) in [
            ("ftp://idp.example.com/md", UrlError::Invalid),
            ("https://user:pw@idp.example.com/md", UrlError::Credentials),
            ("https://idp.example.com\\@evil.com/", UrlError::Invalid),
            ("not a url", UrlError::Invalid),
        ] {
            let err = fetcher.get(url).await.refused();
            assert!(
                matches!(&err, FetchError::InvalidUrl { reason: r } if *r == reason),
                "{url}: {err:?}"
            );
            assert!(!err.to_string().contains("pw"), "no credentials in {err}");
        }
        assert_eq!(resolver.calls(), 0, "refused before resolving");
        assert_eq!(server.accepted.load(Ordering::SeqCst), 0);
        // The test mode takes plain http to loopback.
        let fetcher = test_mode(MapResolver::new(&[]));
        assert_eq!(fetcher.get(&server.url("/md")).await.unwrap(), b"plain");
    })
    .await;
}

// ---- redirects ----------------------------------------------------------------------------

/// `/r/N` redirects to `/r/N-1` (alternating relative and absolute `Location`s and the
/// five redirect statuses); `/r/0` answers.
fn chain(port: u16) -> impl Fn(&str) -> Reply + Send + Sync + 'static {
    move |path| {
        let Some(n) = path.strip_prefix("/r/").and_then(|n| n.parse::<u32>().ok()) else {
            return Reply::status(404);
        };
        if n == 0 {
            return Reply::ok("end of chain");
        }
        let status = [301, 302, 303, 307, 308][n as usize % 5];
        if n % 2 == 0 {
            Reply::redirect(status, format!("/r/{}", n - 1))
        } else {
            Reply::redirect(status, format!("http://127.0.0.1:{port}/r/{}", n - 1))
        }
    }
}

#[tokio::test]
async fn three_redirects_are_followed_and_a_fourth_is_refused() {
    bounded(async {
        let server = serve_chain().await;
        let fetcher = test_mode(MapResolver::new(&[]));
        assert_eq!(
            fetcher.get(&server.0.url("/r/3")).await.unwrap(),
            b"end of chain"
        );
        assert_eq!(server.0.paths(), ["/r/3", "/r/2", "/r/1", "/r/0"]);
        server.0.requests.lock().unwrap().clear();

        let err = fetcher.get(&server.0.url("/r/4")).await.refused();
        assert!(
            matches!(err, FetchError::TooManyRedirects { max: 3, .. }),
            "{err:?}"
        );
        assert_eq!(
            server.0.paths(),
            ["/r/4", "/r/3", "/r/2", "/r/1"],
            "/r/0 never asked"
        );

        // A lower limit is honoured; a higher one is lowered to 3.
        let one = Fetcher::new(
            FetchOptions::insecure_allow_loopback_for_tests()
                .max_redirects(1)
                .resolver(MapResolver::new(&[])),
        )
        .unwrap();
        assert!(matches!(
            one.get(&server.0.url("/r/2")).await.refused(),
            FetchError::TooManyRedirects { max: 1, .. }
        ));
        let many = Fetcher::new(
            FetchOptions::insecure_allow_loopback_for_tests()
                .max_redirects(10)
                .resolver(MapResolver::new(&[])),
        )
        .unwrap();
        assert!(matches!(
            many.get(&server.0.url("/r/4")).await.refused(),
            FetchError::TooManyRedirects { max: 3, .. }
        ));
    })
    .await;
}

/// A server answering [`chain`] on its own port.
async fn serve_chain() -> (support::Server,) {
    let port = Arc::new(std::sync::atomic::AtomicU16::new(0));
    let p = port.clone();
    let server = serve(move |path| chain(p.load(Ordering::SeqCst))(path)).await;
    port.store(server.port(), Ordering::SeqCst);
    (server,)
}

#[tokio::test]
async fn a_redirect_to_a_forbidden_address_is_refused() {
    bounded(async {
        let server = serve(|path| match path {
            "/to-literal" => Reply::redirect(302, "https://0.0.0.0/secret"),
            "/to-literal6" => Reply::redirect(302, "https://[::]/secret"),
            "/to-mapped" => Reply::redirect(307, "https://[::ffff:0.0.0.0]/secret"),
            "/to-name" => Reply::redirect(302, "http://internal.localhost/secret"),
            "/to-http" => Reply::redirect(302, "http://idp.example.com/secret"),
            "/to-metadata" => Reply::redirect(302, "https://169.254.169.254/latest/meta-data/"),
            "/to-private" => Reply::redirect(302, "https://10.0.0.1/"),
            "/to-creds" => Reply::redirect(302, "http://u:p@127.0.0.1/secret"),
            "/to-backslash" => Reply::redirect(302, "/\\evil.example/"),
            "/to-ftp" => Reply::redirect(302, "ftp://127.0.0.1/"),
            "/no-location" => Reply::status(302),
            _ => Reply::ok("must not be reached"),
        })
        .await;
        let resolver = MapResolver::new(&[("internal.localhost", &["0.0.0.0"])]);
        let fetcher = test_mode(resolver);
        // The addresses Linux routes to this machine come first: were the check broken,
        // the test fails on them before any redirect could reach 169.254/16 or 10/8.
        for (path, want) in [
            ("/to-literal", "0.0.0.0"),
            ("/to-literal6", "::"),
            ("/to-mapped", "::ffff:0.0.0.0"),
            ("/to-name", "0.0.0.0"),
            ("/to-metadata", "169.254.169.254"),
            ("/to-private", "10.0.0.1"),
        ] {
            let err = fetcher.get(&server.url(path)).await.refused();
            assert!(
                matches!(&err, FetchError::ForbiddenAddress { addr, .. } if addr.to_string() == want),
                "{path}: {err:?}"
            );
        }
        let err = fetcher.get(&server.url("/to-http")).await.refused();
        assert!(matches!(err, FetchError::InsecureScheme { .. }), "{err:?}");
        let err = fetcher.get(&server.url("/to-creds")).await.refused();
        assert!(matches!(err, FetchError::InvalidUrl { reason: UrlError::Credentials }), "{err:?}");
        for path in ["/to-backslash", "/no-location"] {
            let err = fetcher.get(&server.url(path)).await.refused();
            assert!(matches!(err, FetchError::BadRedirect { status: 302, .. }), "{path}: {err:?}");
        }
        let err = fetcher.get(&server.url("/to-ftp")).await.refused();
        assert!(matches!(err, FetchError::InvalidUrl { reason: UrlError::Invalid }), "{err:?}");
        assert!(!server.paths().iter().any(|p| p == "/secret"));
    })
    .await;
}

#[tokio::test]
async fn post_and_bearer_requests_follow_no_redirect() {
    bounded(async {
        let server = serve(|path| match path {
            "/token" => Reply::redirect(307, "/elsewhere"),
            "/token-error" => Reply::Body {
                status: 400,
                headers: vec![("Content-Type", "application/json".into())],
                body: br#"{"error":"invalid_grant"}"#.to_vec(),
            },
            _ => Reply::ok("never"),
        })
        .await;
        let fetcher = test_mode(MapResolver::new(&[]));
        let r = fetcher
            .post_form(
                &server.url("/token"),
                &[("grant_type", "authorization_code"), ("code", "a b&c")],
                Some(("client:id", "s3cr&t")),
            )
            .await
            .unwrap();
        assert_eq!(r.status, 307);
        let r = fetcher
            .post_form(&server.url("/token-error"), &[("a", "b")], None)
            .await
            .unwrap();
        assert_eq!(
            (r.status, r.content_type.as_deref()),
            (400, Some("application/json"))
        );
        assert_eq!(r.body, br#"{"error":"invalid_grant"}"#);
        let r = fetcher
            .get_with_bearer(&server.url("/token"), "tok")
            .await
            .unwrap();
        assert_eq!(r.status, 307);
        assert_eq!(server.paths(), ["/token", "/token-error", "/token"]);
        let reqs = server.requests.lock().unwrap();
        assert!(reqs[0].starts_with("POST /token "));
        assert!(reqs[0].contains("grant_type=authorization_code&code=a+b%26c"));
        // RFC 6749 2.3.1: form-encoded, then Basic: base64("client%3Aid:s3cr%26t").
        assert!(
            reqs[0].contains("authorization: Basic Y2xpZW50JTNBaWQ6czNjciUyNnQ="),
            "{}",
            reqs[0]
        );
        assert!(reqs[2].contains("authorization: Bearer tok"));
    })
    .await;
}

// ---- the body cap -------------------------------------------------------------------------

#[tokio::test]
async fn the_body_cap_is_enforced_while_streaming() {
    bounded(async {
        let server = serve(|path| match path {
            "/2mib" => Reply::Stream {
                total: 2 * MIB,
                declare_length: false,
            },
            "/2mib-declared" => Reply::Stream {
                total: 2 * MIB,
                declare_length: true,
            },
            "/endless" => Reply::Stream {
                total: 1 << 30,
                declare_length: false,
            },
            "/exact" => Reply::Stream {
                total: MIB,
                declare_length: false,
            },
            "/1001" => Reply::ok(vec![b'x'; 1001]),
            "/declared-only" => Reply::DeclareOnly { length: 2 * MIB },
            _ => Reply::status(404),
        })
        .await;
        let fetcher = test_mode(MapResolver::new(&[]));
        for path in ["/2mib", "/2mib-declared"] {
            let err = fetcher.get(&server.url(path)).await.refused();
            assert!(
                matches!(err, FetchError::TooLarge { max, .. } if max == DEFAULT_MAX_BODY_BYTES),
                "{path}: {err:?}"
            );
        }
        // A declared length over the cap is refused before any body byte arrives (this
        // server sends none: without the early refusal the fetch would wait and time out).
        let started = Instant::now();
        let err = fetcher.get(&server.url("/declared-only")).await.refused();
        assert!(matches!(err, FetchError::TooLarge { .. }), "{err:?}");
        assert!(started.elapsed() < Duration::from_secs(5));
        // An endless body: the fetch stops at the cap, long before the server could send
        // a gigabyte (what it wrote is what the socket buffers took).
        let started = Instant::now();
        let err = fetcher.get(&server.url("/endless")).await.refused();
        assert!(matches!(err, FetchError::TooLarge { .. }), "{err:?}");
        assert!(started.elapsed() < Duration::from_secs(10));
        tokio::time::sleep(Duration::from_millis(200)).await;
        let written = server.written.load(Ordering::SeqCst);
        assert!(written < 64 * MIB, "the server wrote {written} bytes");
        // Exactly at the cap is fine; the caller's lower cap applies.
        assert_eq!(fetcher.get(&server.url("/exact")).await.unwrap().len(), MIB);
        assert!(matches!(
            fetcher
                .get_limited(&server.url("/1001"), 1000)
                .await
                .refused(),
            FetchError::TooLarge { max: 1000, .. }
        ));
        assert_eq!(
            fetcher
                .get_limited(&server.url("/1001"), 1001)
                .await
                .unwrap()
                .len(),
            1001
        );
        // A caller cannot raise the cap above the configured one.
        assert!(matches!(
            fetcher.get_limited(&server.url("/2mib"), 4 * MIB).await.refused(),
            FetchError::TooLarge { max, .. } if max == DEFAULT_MAX_BODY_BYTES
        ));
    })
    .await;
}

// ---- timeouts and statuses ------------------------------------------------------------------

#[tokio::test]
async fn a_server_that_never_answers_times_out_within_the_bound() {
    bounded(async {
        let server = serve(|path| match path {
            "/hang" => Reply::Hang,
            "/drip" => Reply::Drip,
            _ => Reply::redirect(302, "/hang"),
        })
        .await;
        let fetcher = Fetcher::new(
            FetchOptions::insecure_allow_loopback_for_tests()
                .total_timeout(Duration::from_millis(700))
                .resolver(MapResolver::new(&[])),
        )
        .unwrap();
        for path in ["/hang", "/drip", "/via-redirect"] {
            let started = Instant::now();
            let err = fetcher.get(&server.url(path)).await.refused();
            let took = started.elapsed();
            assert!(
                matches!(&err, FetchError::Timeout { host, after } if host == "127.0.0.1" && *after == Duration::from_millis(700)),
                "{path}: {err:?}"
            );
            assert!(took >= Duration::from_millis(650), "{path}: {took:?}");
            assert!(took < Duration::from_secs(3), "{path}: {took:?}");
        }
    })
    .await;
}

#[tokio::test]
async fn errors_name_the_host_and_a_non_2xx_status_is_typed() {
    bounded(async {
        let server = serve(|_| Reply::status(404)).await;
        let fetcher = test_mode(MapResolver::new(&[]));
        let err = fetcher
            .get(&server.url("/secret-path?access_token=abc123"))
            .await
            .refused();
        assert!(matches!(&err, FetchError::Status { status: 404, host } if host == "127.0.0.1"));
        let shown = format!("{err} {err:?}");
        assert!(
            !shown.contains("secret-path") && !shown.contains("abc123"),
            "{shown}"
        );
        assert_eq!(err.host(), Some("127.0.0.1"));
        // A refused connection is a Connect error, without the URL either.
        let closed = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let err = fetcher
            .get(&format!(
                "http://127.0.0.1:{closed}/secret-path?access_token=abc123"
            ))
            .await
            .refused();
        assert!(matches!(err, FetchError::Connect { .. }), "{err:?}");
        let shown = format!("{err} {err:?}");
        assert!(
            !shown.contains("secret-path") && !shown.contains("abc123"),
            "{shown}"
        );
    })
    .await;
}

// ---- trust: the extra CA bundle -------------------------------------------------------------

#[tokio::test]
async fn the_extra_ca_bundle_is_trusted_and_nothing_else_is() {
    bounded(async {
        let idp = pki(&["idp.test"]);
        let server = serve_tls(|_| Reply::ok("over tls"), idp.acceptor.clone()).await;
        let url = format!("https://idp.test:{}/md", server.port());
        let resolver = MapResolver::new(&[("idp.test", &["127.0.0.1"])]);
        let with_bundle = |opts: FetchOptions| {
            Fetcher::new(
                opts.resolver(resolver.clone())
                    .extra_ca_pem(idp.ca_pem.clone()),
            )
            .unwrap()
        };
        // The system's roots plus the bundle.
        let f = with_bundle(FetchOptions::insecure_allow_loopback_for_tests());
        assert_eq!(f.get(&url).await.unwrap(), b"over tls");
        // The bundle alone.
        let f =
            with_bundle(FetchOptions::insecure_allow_loopback_for_tests().without_system_roots());
        assert_eq!(f.get(&url).await.unwrap(), b"over tls");

        // Without the bundle: the private CA is unknown.
        let without = Fetcher::new(
            FetchOptions::insecure_allow_loopback_for_tests()
                .resolver(resolver.clone())
                .extra_ca_pem(pki(&["idp.test"]).ca_pem), // another CA
        )
        .unwrap();
        let err = without.get(&url).await.refused();
        assert!(
            matches!(&err, FetchError::Tls { host, .. } if host == "idp.test"),
            "{err:?}"
        );
        if std::path::Path::new("/etc/ssl/certs").exists() {
            let system_only = Fetcher::new(
                FetchOptions::insecure_allow_loopback_for_tests().resolver(resolver.clone()),
            )
            .unwrap();
            let err = system_only.get(&url).await.refused();
            assert!(matches!(err, FetchError::Tls { .. }), "{err:?}");
        }
        // The right CA, the wrong name.
        resolver.push("other.test", &["127.0.0.1"]);
        let f = with_bundle(FetchOptions::insecure_allow_loopback_for_tests());
        let err = f
            .get(&format!("https://other.test:{}/md", server.port()))
            .await
            .refused();
        assert!(matches!(err, FetchError::Tls { .. }), "{err:?}");
    })
    .await;
}

#[test]
fn an_unusable_bundle_or_no_roots_refuses_to_build() {
    use enterprise_sso_fetch::BuildError;
    for pem in [
        &b""[..],
        b"not pem",
        b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    ] {
        let err = Fetcher::new(FetchOptions::new().extra_ca_pem(pem)).unwrap_err();
        assert!(matches!(err, BuildError::InvalidCaBundle { .. }), "{err:?}");
    }
    let err = Fetcher::new(FetchOptions::new().without_system_roots()).unwrap_err();
    assert!(matches!(err, BuildError::NoTrustedRoots), "{err:?}");
}

// ---- the core's MetadataSource ----------------------------------------------------------------

#[tokio::test]
async fn refresh_fills_oidc_endpoints_through_the_fetcher() {
    use enterprise_sso::{Connections, CreateConnection, OidcPatch, Patch, Policy, Provider};
    use enterprise_sso_memory::MemoryRepo;
    bounded(async {
        let port = Arc::new(std::sync::atomic::AtomicU16::new(0));
        let p = port.clone();
        let server = serve(move |path| {
            let base = format!("http://127.0.0.1:{}", p.load(Ordering::SeqCst));
            match path {
                "/.well-known/openid-configuration" => Reply::ok(format!(
                    r#"{{"issuer":"{base}","authorization_endpoint":"{base}/authorize","token_endpoint":"{base}/token","jwks_uri":"{base}/jwks","response_types_supported":["code"]}}"#
                )),
                _ => Reply::status(404),
            }
        })
        .await;
        port.store(server.port(), Ordering::SeqCst);
        let s_flows = Flows::new(Connections::new(MemoryRepo::new()).with_policy(Policy {
            allow_loopback_fetch: true,
        }));
        let s = s_flows.connections();
        let mut c = CreateConnection::new(Provider::OidcCustom, "acme");
        c.oidc = Some(OidcPatch {
            client_id: Patch::Value("cid".into()),
            requires_pkce: Patch::Value(true),
            discovery_url: Patch::Value(server.url("/.well-known/openid-configuration")),
            ..Default::default()
        });
        let c = s.create(&c).await.unwrap();
        let fetcher = test_mode(MapResolver::new(&[]));
        let r = s_flows.refresh(&c.id, &fetcher).await.unwrap();
        let o = r.oidc().unwrap();
        assert_eq!(o.auth_url.as_deref(), Some(server.url("/authorize").as_str()));
        assert_eq!(o.token_url.as_deref(), Some(server.url("/token").as_str()));

        // A refused fetch is the core's Fetch error carrying the typed FetchError.
        let production = production(MapResolver::new(&[]));
        let err = s_flows.refresh(&c.id, &production).await.unwrap_err();
        let enterprise_sso::Error::Fetch { source, .. } = &err else {
            panic!("{err:?}")
        };
        assert!(matches!(
            source.downcast_ref::<FetchError>(),
            Some(FetchError::InsecureScheme { .. })
        ));
    })
    .await;
}
