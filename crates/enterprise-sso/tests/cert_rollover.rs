//! Certificate rollover with real certificates (taken from the corpus' expected files, so
//! their windows come from `openssl`): expired + valid, valid + valid, all expired, and a
//! rotation published through refreshed metadata on an active connection. Plus a property
//! test of the set rules over random windows (`PROPTEST_CASES` for more than 256).
#![allow(clippy::unwrap_used)]

use enterprise_sso::UnixMillis;
use enterprise_sso_flows::Flows;
use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use enterprise_sso::IdpCertificate;
use enterprise_sso::{
    ConnectionId, ConnectionRepo, Connections, CreateConnection, EnterpriseConnection, Patch,
    ProtocolConfig, Provider, SamlPatch, UpdateConnection,
};
use enterprise_sso_flows::MetadataSource;
use enterprise_sso_memory::MemoryRepo;
use enterprise_sso_wire::ApiErrors;
use futures_executor::block_on;
use proptest::prelude::*;

/// 2024-06-01, the corpus' pinned clock.
const NOW: i64 = 1_717_200_000_000;

/// The certificate of a corpus file: (base64 DER, not_before, not_after).
fn cert(file: &str, index: usize) -> (String, i64, i64) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/corpus/saml")
        .join(format!("{file}.expected.json"));
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let c = &v["certificates"][index];
    (
        c["der_base64"].as_str().unwrap().to_owned(),
        c["not_before_ms"].as_i64().unwrap(),
        c["not_after_ms"].as_i64().unwrap(),
    )
}

fn okta() -> (String, i64, i64) {
    cert("okta", 0) // 2018-09-07 .. 2028-09-07
}
fn auth0() -> (String, i64, i64) {
    cert("auth0", 0) // 2019-03-27 .. 2032-12-03
}
fn onelogin() -> (String, i64, i64) {
    cert("onelogin", 0) // 2013 .. 2018-06-05, expired
}
fn simplesaml() -> (String, i64, i64) {
    cert("simplesamlphp", 0) // 2014 .. 2015-07-17, expired
}

fn svc() -> Connections<MemoryRepo> {
    Connections::new(MemoryRepo::new()).with_clock(Arc::new(|| NOW))
}

fn with_certs(certs: &[&(String, i64, i64)], active: bool) -> CreateConnection {
    let mut p = CreateConnection::new(Provider::SamlCustom, "rollover");
    p.active = Some(active);
    p.saml = Some(SamlPatch {
        idp_entity_id: Patch::Value("urn:rollover".into()),
        idp_sso_url: Patch::Value("https://idp.example.com/sso".into()),
        idp_certificates: Patch::Value(certs.iter().map(|c| c.0.clone()).collect()),
        ..Default::default()
    });
    p
}

fn der(c: &IdpCertificate) -> String {
    c.pem.lines().filter(|l| !l.starts_with("-----")).collect()
}

fn primary_der(c: &EnterpriseConnection) -> String {
    let s = c.saml().unwrap();
    s.idp_certificate
        .as_deref()
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect()
}

#[test]
fn expired_and_valid_the_valid_one_is_primary_and_counts_for_expiry() {
    block_on(async {
        let s_flows = Flows::new(svc());
        let s = s_flows.connections();
        let (old, new) = (onelogin(), okta());
        // Expired first, as an IdP lists them mid-rotation.
        let c = s.create(&with_certs(&[&old, &new], true)).await.unwrap();
        let saml = c.saml().unwrap();
        assert_eq!(saml.idp_certificates.len(), 2);
        assert_eq!(
            primary_der(&c),
            new.0,
            "never the expired one while one is valid"
        );
        assert_eq!(
            saml.idp_certificate_expires_at,
            Some(UnixMillis::new(new.2))
        );
        assert_eq!(
            saml.valid_certificates(UnixMillis::new(NOW))
                .map(der)
                .collect::<Vec<_>>(),
            vec![new.0.clone()],
            "a verifying host gets the valid ones"
        );
        // The expiry query follows the latest expiry: not reported before it.
        let repo = s.repo();
        assert!(repo
            .certificates_expiring_before(UnixMillis::new(new.2))
            .await
            .unwrap()
            .is_empty());
        assert_eq!(
            repo.certificates_expiring_before(UnixMillis::new(new.2 + 1))
                .await
                .unwrap()[0]
                .id,
            c.id
        );
    });
}

