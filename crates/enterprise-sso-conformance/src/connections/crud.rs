//! Create, read, update and delete; compare-and-swap; `modify`; a full round trip; refused writes; WorkOS state.

use enterprise_sso::ClientSecret;
use enterprise_sso::ConnectionId;
use enterprise_sso::Domain;
use enterprise_sso::Error;
use enterprise_sso::Provider;
use enterprise_sso::UnixMillis;
use enterprise_sso::{now_ms, Connections};
use enterprise_sso::{CreateConnection, OidcPatch, Patch, SamlPatch, UpdateConnection};
use enterprise_sso::{EnterpriseConnection, ProtocolConfig};
use enterprise_sso::{ListQuery, Store};

use crate::fixtures::*;

/// Insert, get, update with the right version, delete.
pub async fn crud(repo: &dyn Store) {
    let a = saml_connection("crud-a", &["crud-a.example.com"], false);
    let b = oidc_connection("crud-b", &[], true);
    insert_all(repo, &[a.clone(), b.clone()]).await;
    assert_eq!(must_get(repo, &a.id).await, a);
    assert_eq!(must_get(repo, &b.id).await, b);
    assert_eq!(
        repo.get(&ConnectionId::generate()).await.expect("get"),
        None
    );

    let mut a2 = a.clone();
    a2.name = "renamed".into();
    a2.version = 2;
    a2.updated_at = a2
        .updated_at
        .saturating_add(std::time::Duration::from_millis(5));
    repo.update(&a2, 1).await.expect("update");
    assert_eq!(must_get(repo, &a.id).await, a2);

    assert!(repo
        .delete(&a.id, UnixMillis::new(now_ms()))
        .await
        .expect("delete"));
    assert_eq!(repo.get(&a.id).await.expect("get"), None);
    assert!(!repo
        .delete(&a.id, UnixMillis::new(now_ms()))
        .await
        .expect("delete twice"));
    let err = repo.update(&a2, 2).await.expect_err("update deleted");
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
    assert_eq!(must_get(repo, &b.id).await, b);
}

/// A second insert with the same id is refused and changes nothing.
pub async fn insert_duplicate_id(repo: &dyn Store) {
    let a = saml_connection("dup", &["dup-1.example.com"], false);
    insert_all(repo, std::slice::from_ref(&a)).await;
    let mut again = oidc_connection("dup-2", &["dup-2.example.com"], false);
    again.id = a.id.clone();
    let err = repo.insert(&again).await.expect_err("duplicate id");
    assert!(matches!(err, Error::AlreadyExists { .. }), "{err:?}");
    assert_eq!(must_get(repo, &a.id).await, a);
    assert_eq!(
        repo.find_by_domain(&domain("dup-2.example.com"))
            .await
            .expect("find"),
        None
    );
}

/// A stale version is refused with the stored version, and nothing changes.
pub async fn cas_conflict(repo: &dyn Store) {
    let a = oidc_connection("cas", &["cas.example.com"], false);
    insert_all(repo, std::slice::from_ref(&a)).await;
    let mut v2 = a.clone();
    v2.name = "v2".into();
    v2.version = 2;
    repo.update(&v2, 1).await.expect("first writer");
    let mut stale = a.clone();
    stale.name = "stale".into();
    stale.version = 2;
    stale.domains = vec![domain("stale.example.com")];
    match repo.update(&stale, 1).await {
        Err(Error::VersionConflict {
            expected: 1,
            actual: 2,
            id,
        }) => assert_eq!(id, enterprise_sso::RecordId::from(&a.id)),
        other => panic!("expected a version conflict, got {other:?}"),
    }
    assert_eq!(must_get(repo, &a.id).await, v2);
    assert_eq!(
        repo.find_by_domain(&domain("stale.example.com"))
            .await
            .expect("find"),
        None
    );
}

