//! SAML metadata, IdP certificates, OIDC discovery, the fetch-URL policy and `refresh`.
#![allow(clippy::unwrap_used)]

use enterprise_sso::UnixMillis;
use enterprise_sso_flows::Flows;
use std::sync::Arc;

use enterprise_sso::{
    ConnectionRepo, Connections, CreateConnection, EnterpriseConnection, Error, FieldErrorKind,
    OidcPatch, Patch, Policy, Provider, SamlPatch, UpdateConnection,
};
use enterprise_sso_protocol::oidc::DiscoveryError;
use enterprise_sso_protocol::saml::{
    parse_certificate, parse_metadata, CertificateError, MetadataError, BINDING_POST,
    BINDING_REDIRECT, MAX_XML_DEPTH,
};
use futures_executor::block_on;

mod saml_support;
use saml_support::*;

#[test]
fn idp_styles_parse_to_the_expected_fields() {
    let cases = [
        (
            OKTA,
            "http://www.okta.com/exk1abcd2EFGH3ijk4x7",
            "https://acme.okta.com/app/acme_sso_1/exk1abcd2EFGH3ijk4x7/sso/saml",
            2,
            vec![cert(fixture!("okta.pem"))],
        ),
        (
            ENTRA,
            "https://sts.windows.net/72f988bf-86f1-41af-91ab-2d7cd011db47/",
            "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/saml2",
            2,
            vec![cert(fixture!("entra.pem"))],
        ),
        (
            ADFS,
            "http://adfs.contoso.com/adfs/services/trust",
            "https://adfs.contoso.com/adfs/ls/?redirect",
            2,
            vec![cert(fixture!("adfs_signing.pem"))],
        ),
        (
            GOOGLE,
            "https://accounts.google.com/o/saml2?idpid=C01abc2de",
            "https://accounts.google.com/o/saml2/idp?idpid=C01abc2de",
            2,
            vec![cert(fixture!("google.pem"))],
        ),
    ];
    for (xml, entity, sso, services, certs) in cases {
        let m = parse_metadata(xml).unwrap_or_else(|e| panic!("{entity}: {e}"));
        assert_eq!(m.entity_id, entity);
        assert_eq!(m.preferred_sso_url(), Some(sso), "{entity}");
        assert_eq!(m.sso_services.len(), services, "{entity}");
        assert!(m
            .sso_services
            .iter()
            .all(|s| s.binding == BINDING_REDIRECT || s.binding == BINDING_POST));
        let ders: Vec<_> = m
            .signing_certificates
            .iter()
            .map(|c| c.der.clone())
            .collect();
        assert_eq!(
            ders, certs,
            "{entity}: signing certificates (encryption keys excluded)"
        );
        assert_eq!(m.signing_certificates[0].not_after_ms, LONG_UNTIL);
    }
}

#[test]
fn metadata_fills_the_idp_fields_and_the_validity_window() {
    block_on(async {
        let s_flows = Flows::new(svc());
        let s = s_flows.connections();
        let c = s.create(&saml_params(metadata(ADFS), true)).await.unwrap();
        let saml = c.saml().unwrap();
        assert_eq!(
            saml.idp_entity_id.as_deref(),
            Some("http://adfs.contoso.com/adfs/services/trust")
        );
        assert_eq!(
            saml.idp_sso_url.as_deref(),
            Some("https://adfs.contoso.com/adfs/ls/?redirect")
        );
        assert_eq!(
            cert(saml.idp_certificate.as_deref().unwrap()),
            cert(fixture!("adfs_signing.pem"))
        );
        assert_eq!(
            (
                saml.idp_certificate_issued_at.map(UnixMillis::get),
                saml.idp_certificate_expires_at.map(UnixMillis::get)
            ),
            (Some(LONG_FROM), Some(LONG_UNTIL))
        );

        // Explicit values that agree are kept (the POST location is also in the metadata).
        let mut agree = metadata(ADFS);
        agree.idp_sso_url = Patch::Value("https://adfs.contoso.com/adfs/ls/".into());
        let c2 = s.create(&saml_params(agree, true)).await.unwrap();
        assert_eq!(
            c2.saml().unwrap().idp_sso_url.as_deref(),
            Some("https://adfs.contoso.com/adfs/ls/")
        );

        // New metadata (a different IdP) re-derives fields that no longer agree.
        let patch = UpdateConnection {
            saml: Patch::Value(metadata(OKTA)),
            ..Default::default()
        };
        let c3 = s.update(&c.id, &patch).await.unwrap();
        assert_eq!(
            c3.saml().unwrap().idp_entity_id.as_deref(),
            Some("http://www.okta.com/exk1abcd2EFGH3ijk4x7")
        );
        assert_eq!(
            cert(c3.saml().unwrap().idp_certificate.as_deref().unwrap()),
            cert(fixture!("okta.pem"))
        );
    });
}

