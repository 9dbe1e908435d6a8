//! Property tests of the merge semantics. 256 cases per property by default; set
//! `PROPTEST_CASES` for more.
#![allow(clippy::unwrap_used)]

use enterprise_sso::storage::codec::{decode_connection, encode_connection};
use enterprise_sso::{
    build, merge, validate, AttributeMappingPatch, ClientSecret, Compose, ConnectionId,
    CreateConnection, EnterpriseConnection, LoginHint, OidcPatch, Patch, Protocol, Provider,
    SamlPatch, UpdateConnection,
};
use proptest::prelude::*;
use serde_json::{json, Map, Value};

// ---- strategies -------------------------------------------------------------------------

fn patch<T: Clone + std::fmt::Debug + 'static>(
    values: impl Strategy<Value = T> + 'static,
    nullable: bool,
) -> BoxedStrategy<Patch<T>> {
    let null_weight = if nullable { 1 } else { 0 };
    prop_oneof![
        4 => Just(Patch::Absent),
        null_weight => Just(Patch::Null),
        3 => values.prop_map(Patch::Value),
    ]
    .boxed()
}

fn pick(items: &'static [&'static str]) -> impl Strategy<Value = String> + Clone {
    proptest::sample::select(items).prop_map(str::to_owned)
}

const NAMES: &[&str] = &["Acme", "Beta Corp", "Ünïcode Ltd", "", "tab\there"];
const ORGS: &[&str] = &["org_1", "org_2", "org_3"];
const URLS: &[&str] = &[
    "https://idp.example.com/a",
    "https://idp.example.com/b",
    "http://localhost:8080/cb",
    "http://insecure.example.com/x",
];
const DOMAINS: &[&str] = &[
    "acme.com",
    "Acme.COM",
    "beta.io",
    "sub.acme.com",
    "bücher.de",
    "co.uk",
    "bad domain",
];
const TEXT: &[&str] = &["alpha", "beta", "urn:acme:idp"];
const SECRETS: &[&str] = &["s3cr3t-one", "s3cr3t-two"];
const CERTS: &[&str] = &[
    enterprise_sso_conformance::TEST_CERT_PEM,
    "not a certificate",
];
const METADATA: &[&str] = &[include_str!("fixtures/saml/okta.metadata.xml"), "<md/>"];

fn domains() -> impl Strategy<Value = Vec<String>> {
    proptest::collection::vec(pick(DOMAINS), 0..4)
}

fn mapping_patch() -> impl Strategy<Value = AttributeMappingPatch> {
    (
        patch(pick(TEXT), true),
        patch(pick(TEXT), true),
        patch(pick(TEXT), true),
        patch(pick(TEXT), true),
    )
        .prop_map(|(a, b, c, d)| AttributeMappingPatch {
            email_address: a,
            first_name: b,
            last_name: c,
            user_id: d,
        })
}

fn oidc_patch() -> impl Strategy<Value = OidcPatch> {
    (
        patch(pick(URLS), true),
        patch(pick(TEXT), true),
        patch(pick(SECRETS).prop_map(ClientSecret::new), true),
        patch(pick(URLS), true),
        patch(any::<bool>(), false),
        patch(pick(URLS), true),
        patch(pick(URLS), true),
    )
        .prop_map(|(a, b, c, d, e, f, g)| OidcPatch {
            auth_url: a,
            client_id: b,
            client_secret: c,
            discovery_url: d,
            requires_pkce: e,
            token_url: f,
            user_info_url: g,
        })
}

