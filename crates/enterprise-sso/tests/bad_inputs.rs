//! The table of bad inputs: every body the wire decoder or the merge rules must refuse,
//! each with its error code, and the store exactly as it was afterwards. Every one of these
//! is refused before a store is called (in decoding or in merge), so the table runs once,
//! here, on the in-memory store; the refusals that do reach an adapter are in the
//! conformance suite (`conformance::refusals`), which every store runs.
#![allow(clippy::unwrap_used)]

use enterprise_sso::{
    ConnectionId, Connections, CreateConnection, EnterpriseConnection, ListQuery, Provider, Store,
};
use enterprise_sso_conformance::{block_on, TEST_CERT_PEM};
use enterprise_sso_memory::MemoryRepo;
use enterprise_sso_wire::{decode_create, decode_update, ApiErrors};

fn unique_tag() -> String {
    ConnectionId::generate().as_str()[4..].to_lowercase()
}

async fn must_get(repo: &dyn Store, id: &ConnectionId) -> EnterpriseConnection {
    repo.get(id).await.unwrap().unwrap()
}

async fn walk(repo: &dyn Store, query: &ListQuery) -> Vec<ConnectionId> {
    enterprise_sso::list_all(repo, query)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.id)
        .collect()
}

#[test]
fn bad_inputs_are_refused_and_change_nothing() {
    block_on(bad_inputs_change_nothing(&MemoryRepo::new()));
}