#[test]
fn explicit_values_that_disagree_with_metadata_are_refused() {
    block_on(async {
        let s_flows = Flows::new(svc());
        let s = s_flows.connections();
        let mut p = metadata(OKTA);
        p.idp_entity_id = Patch::Value("urn:someone-else".into());
        p.idp_sso_url = Patch::Value("https://elsewhere.example.com/sso".into());
        p.idp_certificate = Patch::Value(fixture!("google.pem").into());
        let err = s.create(&saml_params(p, false)).await.unwrap_err();
        let v = err.validation().unwrap();
        for path in [
            "saml.idp_entity_id",
            "saml.idp_sso_url",
            "saml.idp_certificate",
        ] {
            assert_eq!(
                v.at(path),
                vec![&FieldErrorKind::DisagreesWithMetadata],
                "{path}"
            );
        }
        assert_eq!(s.repo().count(&Default::default()).await.unwrap(), 0);
    });
}

/// Each hostile or broken input: refused with its typed error, on create and on update,
/// and the store is unchanged.
#[test]
fn hostile_and_broken_inputs_are_refused_and_nothing_is_written() {
    let bomb = r#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;"><!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]><md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="&lol3;"/>"#;
    let xxe = r#"<?xml version="1.0"?><!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="&xxe;"/>"#;
    let deep = format!(
        "<md:EntityDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\" entityID=\"x\">{}{}</md:EntityDescriptor>",
        "<a>".repeat(5_000),
        "</a>".repeat(5_000)
    );
    let two = format!(
        "<md:EntitiesDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\">{}{}</md:EntitiesDescriptor>",
        // Neither is the entity the connection under update holds, so neither is chosen.
        OKTA.trim_start_matches("<?xml version=\"1.0\" encoding=\"UTF-8\"?>").trim().replace("exk1abcd", "exk3third"),
        OKTA.trim_start_matches("<?xml version=\"1.0\" encoding=\"UTF-8\"?>").trim().replace("exk1abcd", "exk2other")
    );
    let no_signing = ADFS.replace("use=\"signing\"", "use=\"encryption\"");
    let no_sso = OKTA.replace("SingleSignOnService", "ArtifactResolutionService");
    let no_entity_id = GOOGLE.replace("entityID=", "entityId=");
    let expired_in_md = OKTA.replace(
        &parse_certificate(fixture!("okta.pem"))
            .map(|c| base64_of(&c.der))
            .unwrap(),
        &parse_certificate(fixture!("expired.pem"))
            .map(|c| base64_of(&c.der))
            .unwrap(),
    );
    let garbage_cert_in_md =
        GOOGLE.replace("<ds:X509Certificate>", "<ds:X509Certificate>!!notbase64!!");

    type Check = fn(&FieldErrorKind) -> bool;
    let md_cases: Vec<(&str, String, Check)> = vec![
        ("entity bomb", bomb.into(), |k| {
            matches!(k, FieldErrorKind::InvalidMetadata(MetadataError::Doctype))
        }),
        ("external entity", xxe.into(), |k| {
            matches!(k, FieldErrorKind::InvalidMetadata(MetadataError::Doctype))
        }),
        (
            "10 MiB",
            format!("<x>{}</x>", "a".repeat(10 * 1024 * 1024)),
            |k| matches!(k, FieldErrorKind::TooLong { .. }),
        ),
        ("deep nesting", deep, |k| {
            matches!(
                k,
                FieldErrorKind::InvalidMetadata(MetadataError::TooDeep { .. })
            )
        }),
        ("two IdP entities", two, |k| {
            matches!(
                k,
                FieldErrorKind::InvalidMetadata(MetadataError::AmbiguousEntity { count: 2, .. })
            )
        }),
        (
            "no signing certificate",
            no_signing,
            |k| matches!(k, FieldErrorKind::InvalidMetadata(MetadataError::MissingFields(f)) if f == &vec!["signing certificate"]),
        ),
        (
            "no SSO service",
            no_sso,
            |k| matches!(k, FieldErrorKind::InvalidMetadata(MetadataError::MissingFields(f)) if f.len() == 1 && f[0].starts_with("SingleSignOnService")),
        ),
        (
            "no entityID",
            no_entity_id,
            |k| matches!(k, FieldErrorKind::InvalidMetadata(MetadataError::MissingFields(f)) if f == &vec!["entityID"]),
        ),
        ("not XML", "this is not xml <".into(), |k| {
            matches!(
                k,
                FieldErrorKind::InvalidMetadata(MetadataError::Malformed { .. })
            )
        }),
        ("garbage certificate in metadata", garbage_cert_in_md, |k| {
            matches!(
                k,
                FieldErrorKind::InvalidMetadata(MetadataError::InvalidCertificate(_))
            )
        }),
    ];
    let cert_cases: Vec<(&str, String, &str, Check)> = vec![
        (
            "garbage PEM",
            "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----".into(),
            "saml.idp_certificate",
            |k| matches!(k, FieldErrorKind::InvalidCertificate(_)),
        ),
        (
            "random base64",
            "aGVsbG8gd29ybGQ=".into(),
            "saml.idp_certificate",
            |k| {
                matches!(
                    k,
                    FieldErrorKind::InvalidCertificate(CertificateError::NotX509)
                )
            },
        ),
        (
            "private key",
            fixture!("private_key.pem").into(),
            "saml.idp_certificate",
            |k| matches!(k, FieldErrorKind::InvalidCertificate(CertificateError::WrongType { label }) if label == "PRIVATE KEY"),
        ),
        (
            "certificate request",
            fixture!("request.pem").into(),
            "saml.idp_certificate",
            |k| matches!(k, FieldErrorKind::InvalidCertificate(CertificateError::WrongType { label }) if label == "CERTIFICATE REQUEST"),
        ),
        (
            "expired certificate",
            fixture!("expired.pem").into(),
            "saml.idp_certificate",
            |k| {
                matches!(
                    k,
                    FieldErrorKind::CertificateExpired {
                        expired_at: 978_307_200_000
                    }
                )
            },
        ),
    ];
    block_on(async {
        let s_flows = Flows::new(svc());
        let s = s_flows.connections();
        let keeper = s.create(&saml_params(metadata(OKTA), false)).await.unwrap();
        let check = |err: Error, path: &str, ok: Check, what: &str| {
            let v = err
                .validation()
                .unwrap_or_else(|| panic!("{what}: {err:?}"));
            assert!(v.at(path).into_iter().any(ok), "{what}: {v}");
            let text = v.to_string();
            assert!(
                !text.contains("MII"),
                "{what}: no key or certificate material in errors: {text}"
            );
        };
        let mut all: Vec<(String, SamlPatch, &str, Check)> = Vec::new();
        for (what, xml, ok) in md_cases {
            all.push((what.into(), metadata(&xml), "saml.idp_metadata", ok));
        }
        all.push((
            "expired metadata certificate".into(),
            metadata(&expired_in_md),
            "saml.idp_certificate",
            |k| matches!(k, FieldErrorKind::CertificateExpired { .. }),
        ));
        for (what, pem, path, ok) in cert_cases {
            let p = SamlPatch {
                idp_entity_id: Patch::Value("urn:x".into()),
                idp_sso_url: Patch::Value("https://idp.example.com/sso".into()),
                idp_certificate: Patch::Value(pem),
                ..Default::default()
            };
            all.push((what.into(), p, path, ok));
        }
        for (what, p, path, ok) in all {
            let err = s
                .create(&saml_params(p.clone(), true))
                .await
                .expect_err(&what);
            check(err, path, ok, &what);
            let patch = UpdateConnection {
                active: Patch::Value(true),
                saml: Patch::Value(p),
                ..Default::default()
            };
            let err = s.update(&keeper.id, &patch).await.expect_err(&what);
            check(err, path, ok, &what);
            assert_eq!(
                s.get(&keeper.id).await.unwrap(),
                keeper,
                "{what}: stored record unchanged"
            );
            assert_eq!(
                s.repo().count(&Default::default()).await.unwrap(),
                1,
                "{what}: nothing created"
            );
        }
    });
}

