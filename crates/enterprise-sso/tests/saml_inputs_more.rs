//! SAML and OIDC inputs, continued: no input makes the parsers panic, canonical
//! certificates, white space before the declaration, and UTF-16 documents on refresh.
#![allow(clippy::unwrap_used)]

use enterprise_sso::{Patch, Policy, SamlPatch};
use enterprise_sso_flows::Flows;
use enterprise_sso_protocol::saml::{parse_certificate, parse_metadata};
use futures_executor::block_on;
use proptest::prelude::*;

mod saml_support;
use saml_support::*;

// ---- fuzz-style: no input makes the parsers panic ---------------------------------------

fn mutated(base: &'static str) -> impl Strategy<Value = String> {
    let len = base.len();
    proptest::collection::vec((0..len, any::<u8>(), 0u8..3), 1..8).prop_map(move |edits| {
        let mut bytes = base.as_bytes().to_vec();
        for (at, b, kind) in edits {
            let at = at.min(bytes.len().saturating_sub(1));
            match kind {
                0 => bytes[at] = b,
                1 => bytes.insert(at, b),
                _ => bytes.truncate(at.max(1)),
            }
        }
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

proptest! {
    #[test]
    fn parsers_never_panic_on_random_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let text = String::from_utf8_lossy(&bytes);
        let _ = parse_metadata(&text);
        let _ = parse_certificate(&text);
        let _ = enterprise_sso_protocol::oidc::parse_discovery(&bytes, "https://a.example.com/.well-known/openid-configuration", &Policy::default());
    }

    #[test]
    fn parsers_never_panic_on_mutated_metadata(xml in prop_oneof![mutated(OKTA), mutated(ENTRA), mutated(ADFS), mutated(GOOGLE)]) {
        if let Ok(m) = parse_metadata(&xml) {
            prop_assert!(!m.entity_id.is_empty());
            prop_assert!(!m.signing_certificates.is_empty());
        }
    }

    #[test]
    fn parsers_never_panic_on_mutated_certificates(pem in prop_oneof![mutated(fixture!("okta.pem")), mutated(fixture!("google.pem"))]) {
        let _ = parse_certificate(&pem);
    }
}

#[test]
fn certificates_are_stored_in_canonical_form() {
    use enterprise_sso_conformance::TEST_CERT_PEM;
    let canonical = enterprise_sso_protocol::saml::parse_certificate(TEST_CERT_PEM)
        .unwrap()
        .to_pem();
    // Indented lines, CRLF, surrounding white space: stored re-encoded from the DER.
    let messy = format!(
        "\r\n  {}\r\n",
        TEST_CERT_PEM.replace('\n', "\r\n    ").trim_end()
    );
    let base64_only: String = TEST_CERT_PEM
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    for given in [messy.as_str(), base64_only.as_str()] {
        let c = block_on(svc().create(&saml_params(
            SamlPatch {
                idp_certificate: Patch::Value(given.to_owned()),
                ..SamlPatch::default()
            },
            false,
        )))
        .unwrap();
        assert_eq!(
            c.saml().unwrap().idp_certificate.as_deref(),
            Some(canonical.as_str())
        );
        let json = serde_json::to_string(&enterprise_sso_wire::ConnectionJson::new(&c)).unwrap();
        assert!(!json.contains("    "), "served as stored: {json}");
    }
}

#[test]
fn white_space_and_a_byte_order_mark_before_the_declaration_are_accepted() {
    block_on(async {
        let s_flows = Flows::new(svc());
        let s = s_flows.connections();
        let plain = s.create(&saml_params(metadata(ENTRA), true)).await.unwrap();
        for prefix in ["\u{feff}", "\n", "  \r\n\t", "\u{feff}\n  "] {
            let xml = format!("{prefix}{ENTRA}");
            let c = s.create(&saml_params(metadata(&xml), true)).await;
            let c = c.unwrap_or_else(|e| panic!("prefix {prefix:?}: {e}"));
            let (a, b) = (c.saml().unwrap(), plain.saml().unwrap());
            assert_eq!(a.idp_entity_id, b.idp_entity_id, "{prefix:?}");
            assert_eq!(a.idp_sso_url, b.idp_sso_url, "{prefix:?}");
            assert_eq!(a.idp_certificate, b.idp_certificate, "{prefix:?}");
        }
        // Text that is not white space before the declaration is still refused.
        let bad = format!("x{ENTRA}");
        assert!(s.create(&saml_params(metadata(&bad), true)).await.is_err());
    });
}

#[test]
fn refresh_decodes_utf16_and_utf8_with_a_byte_order_mark() {
    block_on(async {
        let (s, c) = refreshable().await;
        let s_flows = Flows::new(s);
        let s = s_flows.connections();
        let utf16 = |le: bool| {
            let mut out = if le {
                vec![0xFF, 0xFE]
            } else {
                vec![0xFE, 0xFF]
            };
            for unit in ENTRA.encode_utf16() {
                out.extend(if le {
                    unit.to_le_bytes()
                } else {
                    unit.to_be_bytes()
                });
            }
            out
        };
        let utf8_bom = [&[0xEF, 0xBB, 0xBF][..], ENTRA.as_bytes()].concat();
        for (name, body) in [
            ("UTF-16LE", utf16(true)),
            ("UTF-16BE", utf16(false)),
            ("UTF-8 with BOM", utf8_bom),
        ] {
            let source = FakeSource::new(move || Ok(body.clone()));
            let r = s_flows
                .refresh(&c.id, &source)
                .await
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(
                r.saml().unwrap().idp_entity_id.as_deref(),
                Some("https://sts.windows.net/72f988bf-86f1-41af-91ab-2d7cd011db47/"),
                "{name}"
            );
        }
        // A UTF-16 document cut in the middle of a code unit, or with an unpaired
        // surrogate, is refused and writes nothing.
        let before = s.get(&c.id).await.unwrap();
        let mut odd = utf16(true);
        odd.pop();
        let lone_surrogate = vec![0xFF, 0xFE, 0x00, 0xD8, b'<', 0x00];
        for body in [odd, lone_surrogate] {
            let source = FakeSource::new(move || Ok(body.clone()));
            let err = s_flows.refresh(&c.id, &source).await.unwrap_err();
            assert!(err.validation().unwrap().has("saml.idp_metadata"), "{err}");
        }
        assert_eq!(s.get(&c.id).await.unwrap(), before);
    });
}
