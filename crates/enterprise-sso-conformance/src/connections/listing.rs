//! Listings: filters, cursor and offset paging, several providers, paging under concurrent inserts.

use std::collections::HashSet;

use enterprise_sso::ConnectionId;
use enterprise_sso::Connections;
use enterprise_sso::Error;
use enterprise_sso::Provider;
use enterprise_sso::{ListQuery, Order, Store};
use futures_executor::block_on;

use crate::fixtures::*;

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
        let mut c = if p.protocol() == enterprise_sso::Protocol::Saml {
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
