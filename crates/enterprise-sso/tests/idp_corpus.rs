//! Real identity-provider documents (`tests/corpus/`, sources in each folder's
//! `SOURCES.md`), checked against the values written beside each one by
//! `tests/corpus/expected.py` (Python's XML parser and `openssl`, not this library).
//!
//! Every SAML metadata file goes through create (inactive, and active), the JSON decode
//! path and `refresh`; every discovery document through `parse_discovery` and `refresh`.
//! A refusal is accepted only where the expected file names it, with its code.
#![allow(clippy::unwrap_used)]

use enterprise_sso::UnixMillis;
use enterprise_sso_flows::Flows;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use base64::Engine;
use enterprise_sso::{
    Connections, CreateConnection, EnterpriseConnection, Error, OidcPatch, Patch, Policy, Provider,
    SamlConfig, SamlPatch,
};
use enterprise_sso_flows::MetadataSource;
use enterprise_sso_memory::MemoryRepo;
use enterprise_sso_wire::{decode_create, ApiErrors};
use futures_executor::block_on;
use serde_json::{json, Value};

fn corpus(kind: &str) -> Vec<(PathBuf, Value)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/corpus")
        .join(kind);
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if name.ends_with(".expected.json") || name.ends_with(".md") {
            continue;
        }
        let stem = path.file_stem().unwrap().to_string_lossy().to_string();
        let expected = dir.join(format!("{stem}.expected.json"));
        let expected: Value = serde_json::from_slice(
            &std::fs::read(&expected).unwrap_or_else(|_| panic!("{name} has no expected file")),
        )
        .unwrap();
        out.push((path, expected));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// Serves one body for any URL.
struct Serve(Vec<u8>);

#[async_trait]
impl MetadataSource for Serve {
    async fn fetch(&self, _url: &str, _max: usize) -> Result<Vec<u8>, enterprise_sso::BoxError> {
        Ok(self.0.clone())
    }
}

fn svc(now: i64) -> Connections<MemoryRepo> {
    Connections::new(MemoryRepo::new()).with_clock(Arc::new(move || now))
}

fn code(e: &Error) -> Vec<&'static str> {
    ApiErrors::from(e).errors.iter().map(|x| x.code).collect()
}

fn der_of(pem: &str) -> String {
    pem.lines().filter(|l| !l.starts_with("-----")).collect()
}

/// Checks a derived SAML configuration against the expected values.
fn check_saml(what: &str, s: &SamlConfig, exp: &Value) {
    assert_eq!(
        s.idp_entity_id.as_deref(),
        exp["entity_id"].as_str(),
        "{what}: entity id"
    );
    assert_eq!(
        s.idp_sso_url.as_deref(),
        exp["sso_url"].as_str(),
        "{what}: SSO URL"
    );
    let certs = exp["certificates"].as_array().unwrap();
    assert_eq!(s.idp_certificates.len(), certs.len(), "{what}: set size");
    for (got, want) in s.idp_certificates.iter().zip(certs) {
        let der = base64::engine::general_purpose::STANDARD
            .decode(der_of(&got.pem))
            .unwrap();
        let want_der = base64::engine::general_purpose::STANDARD
            .decode(want["der_base64"].as_str().unwrap())
            .unwrap();
        assert_eq!(der, want_der, "{what}: certificate bytes");
        assert_eq!(
            got.issued_at,
            UnixMillis::new(want["not_before_ms"].as_i64().unwrap()),
            "{what}"
        );
        assert_eq!(
            got.expires_at,
            UnixMillis::new(want["not_after_ms"].as_i64().unwrap()),
            "{what}"
        );
    }
    let primary = &s.idp_certificates[exp["primary"].as_u64().unwrap() as usize];
    assert_eq!(
        s.idp_certificate.as_deref(),
        Some(primary.pem.as_str()),
        "{what}: primary"
    );
    assert_eq!(
        s.idp_certificate_issued_at,
        Some(primary.issued_at),
        "{what}"
    );
    assert_eq!(
        s.idp_certificate_expires_at,
        Some(primary.expires_at),
        "{what}"
    );
}

fn saml_params(xml: &str, entity: Option<&str>, active: bool) -> CreateConnection {
    let mut p = CreateConnection::new(Provider::SamlCustom, "corpus");
    p.active = Some(active);
    p.saml = Some(SamlPatch {
        idp_metadata: Patch::Value(xml.to_owned()),
        idp_entity_id: entity.map(str::to_owned).into(),
        ..Default::default()
    });
    p
}

