//! Property tests of the hostile-input rules (the `hostile_inputs` fuzz target's checks, on
//! stable): URLs assembled from parser-differential pieces never pass the fetch policy
//! with an internal host, and keep their host through re-parsing; emails with extra `@`
//! or IP domains never parse; certificate fields with a key never parse; domain lists
//! are bounded before per-item work.
#![allow(clippy::unwrap_used)]

use enterprise_sso::Policy;
use enterprise_sso::{build, ConnectionId, CreateConnection, EmailAddress, Provider};
use enterprise_sso_conformance::TEST_CERT_PEM;
use enterprise_sso_protocol::url_policy::{canonical_url, check_fetch_url_kind, ip_allowed};
use proptest::prelude::*;

const PIECES: &[&str] = &[
    "https://",
    "http://",
    "https:",
    "https:/",
    "//",
    "\\",
    "@",
    "%2e",
    "%40",
    ".",
    ":",
    "[",
    "]",
    "::ffff:",
    "::",
    "64:ff9b::",
    "2002:",
    "a9fe:a9fe",
    "7f00:1",
    "127.0.0.1",
    "0x7f.1",
    "localhost",
    "good.com",
    "evil.com",
    "#",
    "?",
    "/",
    "\t",
    " ",
    "\u{3002}",
    "443",
    "10.0.0.1",
];

fn url_like() -> impl Strategy<Value = String> {
    proptest::collection::vec(proptest::sample::select(PIECES), 1..10).prop_map(|p| p.concat())
}

proptest! {
    /// What is stored checks again as it is: the rule holds for the canonical form,
    /// whose percent-encoding can be three times longer than what was given.
    #[test]
    fn a_stored_url_is_accepted_again_unchanged(
        path in proptest::collection::vec(
            proptest::sample::select(&["a", "/", "é", "€", "😀", "%", "?", "#", "[", "@", "+"][..]),
            0..900,
        )
    ) {
        let given = format!("https://idp.example.com/{}", path.concat());
        if let Some(stored) = canonical_url(&given) {
            prop_assert!(stored.len() <= enterprise_sso_protocol::limits::MAX_URL_LEN);
            prop_assert_eq!(canonical_url(&stored), Some(stored.clone()));
        }
    }

    #[test]
    fn accepted_urls_name_no_internal_host(u in url_like()) {
        let policy = Policy::default();
        if check_fetch_url_kind(&u, &policy).is_ok() {
            let stored = canonical_url(&u).unwrap();
            prop_assert_eq!(canonical_url(&stored), Some(stored.clone()));
            let url = url::Url::parse(&stored).unwrap();
            match url.host().unwrap() {
                // Label-wise: `127.0.0.1localhost` (found by this property) is a name whose
                // last label is `1localhost`, not a subdomain of `localhost`.
                url::Host::Domain(d) => {
                    let d = d.trim_end_matches('.');
                    prop_assert!(d != "localhost" && !d.ends_with(".localhost"));
                }
                url::Host::Ipv4(ip) => prop_assert!(ip_allowed(ip.into(), &policy)),
                url::Host::Ipv6(ip) => prop_assert!(ip_allowed(ip.into(), &policy)),
            }
            let theirs: http::Uri = stored.parse().unwrap();
            prop_assert_eq!(
                theirs.host().unwrap().trim_matches(['[', ']']),
                url.host_str().unwrap().trim_matches(['[', ']'])
            );
            // `%` is refused in the authority only (a percent-encoded host); in a path it
            // is ordinary URL syntax (found by this property: `https://https://%2e`).
            let authority = u
                .split_once("://")
                .map_or("", |(_, rest)| rest.split(['/', '?', '#']).next().unwrap_or(""));
            prop_assert!(!u.contains('\\') && !authority.contains('%') && !u.contains('\t'));
        }
    }

    #[test]
    fn emails_have_one_at_and_a_name_domain(
        local in "[a-z.@]{0,8}",
        host in proptest::sample::select(vec!["acme.com", "evil.com@acme.com", "127.0.0.1", "0x7f.1", "[::1]", "acme..com", "Bücher.de"]),
    ) {
        let raw = format!("{local}@{host}");
        if let Ok(e) = EmailAddress::parse(&raw) {
            prop_assert_eq!(raw.matches('@').count(), 1);
            prop_assert!(!enterprise_sso::is_ip_literal(e.domain().as_str()));
            prop_assert_eq!(EmailAddress::parse(&e.to_string()).unwrap(), e);
        }
    }

    #[test]
    fn certificate_fields_with_anything_but_certificates_are_refused(
        before in proptest::sample::select(vec!["", " \n", "junk", "-----BEGIN PRIVATE KEY-----\nAA==\n-----END PRIVATE KEY-----\n"]),
        after in proptest::sample::select(vec!["", "\n\n", "junk", "-----BEGIN RSA PRIVATE KEY-----\nAA==\n-----END RSA PRIVATE KEY-----\n", "-----BEGIN CERTIFICATE REQUEST-----\nAA==\n-----END CERTIFICATE REQUEST-----"]),
    ) {
        let text = format!("{before}{TEST_CERT_PEM}{after}");
        let r = enterprise_sso_protocol::saml::parse_certificate(&text);
        let clean = before.trim().is_empty() && after.trim().is_empty();
        prop_assert_eq!(r.is_ok(), clean, "{:?}", r);
    }

    #[test]
    fn domain_lists_are_bounded_and_deduplicated(n in 0usize..400, dup in 1usize..4) {
        let domains: Vec<String> = (0..n).map(|i| format!("d{}.example.com", i / dup)).collect();
        let params = CreateConnection {
            domains: Some(domains.clone()),
            ..CreateConnection::new(Provider::SamlCustom, "p")
        };
        match build(&params, ConnectionId::generate(), 0) {
            Ok(c) => {
                prop_assert!(n <= 100);
                prop_assert_eq!(c.domains.len(), n.div_ceil(dup));
            }
            Err(e) => {
                prop_assert!(n > 100);
                prop_assert_eq!(e.errors().len(), 1, "one error, no per-item work");
            }
        }
    }
}

#[test]
fn domain_normalisation_is_linear() {
    use std::time::{Duration, Instant};
    // 80,000 distinct domains: refused on the count before any is parsed.
    let params = CreateConnection {
        domains: Some((0..80_000).map(|i| format!("d{i}.example.com")).collect()),
        ..CreateConnection::new(Provider::SamlCustom, "p")
    };
    let t = Instant::now();
    assert!(build(&params, ConnectionId::generate(), 0).is_err());
    assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());
}