#[test]
fn parser_limits_hold_on_their_own() {
    assert_eq!(
        parse_metadata(&"a".repeat(1024 * 1024 + 1)),
        Err(MetadataError::TooLarge { max: 1024 * 1024 })
    );
    let just_too_deep = format!(
        "<md:EntityDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\">{}{}</md:EntityDescriptor>",
        "<a>".repeat(MAX_XML_DEPTH),
        "</a>".repeat(MAX_XML_DEPTH)
    );
    assert_eq!(
        parse_metadata(&just_too_deep),
        Err(MetadataError::TooDeep { max: MAX_XML_DEPTH })
    );
    let many_nodes = format!("<r>{}</r>", "<a/>".repeat(200_000));
    assert!(matches!(
        parse_metadata(&many_nodes),
        Err(MetadataError::TooManyNodes { .. })
    ));
}

#[test]
fn expired_certificates_block_activation_but_not_other_edits() {
    block_on(async {
        let s_flows = Flows::new(svc());
        let s = s_flows.connections();
        let p = SamlPatch {
            idp_entity_id: Patch::Value("urn:x".into()),
            idp_sso_url: Patch::Value("https://idp.example.com/sso".into()),
            idp_certificate: Patch::Value(fixture!("soon.pem").into()),
            ..Default::default()
        };
        let c = s.create(&saml_params(p.clone(), true)).await.unwrap();
        // Time passes: the certificate expires on 2030-01-01.
        let later = Connections::new(s.repo()).with_clock(Arc::new(|| 1_900_000_000_000));
        let rename = UpdateConnection {
            name: Patch::Value("renamed".into()),
            ..Default::default()
        };
        later
            .update(&c.id, &rename)
            .await
            .expect("editing an active connection is not blocked");
        let off = UpdateConnection {
            active: Patch::Value(false),
            ..Default::default()
        };
        later.update(&c.id, &off).await.unwrap();
        let on = UpdateConnection {
            active: Patch::Value(true),
            ..Default::default()
        };
        let err = later.update(&c.id, &on).await.unwrap_err();
        assert!(err.validation().unwrap().has("saml.idp_certificate"));
        // An inactive connection may hold an expired certificate (to be replaced later).
        let mut inactive = p;
        inactive.idp_certificate = Patch::Value(fixture!("expired.pem").into());
        later.create(&saml_params(inactive, false)).await.unwrap();
    });
}

