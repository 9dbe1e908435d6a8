//! The fuzz targets' entry points (fuzz/fuzz_targets) as property tests, so they run on
//! stable in every `cargo test`: JSON request decoding and merge + validate. (The SAML
//! parsers' equivalents are in saml_inputs.rs.)
#![allow(clippy::unwrap_used)]

use enterprise_sso::{build, merge, validate, ConnectionId};
use enterprise_sso_conformance::{oidc_connection, saml_connection};
use enterprise_sso_wire::{decode_create, decode_update};
use proptest::prelude::*;

const SEEDS: &[&str] = &[
    include_str!("fixtures/create_saml.request.json"),
    include_str!("fixtures/create_oidc.request.json"),
    include_str!("fixtures/update_oidc.request.json"),
    include_str!("fixtures/update_saml_switch_to_oidc.request.json"),
];

/// A seed body with random byte edits (replace, insert, truncate).
fn mutated() -> impl Strategy<Value = Vec<u8>> {
    (
        proptest::sample::select(SEEDS),
        proptest::collection::vec((any::<usize>(), any::<u8>(), 0u8..3), 1..6),
    )
        .prop_map(|(seed, edits)| {
            let mut b = seed.as_bytes().to_vec();
            for (at, byte, kind) in edits {
                let at = at % b.len().max(1);
                match kind {
                    0 => b[at] = byte,
                    1 => b.insert(at, byte),
                    _ => b.truncate(at.max(1)),
                }
            }
            b
        })
}

fn check(data: &[u8]) -> Result<(), TestCaseError> {
    if let Ok(params) = decode_create(data) {
        if let Ok(c) = build(&params, ConnectionId::generate(), 0) {
            prop_assert!(validate(&c).is_ok());
        }
    }
    if let Ok(patch) = decode_update(data) {
        for base in [
            saml_connection("f", &["fuzz.example.com"], true),
            oidc_connection("f", &[], false),
        ] {
            match merge(&base, &patch, 1) {
                Ok(next) => prop_assert!(validate(&next).is_ok()),
                Err(e) => prop_assert!(!e.errors().is_empty()),
            }
        }
    }
    Ok(())
}

proptest! {
    #[test]
    fn random_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..512)) {
        check(&data)?;
    }

    #[test]
    fn mutated_requests_never_panic_and_merges_validate(data in mutated()) {
        check(&data)?;
    }

    #[test]
    fn random_json_objects_never_panic(v in proptest::collection::btree_map(
        proptest::sample::select(vec!["name", "provider", "domains", "active", "oidc", "saml", "organization_id", "x"]),
        prop_oneof![Just(serde_json::Value::Null), any::<bool>().prop_map(serde_json::Value::from), "[a-z.]{0,12}".prop_map(serde_json::Value::from), Just(serde_json::json!({"client_id": "c", "requires_pkce": true})), Just(serde_json::json!(["a.com"]))],
        0..6,
    )) {
        let body = serde_json::to_vec(&v).unwrap();
        check(&body)?;
    }
}