/// `modify` reads, changes and writes in one step: the change sees the stored connection,
/// its result is stored with one feed event; a change that keeps the version writes
/// nothing; a refused change or a taken domain writes nothing; a missing id is `NotFound`
/// without calling the change.
pub async fn modify_reads_changes_and_writes_in_one_step(repo: &dyn Store) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    let a = oidc_connection("mod-a", &["mod-a.example.com"], false);
    let b = oidc_connection("mod-b", &["mod-b.example.com"], false);
    insert_all(repo, &[a.clone(), b.clone()]).await;
    async fn feed_end(repo: &dyn Store) -> u64 {
        let events = repo.events_after(0, usize::MAX).await.expect("feed").events;
        events.last().map_or(0, |e| e.position)
    }
    let before = feed_end(repo).await;
    let seen = Arc::new(std::sync::Mutex::new(None));
    let seen_in = Arc::clone(&seen);
    let next = repo
        .modify(
            &a.id,
            Arc::new(move |current: &EnterpriseConnection| {
                *seen_in.lock().expect("lock") = Some(current.clone());
                let mut next = current.clone();
                next.name = "modified".into();
                next.version += 1;
                Ok(next)
            }),
        )
        .await
        .expect("modify");
    assert_eq!(
        seen.lock().expect("lock").as_ref(),
        Some(&a),
        "the change saw the store"
    );
    assert_eq!(next.name, "modified");
    assert_eq!(next.version, a.version + 1);
    assert_eq!(must_get(repo, &a.id).await, next);
    let events = repo.events_after(before, 10).await.expect("feed").events;
    assert_eq!(events.len(), 1, "one event for one write: {events:?}");
    assert_eq!(events[0].changed, vec!["name".to_string()]);
    // A change that keeps the version writes nothing and returns the stored connection.
    let same = repo
        .modify(&a.id, Arc::new(|c: &EnterpriseConnection| Ok(c.clone())))
        .await
        .expect("no-op modify");
    assert_eq!(same, next);
    let end = feed_end(repo).await;
    assert_eq!(end, before + 1, "a kept version appends nothing");
    // A refused change, and a change that takes another connection's domain, write nothing.
    let refused = repo
        .modify(
            &a.id,
            Arc::new(|c: &EnterpriseConnection| Err(Error::not_found(&c.id))),
        )
        .await;
    assert!(
        matches!(refused, Err(Error::NotFound { .. })),
        "{refused:?}"
    );
    let taken = b.domains[0].clone();
    let clash = repo
        .modify(
            &a.id,
            Arc::new(move |c: &EnterpriseConnection| {
                let mut next = c.clone();
                next.domains.push(taken.clone());
                next.name = "clash".into();
                next.version += 1;
                Ok(next)
            }),
        )
        .await;
    assert!(
        matches!(clash, Err(Error::DomainConflict { .. })),
        "{clash:?}"
    );
    assert_eq!(must_get(repo, &a.id).await, next);
    assert_eq!(must_get(repo, &b.id).await, b);
    assert_eq!(feed_end(repo).await, end, "refused changes append nothing");
    // A missing id: NotFound, the change never runs.
    let calls = Arc::new(AtomicUsize::new(0));
    let calls_in = Arc::clone(&calls);
    let missing = repo
        .modify(
            &ConnectionId::generate(),
            Arc::new(move |c: &EnterpriseConnection| {
                calls_in.fetch_add(1, Ordering::SeqCst);
                Ok(c.clone())
            }),
        )
        .await;
    assert!(
        matches!(missing, Err(Error::NotFound { .. })),
        "{missing:?}"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 0);
}

/// Every field, including the client secret and the SAML attribute mapping, is stored and
/// read back exactly.
pub async fn nested_config_and_secret_round_trip(repo: &dyn Store) {
    let mut o = oidc_connection(
        "rt-oidc",
        &["rt-oidc.example.com", "b.rt-oidc.example.com"],
        true,
    );
    o.organization_id = Some("org_123".into());
    o.sync_user_attributes = true;
    o.disable_additional_identifications = true;
    o.authenticatable = false;
    o.disable_jit_provisioning = true;
    o.allow_organization_account_linking = true;
    o.first_authenticated_at = Some(UnixMillis::new(1_700_000_000_123));
    if let ProtocolConfig::Oidc(c) = &mut o.config {
        c.auth_url = Some("https://idp.example.com/auth".into());
        c.token_url = Some("https://idp.example.com/token".into());
        c.user_info_url = Some("https://idp.example.com/userinfo".into());
        c.client_secret = Some(ClientSecret::new("pa$$wörd \"quoted\" \\ \u{1F511}"));
        c.requires_pkce = true;
    }
    let mut s = saml_connection("rt-saml", &["rt-saml.example.com"], true);
    s.allow_subdomains = true;
    if let ProtocolConfig::Saml(c) = &mut s.config {
        c.allow_idp_initiated = true;
        c.force_authn = true;
        c.idp_metadata = Some("<EntityDescriptor entityID=\"x\">\n</EntityDescriptor>".into());
        c.idp_metadata_url = Some("https://idp.example.com/metadata".into());
        c.attribute_mapping.email_address = Some("mail".into());
        c.attribute_mapping.first_name = Some("givenName".into());
        c.attribute_mapping.user_id = Some("uid".into());
        c.login_hint = enterprise_sso::LoginHint::CustomAttribute {
            source: "upn \"quoted\" \u{e9}".into(),
        };
    }
    insert_all(repo, &[o.clone(), s.clone()]).await;
    assert_eq!(must_get(repo, &o.id).await, o);
    assert_eq!(must_get(repo, &s.id).await, s);
    let got = must_get(repo, &o.id).await;
    let secret = got
        .oidc()
        .and_then(|c| c.client_secret.as_ref())
        .map(|s| s.expose_secret().to_owned());
    assert_eq!(secret.as_deref(), Some("pa$$wörd \"quoted\" \\ \u{1F511}"));
}

