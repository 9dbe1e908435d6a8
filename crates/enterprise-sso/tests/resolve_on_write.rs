//! Documents resolved on create and update (Clerk: endpoints "resolved from discovery"):
//! a connection given only a discovery URL or a metadata URL is created active, with the
//! endpoints, issuer or IdP fields read from the document; a refused fetch writes nothing.
#![allow(clippy::unwrap_used)]

mod saml_support;

use enterprise_sso::{
    ClientSecret, CreateConnection, Error, FieldErrorKind, ListQuery, OidcPatch, Patch, Policy,
    Provider, SamlPatch, UpdateConnection,
};
use enterprise_sso_flows::Flows;
use futures_executor::block_on;
use saml_support::*;

const DISCOVERY_URL: &str = "http://localhost:9999/.well-known/openid-configuration";

fn discovery_doc() -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "issuer": "http://localhost:9999",
        "authorization_endpoint": "https://login.acme.com/authorize",
        "token_endpoint": "https://login.acme.com/token",
        "userinfo_endpoint": "https://login.acme.com/userinfo",
        "jwks_uri": "https://login.acme.com/jwks",
        "response_types_supported": ["code"],
    }))
    .unwrap()
}

fn oidc_params() -> CreateConnection {
    let mut p = CreateConnection::new(Provider::OidcCustom, "Acme");
    p.active = Some(true);
    p.oidc = Some(OidcPatch {
        client_id: Patch::Value("acme-client".into()),
        client_secret: Patch::Value(ClientSecret::new("s3cret")),
        discovery_url: Patch::Value(DISCOVERY_URL.into()),
        ..Default::default()
    });
    p
}

fn loopback_svc() -> enterprise_sso::Connections<enterprise_sso_memory::MemoryRepo> {
    svc().with_policy(Policy {
        allow_loopback_fetch: true,
    })
}

#[test]
fn oidc_created_with_only_a_discovery_url_is_active_with_its_endpoints() {
    let s_flows = Flows::new(loopback_svc());
    let s = s_flows.connections();
    // Without resolution the activation rule refuses it (the control).
    let plain = block_on(s.create(&oidc_params())).unwrap_err();
    assert!(plain.validation().unwrap().has("oidc.auth_url"), "{plain}");
    let source = FakeSource::new(|| Ok(discovery_doc()));
    let c = block_on(s_flows.create_resolved(&oidc_params(), &source)).unwrap();
    assert!(c.active);
    let o = c.oidc().unwrap();
    assert_eq!(
        o.auth_url.as_deref(),
        Some("https://login.acme.com/authorize")
    );
    assert_eq!(o.token_url.as_deref(), Some("https://login.acme.com/token"));
    assert_eq!(
        o.user_info_url.as_deref(),
        Some("https://login.acme.com/userinfo")
    );
    assert_eq!(o.issuer.as_deref(), Some("http://localhost:9999"));
    assert_eq!(source.asked.lock().unwrap().len(), 1);
}

#[test]
fn explicit_endpoints_win_over_the_document() {
    let s_flows = Flows::new(loopback_svc());
    let mut p = oidc_params();
    if let Some(o) = p.oidc.as_mut() {
        o.token_url = Patch::Value("https://token.acme.com/t".into());
    }
    let c =
        block_on(s_flows.create_resolved(&p, &FakeSource::new(|| Ok(discovery_doc())))).unwrap();
    assert_eq!(
        c.oidc().unwrap().token_url.as_deref(),
        Some("https://token.acme.com/t")
    );
}