/// Create bodies (JSON) that must be refused, with the error code each gets.
fn bad_create_inputs() -> Vec<(String, &'static str)> {
    use serde_json::json;
    let ok = |extra: serde_json::Value| {
        let mut v =
            json!({"name": "Bad", "provider": "saml_custom", "domains": ["bad-input.example.com"]});
        if let (Some(o), Some(e)) = (v.as_object_mut(), extra.as_object()) {
            for (k, x) in e {
                o.insert(k.clone(), x.clone());
            }
        }
        v.to_string()
    };
    let oidc = |o: serde_json::Value| ok(json!({"provider": "oidc_custom", "oidc": o}));
    let saml = |o: serde_json::Value| ok(json!({"saml": o}));
    let huge = "x".repeat(2 * 1024 * 1024);
    let v: Vec<(String, &'static str)> = vec![
        // Not JSON, wrong shapes.
        ("".into(), "malformed_request_body"),
        ("{".into(), "malformed_request_body"),
        ("nul\u{0}".into(), "malformed_request_body"),
        ("[]".into(), "form_param_format_invalid"),
        ("42".into(), "form_param_format_invalid"),
        ("null".into(), "form_param_format_invalid"),
        // Wrong types.
        (ok(json!({"name": 5})), "form_param_format_invalid"),
        (ok(json!({"name": ["a"]})), "form_param_format_invalid"),
        (ok(json!({"active": "yes"})), "form_param_format_invalid"),
        (ok(json!({"domains": "a.com"})), "form_param_format_invalid"),
        (ok(json!({"domains": [1, 2]})), "form_param_format_invalid"),
        (
            ok(json!({"organization_id": 7})),
            "form_param_format_invalid",
        ),
        (
            ok(json!({"sync_user_attributes": 1})),
            "form_param_format_invalid",
        ),
        (
            ok(json!({"provider": "SAML_CUSTOM"})),
            "form_param_format_invalid",
        ),
        (ok(json!({"provider": 3})), "form_param_format_invalid"),
        (
            oidc(json!({"requires_pkce": "true"})),
            "form_param_format_invalid",
        ),
        (
            oidc(json!({"client_id": {"a": 1}})),
            "form_param_format_invalid",
        ),
        (saml(json!({"force_authn": 0})), "form_param_format_invalid"),
        (
            saml(json!({"attribute_mapping": "mail"})),
            "form_param_format_invalid",
        ),
        (ok(json!({"oidc": ["x"]})), "form_param_format_invalid"),
        // Unknown and missing fields.
        (ok(json!({"colour": "red"})), "form_param_unknown"),
        (ok(json!({"custom_attributes": []})), "form_param_unknown"),
        (oidc(json!({"secret": "s"})), "form_param_unknown"),
        (
            saml(json!({"login_hint": {"mode": "off", "extra": 1}})),
            "form_param_unknown",
        ),
        (
            saml(json!({"login_hint": {"mode": "custom_attribute"}})),
            "form_param_missing",
        ),
        (
            saml(json!({"login_hint": {"mode": "off", "source": "upn"}})),
            "form_param_format_invalid",
        ),
        (
            saml(json!({"login_hint": {"mode": "sms"}})),
            "form_param_format_invalid",
        ),
        (
            saml(json!({"login_hint": {"mode": "custom_attribute", "source": "  "}})),
            "form_param_format_invalid",
        ),
        (
            r#"{"provider":"saml_custom","domains":["a.com"]}"#.into(),
            "form_param_missing",
        ),
        (
            r#"{"name":"a","domains":["a.com"]}"#.into(),
            "form_param_missing",
        ),
        (
            r#"{"name":"a","provider":"saml_custom","domains":[]}"#.into(),
            "form_param_missing",
        ),
        // Sizes and characters.
        (
            ok(json!({"name": "n".repeat(300)})),
            "form_param_exceeds_allowed_size",
        ),
        (
            ok(json!({"name": huge.clone()})),
            "form_param_exceeds_allowed_size",
        ),
        (
            ok(json!({"name": "tab\tname"})),
            "form_param_format_invalid",
        ),
        (
            ok(json!({"name": "bell\u{7}"})),
            "form_param_format_invalid",
        ),
        (ok(json!({"name": "   "})), "form_param_missing"),
        (
            ok(json!({"organization_id": "org\n1"})),
            "form_param_format_invalid",
        ),
        (
            ok(json!({"organization_id": "o".repeat(2000)})),
            "form_param_exceeds_allowed_size",
        ),
        (
            saml(json!({"idp_metadata": huge.clone()})),
            "form_param_exceeds_allowed_size",
        ),
        (
            oidc(json!({"client_secret": "s".repeat(2000)})),
            "form_param_exceeds_allowed_size",
        ),
        (
            oidc(json!({"client_secret": ""})),
            "form_param_format_invalid",
        ),
        // Domains.
        (ok(json!({"domains": ["com"]})), "form_domain_public_suffix"),
        (
            ok(json!({"domains": ["co.uk"]})),
            "form_domain_public_suffix",
        ),
        (
            ok(json!({"domains": ["github.io"]})),
            "form_domain_public_suffix",
        ),
        (
            ok(json!({"domains": ["localhost"]})),
            "form_param_format_invalid",
        ),
        (
            ok(json!({"domains": ["exa mple.com"]})),
            "form_param_format_invalid",
        ),
        (
            ok(json!({"domains": ["under_score.com"]})),
            "form_param_format_invalid",
        ),
        (
            ok(json!({"domains": ["-lead.com"]})),
            "form_param_format_invalid",
        ),
        (
            ok(json!({"domains": ["a..b.com"]})),
            "form_param_format_invalid",
        ),
        (
            ok(json!({"domains": [format!("{}.com", "a".repeat(64))]})),
            "form_param_format_invalid",
        ),
        (
            ok(json!({"domains": ["user@acme.com"]})),
            "form_param_format_invalid",
        ),
        (
            ok(json!({"domains": ["https://acme.com"]})),
            "form_param_format_invalid",
        ),
        (
            ok(
                json!({"domains": (0..101).map(|i| format!("d{i}.example.com")).collect::<Vec<_>>()}),
            ),
            "form_param_exceeds_allowed_size",
        ),
        // URLs.
        (
            saml(json!({"idp_sso_url": "http://idp.example.com/sso"})),
            "form_param_format_invalid",
        ),
        (
            saml(json!({"idp_sso_url": "not a url"})),
            "form_param_format_invalid",
        ),
        (
            saml(json!({"idp_sso_url": "javascript:alert(1)"})),
            "form_param_format_invalid",
        ),
        (
            saml(json!({"idp_sso_url": "https://user:pw@idp.example.com/"})),
            "form_param_format_invalid",
        ),
        (
            saml(json!({"idp_metadata_url": "https://10.0.0.1/md"})),
            "form_param_url_not_allowed",
        ),
        (
            saml(json!({"idp_metadata_url": "https://169.254.169.254/latest/meta-data"})),
            "form_param_url_not_allowed",
        ),
        (
            saml(json!({"idp_metadata_url": "http://localhost/md"})),
            "form_param_url_not_allowed",
        ),
        (
            oidc(
                json!({"discovery_url": "https://[fd00::1]/.well-known/openid-configuration", "requires_pkce": true}),
            ),
            "form_param_url_not_allowed",
        ),
        (
            oidc(json!({"token_url": "ftp://idp.example.com/t", "requires_pkce": true})),
            "form_param_format_invalid",
        ),
        (
            oidc(
                json!({"auth_url": format!("https://idp.example.com/{}", "a".repeat(3000)), "requires_pkce": true}),
            ),
            "form_param_exceeds_allowed_size",
        ),
        // PKCE and protocol rules.
        (
            oidc(json!({"client_id": "c"})),
            "form_public_client_requires_pkce",
        ),
        (
            oidc(json!({"client_id": "c", "requires_pkce": false})),
            "form_public_client_requires_pkce",
        ),
        (
            ok(json!({"oidc": {"client_id": "c"}})),
            "form_param_not_allowed_for_provider",
        ),
        (
            ok(json!({"provider": "oidc_gitlab", "saml": {}, "oidc": {"requires_pkce": true}})),
            "form_param_not_allowed_for_provider",
        ),
        (ok(json!({"active": true})), "form_param_missing"),
        (
            ok(json!({"provider": "oidc_custom", "active": true, "oidc": {"requires_pkce": true}})),
            "form_param_missing",
        ),
        (
            saml(json!({"force_authn": null})),
            "form_param_null_not_allowed",
        ),
        // Hostile XML and bad certificates.
        (
            saml(
                json!({"idp_metadata": "<!DOCTYPE x [<!ENTITY a \"aaaa\"><!ENTITY b \"&a;&a;&a;&a;\">]><x>&b;</x>"}),
            ),
            "saml_failed_to_parse_idp_metadata",
        ),
        (
            saml(
                json!({"idp_metadata": "<!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]><x>&e;</x>"}),
            ),
            "saml_failed_to_parse_idp_metadata",
        ),
        (
            saml(json!({"idp_metadata": format!("{}{}", "<a>".repeat(100), "</a>".repeat(100))})),
            "saml_failed_to_parse_idp_metadata",
        ),
        (
            saml(
                json!({"idp_metadata": "<md:EntityDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\" entityID=\"x\"/>"}),
            ),
            "saml_metadata_missing_fields",
        ),
        (
            saml(json!({"idp_metadata": "<<<not xml"})),
            "saml_failed_to_parse_idp_metadata",
        ),
        (
            saml(
                json!({"idp_certificate": "-----BEGIN CERTIFICATE-----\n%%%%\n-----END CERTIFICATE-----"}),
            ),
            "saml_certificate_invalid",
        ),
        (
            saml(
                json!({"idp_certificate": "-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----"}),
            ),
            "saml_certificate_invalid",
        ),
        (
            saml(json!({"idp_certificate": "aGVsbG8="})),
            "saml_certificate_invalid",
        ),
        // Hostile input (the outside attack's findings).
        (
            ok(
                json!({"domains": (0..80_000).map(|i| format!("d{i}.example.com")).collect::<Vec<_>>()}),
            ),
            "form_param_exceeds_allowed_size",
        ),
        (
            ok(json!({"domains": ["127.0.0.1"]})),
            "form_param_format_invalid",
        ),
        (
            ok(json!({"domains": ["0x7f.1"]})),
            "form_param_format_invalid",
        ),
        (
            saml(json!({"idp_certificate": format!("{TEST_CERT_PEM}{KEY_PEM}")})),
            "saml_certificate_invalid",
        ),
        (
            saml(json!({"idp_certificate": format!("{KEY_PEM}{TEST_CERT_PEM}")})),
            "saml_certificate_invalid",
        ),
        (
            saml(json!({"idp_certificate": format!("{TEST_CERT_PEM}trailing garbage")})),
            "saml_certificate_invalid",
        ),
        // Well-formed XML without what is needed is not "failed to parse".
        (
            saml(json!({"idp_metadata": "<?xml version=\"1.0\"?><root/>"})),
            "saml_metadata_missing_fields",
        ),
        (
            saml(json!({"idp_certificates": [TEST_CERT_PEM, "not a certificate"]})),
            "saml_certificate_invalid",
        ),
        (
            saml(json!({"idp_certificates": vec![TEST_CERT_PEM; 17]})),
            "form_param_exceeds_allowed_size",
        ),
        (
            saml(json!({"idp_metadata_url": "https://good.com\\@127.0.0.1/md"})),
            "form_param_format_invalid",
        ),
        (
            oidc(
                json!({"discovery_url": "https://good.com\\@127.0.0.1/.well-known/openid-configuration", "client_id": "c", "requires_pkce": true}),
            ),
            "form_param_format_invalid",
        ),
        (
            saml(json!({"idp_metadata_url": "https://localhost%2e/md"})),
            "form_param_format_invalid",
        ),
        (
            saml(json!({"idp_metadata_url": "https://localhost./md"})),
            "form_param_url_not_allowed",
        ),
        (
            saml(json!({"idp_metadata_url": "https://[::127.0.0.1]/md"})),
            "form_param_url_not_allowed",
        ),
        (
            saml(json!({"idp_metadata_url": "https://[::ffff:0:7f00:1]/md"})),
            "form_param_url_not_allowed",
        ),
        (
            saml(json!({"idp_metadata_url": "https://[64:ff9b::a9fe:a9fe]/md"})),
            "form_param_url_not_allowed",
        ),
        (
            saml(json!({"idp_metadata_url": "https://[2002:a9fe:a9fe::]/md"})),
            "form_param_url_not_allowed",
        ),
    ];
    let mut v = v;
    for (name, build) in enterprise_sso_protocol::xml::hostile::SHAPES {
        if *name != "widest_allowed" {
            v.push((
                saml(json!({"idp_metadata": build(usize::MAX)})),
                "saml_failed_to_parse_idp_metadata",
            ));
        }
    }
    v
}

