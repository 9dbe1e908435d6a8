//! Connection cases: CRUD, compare-and-swap, domain claims, listings, routing, concurrency, state and certificate expiry.

use std::collections::HashSet;

use crate::cert_set::IdpCertificate;
use crate::connection::{EnterpriseConnection, ProtocolConfig};
use crate::domain::Domain;
use crate::error::Error;
use crate::ids::ConnectionId;
use crate::patch::{CreateConnection, OidcPatch, Patch, SamlPatch, UpdateConnection};
use crate::provider::Provider;
use crate::repo::{ListQuery, Order, Store};
use crate::secret::ClientSecret;
use crate::service::{now_ms, Connections};
use futures_executor::block_on;

use super::fixtures::*;

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
    a2.updated_at += 5;
    repo.update(&a2, 1).await.expect("update");
    assert_eq!(must_get(repo, &a.id).await, a2);

    assert!(repo.delete(&a.id, now_ms()).await.expect("delete"));
    assert_eq!(repo.get(&a.id).await.expect("get"), None);
    assert!(!repo.delete(&a.id, now_ms()).await.expect("delete twice"));
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
        }) => assert_eq!(id, crate::RecordId::from(&a.id)),
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
        let events = repo.events_after(0, usize::MAX).await.expect("feed");
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
    let events = repo.events_after(before, 10).await.expect("feed");
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

/// A domain belongs to one connection; a conflicting write names the domain (never the
/// owner) and
/// writes nothing at all (not even its other domains).
pub async fn domain_conflicts(repo: &dyn Store) {
    let a = saml_connection("owner", &["owned.example.com", "also.example.com"], true);
    insert_all(repo, std::slice::from_ref(&a)).await;
    let b = oidc_connection(
        "intruder",
        &["free.example.com", "owned.example.com"],
        false,
    );
    match repo.insert(&b).await {
        Err(e @ Error::DomainConflict { .. }) => {
            let Error::DomainConflict { domain: d } = &e else {
                unreachable!()
            };
            assert_eq!(d.as_str(), "owned.example.com");
            // Another tenant's connection id is never disclosed.
            assert!(!e.to_string().contains(a.id.as_str()), "{e}");
        }
        other => panic!("expected a domain conflict, got {other:?}"),
    }
    assert_eq!(repo.get(&b.id).await.expect("get"), None);
    assert_eq!(
        repo.find_by_domain(&domain("free.example.com"))
            .await
            .expect("find"),
        None
    );

    // The same through an update.
    let c = oidc_connection("other", &["other.example.com"], false);
    insert_all(repo, std::slice::from_ref(&c)).await;
    let mut c2 = c.clone();
    c2.domains = vec![domain("new.example.com"), domain("also.example.com")];
    c2.version = 2;
    match repo.update(&c2, 1).await {
        Err(e @ Error::DomainConflict { .. }) => {
            let Error::DomainConflict { domain: d } = &e else {
                unreachable!()
            };
            assert_eq!(d.as_str(), "also.example.com");
            assert!(!e.to_string().contains(a.id.as_str()), "{e}");
            let body = crate::wire::ApiErrors::from(&e).to_string();
            assert!(!body.contains(a.id.as_str()), "{body}");
        }
        other => panic!("expected a domain conflict, got {other:?}"),
    }
    assert_eq!(must_get(repo, &c.id).await, c);
    assert_eq!(
        repo.find_by_domain(&domain("new.example.com"))
            .await
            .expect("find"),
        None
    );
    let found = repo
        .find_by_domain(&domain("other.example.com"))
        .await
        .expect("find");
    assert_eq!(found.map(|f| f.id), Some(c.id.clone()));
    let found = repo
        .find_by_domain(&domain("owned.example.com"))
        .await
        .expect("find");
    assert_eq!(found.map(|f| f.id), Some(a.id.clone()));
    // Keeping one's own domains is no conflict.
    let mut a2 = a.clone();
    a2.version = 2;
    a2.name = "owner again".into();
    repo.update(&a2, 1).await.expect("re-claiming own domains");
}