#[test]
fn renewal_reminders_list_certificates_expiring_within_n_days() {
    block_on(async {
        let s_flows = Flows::new(svc());
        let s = s_flows.connections(); // now = 2029-01-01
        let make = |pem: &'static str, name: &str| {
            let mut p = saml_params(
                SamlPatch {
                    idp_entity_id: Patch::Value(format!("urn:{name}")),
                    idp_sso_url: Patch::Value("https://idp.example.com/sso".into()),
                    idp_certificate: Patch::Value(pem.into()),
                    ..Default::default()
                },
                false,
            );
            p.name = Some(name.into());
            p
        };
        let soon = s.create(&make(fixture!("soon.pem"), "soon")).await.unwrap();
        let _long = s.create(&make(fixture!("okta.pem"), "long")).await.unwrap();
        let expired = s
            .create(&make(fixture!("expired.pem"), "expired"))
            .await
            .unwrap();
        let ids = |v: Vec<EnterpriseConnection>| v.into_iter().map(|c| c.id).collect::<Vec<_>>();
        assert_eq!(
            ids(s.certificates_expiring_within(400).await.unwrap()),
            vec![expired.id.clone(), soon.id.clone()]
        );
        assert_eq!(
            ids(s.certificates_expiring_within(300).await.unwrap()),
            vec![expired.id]
        );
    });
}