fn saml_patch() -> impl Strategy<Value = SamlPatch> {
    (
        patch(any::<bool>(), false),
        patch(any::<bool>(), false),
        patch(mapping_patch(), true),
        patch(any::<bool>(), false),
        patch(pick(CERTS), true),
        patch(pick(TEXT), true),
        patch(pick(METADATA), true),
        patch(pick(URLS), true),
        patch(pick(URLS), true),
        patch(proptest::collection::vec(pick(CERTS), 0..3), true),
        patch(login_hint(), true),
        patch(pick(TEXT), true),
    )
        .prop_map(|(a, b, c, d, e, f, g, h, i, j, k, l)| SamlPatch {
            allow_idp_initiated: a,
            allow_subdomains: b,
            attribute_mapping: c,
            force_authn: d,
            idp_certificate: e,
            idp_entity_id: f,
            idp_metadata: g,
            idp_metadata_url: h,
            idp_sso_url: i,
            idp_certificates: j,
            login_hint: k,
            name: l,
        })
}

/// Login hints, including an invalid (empty) source.
fn login_hint() -> impl Strategy<Value = LoginHint> {
    prop_oneof![
        Just(LoginHint::EmailAddress),
        Just(LoginHint::Off),
        pick(&["upn", "employee_id", " "]).prop_map(|source| LoginHint::CustomAttribute { source }),
    ]
}

fn providers_of(protocol: Protocol) -> Vec<Provider> {
    Provider::ALL
        .into_iter()
        .filter(|p| p.protocol() == protocol)
        .collect()
}

/// A patch that keeps `protocol` (provider changes stay within it).
fn update_patch(protocol: Protocol) -> BoxedStrategy<UpdateConnection> {
    let (oidc, saml) = match protocol {
        Protocol::Oauth => (patch(oidc_patch(), false), Just(Patch::Absent).boxed()),
        Protocol::Saml => (Just(Patch::Absent).boxed(), patch(saml_patch(), false)),
    };
    (
        patch(pick(NAMES), false),
        patch(proptest::sample::select(providers_of(protocol)), false),
        patch(any::<bool>(), false),
        patch(pick(ORGS), true),
        patch(domains(), false),
        patch(any::<bool>(), false),
        patch(any::<bool>(), false),
        oidc,
        saml,
        (
            patch(any::<bool>(), false),
            patch(any::<bool>(), false),
            patch(any::<bool>(), false),
        ),
    )
        .prop_map(
            |(name, provider, active, org, domains, sync, dai, oidc, saml, (auth, jit, link))| {
                UpdateConnection {
                    name,
                    provider,
                    active,
                    organization_id: org,
                    domains,
                    sync_user_attributes: sync,
                    disable_additional_identifications: dai,
                    authenticatable: auth,
                    disable_jit_provisioning: jit,
                    allow_organization_account_linking: link,
                    oidc,
                    saml,
                }
            },
        )
        .boxed()
}

/// A valid stored connection of either protocol.
fn connection() -> impl Strategy<Value = EnterpriseConnection> {
    proptest::sample::select(Provider::ALL.to_vec())
        .prop_flat_map(|provider| {
            let p = provider.protocol();
            (Just(provider), update_patch(p), 0i64..1_000_000)
        })
        .prop_filter_map("create params must validate", |(provider, p, now)| {
            let params = CreateConnection {
                provider,
                name: p.name.as_value().cloned(),
                active: p.active.as_value().copied(),
                domains: p.domains.as_value().cloned(),
                organization_id: p.organization_id.as_value().cloned(),
                oidc: p.oidc.as_value().cloned(),
                saml: p.saml.as_value().cloned(),
                sync_user_attributes: p.sync_user_attributes.as_value().copied(),
                disable_additional_identifications: p
                    .disable_additional_identifications
                    .as_value()
                    .copied(),
                authenticatable: p.authenticatable.as_value().copied(),
                disable_jit_provisioning: p.disable_jit_provisioning.as_value().copied(),
                allow_organization_account_linking: p
                    .allow_organization_account_linking
                    .as_value()
                    .copied(),
            };
            build(&params, ConnectionId::generate(), now).ok()
        })
}