#[test]
fn two_valid_the_later_expiry_wins_in_any_order() {
    block_on(async {
        let s_flows = Flows::new(svc());
        let s = s_flows.connections();
        for order in [[okta(), auth0()], [auth0(), okta()]] {
            let c = s
                .create(&with_certs(&[&order[0], &order[1]], true))
                .await
                .unwrap();
            assert_eq!(primary_der(&c), auth0().0);
            assert_eq!(
                c.saml()
                    .unwrap()
                    .valid_certificates(UnixMillis::new(NOW))
                    .count(),
                2
            );
        }
    });
}

#[test]
fn all_expired_inactive_is_allowed_activation_is_refused() {
    block_on(async {
        let s_flows = Flows::new(svc());
        let s = s_flows.connections();
        let (a, b) = (simplesaml(), onelogin());
        let err = s.create(&with_certs(&[&a, &b], true)).await.unwrap_err();
        let codes: Vec<_> = ApiErrors::from(&err)
            .errors
            .iter()
            .map(|e| e.code)
            .collect();
        assert_eq!(codes, vec!["saml_certificate_expired"]);
        let c = s.create(&with_certs(&[&a, &b], false)).await.unwrap();
        assert_eq!(primary_der(&c), b.0, "the one expiring last");
        let on = UpdateConnection {
            active: Patch::Value(true),
            ..Default::default()
        };
        assert!(s.update(&c.id, &on).await.is_err());
        assert_eq!(s.get(&c.id).await.unwrap(), c);
        // Adding a valid certificate makes it activatable.
        let fixed = UpdateConnection {
            active: Patch::Value(true),
            saml: Patch::Value(SamlPatch {
                idp_certificates: Patch::Value(vec![a.0.clone(), b.0.clone(), okta().0]),
                ..Default::default()
            }),
            ..Default::default()
        };
        let c = s.update(&c.id, &fixed).await.unwrap();
        assert_eq!(primary_der(&c), okta().0);
    });
}

/// Serves whatever metadata the test put in it.
struct Source(std::sync::Mutex<String>);

#[async_trait]
impl MetadataSource for Source {
    async fn fetch(&self, _: &str, _: usize) -> Result<Vec<u8>, enterprise_sso::BoxError> {
        Ok(self.0.lock().unwrap().clone().into_bytes())
    }
}

fn metadata(certs: &[&(String, i64, i64)]) -> String {
    let keys: String = certs
        .iter()
        .map(|c| {
            format!(
                r#"<md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>{}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"#,
                c.0
            )
        })
        .collect();
    format!(
        r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="urn:rollover"><md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">{keys}<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.example.com/sso"/></md:IDPSSODescriptor></md:EntityDescriptor>"#
    )
}

#[test]
fn rotation_by_refresh_on_an_active_connection() {
    block_on(async {
        let s_flows = Flows::new(svc());
        let s = s_flows.connections();
        let source = Source(std::sync::Mutex::new(metadata(&[&okta()])));
        let mut p = CreateConnection::new(Provider::SamlCustom, "rotating");
        p.saml = Some(SamlPatch {
            idp_metadata_url: Patch::Value("https://idp.example.com/metadata".into()),
            ..Default::default()
        });
        let c = s.create(&p).await.unwrap();
        s_flows.refresh(&c.id, &source).await.unwrap();
        let on = UpdateConnection {
            active: Patch::Value(true),
            ..Default::default()
        };
        let c = s.update(&c.id, &on).await.unwrap();
        assert_eq!(primary_der(&c), okta().0);

        // The IdP publishes its successor beside the current certificate.
        *source.0.lock().unwrap() = metadata(&[&okta(), &auth0()]);
        let r = s_flows.refresh(&c.id, &source).await.unwrap();
        assert_eq!(r.version, c.version + 1, "one write");
        assert!(r.active);
        assert_eq!(
            r.saml()
                .unwrap()
                .idp_certificates
                .iter()
                .map(der)
                .collect::<Vec<_>>(),
            vec![okta().0, auth0().0]
        );
        assert_eq!(primary_der(&r), auth0().0);

        // Then retires the old one: the set is replaced, not merged.
        *source.0.lock().unwrap() = metadata(&[&auth0()]);
        let r2 = s_flows.refresh(&c.id, &source).await.unwrap();
        assert_eq!(
            r2.saml()
                .unwrap()
                .idp_certificates
                .iter()
                .map(der)
                .collect::<Vec<_>>(),
            vec![auth0().0]
        );

        // A published set with nothing valid is refused on an active connection, and the
        // stored one stays.
        *source.0.lock().unwrap() = metadata(&[&onelogin()]);
        assert!(s_flows.refresh(&c.id, &source).await.is_err());
        assert_eq!(s.get(&c.id).await.unwrap(), r2);
    });
}

