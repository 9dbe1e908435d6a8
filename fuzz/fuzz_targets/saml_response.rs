//! The SAML Response verifier on arbitrary bytes: `verify_xml` on the bytes and
//! `verify_post` on them as a form value and base64-encoded. Never panics; never accepts
//! an identity that no signature of the IdP key covers.
//!
//! Three connections, one per IdP of the seed corpus (`corpus/saml_response/`, valid and
//! XSW responses of samlify, pysaml2 and SimpleSAMLphp from
//! `crates/enterprise-sso-protocol/tests/corpus/saml/generated/`), each at its pinned clock,
//! so that mutations of a valid response reach the signature and semantic checks. The
//! only identity the IdP key signed in those seeds is `jane@acme.com`: the fuzzer cannot
//! sign, so any other accepted identity is a verifier bug.
#![no_main]

use std::sync::OnceLock;

use base64::Engine as _;
use enterprise_sso_protocol::saml::parse_certificates;
use enterprise_sso_protocol::saml::sp::{
    parse_datetime, IdentityProvider, ResponseVerifier, ServiceProvider,
};
use libfuzzer_sys::fuzz_target;

const CERT: &str = include_str!(
    "../../crates/enterprise-sso-protocol/tests/corpus/saml/generated/certs/idp-cert.pem"
);
const SP: &str = "http://127.0.0.1:3000/saml/sp";
const ACS: &str = "http://127.0.0.1:3000/saml/acs";
const SIGNED_NAME: &str = "jane@acme.com";

/// (verifier, now) for samlify, pysaml2 and SimpleSAMLphp.
fn connections() -> &'static [(ResponseVerifier, i64)] {
    static C: OnceLock<Vec<(ResponseVerifier, i64)>> = OnceLock::new();
    C.get_or_init(|| {
        let der: Vec<Vec<u8>> = parse_certificates(CERT)
            .expect("test certificate")
            .into_iter()
            .map(|c| c.der)
            .collect();
        [
            ("http://127.0.0.1:7000/idp", "2026-06-01T12:01:00Z"),
            ("http://127.0.0.1:7002/metadata", "2026-06-01T12:01:00Z"),
            (
                "http://127.0.0.1:7093/saml2/idp/metadata.php",
                "2026-12-06T05:16:10Z",
            ),
        ]
        .into_iter()
        .map(|(idp, now)| {
            (
                ResponseVerifier::new(
                    ServiceProvider::new(SP, ACS),
                    IdentityProvider::new(idp, der.clone()),
                ),
                parse_datetime(now).expect("pinned clock"),
            )
        })
        .collect()
    })
}

fuzz_target!(|data: &[u8]| {
    let form = String::from_utf8_lossy(data);
    let encoded = base64::engine::general_purpose::STANDARD.encode(data);
    for (v, now) in connections() {
        for result in [
            v.verify_xml(data, *now),
            v.verify_post(&form, *now),
            v.verify_post(&encoded, *now),
        ] {
            match result {
                Ok(a) => {
                    assert_eq!(a.name_id, SIGNED_NAME, "accepted an unsigned identity");
                    assert!(a.signed.response || a.signed.assertion);
                    assert!(!a.assertion_id.is_empty());
                }
                Err(refusal) => {
                    assert!(!refusal.code().is_empty());
                }
            }
        }
    }
});