/// A PEM private key block (a throwaway value with a valid shape), for the table below.
const KEY_PEM: &str = "-----BEGIN PRIVATE KEY-----\nMIIBVgIBADANBgkqhkiG9w0BAQEFAASCAUAwggE8AgEAAkEAq7BFUpkGp3+LQmlQ\n-----END PRIVATE KEY-----\n";

/// Each bad input gets its error code, and the store is exactly as it was afterwards.
async fn bad_inputs_change_nothing(repo: &dyn Store) {
    let svc = Connections::new(repo);
    let tag = unique_tag();
    let existing = svc
        .create(&CreateConnection {
            domains: Some(vec![format!("bad-{tag}.com")]),
            ..CreateConnection::new(Provider::SamlCustom, "existing")
        })
        .await
        .expect("create");
    let snapshot = || async {
        let all = walk(
            repo,
            &ListQuery {
                limit: 500,
                ..Default::default()
            },
        )
        .await;
        let mut records = Vec::new();
        for id in &all {
            records.push(must_get(repo, id).await);
        }
        records
    };
    let before = snapshot().await;
    let table = bad_create_inputs();
    assert!(table.len() >= 50, "the table has {} entries", table.len());
    for (body, code) in &table {
        let got = match decode_create(body.as_bytes()) {
            Err(e) => e,
            Ok(params) => match svc.create(&params).await {
                Err(e) => ApiErrors::from(&e),
                Ok(c) => panic!("accepted a bad input ({code}): created {}", c.id),
            },
        };
        let codes: Vec<_> = got.errors.iter().map(|e| e.code).collect();
        assert!(
            codes.contains(code),
            "body {:.120}: expected {code}, got {codes:?}",
            body
        );
    }
    let updates = [
        r#"{"name": null}"#,
        r#"{"domains": null}"#,
        r#"{"active": null}"#,
        r#"{"provider": "oidc_custom"}"#,
        r#"{"oidc": {"client_id": "x"}}"#,
        r#"{"saml": {"idp_certificate": "garbage"}}"#,
        r#"{"domains": ["co.uk"]}"#,
        r#"{"saml": {"idp_sso_url": "http://x.example.com"}}"#,
    ];
    for body in updates {
        let patch = decode_update(body.as_bytes()).expect(body);
        assert!(
            svc.update(&existing.id, &patch).await.is_err(),
            "{body} was accepted"
        );
    }
    assert_eq!(snapshot().await, before, "the store is exactly as it was");
}