#[test]
fn fetched_urls_refuse_internal_addresses() {
    block_on(async {
        for (url, strict_ok, tests_ok) in [
            ("https://idp.example.com/metadata", true, true),
            ("https://10.0.0.7/metadata", false, false),
            ("https://169.254.169.254/latest", false, false),
            ("https://[fd12::1]/md", false, false),
            ("http://localhost:8080/metadata", false, true),
            ("https://127.0.0.1/md", false, true),
        ] {
            let p = saml_params(
                SamlPatch {
                    idp_metadata_url: Patch::Value(url.into()),
                    ..Default::default()
                },
                false,
            );
            let strict = svc().create(&p).await;
            assert_eq!(strict.is_ok(), strict_ok, "{url}: {strict:?}");
            if let Err(e) = strict {
                assert_eq!(
                    e.validation().unwrap().at("saml.idp_metadata_url"),
                    vec![&FieldErrorKind::ForbiddenHost]
                );
            }
            let tests = svc()
                .with_policy(Policy {
                    allow_loopback_fetch: true,
                })
                .create(&p)
                .await;
            assert_eq!(tests.is_ok(), tests_ok, "{url} (loopback allowed)");
        }
        let mut o = CreateConnection::new(Provider::OidcCustom, "o");
        o.oidc = Some(OidcPatch {
            requires_pkce: Patch::Value(true),
            discovery_url: Patch::Value(
                "https://192.168.0.10/.well-known/openid-configuration".into(),
            ),
            ..Default::default()
        });
        let err = svc().create(&o).await.unwrap_err();
        assert!(err.validation().unwrap().has("oidc.discovery_url"));
    });
}

// ---- refresh through a fake source ------------------------------------------------------

#[test]
fn refresh_saml_metadata_through_the_merge_path() {
    block_on(async {
        let (s, c) = refreshable().await;
        let s_flows = Flows::new(s);
        let s = s_flows.connections();
        let url = METADATA_URL;
        let ok = FakeSource::new(|| Ok(ENTRA.as_bytes().to_vec()));
        let r = s_flows.refresh(&c.id, &ok).await.unwrap();
        assert_eq!(ok.asked.lock().unwrap()[0], (url.to_owned(), 1024 * 1024));
        assert_eq!(r.version, c.version + 1);
        assert_eq!(r.saml().unwrap().idp_metadata.as_deref(), Some(ENTRA));
        assert_eq!(
            r.saml().unwrap().idp_entity_id.as_deref(),
            Some("https://sts.windows.net/72f988bf-86f1-41af-91ab-2d7cd011db47/")
        );
        assert_eq!(
            r.saml().unwrap().idp_certificate_expires_at,
            Some(UnixMillis::new(LONG_UNTIL))
        );

        let before = s.get(&c.id).await.unwrap();
        let garbage = FakeSource::new(|| Ok(b"\x00\xffnot xml at all".to_vec()));
        assert!(matches!(
            s_flows.refresh(&c.id, &garbage).await,
            Err(Error::Validation(_))
        ));
        let huge = FakeSource::new(|| Ok(vec![b'a'; 2 * 1024 * 1024]));
        let err = s_flows.refresh(&c.id, &huge).await.unwrap_err();
        assert!(matches!(
            err.validation().unwrap().at("saml.idp_metadata")[..],
            [FieldErrorKind::TooLong { .. }]
        ));
        let failing = FakeSource::new(|| Err("connection refused".into()));
        assert!(matches!(
            s_flows.refresh(&c.id, &failing).await,
            Err(Error::Fetch {
                what: "saml.idp_metadata_url",
                ..
            })
        ));
        let bomb = FakeSource::new(|| Ok(b"<!DOCTYPE x [<!ENTITY a \"b\">]><x>&a;</x>".to_vec()));
        assert!(matches!(
            s_flows.refresh(&c.id, &bomb).await,
            Err(Error::Validation(_))
        ));
        assert_eq!(
            s.get(&c.id).await.unwrap(),
            before,
            "failed refreshes change nothing"
        );
    });
}