fn connection_and_patches(
    n: usize,
) -> impl Strategy<Value = (EnterpriseConnection, Vec<UpdateConnection>)> {
    connection().prop_flat_map(move |c| {
        let p = c.protocol();
        (Just(c), proptest::collection::vec(update_patch(p), n))
    })
}

/// Whether SAML metadata takes part: then the entity id, SSO URL and certificate are
/// derived from it, by design depending on which patch set them explicitly, so the
/// field-by-field properties do not apply to those three fields (merge_rules.rs and
/// saml_inputs.rs test the metadata rules instead).
fn metadata_in_play(c: &EnterpriseConnection, ps: &[UpdateConnection]) -> bool {
    c.saml().is_some_and(|s| s.idp_metadata.is_some())
        || ps.iter().any(|p| {
            p.saml
                .as_value()
                .is_some_and(|s| !s.idp_metadata.is_absent())
        })
}

/// Equal but for the bookkeeping fields every write changes.
fn same_content(a: &EnterpriseConnection, b: &EnterpriseConnection) -> bool {
    let mut b = b.clone();
    b.version = a.version;
    b.updated_at = a.updated_at;
    *a == b
}

// ---- a hand-written JSON encoder for patches (the test's own, not the library's) --------

fn put<T>(obj: &mut Map<String, Value>, key: &str, p: &Patch<T>, f: impl Fn(&T) -> Value) {
    match p {
        Patch::Absent => {}
        Patch::Null => {
            obj.insert(key.into(), Value::Null);
        }
        Patch::Value(v) => {
            obj.insert(key.into(), f(v));
        }
    }
}

fn s(v: &String) -> Value {
    json!(v)
}

fn b(v: &bool) -> Value {
    json!(v)
}

fn patch_json(p: &UpdateConnection) -> Value {
    let mut o = Map::new();
    put(&mut o, "name", &p.name, s);
    put(&mut o, "provider", &p.provider, |v| json!(v.as_str()));
    put(&mut o, "active", &p.active, b);
    put(&mut o, "organization_id", &p.organization_id, s);
    put(&mut o, "domains", &p.domains, |v| json!(v));
    put(&mut o, "sync_user_attributes", &p.sync_user_attributes, b);
    put(
        &mut o,
        "disable_additional_identifications",
        &p.disable_additional_identifications,
        b,
    );
    put(&mut o, "authenticatable", &p.authenticatable, b);
    put(
        &mut o,
        "disable_jit_provisioning",
        &p.disable_jit_provisioning,
        b,
    );
    put(
        &mut o,
        "allow_organization_account_linking",
        &p.allow_organization_account_linking,
        b,
    );
    put(&mut o, "oidc", &p.oidc, |x| {
        let mut m = Map::new();
        put(&mut m, "auth_url", &x.auth_url, s);
        put(&mut m, "client_id", &x.client_id, s);
        put(&mut m, "client_secret", &x.client_secret, |v| {
            json!(v.expose_secret())
        });
        put(&mut m, "discovery_url", &x.discovery_url, s);
        put(&mut m, "requires_pkce", &x.requires_pkce, b);
        put(&mut m, "token_url", &x.token_url, s);
        put(&mut m, "user_info_url", &x.user_info_url, s);
        Value::Object(m)
    });
    put(&mut o, "saml", &p.saml, |x| {
        let mut m = Map::new();
        put(&mut m, "allow_idp_initiated", &x.allow_idp_initiated, b);
        put(&mut m, "allow_subdomains", &x.allow_subdomains, b);
        put(&mut m, "attribute_mapping", &x.attribute_mapping, |am| {
            let mut a = Map::new();
            put(&mut a, "email_address", &am.email_address, s);
            put(&mut a, "first_name", &am.first_name, s);
            put(&mut a, "last_name", &am.last_name, s);
            put(&mut a, "user_id", &am.user_id, s);
            Value::Object(a)
        });
        put(&mut m, "force_authn", &x.force_authn, b);
        put(&mut m, "idp_certificate", &x.idp_certificate, s);
        put(&mut m, "idp_certificates", &x.idp_certificates, |v| {
            json!(v)
        });
        put(&mut m, "idp_entity_id", &x.idp_entity_id, s);
        put(&mut m, "idp_metadata", &x.idp_metadata, s);
        put(&mut m, "idp_metadata_url", &x.idp_metadata_url, s);
        put(&mut m, "idp_sso_url", &x.idp_sso_url, s);
        put(&mut m, "login_hint", &x.login_hint, |h| match h {
            LoginHint::EmailAddress => json!({"mode": "email_address"}),
            LoginHint::Off => json!({"mode": "off"}),
            LoginHint::CustomAttribute { source } => {
                json!({"mode": "custom_attribute", "source": source})
            }
        });
        put(&mut m, "name", &x.name, s);
        Value::Object(m)
    });
    Value::Object(o)
}