fn arb_set() -> impl Strategy<Value = Vec<IdpCertificate>> {
    proptest::collection::vec((0i64..1_000, 0i64..1_000), 0..6).prop_map(|windows| {
        windows
            .into_iter()
            .enumerate()
            .map(|(i, (a, len))| IdpCertificate {
                pem: format!("cert-{i}"),
                issued_at: UnixMillis::new(a),
                expires_at: UnixMillis::new(a + len),
            })
            .collect()
    })
}

proptest! {
    #[test]
    fn primary_is_valid_when_any_is_and_the_expiry_query_agrees(
        sets in proptest::collection::vec(arb_set(), 1..8),
        now in 0i64..2_000,
        before in 0i64..2_100,
    ) {
        for set in &sets {
            let p = IdpCertificate::primary_of(set, UnixMillis::new(now));
            let any_valid = set.iter().any(|c| c.is_valid_at(UnixMillis::new(now)));
            prop_assert_eq!(p.is_some(), !set.is_empty());
            if any_valid {
                let p = p.unwrap();
                prop_assert!(p.is_valid_at(UnixMillis::new(now)));
                prop_assert!(set.iter().filter(|c| c.is_valid_at(UnixMillis::new(now))).all(|c| c.expires_at <= p.expires_at));
            }
        }
        // The store's expiry query reports exactly the connections whose every
        // certificate expires before `before`.
        let repo = MemoryRepo::new();
        let mut want = Vec::new();
        block_on(async {
            for set in &sets {
                let mut c = enterprise_sso::build(
                    &CreateConnection::new(Provider::SamlCustom, "p"),
                    ConnectionId::generate(),
                    1,
                ).unwrap();
                if let ProtocolConfig::Saml(s) = &mut c.config {
                    s.idp_certificates = set.clone();
                }
                if IdpCertificate::latest_expiry_of(set).is_some_and(|t| t < UnixMillis::new(before)) {
                    want.push(c.id.clone());
                }
                repo.insert(&c).await.unwrap();
            }
        });
        let mut got: Vec<_> = block_on(repo.certificates_expiring_before(UnixMillis::new(before)))
            .unwrap()
            .into_iter()
            .map(|c| c.id)
            .collect();
        got.sort();
        want.sort();
        prop_assert_eq!(got, want);
    }
}

#[test]
fn several_pem_blocks_in_one_field_are_several_certificates() {
    block_on(async {
        let s_flows = Flows::new(svc());
        let s = s_flows.connections();
        let pem = |c: &(String, i64, i64)| {
            let body: Vec<String> =
                c.0.as_bytes()
                    .chunks(64)
                    .map(|l| format!("    {}", std::str::from_utf8(l).unwrap()))
                    .collect();
            format!(
                "  -----BEGIN CERTIFICATE-----\n{}\n  -----END CERTIFICATE-----\n",
                body.join("\n")
            )
        };
        let mut p = with_certs(&[], true);
        if let Some(saml) = &mut p.saml {
            saml.idp_certificates = Patch::Absent;
            // Indented lines, two blocks, one field.
            saml.idp_certificate = Patch::Value(format!("{}\n{}", pem(&okta()), pem(&auth0())));
        }
        let c = s.create(&p).await.unwrap();
        let set: Vec<_> = c.saml().unwrap().idp_certificates.iter().map(der).collect();
        assert_eq!(set, vec![okta().0, auth0().0]);
        // Text after the blocks is refused, not ignored.
        if let Some(saml) = &mut p.saml {
            saml.idp_certificate = Patch::Value(format!("{}trailing", pem(&okta())));
        }
        let err = s.create(&p).await.unwrap_err();
        let codes: Vec<_> = ApiErrors::from(&err)
            .errors
            .iter()
            .map(|e| e.code)
            .collect();
        assert!(codes.contains(&"saml_certificate_invalid"), "{codes:?}");
    });
}