fn discovery(issuer: &str, jwks: bool, scheme: &str) -> Vec<u8> {
    let mut d = serde_json::json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{scheme}://login.acme.com/authorize"),
        "token_endpoint": format!("{scheme}://login.acme.com/token"),
        "userinfo_endpoint": format!("{scheme}://login.acme.com/userinfo"),
        "response_types_supported": ["code"],
    });
    if jwks {
        d["jwks_uri"] = serde_json::json!(format!("{scheme}://login.acme.com/jwks"));
    }
    serde_json::to_vec(&d).unwrap()
}

#[test]
fn refresh_oidc_discovery_checks_and_fills_endpoints() {
    block_on(async {
        let s_flows = Flows::new(svc());
        let s = s_flows.connections();
        let mut p = CreateConnection::new(Provider::OidcCustom, "acme");
        p.oidc = Some(OidcPatch {
            client_id: Patch::Value("cid".into()),
            requires_pkce: Patch::Value(true),
            discovery_url: Patch::Value(
                "https://login.acme.com/.well-known/openid-configuration".into(),
            ),
            user_info_url: Patch::Value("https://explicit.acme.com/me".into()),
            ..Default::default()
        });
        let c = s.create(&p).await.unwrap();
        let bad: Vec<(Vec<u8>, DiscoveryError)> = vec![
            (
                discovery("https://evil.example.com", true, "https"),
                DiscoveryError::IssuerMismatch,
            ),
            (
                discovery("https://login.acme.com", false, "https"),
                DiscoveryError::MissingFields(vec!["jwks_uri"]),
            ),
            (
                discovery("https://login.acme.com", true, "http"),
                DiscoveryError::BadEndpoint("authorization_endpoint"),
            ),
            (b"<html>not json</html>".to_vec(), DiscoveryError::NotJson),
            (
                vec![b' '; 300 * 1024],
                DiscoveryError::TooLarge { max: 256 * 1024 },
            ),
        ];
        for (body, want) in bad {
            let src = FakeSource::new(move || Ok(body.clone()));
            let err = s_flows.refresh(&c.id, &src).await.unwrap_err();
            assert_eq!(
                err.validation().unwrap().at("oidc.discovery_url"),
                vec![&FieldErrorKind::InvalidDiscovery(want)]
            );
            assert_eq!(s.get(&c.id).await.unwrap(), c, "nothing written");
        }
        let good = FakeSource::new(|| Ok(discovery("https://login.acme.com/", true, "https")));
        let r = s_flows.refresh(&c.id, &good).await.unwrap();
        let o = r.oidc().unwrap();
        assert_eq!(
            o.auth_url.as_deref(),
            Some("https://login.acme.com/authorize")
        );
        assert_eq!(o.token_url.as_deref(), Some("https://login.acme.com/token"));
        assert_eq!(
            o.user_info_url.as_deref(),
            Some("https://explicit.acme.com/me"),
            "explicit value kept"
        );
        // Nothing to fetch from: a typed error.
        let bare = s
            .create(&CreateConnection::new(Provider::SamlCustom, "bare"))
            .await
            .unwrap();
        let err = s_flows.refresh(&bare.id, &good).await.unwrap_err();
        assert!(err.validation().unwrap().has("saml.idp_metadata_url"));
    });
}