/// Failed creates and updates return typed errors and leave the store exactly as it was.
pub async fn failed_writes_change_nothing(repo: &dyn Store) {
    let svc = Connections::new(repo);
    let tag = unique_tag();
    let mut p = CreateConnection::new(Provider::OidcCustom, "keeper");
    p.domains = Some(vec![format!("keep-{tag}.com")]);
    p.oidc = Some(OidcPatch {
        client_id: Patch::Value("cid".into()),
        client_secret: Patch::Value(ClientSecret::new("top-secret-value")),
        ..Default::default()
    });
    let keeper = svc.create(&p).await.expect("create");
    let other = svc
        .create(&CreateConnection {
            domains: Some(vec![format!("other-{tag}.com")]),
            ..CreateConnection::new(Provider::SamlCustom, "other")
        })
        .await
        .expect("create other");

    let bad_patches: Vec<(UpdateConnection, &str)> = vec![
        (
            UpdateConnection {
                oidc: Patch::Value(OidcPatch {
                    client_secret: Patch::Null,
                    ..Default::default()
                }),
                ..Default::default()
            },
            "oidc.requires_pkce",
        ),
        (
            UpdateConnection {
                name: Patch::Value("  ".into()),
                domains: Patch::Value(vec![format!("new-{tag}.com")]),
                ..Default::default()
            },
            "name",
        ),
        (
            UpdateConnection {
                domains: Patch::Value(vec![format!("fine-{tag}.com"), "co.uk".into()]),
                ..Default::default()
            },
            "domains[1]",
        ),
        (
            UpdateConnection {
                saml: Patch::Value(SamlPatch::default()),
                ..Default::default()
            },
            "saml",
        ),
        (
            UpdateConnection {
                provider: Patch::Value(Provider::SamlOkta),
                ..Default::default()
            },
            "saml",
        ),
        (
            UpdateConnection {
                active: Patch::Value(true),
                oidc: Patch::Value(OidcPatch {
                    token_url: Patch::Value("http://idp.example.com/t".into()),
                    ..Default::default()
                }),
                ..Default::default()
            },
            "oidc.token_url",
        ),
        (
            UpdateConnection {
                name: Patch::Null,
                ..Default::default()
            },
            "name",
        ),
    ];
    for (patch, path) in bad_patches {
        match svc.update(&keeper.id, &patch).await {
            Err(Error::Validation(v)) => {
                assert!(v.has(path), "expected an error at {path}, got {v}");
                assert!(!v.to_string().contains("top-secret-value"));
            }
            other => panic!("patch {patch:?} gave {other:?}"),
        }
        assert_eq!(must_get(repo, &keeper.id).await, keeper);
    }
    // Domain conflict on update: typed, nothing written.
    let steal = UpdateConnection {
        name: Patch::Value("thief".into()),
        domains: Patch::Value(vec![format!("x-{tag}.com"), format!("other-{tag}.com")]),
        ..Default::default()
    };
    assert!(matches!(
        svc.update(&keeper.id, &steal).await,
        Err(Error::DomainConflict { .. })
    ));
    assert_eq!(must_get(repo, &keeper.id).await, keeper);
    let x = Domain::parse(&format!("x-{tag}.com")).expect("domain");
    assert_eq!(repo.find_by_domain(&x).await.expect("find"), None);
    // Failed creates write nothing.
    let before = walk(
        repo,
        &ListQuery {
            limit: 50,
            ..Default::default()
        },
    )
    .await;
    let mut dup = CreateConnection::new(Provider::SamlCustom, "dup");
    dup.domains = Some(vec![format!("y-{tag}.com"), format!("keep-{tag}.com")]);
    assert!(matches!(
        svc.create(&dup).await,
        Err(Error::DomainConflict { .. })
    ));
    let mut public = CreateConnection::new(Provider::OidcCustom, "public");
    public.oidc = Some(OidcPatch {
        client_id: Patch::Value("c".into()),
        ..Default::default()
    });
    assert!(matches!(
        svc.create(&public).await,
        Err(Error::Validation(_))
    ));
    assert_eq!(
        walk(
            repo,
            &ListQuery {
                limit: 50,
                ..Default::default()
            }
        )
        .await,
        before
    );
    assert_eq!(must_get(repo, &other.id).await, other);
    // Missing connection.
    let missing = svc
        .update(&ConnectionId::generate(), &UpdateConnection::default())
        .await;
    assert!(
        matches!(missing, Err(Error::NotFound { .. })),
        "{missing:?}"
    );
}

/// WorkOS state: inactive, validating after activation, active after the first sign-in
/// (recorded once).
pub async fn state_transitions(repo: &dyn Store) {
    use enterprise_sso::ConnectionState;
    let svc = Connections::new(repo);
    let c = saml_connection("state", &[], false);
    insert_all(repo, std::slice::from_ref(&c)).await;
    assert_eq!(
        must_get(repo, &c.id).await.state(),
        ConnectionState::Inactive
    );
    let on = UpdateConnection {
        active: Patch::Value(true),
        ..Default::default()
    };
    let c = svc.update(&c.id, &on).await.expect("activate");
    assert_eq!(c.state(), ConnectionState::Validating);
    let c1 = svc.mark_authenticated(&c.id).await.expect("first sign-in");
    assert_eq!(c1.state(), ConnectionState::Active);
    let c2 = svc.mark_authenticated(&c.id).await.expect("second sign-in");
    assert_eq!(c2, c1, "only the first authentication is recorded");
    assert_eq!(must_get(repo, &c.id).await, c1);
}
