//! Proxies: the environment's proxy variables are never read; an explicitly configured
//! proxy carries every request (a tripwire proxy on loopback shows which requests reach it).
//! Its own test binary, since it sets process environment variables.
#![allow(clippy::unwrap_used)]

mod support;

use std::sync::atomic::Ordering;

use enterprise_sso_fetch::{FetchOptions, Fetcher};
use support::{bounded, serve, MapResolver, Refused, Reply};

#[tokio::test]
async fn proxy_variables_in_the_environment_are_ignored() {
    bounded(async {
        let tripwire = serve(|_| Reply::ok("via the environment's proxy")).await;
        let origin = serve(|_| Reply::ok("direct")).await;
        let proxy = format!("http://127.0.0.1:{}", tripwire.port());
        for var in [
            "HTTP_PROXY",
            "HTTPS_PROXY",
            "ALL_PROXY",
            "http_proxy",
            "https_proxy",
            "all_proxy",
        ] {
            std::env::set_var(var, &proxy);
        }
        std::env::remove_var("NO_PROXY");
        std::env::remove_var("no_proxy");
        let fetcher = Fetcher::new(
            FetchOptions::insecure_allow_loopback_for_tests().resolver(MapResolver::new(&[])),
        )
        .unwrap();
        assert_eq!(fetcher.get(&origin.url("/doc")).await.unwrap(), b"direct");
        assert_eq!(tripwire.accepted.load(Ordering::SeqCst), 0);
    })
    .await;
}

#[tokio::test]
async fn an_explicit_proxy_carries_every_request() {
    bounded(async {
        let proxy = serve(|_| Reply::ok("via proxy")).await;
        let origin = serve(|_| Reply::ok("direct")).await;
        let fetcher = Fetcher::new(
            FetchOptions::insecure_allow_loopback_for_tests()
                .resolver(MapResolver::new(&[]))
                .proxy(format!("http://127.0.0.1:{}", proxy.port())),
        )
        .unwrap();
        assert_eq!(
            fetcher.get(&origin.url("/doc")).await.unwrap(),
            b"via proxy"
        );
        assert_eq!(origin.accepted.load(Ordering::SeqCst), 0);
        let seen = proxy.requests.lock().unwrap()[0].clone();
        assert!(
            seen.starts_with(&format!("GET http://127.0.0.1:{}/doc ", origin.port())),
            "{seen}"
        );
    })
    .await;
}

#[tokio::test]
async fn in_production_the_proxy_resolves_targets_and_the_url_rule_still_applies() {
    bounded(async {
        // A proxy that accepts CONNECT and then speaks no TLS: the fetch fails after the
        // proxy was asked, which is all this test needs to see.
        let proxy = serve(|_| Reply::ok("not a tunnel")).await;
        // The proxy by name: its own name is exempt from the address rule.
        let resolver = MapResolver::new(&[("proxy.corp.test", &["127.0.0.1"])]);
        let fetcher = Fetcher::new(
            FetchOptions::new()
                .resolver(resolver.clone())
                .extra_ca_pem(support::pki(&["unused.test"]).ca_pem)
                .proxy(format!("http://proxy.corp.test:{}", proxy.port())),
        )
        .unwrap();
        assert!(fetcher.get("https://idp.example.com/md").await.is_err());
        let seen = proxy.requests.lock().unwrap()[0].clone();
        assert!(seen.starts_with("CONNECT idp.example.com:443 "), "{seen}");
        assert_eq!(
            resolver.calls(),
            1,
            "only the proxy's name was resolved here"
        );
        // URL literals are still judged before anything is sent.
        let before = proxy.accepted.load(Ordering::SeqCst);
        for url in [
            "https://127.0.0.1/",
            "https://10.0.0.1/",
            "https://[::ffff:169.254.169.254]/",
        ] {
            assert!(matches!(
                fetcher.get(url).await.refused(),
                enterprise_sso_fetch::FetchError::ForbiddenAddress { .. }
            ));
        }
        assert_eq!(proxy.accepted.load(Ordering::SeqCst), before);
    })
    .await;
}
