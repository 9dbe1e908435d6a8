//! Examples of the merge and validation rules, one behaviour per test.
#![allow(clippy::unwrap_used)]

use enterprise_sso::UnixMillis;
use enterprise_sso::{
    build, merge, AttributeMappingPatch, ClientSecret, ConnectionId, CreateConnection, DomainError,
    EnterpriseConnection, FieldErrorKind, OidcPatch, Patch, Protocol, Provider, SamlPatch,
    UpdateConnection,
};

/// 2026-01-01, inside the test certificates' validity.
const NOW: i64 = 1_767_225_600_000;
fn oidc_base(secret: Option<&str>, pkce: bool) -> EnterpriseConnection {
    let mut p = CreateConnection::new(Provider::OidcCustom, "Acme");
    p.oidc = Some(OidcPatch {
        client_id: Patch::Value("cid".into()),
        client_secret: secret.map(ClientSecret::new).into(),
        requires_pkce: Patch::Value(pkce),
        auth_url: Patch::Value("https://idp.acme.com/auth".into()),
        token_url: Patch::Value("https://idp.acme.com/token".into()),
        ..Default::default()
    });
    build(&p, ConnectionId::generate(), 1_000).expect("valid base")
}

fn saml_base() -> EnterpriseConnection {
    let mut p = CreateConnection::new(Provider::SamlCustom, "Acme SAML");
    p.saml = Some(SamlPatch {
        idp_entity_id: Patch::Value("urn:acme".into()),
        idp_sso_url: Patch::Value("https://idp.acme.com/sso".into()),
        idp_certificate: Patch::Value(enterprise_sso_conformance::TEST_CERT_PEM.into()),
        attribute_mapping: Patch::Value(AttributeMappingPatch {
            email_address: Patch::Value("mail".into()),
            first_name: Patch::Value("givenName".into()),
            ..Default::default()
        }),
        ..Default::default()
    });
    build(&p, ConnectionId::generate(), 1_000).expect("valid base")
}

fn oidc(p: OidcPatch) -> UpdateConnection {
    UpdateConnection {
        oidc: Patch::Value(p),
        ..Default::default()
    }
}

#[test]
fn create_defaults() {
    let c = oidc_base(Some("s"), false);
    assert_eq!(c.version, 1);
    assert!(!c.active);
    assert_eq!((c.created_at.get(), c.updated_at.get()), (1_000, 1_000));
    assert_eq!(c.protocol(), Protocol::Oauth);
    assert!(c.saml().is_none());
}

#[test]
fn pkce_is_checked_on_the_merged_result() {
    let c = oidc_base(Some("s"), false);
    // Clearing the secret of a client without PKCE is refused at oidc.requires_pkce.
    let err = merge(
        &c,
        &oidc(OidcPatch {
            client_secret: Patch::Null,
            ..Default::default()
        }),
        2,
    )
    .unwrap_err();
    assert_eq!(
        err.at("oidc.requires_pkce"),
        vec![&FieldErrorKind::PublicClientRequiresPkce]
    );
    // The same with PKCE turned on in the same patch is fine.
    let ok = merge(
        &c,
        &oidc(OidcPatch {
            client_secret: Patch::Null,
            requires_pkce: Patch::Value(true),
            ..Default::default()
        }),
        2,
    )
    .unwrap();
    assert!(ok.oidc().unwrap().client_secret.is_none());
    // Turning PKCE off on a public client is refused; a stored secret makes it fine.
    let public = oidc_base(None, true);
    let off = oidc(OidcPatch {
        requires_pkce: Patch::Value(false),
        ..Default::default()
    });
    assert!(merge(&public, &off, 2)
        .unwrap_err()
        .has("oidc.requires_pkce"));
    assert!(merge(&c, &off, 2).is_ok());
    // Creating a public client without PKCE is refused too.
    let mut p = CreateConnection::new(Provider::OidcGitlab, "x");
    p.oidc = Some(OidcPatch {
        client_id: Patch::Value("c".into()),
        ..Default::default()
    });
    assert!(build(&p, ConnectionId::generate(), 1)
        .unwrap_err()
        .has("oidc.requires_pkce"));
}