// ---- properties -------------------------------------------------------------------------

proptest! {
    #[test]
    fn empty_patch_changes_only_bookkeeping(c in connection(), now in 0i64..2_000_000) {
        let n = merge(&c, &UpdateConnection::default(), now).unwrap();
        prop_assert!(same_content(&c, &n));
        prop_assert_eq!(n.version, c.version + 1);
        prop_assert_eq!(n.updated_at.get(), now.max(c.updated_at.get()));
    }

    #[test]
    fn same_patch_twice_equals_once((c, ps) in connection_and_patches(1)) {
        if let Ok(once) = merge(&c, &ps[0], 10) {
            let twice = merge(&once, &ps[0], 20).unwrap();
            prop_assert!(same_content(&once, &twice));
        }
    }

    #[test]
    fn absent_fields_are_untouched_and_null_clears((c, ps) in connection_and_patches(1)) {
        let p = &ps[0];
        let Ok(n) = merge(&c, p, 10) else { return Ok(()) };
        if p.name.is_absent() { prop_assert_eq!(&n.name, &c.name); }
        if p.active.is_absent() { prop_assert_eq!(n.active, c.active); }
        if p.provider.is_absent() { prop_assert_eq!(n.provider, c.provider); }
        if p.domains.is_absent() { prop_assert_eq!(&n.domains, &c.domains); }
        if p.sync_user_attributes.is_absent() { prop_assert_eq!(n.sync_user_attributes, c.sync_user_attributes); }
        for (given, new, old) in [
            (&p.authenticatable, n.authenticatable, c.authenticatable),
            (&p.disable_jit_provisioning, n.disable_jit_provisioning, c.disable_jit_provisioning),
            (&p.allow_organization_account_linking, n.allow_organization_account_linking, c.allow_organization_account_linking),
        ] {
            match given {
                Patch::Value(v) => prop_assert_eq!(new, *v),
                _ => prop_assert_eq!(new, old),
            }
        }
        match &p.organization_id {
            Patch::Absent => prop_assert_eq!(&n.organization_id, &c.organization_id),
            Patch::Null => prop_assert_eq!(&n.organization_id, &None),
            Patch::Value(v) => prop_assert_eq!(n.organization_id.as_ref(), Some(v)),
        }
        match (&p.oidc, c.oidc(), n.oidc()) {
            (Patch::Absent, Some(old), Some(new)) => prop_assert_eq!(old, new),
            (Patch::Value(op), Some(old), Some(new)) => {
                match &op.client_secret {
                    Patch::Absent => prop_assert_eq!(exposed(&new.client_secret), exposed(&old.client_secret)),
                    Patch::Null => prop_assert!(new.client_secret.is_none()),
                    Patch::Value(v) => prop_assert_eq!(exposed(&new.client_secret), Some(v.expose_secret())),
                }
                if op.token_url.is_absent() { prop_assert_eq!(&new.token_url, &old.token_url); }
                if op.requires_pkce.is_absent() { prop_assert_eq!(new.requires_pkce, old.requires_pkce); }
            }
            _ => {}
        }
        if let (Patch::Value(sp), Some(old), Some(new)) = (&p.saml, c.saml(), n.saml()) {
            match &sp.attribute_mapping {
                Patch::Absent => prop_assert_eq!(&new.attribute_mapping, &old.attribute_mapping),
                Patch::Null => prop_assert_eq!(&new.attribute_mapping, &Default::default()),
                Patch::Value(m) => match &m.user_id {
                    Patch::Absent => prop_assert_eq!(&new.attribute_mapping.user_id, &old.attribute_mapping.user_id),
                    Patch::Null => prop_assert_eq!(&new.attribute_mapping.user_id, &None),
                    Patch::Value(v) => prop_assert_eq!(new.attribute_mapping.user_id.as_ref(), Some(v)),
                },
            }
            match &sp.login_hint {
                Patch::Absent => prop_assert_eq!(&new.login_hint, &old.login_hint),
                Patch::Null => prop_assert_eq!(&new.login_hint, &LoginHint::EmailAddress),
                Patch::Value(h) => prop_assert_eq!(&new.login_hint, h),
            }
            if new.idp_metadata.is_none() {
                if sp.idp_entity_id.is_absent() { prop_assert_eq!(&new.idp_entity_id, &old.idp_entity_id); }
                if sp.idp_sso_url.is_absent() { prop_assert_eq!(&new.idp_sso_url, &old.idp_sso_url); }
            }
        }
        if p.saml.is_absent() { prop_assert_eq!(n.saml(), c.saml()); }
    }

    #[test]
    fn composition_equals_sequence((c, ps) in connection_and_patches(2)) {
        let (p1, p2) = (&ps[0], &ps[1]);
        if metadata_in_play(&c, &ps) { return Ok(()); }
        if let Ok(a) = merge(&c, p1, 10).and_then(|m| merge(&m, p2, 20)) {
            let composed = merge(&c, &p1.then(p2), 20);
            prop_assert!(composed.is_ok(), "sequence succeeded, composition failed: {:?}", composed);
            prop_assert!(same_content(&a, &composed.unwrap()));
        }
    }

    #[test]
    fn every_successful_merge_is_valid((c, ps) in connection_and_patches(3)) {
        let mut cur = c;
        for p in &ps {
            if let Ok(n) = merge(&cur, p, 10) {
                prop_assert!(validate(&n).is_ok(), "{:?}", validate(&n));
                prop_assert_eq!(n.provider.protocol(), n.protocol());
                if let Some(o) = n.oidc() {
                    prop_assert!(o.client_secret.is_some() || o.requires_pkce);
                }
                cur = n;
            }
        }
    }

    #[test]
    fn failed_merge_reports_paths_and_no_secret((c, ps) in connection_and_patches(1)) {
        if let Err(e) = merge(&c, &ps[0], 10) {
            prop_assert!(!e.errors().is_empty());
            let text = format!("{e} {e:?}");
            for s in SECRETS {
                prop_assert!(!text.contains(s), "secret leaked: {}", text);
            }
        }
    }

    #[test]
    fn patch_json_round_trips((_c, ps) in connection_and_patches(1)) {
        let v = patch_json(&ps[0]);
        let back: UpdateConnection = serde_json::from_value(v.clone()).unwrap();
        prop_assert_eq!(&back, &ps[0], "json was {}", v);
    }

    #[test]
    fn stored_records_round_trip(c in connection(), fa in proptest::option::of(0i64..i64::MAX)) {
        let mut c = c;
        c.first_authenticated_at = fa.map(enterprise_sso::UnixMillis::new);
        prop_assert_eq!(decode_connection(&encode_connection(&c)).unwrap(), c);
    }
}

/// The secret's text, for comparisons in this test (secrets have no `PartialEq`).
fn exposed(s: &Option<enterprise_sso::ClientSecret>) -> Option<&str> {
    s.as_ref().map(|s| s.expose_secret())
}