/// Dropping a domain or deleting its connection frees it for others.
pub async fn domains_released_on_change_and_delete(repo: &dyn Store) {
    let a = saml_connection("rel-a", &["rel-1.example.com", "rel-2.example.com"], false);
    insert_all(repo, std::slice::from_ref(&a)).await;
    let mut a2 = a.clone();
    a2.domains = vec![domain("rel-2.example.com"), domain("rel-3.example.com")];
    a2.version = 2;
    repo.update(&a2, 1).await.expect("change domains");
    assert_eq!(
        repo.find_by_domain(&domain("rel-1.example.com"))
            .await
            .expect("find"),
        None
    );
    let got = repo
        .find_by_domain(&domain("rel-3.example.com"))
        .await
        .expect("find");
    assert_eq!(got, Some(a2.clone()));

    let b = oidc_connection("rel-b", &["rel-1.example.com"], false);
    insert_all(repo, std::slice::from_ref(&b)).await;
    let c = oidc_connection("rel-c", &["rel-2.example.com"], false);
    assert!(matches!(
        repo.insert(&c).await,
        Err(Error::DomainConflict { .. })
    ));
    assert!(repo.delete(&a.id, now_ms()).await.expect("delete"));
    assert_eq!(
        repo.find_by_domain(&domain("rel-3.example.com"))
            .await
            .expect("find"),
        None
    );
    repo.insert(&c).await.expect("domain freed by delete");
    let got = repo
        .find_by_domain(&domain("rel-2.example.com"))
        .await
        .expect("find");
    assert_eq!(got.map(|g| g.id), Some(c.id));
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
    o.first_authenticated_at = Some(1_700_000_000_123);
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
        c.login_hint = crate::LoginHint::CustomAttribute {
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

/// Filters combine with AND, in both orders.
pub async fn filters(repo: &dyn Store) {
    let tag = unique_tag();
    let org_a = format!("org_a_{tag}");
    let org_b = format!("org_b_{tag}");
    let mut all = Vec::new();
    for i in 0..12 {
        let mut c = if i % 3 == 0 {
            oidc_connection(&format!("f{i}"), &[], i % 2 == 0)
        } else {
            saml_connection(&format!("f{i}"), &[], i % 2 == 0)
        };
        c.organization_id = Some(if i < 8 { org_a.clone() } else { org_b.clone() });
        if i == 5 {
            c.domains = vec![domain(&format!("f5-{tag}.example.com"))];
        }
        all.push(c);
    }
    insert_all(repo, &all).await;
    let check = |q: ListQuery| {
        let expected: Vec<_> = {
            let mut v: Vec<_> = all
                .iter()
                .filter(|c| q.matches(c))
                .map(|c| c.id.clone())
                .collect();
            if q.order == Order::Desc {
                v.reverse();
            }
            v
        };
        (q, expected)
    };
    let base = ListQuery {
        limit: 100,
        ..Default::default()
    };
    let cases = [
        ListQuery {
            organization_id: Some(org_a.clone()),
            ..base.clone()
        },
        ListQuery {
            organization_id: Some(org_b.clone()),
            order: Order::Asc,
            ..base.clone()
        },
        ListQuery {
            organization_id: Some(org_a.clone()),
            active: Some(true),
            ..base.clone()
        },
        ListQuery {
            organization_id: Some(org_a.clone()),
            active: Some(false),
            provider: Some(Provider::SamlOkta),
            ..base.clone()
        },
        ListQuery {
            organization_id: Some(org_b.clone()),
            provider: Some(Provider::OidcCustom),
            order: Order::Asc,
            ..base.clone()
        },
        ListQuery {
            domain: Some(domain(&format!("f5-{tag}.example.com"))),
            ..base.clone()
        },
        ListQuery {
            domain: Some(domain(&format!("f5-{tag}.example.com"))),
            active: Some(true),
            ..base.clone()
        },
        ListQuery {
            organization_id: Some(format!("org_none_{tag}")),
            ..base.clone()
        },
    ];
    for q in cases {
        let (q, expected) = check(q);
        let page = repo.list(&q).await.expect("list");
        let got: Vec<_> = page.items.iter().map(|c| c.id.clone()).collect();
        assert_eq!(got, expected, "query {q:?}");
        let small = ListQuery {
            limit: 1,
            after: Some(ConnectionId::generate()),
            ..q.clone()
        };
        assert_eq!(
            repo.count(&small).await.expect("count"),
            expected.len() as u64,
            "count {q:?}"
        );
        assert_eq!(page.next_cursor, None);
        for c in &page.items {
            let original = all
                .iter()
                .find(|a| a.id == c.id)
                .expect("listed item exists");
            assert_eq!(c, original);
        }
    }
    // Unfiltered listings see them all, in id order.
    let ids = walk(
        repo,
        &ListQuery {
            limit: 5,
            order: Order::Asc,
            ..Default::default()
        },
    )
    .await;
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(ids, sorted);
    for c in &all {
        assert!(ids.contains(&c.id));
    }
}

/// Cursor pagination visits every match once, in order, in both directions.
pub async fn pagination(repo: &dyn Store) {
    let org = format!("org_pg_{}", ConnectionId::generate());
    let mut conns = Vec::new();
    for i in 0..23 {
        let mut c = saml_connection(&format!("p{i}"), &[], i % 4 == 0);
        c.organization_id = Some(org.clone());
        conns.push(c);
    }
    insert_all(repo, &conns).await;
    let ids: Vec<_> = conns.iter().map(|c| c.id.clone()).collect();
    for limit in [1, 5, 7, 23, 100] {
        let asc = walk(
            repo,
            &ListQuery {
                organization_id: Some(org.clone()),
                limit,
                order: Order::Asc,
                ..Default::default()
            },
        )
        .await;
        assert_eq!(asc, ids, "asc limit {limit}");
        let desc = walk(
            repo,
            &ListQuery {
                organization_id: Some(org.clone()),
                limit,
                order: Order::Desc,
                ..Default::default()
            },
        )
        .await;
        let mut rev = ids.clone();
        rev.reverse();
        assert_eq!(desc, rev, "desc limit {limit}");
    }
    let active = walk(
        repo,
        &ListQuery {
            organization_id: Some(org.clone()),
            active: Some(true),
            limit: 2,
            order: Order::Asc,
            ..Default::default()
        },
    )
    .await;
    let expected: Vec<_> = conns
        .iter()
        .filter(|c| c.active)
        .map(|c| c.id.clone())
        .collect();
    assert_eq!(active, expected);
    // A cursor past the end gives an empty last page.
    let last = ids.last().cloned();
    let page = repo
        .list(&ListQuery {
            organization_id: Some(org),
            after: last,
            order: Order::Asc,
            ..Default::default()
        })
        .await
        .expect("list");
    assert!(page.items.is_empty() && page.next_cursor.is_none());
}

/// Offset paging (Clerk) and `before` cursors (WorkOS) visit the same order as `after`
/// cursors, and `count` matches the filters exactly.
pub async fn offset_paging_and_counts(repo: &dyn Store) {
    let org = format!("org_off_{}", ConnectionId::generate());
    let mut conns = Vec::new();
    for i in 0..17 {
        let mut c = oidc_connection(&format!("off{i}"), &[], i % 3 == 0);
        c.organization_id = Some(org.clone());
        conns.push(c);
    }
    insert_all(repo, &conns).await;
    let svc = Connections::new(repo);
    let mut newest_first: Vec<_> = conns.iter().map(|c| c.id.clone()).collect();
    newest_first.reverse();
    let active_first: Vec<_> = newest_first
        .iter()
        .filter(|id| conns.iter().any(|c| &c.id == *id && c.active))
        .cloned()
        .collect();
    for (active, want) in [(None, newest_first.clone()), (Some(true), active_first)] {
        let q = ListQuery {
            organization_id: Some(org.clone()),
            active,
            ..Default::default()
        };
        assert_eq!(
            svc.count(&q).await.expect("count"),
            want.len() as u64,
            "count, active {active:?}"
        );
        for limit in [1, 4, 17, 40] {
            let mut seen = Vec::new();
            let mut offset = 0;
            loop {
                let page = svc
                    .list(&ListQuery {
                        offset,
                        limit,
                        ..q.clone()
                    })
                    .await
                    .expect("list");
                seen.extend(page.items.into_iter().map(|c| c.id));
                offset += limit;
                assert_eq!(page.next_cursor.is_some(), offset < want.len());
                if page.next_cursor.is_none() {
                    break;
                }
            }
            assert_eq!(
                seen, want,
                "offset paging, limit {limit}, active {active:?}"
            );
        }
        // Offset past the end: an empty page.
        let page = svc
            .list(&ListQuery {
                offset: want.len() + 3,
                ..q.clone()
            })
            .await
            .expect("list");
        assert!(page.items.is_empty() && page.next_cursor.is_none());
        // `before` walks back from the end to the start: each page is the one just
        // before its cursor, in the query's order.
        for order in [Order::Desc, Order::Asc] {
            let in_order: Vec<_> = match order {
                Order::Desc => want.clone(),
                Order::Asc => want.iter().rev().cloned().collect(),
            };
            let mut back = Vec::new();
            let mut before = in_order.last().cloned();
            back.extend(before.clone());
            while let Some(b) = before.take() {
                let page = svc
                    .list(&ListQuery {
                        before: Some(b),
                        limit: 3,
                        order,
                        ..q.clone()
                    })
                    .await
                    .expect("list before");
                assert!(page.items.len() <= 3);
                back.extend(page.items.iter().rev().map(|c| c.id.clone()));
                before = page.prev_cursor;
            }
            back.reverse();
            assert_eq!(
                back, in_order,
                "before paging, {order:?}, active {active:?}"
            );
        }
    }
    let both = svc
        .list(&ListQuery {
            after: Some(newest_first[0].clone()),
            before: Some(newest_first[1].clone()),
            ..Default::default()
        })
        .await;
    assert!(
        matches!(both, Err(Error::InvalidArgument { .. })),
        "{both:?}"
    );
}

/// A listing over several providers (WorkOS `GenericOIDC`) pages through exactly the
/// union, in order, forwards with `after` and backwards with `before`.
pub async fn listing_several_providers(repo: &dyn Store) {
    let org = format!("org_multi_{}", ConnectionId::generate());
    let providers = [
        Provider::OidcCustom,
        Provider::SamlOkta,
        Provider::OidcGitlab,
        Provider::OidcGithubEnterprise,
    ];
    let mut conns = Vec::new();
    for i in 0..14 {
        let p = providers[i % providers.len()];
        let mut c = if p.protocol() == crate::Protocol::Saml {
            saml_connection(&format!("multi{i}"), &[], false)
        } else {
            oidc_connection(&format!("multi{i}"), &[], false)
        };
        c.provider = p;
        c.organization_id = Some(org.clone());
        conns.push(c);
    }
    insert_all(repo, &conns).await;
    let svc = Connections::new(repo);
    let wanted = [
        Provider::OidcCustom,
        Provider::OidcGithubEnterprise,
        Provider::OidcGitlab,
    ];
    for order in [Order::Desc, Order::Asc] {
        let mut want: Vec<_> = conns
            .iter()
            .filter(|c| wanted.contains(&c.provider))
            .map(|c| c.id.clone())
            .collect();
        if order == Order::Desc {
            want.reverse();
        }
        for limit in [1, 3, 4, 50] {
            let q = ListQuery {
                organization_id: Some(org.clone()),
                limit,
                order,
                ..Default::default()
            };
            let mut forward = Vec::new();
            let mut after = None;
            let last = loop {
                let page = svc
                    .list_any_provider(&ListQuery { after, ..q.clone() }, &wanted)
                    .await
                    .expect("list");
                assert!(page.items.len() <= limit);
                forward.extend(page.items.iter().map(|c| c.id.clone()));
                after = page.next_cursor.clone();
                if after.is_none() {
                    break page;
                }
            };
            assert_eq!(forward, want, "forward, {order:?}, limit {limit}");
            let mut back: Vec<_> = last.items.iter().map(|c| c.id.clone()).collect();
            let mut before = last.prev_cursor;
            while let Some(b) = before.take() {
                let page = svc
                    .list_any_provider(
                        &ListQuery {
                            before: Some(b),
                            ..q.clone()
                        },
                        &wanted,
                    )
                    .await
                    .expect("list before");
                assert!(page.items.len() <= limit);
                back.splice(0..0, page.items.iter().map(|c| c.id.clone()));
                before = page.prev_cursor;
            }
            assert_eq!(back, want, "backward, {order:?}, limit {limit}");
        }
    }
    let offset = svc
        .list_any_provider(
            &ListQuery {
                offset: 1,
                ..Default::default()
            },
            &wanted,
        )
        .await;
    assert!(
        matches!(offset, Err(Error::InvalidArgument { .. })),
        "{offset:?}"
    );
}

/// Paging while another thread inserts neither skips nor repeats an existing record.
pub async fn pagination_under_concurrent_inserts(repo: &dyn Store) {
    let org = format!("org_cc_{}", ConnectionId::generate());
    let make = |i: usize| {
        let mut c = oidc_connection(&format!("cc{i}"), &[], false);
        c.organization_id = Some(org.clone());
        c
    };
    let before: Vec<_> = (0..40).map(make).collect();
    insert_all(repo, &before).await;
    let later: Vec<_> = (40..80).map(make).collect();
    let before_ids: HashSet<_> = before.iter().map(|c| c.id.clone()).collect();
    for order in [Order::Asc, Order::Desc] {
        let batch: Vec<_> = later
            .iter()
            .map(|c| {
                let mut c = c.clone();
                c.id = ConnectionId::generate();
                c
            })
            .collect();
        let seen = std::thread::scope(|s| {
            s.spawn(|| block_on(insert_all(repo, &batch)));
            let q = ListQuery {
                organization_id: Some(org.clone()),
                limit: 3,
                order,
                ..Default::default()
            };
            s.spawn(move || block_on(walk(repo, &q)))
                .join()
                .expect("pager thread")
        });
        let unique: HashSet<_> = seen.iter().cloned().collect();
        assert_eq!(
            unique.len(),
            seen.len(),
            "{order:?}: an id was listed twice"
        );
        assert!(
            before_ids.is_subset(&unique),
            "{order:?}: an existing id was skipped"
        );
        let mut sorted = seen.clone();
        sorted.sort();
        if order == Order::Desc {
            sorted.reverse();
        }
        assert_eq!(seen, sorted, "{order:?}: out of order");
    }
}

/// Email routing through the service: exact domain, then the nearest parent that allows
/// subdomains; inactive connections are skipped.
pub async fn routing(repo: &dyn Store) {
    let svc = Connections::new(repo);
    let tag = unique_tag();
    let d = |s: &str| format!("{s}.rt-{tag}.com");
    let mut parent = saml_connection("parent", &[&d("corp")], true);
    parent.allow_subdomains = true;
    let exact = oidc_connection("exact", &[&d("eu.corp")], true);
    let inactive = oidc_connection("inactive", &[&d("us.corp")], false);
    let strict = saml_connection("strict", &[&d("strict")], true);
    let off = saml_connection("off", &[&d("off")], false);
    insert_all(
        repo,
        &[
            parent.clone(),
            exact.clone(),
            inactive.clone(),
            strict.clone(),
            off.clone(),
        ],
    )
    .await;
    let route = |email: String| {
        let svc = &svc;
        async move { svc.route_email(&email).await.map(|c| c.map(|c| c.id)) }
    };
    assert_eq!(
        route(format!("a@{}", d("corp"))).await.expect("route"),
        Some(parent.id.clone())
    );
    assert_eq!(
        route(format!("a@{}", d("CORP").to_uppercase()))
            .await
            .expect("route"),
        Some(parent.id.clone())
    );
    assert_eq!(
        route(format!("a@{}", d("eu.corp"))).await.expect("route"),
        Some(exact.id.clone())
    );
    assert_eq!(
        route(format!("a@x.y.{}", d("eu.corp")))
            .await
            .expect("route"),
        Some(parent.id.clone())
    );
    assert_eq!(
        route(format!("a@{}", d("us.corp"))).await.expect("route"),
        Some(parent.id.clone())
    );
    assert_eq!(
        route(format!("a@deep.sub.{}", d("corp")))
            .await
            .expect("route"),
        Some(parent.id.clone())
    );
    assert_eq!(
        route(format!("a@{}", d("strict"))).await.expect("route"),
        Some(strict.id.clone())
    );
    assert_eq!(
        route(format!("a@sub.{}", d("strict")))
            .await
            .expect("route"),
        None
    );
    assert_eq!(route(format!("a@{}", d("off"))).await.expect("route"), None);
    assert_eq!(
        route(format!("a@nobody-{tag}.com")).await.expect("route"),
        None
    );
    assert_eq!(route("a@com".to_string()).await.expect("route"), None);
    for bad in [
        "",
        "no-at-sign",
        "@acme.com",
        "a@",
        "a@exa mple.com",
        "a@-x.com",
    ] {
        match svc.route_email(bad).await {
            Err(Error::InvalidEmail { .. }) => {}
            other => panic!("route_email({bad:?}) = {other:?}"),
        }
    }
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

/// Several threads update the same connections through the service: no update is lost,
/// and the final state equals a serial replay of the accepted patches in version order.
pub async fn concurrent_updates_lose_nothing(repo: &dyn Store) {
    use std::sync::Arc;
    let svc = Connections::new(repo)
        .with_max_retries(10_000)
        .with_clock(Arc::new(|| 4_102_444_800_000));
    let tag = unique_tag();
    let targets: Vec<_> = (0..3)
        .map(|i| saml_connection(&format!("conc{i}"), &[], false))
        .collect();
    insert_all(repo, &targets).await;
    const THREADS: usize = 4;
    const UPDATES: usize = 15;
    let accepted = std::thread::scope(|s| {
        let handles: Vec<_> = (0..THREADS)
            .map(|t| {
                let (svc, targets, tag) = (&svc, &targets, &tag);
                s.spawn(move || {
                    let mut out = Vec::new();
                    for u in 0..UPDATES {
                        let target = &targets[(t + u) % targets.len()];
                        let mut patch = UpdateConnection {
                            name: Patch::Value(format!("t{t}-u{u}")),
                            ..Default::default()
                        };
                        match u % 3 {
                            0 => patch.domains = Patch::Value(vec![format!("t{t}-u{u}-{tag}.com")]),
                            1 => patch.active = Patch::Value(u % 2 == 0),
                            _ => {
                                patch.organization_id = if u % 2 == 0 {
                                    Patch::Null
                                } else {
                                    Patch::Value(format!("org_{t}"))
                                }
                            }
                        }
                        let next = block_on(svc.update(&target.id, &patch)).expect("update");
                        out.push((target.id.clone(), next.version, patch));
                    }
                    out
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("updater thread"))
            .collect::<Vec<_>>()
    });
    assert_eq!(accepted.len(), THREADS * UPDATES);
    for t in &targets {
        let mut mine: Vec<_> = accepted.iter().filter(|(id, _, _)| *id == t.id).collect();
        mine.sort_by_key(|(_, v, _)| *v);
        let mut replay = t.clone();
        for (_, version, patch) in mine {
            replay =
                crate::merge::merge(&replay, patch, 4_102_444_800_000).expect("replayed patch");
            assert_eq!(
                replay.version, *version,
                "versions are dense: no update lost"
            );
        }
        assert_eq!(
            must_get(repo, &t.id).await,
            replay,
            "final state equals the serial replay"
        );
    }
}

/// 64 writers in this process (OS threads, each with its own `Connections`) × 50 PATCHes
/// of one connection, with no retries allowed: none fails with a version conflict, because
/// in-process writers take turns; a conflict can only come from another process.
pub async fn in_process_writers_never_conflict(repo: &dyn Store) {
    const THREADS: usize = 64;
    const PATCHES: usize = 50;
    let target = saml_connection("contended", &[], false);
    insert_all(repo, std::slice::from_ref(&target)).await;
    let conflicts = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let (target, conflicts) = (&target, &conflicts);
            s.spawn(move || {
                let svc = Connections::new(repo).with_max_retries(0);
                for p in 0..PATCHES {
                    let patch = UpdateConnection {
                        name: Patch::Value(format!("t{t}-p{p}")),
                        ..Default::default()
                    };
                    match block_on(svc.update(&target.id, &patch)) {
                        Ok(_) => {}
                        Err(Error::VersionConflict { .. }) => {
                            conflicts.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        }
                        Err(e) => panic!("{e:?}"),
                    }
                }
            });
        }
    });
    assert_eq!(conflicts.into_inner(), 0, "in-process writers conflicted");
    assert_eq!(
        must_get(repo, &target.id).await.version,
        1 + (THREADS * PATCHES) as u64
    );
}

/// WorkOS state: inactive, validating after activation, active after the first sign-in
/// (recorded once).
pub async fn state_transitions(repo: &dyn Store) {
    use crate::connection::ConnectionState;
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

/// Connections whose certificates all expire before a time (the latest expiry of the set,
/// see [`crate::cert_set`]), soonest first, all of them; kept current through updates and
/// deletes.
pub async fn certificate_expiry_query(repo: &dyn Store) {
    let with_expiries = |name: &str, expiries: &[i64]| {
        let mut c = saml_connection(name, &[], false);
        if let ProtocolConfig::Saml(s) = &mut c.config {
            s.idp_certificates = expiries
                .iter()
                .map(|t| IdpCertificate {
                    pem: TEST_CERT_PEM.to_owned(),
                    issued_at: t - 1_000,
                    expires_at: *t,
                })
                .collect();
            s.idp_certificate_expires_at = expiries.first().copied();
            if expiries.is_empty() {
                s.idp_certificate = None;
                s.idp_certificate_issued_at = None;
            }
        }
        c
    };
    let with_expiry = |name: &str, t: Option<i64>| with_expiries(name, t.as_slice());
    // Far in the past, so other cases' connections (which expire in 2124) never match.
    let base = -1_000_000_000_000i64;
    let late = with_expiry("late", Some(base + 300));
    let early = with_expiry("early", Some(base + 100));
    let mid = with_expiry("mid", Some(base + 200));
    let none = with_expiry("none", None);
    let oidc = oidc_connection("oidc-exp", &[], false);
    // A rotation in progress: the old certificate expires first, its successor last; only
    // the successor's expiry counts.
    let rotating = with_expiries("rotating", &[base + 50, base + 400]);
    insert_all(
        repo,
        &[
            late.clone(),
            early.clone(),
            mid.clone(),
            none.clone(),
            oidc,
            rotating.clone(),
        ],
    )
    .await;
    assert_eq!(
        must_get(repo, &rotating.id).await,
        rotating,
        "the set round-trips"
    );
    let ids = |v: Vec<EnterpriseConnection>| v.into_iter().map(|c| c.id).collect::<Vec<_>>();
    let got = ids(repo
        .certificates_expiring_before(base + 250)
        .await
        .expect("query"));
    assert_eq!(got, vec![early.id.clone(), mid.id.clone()]);
    let got = ids(repo
        .certificates_expiring_before(base + 100)
        .await
        .expect("query"));
    assert!(got.is_empty(), "strictly before: {got:?}");
    // Renewing a certificate moves it out; deleting removes it.
    let mut renewed = with_expiries("early", &[base + 100, base + 1_000]);
    renewed.id = early.id.clone();
    renewed.version = 2;
    repo.update(&renewed, 1).await.expect("renew");
    assert!(repo.delete(&mid.id, now_ms()).await.expect("delete"));
    let got = ids(repo
        .certificates_expiring_before(base + 2_000)
        .await
        .expect("query"));
    assert_eq!(
        got,
        vec![late.id.clone(), rotating.id.clone(), renewed.id.clone()]
    );
    // Many at once: no silent cap.
    let many: Vec<_> = (0..60)
        .map(|i| with_expiry(&format!("m{i}"), Some(base + 10 + i)))
        .collect();
    insert_all(repo, &many).await;
    assert_eq!(
        repo.certificates_expiring_before(base + 70)
            .await
            .expect("query")
            .len(),
        60
    );
}