#[test]
fn nested_blocks_merge_field_by_field() {
    let c = saml_base();
    let patch = UpdateConnection {
        saml: Patch::Value(SamlPatch {
            idp_sso_url: Patch::Value("https://idp.acme.com/sso2".into()),
            attribute_mapping: Patch::Value(AttributeMappingPatch {
                first_name: Patch::Null,
                user_id: Patch::Value("uid".into()),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    };
    let n = merge(&c, &patch, 5).unwrap();
    let s = n.saml().unwrap();
    assert_eq!(s.idp_sso_url.as_deref(), Some("https://idp.acme.com/sso2"));
    assert_eq!(s.idp_entity_id.as_deref(), Some("urn:acme"));
    assert_eq!(s.attribute_mapping.email_address.as_deref(), Some("mail"));
    assert_eq!(s.attribute_mapping.first_name, None);
    assert_eq!(s.attribute_mapping.user_id.as_deref(), Some("uid"));
    // null on the whole mapping resets it.
    let reset = UpdateConnection {
        saml: Patch::Value(SamlPatch {
            attribute_mapping: Patch::Null,
            ..Default::default()
        }),
        ..Default::default()
    };
    let n = merge(&n, &reset, 6).unwrap();
    assert_eq!(n.saml().unwrap().attribute_mapping, Default::default());
}

#[test]
fn saml_allow_subdomains_sets_the_connection_flag() {
    let c = saml_base();
    let n = merge(
        &c,
        &UpdateConnection {
            saml: Patch::Value(SamlPatch {
                allow_subdomains: Patch::Value(true),
                ..Default::default()
            }),
            ..Default::default()
        },
        2,
    )
    .unwrap();
    assert!(n.allow_subdomains);
}

#[test]
fn domains_replace_normalise_and_dedupe() {
    let mut c = saml_base();
    c.domains = vec![enterprise_sso::Domain::parse("old.com").unwrap()];
    let patch = UpdateConnection {
        domains: Patch::Value(vec![
            "Acme.COM".into(),
            "acme.com.".into(),
            "bücher.de".into(),
        ]),
        ..Default::default()
    };
    let n = merge(&c, &patch, 2).unwrap();
    let got: Vec<_> = n.domains.iter().map(|d| d.as_str()).collect();
    assert_eq!(got, ["acme.com", "xn--bcher-kva.de"]);
    let bad = UpdateConnection {
        domains: Patch::Value(vec!["ok.com".into(), "com".into(), "not a domain".into()]),
        ..Default::default()
    };
    let err = merge(&c, &bad, 2).unwrap_err();
    assert_eq!(
        err.at("domains[1]"),
        vec![&FieldErrorKind::InvalidDomain(DomainError::PublicSuffix)]
    );
    assert_eq!(
        err.at("domains[2]"),
        vec![&FieldErrorKind::InvalidDomain(DomainError::InvalidHostName)]
    );
    let null = UpdateConnection {
        domains: Patch::Null,
        ..Default::default()
    };
    assert_eq!(
        merge(&c, &null, 2).unwrap_err().at("domains"),
        vec![&FieldErrorKind::NotNullable]
    );
}

#[test]
fn switching_protocol_needs_the_new_block_and_drops_the_old() {
    let c = saml_base();
    let no_block = UpdateConnection {
        provider: Patch::Value(Provider::OidcCustom),
        ..Default::default()
    };
    assert_eq!(
        merge(&c, &no_block, 2).unwrap_err().at("oidc"),
        vec![&FieldErrorKind::Required]
    );
    let switch = UpdateConnection {
        provider: Patch::Value(Provider::OidcGithubEnterprise),
        oidc: Patch::Value(OidcPatch {
            client_id: Patch::Value("gh".into()),
            client_secret: Patch::Value(ClientSecret::new("s")),
            ..Default::default()
        }),
        ..Default::default()
    };
    let n = merge(&c, &switch, 2).unwrap();
    assert_eq!(n.protocol(), Protocol::Oauth);
    assert!(n.saml().is_none());
    assert_eq!(n.oidc().unwrap().client_id.as_deref(), Some("gh"));
    // Within one protocol the configuration is kept.
    let okta = UpdateConnection {
        provider: Patch::Value(Provider::SamlOkta),
        ..Default::default()
    };
    let n = merge(&c, &okta, 2).unwrap();
    assert_eq!(n.saml(), c.saml());
    // A block of the other protocol is refused.
    let wrong = UpdateConnection {
        oidc: Patch::Value(OidcPatch::default()),
        ..Default::default()
    };
    assert_eq!(
        merge(&c, &wrong, 2).unwrap_err().at("oidc"),
        vec![&FieldErrorKind::NotAllowedForProvider(Provider::SamlCustom)]
    );
    let mut both = CreateConnection::new(Provider::SamlCustom, "both");
    both.oidc = Some(OidcPatch::default());
    both.saml = Some(SamlPatch::default());
    assert!(build(&both, ConnectionId::generate(), 1)
        .unwrap_err()
        .has("oidc"));
}

#[test]
fn active_connections_must_be_usable() {
    let mut p = CreateConnection::new(Provider::SamlGoogle, "g");
    p.active = Some(true);
    let err = build(&p, ConnectionId::generate(), 1).unwrap_err();
    for path in [
        "saml.idp_entity_id",
        "saml.idp_sso_url",
        "saml.idp_certificate",
    ] {
        assert_eq!(
            err.at(path),
            vec![&FieldErrorKind::RequiredWhenActive],
            "{path}"
        );
    }
    p.saml = Some(SamlPatch {
        idp_metadata: Patch::Value(include_str!("fixtures/saml/google.metadata.xml").into()),
        ..Default::default()
    });
    let c = build(&p, ConnectionId::generate(), NOW).expect("metadata is enough");
    let s = c.saml().unwrap();
    assert_eq!(
        s.idp_entity_id.as_deref(),
        Some("https://accounts.google.com/o/saml2?idpid=C01abc2de")
    );
    assert!(s.idp_certificate.is_some() && s.idp_sso_url.is_some());

    let mut o = CreateConnection::new(Provider::OidcCustom, "o");
    o.active = Some(true);
    o.oidc = Some(OidcPatch {
        requires_pkce: Patch::Value(true),
        ..Default::default()
    });
    let err = build(&o, ConnectionId::generate(), 1).unwrap_err();
    for path in ["oidc.client_id", "oidc.auth_url", "oidc.token_url"] {
        assert!(err.has(path), "{path}: {err}");
    }
    o.oidc = Some(OidcPatch {
        requires_pkce: Patch::Value(true),
        client_id: Patch::Value("c".into()),
        discovery_url: Patch::Value("https://idp/.well-known/openid-configuration".into()),
        ..Default::default()
    });
    // A discovery URL alone does not activate: the endpoints must be known (set, or
    // discovered by a refresh whose document passed its checks).
    let err = build(&o, ConnectionId::generate(), 1).unwrap_err();
    assert!(
        err.has("oidc.auth_url") && err.has("oidc.token_url"),
        "{err}"
    );
    o.active = Some(false);
    let inactive = build(&o, ConnectionId::generate(), 1).expect("inactive is fine");
    let activate = UpdateConnection {
        active: Patch::Value(true),
        ..Default::default()
    };
    assert!(merge(&inactive, &activate, 2).is_err());
    let with_endpoints = UpdateConnection {
        active: Patch::Value(true),
        oidc: Patch::Value(OidcPatch {
            auth_url: Patch::Value("https://idp.example.com/authorize".into()),
            token_url: Patch::Value("https://idp.example.com/token".into()),
            ..Default::default()
        }),
        ..Default::default()
    };
    assert!(merge(&inactive, &with_endpoints, 2).is_ok());
}

#[test]
fn every_problem_is_reported_with_its_path() {
    let c = oidc_base(Some("s"), false);
    let patch = UpdateConnection {
        name: Patch::Value(String::new()),
        organization_id: Patch::Value("org\n1".into()),
        active: Patch::Null,
        oidc: Patch::Value(OidcPatch {
            auth_url: Patch::Value("http://idp.acme.com/auth".into()),
            user_info_url: Patch::Value("not a url".into()),
            client_secret: Patch::Value(ClientSecret::new("x".repeat(5000))),
            ..Default::default()
        }),
        ..Default::default()
    };
    let err = merge(&c, &patch, 2).unwrap_err();
    let paths: Vec<_> = err.errors().iter().map(|e| e.path.as_str()).collect();
    for p in [
        "name",
        "organization_id",
        "active",
        "oidc.auth_url",
        "oidc.user_info_url",
        "oidc.client_secret",
    ] {
        assert!(paths.contains(&p), "{p} missing in {paths:?}");
    }
    assert!(
        !err.to_string().contains("xxxx"),
        "secret must not leak: {err}"
    );
}

#[test]
fn bounds_are_enforced() {
    let c = saml_base();
    let huge = UpdateConnection {
        name: Patch::Value("n".repeat(257)),
        saml: Patch::Value(SamlPatch {
            idp_metadata: Patch::Value("x".repeat(1024 * 1024 + 1)),
            ..Default::default()
        }),
        ..Default::default()
    };
    let err = merge(&c, &huge, 2).unwrap_err();
    assert!(matches!(
        err.at("name")[..],
        [FieldErrorKind::TooLong { max: 256 }]
    ));
    assert!(matches!(
        err.at("saml.idp_metadata")[..],
        [FieldErrorKind::TooLong { .. }]
    ));
    let many = UpdateConnection {
        domains: Patch::Value((0..101).map(|i| format!("d{i}.com")).collect()),
        ..Default::default()
    };
    assert!(merge(&c, &many, 2).unwrap_err().has("domains"));
}

#[test]
fn timestamps_never_go_backwards() {
    let c = saml_base();
    let n = merge(&c, &UpdateConnection::default(), 500).unwrap();
    assert_eq!(n.updated_at, UnixMillis::new(1_000));
    assert_eq!(n.created_at, UnixMillis::new(1_000));
}

#[test]
fn debug_of_a_connection_hides_the_secret() {
    let c = oidc_base(Some("very-secret-123"), false);
    let dbg = format!("{c:?} {:#?}", c.oidc());
    assert!(!dbg.contains("very-secret-123"));
    assert!(dbg.contains("[redacted]"));
}
