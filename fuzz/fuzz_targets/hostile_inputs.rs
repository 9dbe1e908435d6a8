//! URLs, email addresses and certificate fields: an accepted URL names no internal host
//! and keeps its host through re-parsing; an accepted email has one `@` and a non-IP
//! domain; an accepted certificate field holds no private key.
#![no_main]

use enterprise_sso::Policy;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Some(stored) = enterprise_sso_protocol::url_policy::canonical_url(text) {
        assert_eq!(enterprise_sso_protocol::url_policy::canonical_url(&stored).as_deref(), Some(stored.as_str()));
        if enterprise_sso_protocol::url_policy::check_fetch_url_kind(text, &Policy::default()).is_ok() {
            let url = url::Url::parse(&stored).unwrap();
            if let Some(url::Host::Ipv6(ip)) = url.host() {
                assert!(enterprise_sso_protocol::url_policy::ip_allowed(ip.into(), &Policy::default()));
            }
        }
    }
    if let Ok(e) = enterprise_sso::EmailAddress::parse(text) {
        assert_eq!(e.to_string().matches('@').count(), 1);
        assert!(!enterprise_sso::is_ip_literal(e.domain().as_str()));
    }
    if let Ok(certs) = enterprise_sso_protocol::saml::parse_certificates(text) {
        assert!(!text.contains("PRIVATE KEY") || certs.is_empty());
    }
});
