//! Merge + validate: any decodable patch applied to a SAML and an OIDC connection either
//! fails with field errors or yields a connection that passes validation.
#![no_main]

use enterprise_sso::testing::{oidc_connection, saml_connection};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(patch) = enterprise_sso_wire::decode_update(data) else { return };
    for base in [saml_connection("f", &["fuzz.example.com"], true), oidc_connection("f", &[], false)] {
        match enterprise_sso::merge(&base, &patch, 1) {
            Ok(next) => assert!(enterprise_sso::validate(&next).is_ok()),
            Err(e) => assert!(!e.errors().is_empty()),
        }
    }
});