/// Runs one expectation (`exp` holds either a refusal or the derived values) through
/// create (inactive and active), the JSON decode path and refresh.
async fn run_saml(what: &str, bytes: &[u8], entity: Option<&str>, exp: &Value) {
    let now = 1_717_200_000_000i64;
    let xml = enterprise_sso_protocol::saml::decode_metadata_bytes(bytes.to_vec()).unwrap();
    let s_flows = Flows::new(svc(now));
    let s = s_flows.connections();
    let inactive = s.create(&saml_params(&xml, entity, false)).await;
    if let Some(refusal) = exp.get("refusal") {
        let want = refusal["code"].as_str().unwrap();
        let err = inactive.expect_err(what);
        assert!(
            code(&err).contains(&want),
            "{what}: {:?} is not {want}",
            code(&err)
        );
        let all = s.list(&Default::default()).await.unwrap();
        assert!(all.items.is_empty(), "{what}: nothing written");
        return;
    }
    let c = inactive.unwrap_or_else(|e| panic!("{what}: {e}"));
    check_saml(what, c.saml().unwrap(), exp);

    // Active at the pinned clock: allowed exactly when a certificate is valid then.
    let active = s.create(&saml_params(&xml, entity, true)).await;
    match exp["activation"].as_str().unwrap() {
        "ok" => check_saml(what, active.unwrap().saml().unwrap(), exp),
        want => {
            let err = active.expect_err(what);
            assert!(
                code(&err).contains(&want),
                "{what}: {:?} is not {want}",
                code(&err)
            );
        }
    }

    // The JSON decode path gives the same configuration.
    let body = json!({
        "name": "corpus", "provider": "saml_custom", "domains": ["corpus.example.com"],
        "saml": {"idp_metadata": xml, "idp_entity_id": entity},
    });
    let params = decode_create(body.to_string().as_bytes()).unwrap();
    let via_json = s.create(&params).await.unwrap();
    assert_eq!(via_json.saml(), c.saml(), "{what}: JSON path");

    // Refresh from a metadata URL reads the same document the same way.
    let mut p = CreateConnection::new(Provider::SamlCustom, "corpus");
    p.saml = Some(SamlPatch {
        idp_metadata_url: Patch::Value("https://idp.example.com/metadata".into()),
        idp_entity_id: entity.map(str::to_owned).into(),
        ..Default::default()
    });
    let bare = s.create(&p).await.unwrap();
    let refreshed = s_flows
        .refresh(&bare.id, &Serve(bytes.to_vec()))
        .await
        .unwrap();
    check_saml(what, refreshed.saml().unwrap(), exp);
}

#[test]
fn saml_metadata_corpus() {
    let files = corpus("saml");
    assert!(files.len() >= 20, "{} metadata files", files.len());
    block_on(async {
        for (path, exp) in &files {
            let what = path.file_name().unwrap().to_string_lossy().to_string();
            let bytes = std::fs::read(path).unwrap();
            run_saml(&what, &bytes, None, exp).await;
            if let Some(choose) = exp.get("choose") {
                let entity = choose["entity_id"].as_str();
                let what = format!("{what} choosing {entity:?}");
                // A refused choice names no entity id; pick the last IdP entity by hand.
                let entity = entity
                    .map(str::to_owned)
                    .or_else(|| last_idp_entity(&bytes));
                run_saml(&what, &bytes, entity.as_deref(), choose).await;
            }
        }
    });
}

fn last_idp_entity(bytes: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(bytes);
    let doc = roxmltree::Document::parse(&text).ok()?;
    doc.descendants()
        .filter(|n| n.tag_name().name() == "EntityDescriptor")
        .rfind(|n| {
            n.children()
                .any(|c| c.tag_name().name() == "IDPSSODescriptor")
        })
        .and_then(|n| n.attribute("entityID").map(str::to_owned))
}

#[test]
fn discovery_corpus() {
    let files = corpus("oidc");
    assert!(files.len() >= 10, "{} discovery documents", files.len());
    block_on(async {
        for (path, exp) in &files {
            let what = path.file_name().unwrap().to_string_lossy().to_string();
            let body = std::fs::read(path).unwrap();
            let url = exp["discovery_url"].as_str().unwrap();
            let parsed =
                enterprise_sso_protocol::oidc::parse_discovery(&body, url, &Policy::default());
            let s_flows = Flows::new(svc(1_717_200_000_000));
            let s = s_flows.connections();
            let mut p = CreateConnection::new(Provider::OidcCustom, "corpus");
            p.oidc = Some(OidcPatch {
                client_id: Patch::Value("client".into()),
                discovery_url: Patch::Value(url.into()),
                requires_pkce: Patch::Value(true),
                ..Default::default()
            });
            let c: EnterpriseConnection = s.create(&p).await.unwrap();
            let refreshed = s_flows.refresh(&c.id, &Serve(body.clone())).await;
            if let Some(refusal) = exp.get("refusal") {
                assert!(parsed.is_err(), "{what}: accepted");
                let err = refreshed.expect_err(&what);
                let want = refusal["code"].as_str().unwrap();
                assert!(code(&err).contains(&want), "{what}: {:?}", code(&err));
                assert_eq!(s.get(&c.id).await.unwrap(), c, "{what}: nothing written");
                // Never discovered: it cannot be activated.
                let on = enterprise_sso::UpdateConnection {
                    active: Patch::Value(true),
                    ..Default::default()
                };
                assert!(s.update(&c.id, &on).await.is_err(), "{what}: activated");
                continue;
            }
            let d = parsed.unwrap_or_else(|e| panic!("{what}: {e}"));
            assert_eq!(Some(d.issuer.as_str()), exp["issuer"].as_str(), "{what}");
            assert_eq!(
                Some(d.authorization_endpoint.as_str()),
                exp["authorization_endpoint"].as_str(),
                "{what}"
            );
            assert_eq!(
                d.token_endpoint.as_deref(),
                exp["token_endpoint"].as_str(),
                "{what}"
            );
            assert_eq!(
                d.userinfo_endpoint.as_deref(),
                exp["userinfo_endpoint"].as_str(),
                "{what}"
            );
            assert_eq!(
                Some(d.jwks_uri.as_str()),
                exp["jwks_uri"].as_str(),
                "{what}"
            );
            let r = refreshed.unwrap_or_else(|e| panic!("{what}: {e}"));
            let o = r.oidc().unwrap();
            assert_eq!(
                o.issuer.as_deref(),
                exp["issuer"].as_str(),
                "{what}: issuer kept as given"
            );
            assert!(o.auth_url.is_some() && o.token_url.is_some(), "{what}");
            assert_eq!(
                o.user_info_url.is_some(),
                !exp["userinfo_endpoint"].is_null(),
                "{what}"
            );
            let on = enterprise_sso::UpdateConnection {
                active: Patch::Value(true),
                ..Default::default()
            };
            s.update(&c.id, &on)
                .await
                .unwrap_or_else(|e| panic!("{what}: {e}"));
        }
    });
}