#[test]
fn a_refused_fetch_or_document_writes_nothing() {
    let s_flows = Flows::new(loopback_svc());
    let s = s_flows.connections();
    let down = FakeSource::new(|| Err("connection refused".into()));
    assert!(matches!(
        block_on(s_flows.create_resolved(&oidc_params(), &down)),
        Err(Error::Fetch {
            what: "oidc.discovery_url",
            ..
        })
    ));
    let wrong_issuer = FakeSource::new(|| {
        Ok(br#"{"issuer":"https://evil.example","authorization_endpoint":"https://a/x","token_endpoint":"https://a/t","response_types_supported":["code"]}"#.to_vec())
    });
    let err = block_on(s_flows.create_resolved(&oidc_params(), &wrong_issuer)).unwrap_err();
    assert!(err.validation().unwrap().has("oidc.discovery_url"), "{err}");
    // An internal address is refused before any fetch (production policy).
    let strict_flows = Flows::new(svc());
    let never = FakeSource::new(|| Ok(discovery_doc()));
    let err = block_on(strict_flows.create_resolved(&oidc_params(), &never)).unwrap_err();
    assert!(
        matches!(
            err.validation().unwrap().errors()[0].kind,
            FieldErrorKind::ForbiddenHost
        ) || err.validation().unwrap().has("oidc.discovery_url"),
        "{err}"
    );
    assert!(
        never.asked.lock().unwrap().is_empty(),
        "fetched a forbidden URL"
    );
    assert!(block_on(s.list(&ListQuery::default()))
        .unwrap()
        .items
        .is_empty());
}

#[test]
fn saml_created_with_only_a_metadata_url_is_active() {
    let s_flows = Flows::new(loopback_svc());
    let s = s_flows.connections();
    let mut p = CreateConnection::new(Provider::SamlOkta, "Acme");
    p.active = Some(true);
    p.saml = Some(SamlPatch {
        idp_metadata_url: Patch::Value(METADATA_URL.into()),
        ..Default::default()
    });
    assert!(
        block_on(s.create(&p)).is_err(),
        "the control: no metadata, no activation"
    );
    let c =
        block_on(s_flows.create_resolved(&p, &FakeSource::new(|| Ok(OKTA.as_bytes().to_vec()))))
            .unwrap();
    assert!(c.active);
    let saml = c.saml().unwrap();
    assert!(saml.idp_entity_id.is_some() && saml.idp_sso_url.is_some());
    assert!(!saml.idp_certificates.is_empty());
}

#[test]
fn an_update_that_sets_a_discovery_url_resolves_it() {
    let s_flows = Flows::new(loopback_svc());
    let s = s_flows.connections();
    let mut p = CreateConnection::new(Provider::OidcCustom, "Acme");
    p.oidc = Some(OidcPatch {
        client_id: Patch::Value("acme-client".into()),
        client_secret: Patch::Value(ClientSecret::new("s3cret")),
        ..Default::default()
    });
    let c = block_on(s.create(&p)).unwrap();
    let patch = UpdateConnection {
        active: Patch::Value(true),
        oidc: Patch::Value(OidcPatch {
            discovery_url: Patch::Value(DISCOVERY_URL.into()),
            ..Default::default()
        }),
        ..Default::default()
    };
    let source = FakeSource::new(|| Ok(discovery_doc()));
    let u = block_on(s_flows.update_resolved(&c.id, &patch, Some(c.version), &source)).unwrap();
    assert!(u.active);
    assert_eq!(
        u.oidc().unwrap().issuer.as_deref(),
        Some("http://localhost:9999")
    );
}

#[test]
fn refresh_all_refreshes_every_connection_with_a_url_and_goes_on_past_failures() {
    let s_flows = Flows::new(loopback_svc());
    let s = s_flows.connections();
    let mut with_url = oidc_params();
    with_url.active = Some(false);
    let a = block_on(s.create(&with_url)).unwrap();
    assert_eq!(a.oidc().unwrap().issuer, None);
    let mut other = oidc_params();
    other.active = Some(false);
    other.name = Some("Globex".into());
    let b = block_on(s.create(&other)).unwrap();
    // One without a URL is left alone.
    let mut plain = CreateConnection::new(Provider::OidcCustom, "Plain");
    plain.oidc = Some(OidcPatch {
        client_id: Patch::Value("c".into()),
        client_secret: Patch::Value(ClientSecret::new("s")),
        ..Default::default()
    });
    block_on(s.create(&plain)).unwrap();
    let source = FakeSource::new(|| Ok(discovery_doc()));
    let report = block_on(s_flows.refresh_all(&source)).unwrap();
    let mut got = report.refreshed.clone();
    got.sort();
    let mut want = vec![a.id.clone(), b.id.clone()];
    want.sort();
    assert_eq!(got, want);
    assert!(report.failed.is_empty());
    assert_eq!(
        block_on(s.get(&a.id))
            .unwrap()
            .oidc()
            .unwrap()
            .issuer
            .as_deref(),
        Some("http://localhost:9999")
    );
    // A source that fails: every connection is tried and reported.
    let down = FakeSource::new(|| Err("connection refused".into()));
    let report = block_on(s_flows.refresh_all(&down)).unwrap();
    assert_eq!(report.failed.len(), 2);
    assert_eq!(down.asked.lock().unwrap().len(), 2);
}
