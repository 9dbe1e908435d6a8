//! The SAML metadata and certificate parsers: never panic, never accept without the parts.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(m) = enterprise_sso_protocol::saml::parse_metadata(&text) {
        assert!(!m.entity_id.is_empty() && !m.signing_certificates.is_empty());
    }
    let _ = enterprise_sso_protocol::saml::parse_certificate(&text);
});
