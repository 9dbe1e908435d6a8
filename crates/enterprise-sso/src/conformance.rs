//! The conformance suite every [`ConnectionRepo`](crate::ConnectionRepo) runs (feature `testing`).
//!
//! Each case is a plain async function taking the repository under test; they panic on
//! failure. [`conformance_tests!`](crate::conformance_tests) stamps all of them into
//! `#[test]` functions given a constructor returning `(repo, guard)`, where `guard` keeps
//! whatever the repository needs alive (a temporary directory, or `()`):
//!
//! ```
//! mod conformance {
//!     enterprise_sso::conformance_tests!(|| (enterprise_sso::MemoryRepo::new(), ()));
//! }
//! ```
//!
//! Cases run their futures with a small executor ([`block_on`]) and use OS threads for
//! concurrency, so the suite needs no async runtime.

use std::collections::HashSet;

use crate::account::{Assertion, EnterpriseAccount, Verification};
use crate::connection::{EnterpriseConnection, ProtocolConfig};
use crate::domain::Domain;
use crate::error::Error;
use crate::ids::{AccountId, ConnectionId};
use crate::merge::build;
use crate::patch::{CreateConnection, OidcPatch, Patch, SamlPatch, UpdateConnection};
use crate::provider::Provider;
use crate::repo::{AccountQuery, ListQuery, Order, Store};
use crate::secret::ClientSecret;
use crate::service::{now_ms, Connections};

pub use futures_executor::block_on;

/// A self-signed IdP certificate valid from 2024-01-01 to 2124-01-01, for tests.
pub const TEST_CERT_PEM: &str = include_str!("testdata/idp_cert.pem");

/// The names of every case, in the order the macro stamps them.
pub const CASES: &[&str] = &[
    "crud",
    "insert_duplicate_id",
    "cas_conflict",
    "domain_conflicts",
    "domains_released_on_change_and_delete",
    "nested_config_and_secret_round_trip",
    "filters",
    "pagination",
    "pagination_under_concurrent_inserts",
    "routing",
    "failed_writes_change_nothing",
    "concurrent_updates_lose_nothing",
    "in_process_writers_never_conflict",
    "state_transitions",
    "certificate_expiry_query",
    "account_crud",
    "account_lookups_and_pagination",
    "deleting_a_connection_unlinks_its_accounts",
    "sign_in_creates_then_finds_the_account",
    "refused_sign_ins_write_nothing",
    "concurrent_first_sign_ins_make_one_account",
    "sign_in_honours_routing",
    "bad_inputs_change_nothing",
];

/// Stamps every conformance case into a `#[test]`. The argument is an expression that,
/// called with no arguments, returns `(repo, guard)` where `repo` implements both
/// [`ConnectionRepo`](crate::ConnectionRepo) and [`crate::AccountRepo`]. With `if available, make`, each test
/// first calls `available()` and returns at once when it is false (for stores that need a
/// server the machine may not have; the caller decides whether that is allowed).
#[macro_export]
macro_rules! conformance_tests {
    (if $available:expr, $make:expr) => {
        $crate::conformance_tests!(@cases_if $available, $make;
            crud, insert_duplicate_id, cas_conflict, domain_conflicts,
            domains_released_on_change_and_delete, nested_config_and_secret_round_trip,
            filters, pagination, pagination_under_concurrent_inserts, routing,
            failed_writes_change_nothing, concurrent_updates_lose_nothing,
            in_process_writers_never_conflict, state_transitions,
            certificate_expiry_query, account_crud, account_lookups_and_pagination,
            deleting_a_connection_unlinks_its_accounts, sign_in_creates_then_finds_the_account,
            refused_sign_ins_write_nothing, concurrent_first_sign_ins_make_one_account,
            sign_in_honours_routing, bad_inputs_change_nothing);
    };
    ($make:expr) => {
        $crate::conformance_tests!(if || true, $make);
    };
    (@cases_if $available:expr, $make:expr; $($case:ident),* $(,)?) => {
        $(
            #[test]
            fn $case() {
                if !($available)() {
                    return;
                }
                let fixture = ($make)();
                $crate::conformance::block_on($crate::conformance::$case(&fixture.0));
            }
        )*
    };
}

/// A valid SAML connection (inactive unless `active`), claiming `domains`.
pub fn saml_connection(name: &str, domains: &[&str], active: bool) -> EnterpriseConnection {
    let mut p = CreateConnection::new(Provider::SamlOkta, name);
    p.domains = Some(domains.iter().map(|d| d.to_string()).collect());
    p.active = Some(active);
    p.saml = Some(SamlPatch {
        idp_entity_id: Patch::Value(format!("https://idp.example.com/{name}")),
        idp_sso_url: Patch::Value("https://idp.example.com/sso".into()),
        idp_certificate: Patch::Value(TEST_CERT_PEM.into()),
        ..Default::default()
    });
    expect_built(&p)
}

/// A valid confidential OIDC client (inactive unless `active`), claiming `domains`.
pub fn oidc_connection(name: &str, domains: &[&str], active: bool) -> EnterpriseConnection {
    let mut p = CreateConnection::new(Provider::OidcCustom, name);
    p.domains = Some(domains.iter().map(|d| d.to_string()).collect());
    p.active = Some(active);
    p.oidc = Some(OidcPatch {
        client_id: Patch::Value(format!("client-{name}")),
        client_secret: Patch::Value(ClientSecret::new(format!("secret-{name}"))),
        discovery_url: Patch::Value(
            "https://idp.example.com/.well-known/openid-configuration".into(),
        ),
        ..Default::default()
    });
    expect_built(&p)
}

fn expect_built(p: &CreateConnection) -> EnterpriseConnection {
    match build(p, ConnectionId::generate(), now_ms()) {
        Ok(c) => c,
        Err(e) => panic!("fixture does not validate: {e}"),
    }
}

/// A fresh lower-case tag usable inside domain names, so cases never collide.
fn unique_tag() -> String {
    ConnectionId::generate().as_str()[4..].to_lowercase()
}

fn domain(s: &str) -> Domain {
    Domain::parse(s).unwrap_or_else(|e| panic!("bad fixture domain {s}: {e}"))
}

async fn must_get(repo: &dyn Store, id: &ConnectionId) -> EnterpriseConnection {
    match repo.get(id).await {
        Ok(Some(c)) => c,
        other => panic!("get({id}) = {other:?}"),
    }
}

async fn insert_all(repo: &dyn Store, conns: &[EnterpriseConnection]) {
    for c in conns {
        if let Err(e) = repo.insert(c).await {
            panic!("insert {}: {e}", c.id);
        }
    }
}

/// Walks every page of `query` and returns the ids in the order seen.
async fn walk(repo: &dyn Store, query: &ListQuery) -> Vec<ConnectionId> {
    let mut q = query.clone();
    let mut seen = Vec::new();
    for _ in 0..10_000 {
        let page = repo.list(&q).await.expect("list");
        assert!(page.items.len() <= q.limit, "page larger than limit");
        seen.extend(page.items.iter().map(|c| c.id.clone()));
        match page.next_cursor {
            Some(c) => {
                assert_eq!(
                    Some(&c),
                    page.items.last().map(|c| &c.id),
                    "cursor is the last item"
                );
                q.after = Some(c)
            }
            None => return seen,
        }
    }
    panic!("pagination did not end");
}

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
        }) => assert_eq!(id, a.id.to_string()),
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

/// Connections whose certificate expires before a time, soonest first, all of them; kept
/// current through updates and deletes.
pub async fn certificate_expiry_query(repo: &dyn Store) {
    let with_expiry = |name: &str, t: Option<i64>| {
        let mut c = saml_connection(name, &[], false);
        if let ProtocolConfig::Saml(s) = &mut c.config {
            s.idp_certificate_expires_at = t;
        }
        c
    };
    // Far in the past, so other cases' connections (which expire in 2124) never match.
    let base = -1_000_000_000_000i64;
    let late = with_expiry("late", Some(base + 300));
    let early = with_expiry("early", Some(base + 100));
    let mid = with_expiry("mid", Some(base + 200));
    let none = with_expiry("none", None);
    let oidc = oidc_connection("oidc-exp", &[], false);
    insert_all(
        repo,
        &[late.clone(), early.clone(), mid.clone(), none.clone(), oidc],
    )
    .await;
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
    let mut renewed = early.clone();
    if let ProtocolConfig::Saml(s) = &mut renewed.config {
        s.idp_certificate_expires_at = Some(base + 1_000);
    }
    renewed.version = 2;
    repo.update(&renewed, 1).await.expect("renew");
    assert!(repo.delete(&mid.id, now_ms()).await.expect("delete"));
    let got = ids(repo
        .certificates_expiring_before(base + 2_000)
        .await
        .expect("query"));
    assert_eq!(got, vec![late.id.clone(), renewed.id.clone()]);
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

// ---- accounts -----------------------------------------------------------------------------

/// A fresh account linked to `conn`.
pub fn account_for(conn: &EnterpriseConnection, subject: &str, email: &str) -> EnterpriseAccount {
    let now = now_ms();
    EnterpriseAccount {
        id: AccountId::generate(),
        active: true,
        email_address: email.to_owned(),
        enterprise_connection_id: Some(conn.id.clone()),
        first_name: Some("Jane".into()),
        last_name: None,
        protocol: conn.protocol(),
        provider: conn.provider,
        provider_user_id: Some(subject.to_owned()),
        public_metadata: serde_json::Map::from_iter([(
            "team".to_owned(),
            serde_json::json!(["a", 1]),
        )]),
        verification: Some(Verification::verified_by(conn)),
        last_authenticated_at: Some(now),
        created_at: now,
        updated_at: now,
        version: 1,
    }
}

async fn must_get_account(repo: &dyn Store, id: &AccountId) -> EnterpriseAccount {
    match repo.get_account(id).await {
        Ok(Some(a)) => a,
        other => panic!("get_account({id}) = {other:?}"),
    }
}

/// Insert, get, CAS update, delete; unique (connection, provider user id).
pub async fn account_crud(repo: &dyn Store) {
    let c = saml_connection("acc-crud", &[], true);
    insert_all(repo, std::slice::from_ref(&c)).await;
    let a = account_for(&c, "subject-1", "Jane@Acme.com");
    repo.insert_account(&a).await.expect("insert account");
    assert_eq!(must_get_account(repo, &a.id).await, a);
    assert_eq!(
        repo.get_account(&AccountId::generate()).await.expect("get"),
        None
    );
    assert!(matches!(
        repo.insert_account(&a).await,
        Err(Error::AlreadyExists { .. })
    ));
    let mut twin = account_for(&c, "subject-1", "other@acme.com");
    match repo.insert_account(&twin).await {
        Err(Error::AccountExists { id }) => assert_eq!(id, a.id),
        other => panic!("expected AccountExists, got {other:?}"),
    }
    twin.provider_user_id = Some("subject-2".into());
    repo.insert_account(&twin).await.expect("another subject");
    let orphan = account_for(&oidc_connection("never-stored", &[], true), "s", "x@y.com");
    assert!(matches!(
        repo.insert_account(&orphan).await,
        Err(Error::NotFound { .. })
    ));

    let mut a2 = a.clone();
    a2.first_name = Some("Janet".into());
    a2.version = 2;
    repo.update_account(&a2, 1).await.expect("update");
    assert_eq!(must_get_account(repo, &a.id).await, a2);
    let mut stale = a.clone();
    stale.version = 2;
    stale.last_name = Some("Stale".into());
    match repo.update_account(&stale, 1).await {
        Err(Error::VersionConflict {
            expected: 1,
            actual: 2,
            ..
        }) => {}
        other => panic!("expected a version conflict, got {other:?}"),
    }
    assert_eq!(must_get_account(repo, &a.id).await, a2);
    assert!(repo.delete_account(&a.id).await.expect("delete"));
    assert!(!repo.delete_account(&a.id).await.expect("delete twice"));
    assert_eq!(
        repo.find_account_by_subject(&c.id, "subject-1")
            .await
            .expect("find"),
        None
    );
    let mut again = account_for(&c, "subject-1", "jane@acme.com");
    again.id = AccountId::generate();
    repo.insert_account(&again)
        .await
        .expect("subject free again after delete");
}

/// By subject, by email (case-insensitive, across connections), and cursor pages per
/// connection in both orders.
pub async fn account_lookups_and_pagination(repo: &dyn Store) {
    let c1 = saml_connection("acc-l1", &[], true);
    let c2 = oidc_connection("acc-l2", &[], true);
    insert_all(repo, &[c1.clone(), c2.clone()]).await;
    let tag = unique_tag();
    let mut mine = Vec::new();
    for i in 0..13 {
        let a = account_for(&c1, &format!("s{i}"), &format!("user{i}@{tag}.com"));
        repo.insert_account(&a).await.expect("insert");
        mine.push(a);
    }
    let shared = account_for(&c2, "s0", &format!("USER0@{tag}.COM"));
    repo.insert_account(&shared)
        .await
        .expect("same subject, other connection");
    let found = repo
        .find_account_by_subject(&c1.id, "s3")
        .await
        .expect("find");
    assert_eq!(found.as_ref(), Some(&mine[3]));
    assert_eq!(
        repo.find_account_by_subject(&c1.id, "nope")
            .await
            .expect("find"),
        None
    );
    let by_email = repo
        .find_accounts_by_email(&format!(" User0@{tag}.com "))
        .await
        .expect("email");
    assert_eq!(by_email, vec![mine[0].clone(), shared.clone()]);
    for (order, limit) in [
        (Order::Asc, 4),
        (Order::Desc, 5),
        (Order::Asc, 13),
        (Order::Desc, 100),
    ] {
        let mut q = AccountQuery {
            limit,
            order,
            ..Default::default()
        };
        let mut seen = Vec::new();
        loop {
            let page = repo.list_accounts(&c1.id, &q).await.expect("list");
            assert!(page.items.len() <= limit);
            seen.extend(page.items.iter().map(|a| a.id.clone()));
            match page.next_cursor {
                Some(c) => q.after = Some(c),
                None => break,
            }
        }
        let mut want: Vec<_> = mine.iter().map(|a| a.id.clone()).collect();
        if order == Order::Desc {
            want.reverse();
        }
        assert_eq!(seen, want, "{order:?} limit {limit}");
    }
    let other = repo
        .list_accounts(&c2.id, &AccountQuery::default())
        .await
        .expect("list");
    assert_eq!(other.items, vec![shared]);
}

/// Deleting a connection keeps its accounts, deactivated and unlinked, in the same write.
pub async fn deleting_a_connection_unlinks_its_accounts(repo: &dyn Store) {
    let c = oidc_connection("acc-del", &[], true);
    let keep = saml_connection("acc-keep", &[], true);
    insert_all(repo, &[c.clone(), keep.clone()]).await;
    let a = account_for(&c, "u1", "u1@del.example.com");
    let b = account_for(&c, "u2", "u2@del.example.com");
    let k = account_for(&keep, "u1", "u1@keep.example.com");
    for x in [&a, &b, &k] {
        repo.insert_account(x).await.expect("insert");
    }
    let at = now_ms() + 5_000;
    assert!(repo.delete(&c.id, at).await.expect("delete connection"));
    for x in [&a, &b] {
        let got = must_get_account(repo, &x.id).await;
        assert_eq!(got, x.unlinked(at));
        assert!(!got.active && got.enterprise_connection_id.is_none() && got.updated_at == at);
    }
    assert_eq!(
        must_get_account(repo, &k.id).await,
        k,
        "other connections' accounts untouched"
    );
    assert_eq!(
        repo.find_account_by_subject(&c.id, "u1")
            .await
            .expect("find"),
        None
    );
    assert!(repo
        .list_accounts(&c.id, &AccountQuery::default())
        .await
        .expect("list")
        .items
        .is_empty());
    let by_email = repo
        .find_accounts_by_email("u1@del.example.com")
        .await
        .expect("email");
    assert_eq!(
        by_email,
        vec![a.unlinked(at)],
        "unlinked accounts are still found by email"
    );
}

fn sign_in_connection(name: &str, tag: &str, sync: bool) -> EnterpriseConnection {
    let mut c = saml_connection(name, &[&format!("{tag}.com")], true);
    c.allow_subdomains = true;
    c.sync_user_attributes = sync;
    c
}

/// The first sign-in creates the account and activates the connection; later ones find
/// it again, refreshing attributes only with sync on.
pub async fn sign_in_creates_then_finds_the_account(repo: &dyn Store) {
    use crate::connection::ConnectionState;
    let tag = unique_tag();
    for sync in [false, true] {
        let svc = Connections::new(repo);
        let c = sign_in_connection(&format!("si-{sync}"), &format!("{tag}{sync}"), sync);
        insert_all(repo, std::slice::from_ref(&c)).await;
        assert_eq!(c.state(), ConnectionState::Validating);
        let first = Assertion::new("nameid-1", [("firstName", "Ann")])
            .with_email(&format!("Ann@EU.{tag}{sync}.COM"));
        let s1 = svc
            .record_sign_in(&c.id, &first)
            .await
            .expect("first sign-in");
        assert!(s1.created);
        assert_eq!(s1.connection.state(), ConnectionState::Active);
        assert_eq!(
            s1.account.email_address,
            format!("Ann@eu.{tag}{sync}.com"),
            "domain normalised"
        );
        assert_eq!(s1.account.first_name.as_deref(), Some("Ann"));
        assert_eq!(s1.account.enterprise_connection_id.as_ref(), Some(&c.id));
        let second = Assertion::new("nameid-1", [("firstName", "Annie")])
            .with_email(&format!("ann.new@{tag}{sync}.com"));
        let s2 = svc
            .record_sign_in(&c.id, &second)
            .await
            .expect("second sign-in");
        assert!(!s2.created);
        assert_eq!(s2.account.id, s1.account.id);
        assert_eq!(s2.account.version, 2);
        assert_eq!(
            s2.connection.version, s1.connection.version,
            "activated only once"
        );
        if sync {
            assert_eq!(s2.account.first_name.as_deref(), Some("Annie"));
            assert_eq!(s2.account.email_address, format!("ann.new@{tag}{sync}.com"));
        } else {
            assert_eq!(s2.account.first_name.as_deref(), Some("Ann"));
            assert_eq!(s2.account.email_address, s1.account.email_address);
        }
        assert_eq!(must_get_account(repo, &s1.account.id).await, s2.account);
        assert_eq!(must_get(repo, &c.id).await, s2.connection);
    }
}

/// Inactive or unknown connection, email outside the domains, missing subject or email:
/// typed refusals, and nothing written.
pub async fn refused_sign_ins_write_nothing(repo: &dyn Store) {
    use crate::account::SignInRefusal as R;
    let tag = unique_tag();
    let svc = Connections::new(repo);
    let c = sign_in_connection("refuse", &tag, false);
    let mut strict = saml_connection("refuse-strict", &[&format!("strict-{tag}.com")], true);
    strict.allow_subdomains = false;
    let mut off = sign_in_connection("refuse-off", &format!("off-{tag}"), false);
    off.active = false;
    insert_all(repo, &[c.clone(), strict.clone(), off.clone()]).await;
    let ok_email = format!("a@{tag}.com");
    let cases: Vec<(&EnterpriseConnection, Assertion, R)> = vec![
        (
            &off,
            Assertion::new("s", []).with_email(&format!("a@off-{tag}.com")),
            R::ConnectionInactive,
        ),
        (
            &c,
            Assertion::new("s", []).with_email(&format!("a@{tag}.org")),
            R::EmailOutsideDomains,
        ),
        (
            &c,
            Assertion::new("s", []).with_email(&format!("a@not{tag}.com")),
            R::EmailOutsideDomains,
        ),
        (
            &strict,
            Assertion::new("s", []).with_email(&format!("a@sub.strict-{tag}.com")),
            R::EmailOutsideDomains,
        ),
        (
            &c,
            Assertion {
                subject: None,
                ..Assertion::new("x", []).with_email(&ok_email)
            },
            R::MissingSubject,
        ),
        (
            &c,
            Assertion {
                subject: Some("  ".into()),
                ..Assertion::new("x", []).with_email(&ok_email)
            },
            R::MissingSubject,
        ),
        (
            &c,
            Assertion::new("no-email-subject", [("firstName", "X")]),
            R::MissingEmail,
        ),
        (
            &c,
            Assertion::new("s", []).with_email("not-an-email"),
            R::InvalidEmail,
        ),
        // Two `@`: routing and sign-in share one parser, so this is no email of `{tag}`.
        (
            &c,
            Assertion::new("s", []).with_email(&format!("jane@evil.org@{tag}.com")),
            R::InvalidEmail,
        ),
        (
            &c,
            Assertion::new("s", []).with_email(&format!("{}@{tag}.com", "j".repeat(10_000))),
            R::InvalidEmail,
        ),
        (
            &c,
            Assertion::new(&"s".repeat(1025), []).with_email(&ok_email),
            R::InvalidField {
                field: "subject",
                kind: crate::validate::FieldErrorKind::TooLong { max: 1024 },
            },
        ),
        (
            &c,
            Assertion::new("s", [("firstName", "x".repeat(2 * 1024 * 1024).as_str())])
                .with_email(&ok_email),
            R::InvalidField {
                field: "first_name",
                kind: crate::validate::FieldErrorKind::TooLong { max: 256 },
            },
        ),
        (
            &c,
            Assertion::new("s", [("lastName", "Doe\u{0}")]).with_email(&ok_email),
            R::InvalidField {
                field: "last_name",
                kind: crate::validate::FieldErrorKind::ControlCharacters,
            },
        ),
    ];
    for (conn, assertion, want) in cases {
        match svc.record_sign_in(&conn.id, &assertion).await {
            Err(Error::SignInRefused(r)) => assert_eq!(r, want, "{assertion:?}"),
            other => panic!("{assertion:?}: expected {want:?}, got {other:?}"),
        }
        assert_eq!(
            must_get(repo, &conn.id).await,
            *conn,
            "connection unchanged"
        );
        let page = repo
            .list_accounts(&conn.id, &AccountQuery::default())
            .await
            .expect("list");
        assert!(page.items.is_empty(), "no account written");
    }
    let unknown = svc
        .record_sign_in(
            &ConnectionId::generate(),
            &Assertion::new("s", []).with_email(&ok_email),
        )
        .await;
    assert!(
        matches!(unknown, Err(Error::NotFound { .. })),
        "{unknown:?}"
    );
}

/// Sign-in honours routing: a connection that claims `corp` with subdomains allowed may not
/// vouch for an email that routing sends to another connection's more specific claim
/// (another tenant's users), and nothing is written; through the owner it works, and once
/// the owner is inactive routing (and so sign-in) falls back to the parent claim.
pub async fn sign_in_honours_routing(repo: &dyn Store) {
    use crate::account::SignInRefusal as R;
    let tag = unique_tag();
    let svc = Connections::new(repo);
    let a = sign_in_connection("tenant-a", &tag, false);
    let b = saml_connection("tenant-b", &[&format!("eng.{tag}.com")], true);
    insert_all(repo, &[a.clone(), b.clone()]).await;
    let sales = Assertion::new("sales-1", []).with_email(&format!("x@sales.{tag}.com"));
    svc.record_sign_in(&a.id, &sales)
        .await
        .expect("a subdomain nobody else claims");
    let ceo = Assertion::new("ceo", []).with_email(&format!("ceo@eng.{tag}.com"));
    let a_before = must_get(repo, &a.id).await;
    match svc.record_sign_in(&a.id, &ceo).await {
        Err(Error::SignInRefused(R::EmailOutsideDomains)) => {}
        other => panic!("tenant A signed in tenant B's user: {other:?}"),
    }
    assert_eq!(must_get(repo, &a.id).await, a_before, "nothing written");
    assert_eq!(
        repo.find_account_by_subject(&a.id, "ceo")
            .await
            .expect("find"),
        None
    );
    let routed = svc
        .route_email(&format!("ceo@eng.{tag}.com"))
        .await
        .expect("route")
        .map(|c| c.id);
    assert_eq!(routed.as_ref(), Some(&b.id));
    let through_b = svc.record_sign_in(&b.id, &ceo).await.expect("through B");
    assert_eq!(
        through_b.account.enterprise_connection_id.as_ref(),
        Some(&b.id)
    );
    // B deactivated: routing sends eng.{tag}.com to A again, and A may vouch for it.
    let mut b_off = must_get(repo, &b.id).await;
    let b_version = b_off.version;
    b_off.active = false;
    b_off.version += 1;
    repo.update(&b_off, b_version).await.expect("deactivate B");
    svc.record_sign_in(&a.id, &ceo)
        .await
        .expect("routing falls back to A");
}

/// Many threads signing in the same new user make one account, and the connection turns
/// active exactly once.
pub async fn concurrent_first_sign_ins_make_one_account(repo: &dyn Store) {
    let tag = unique_tag();
    let svc = Connections::new(repo).with_max_retries(1_000);
    let c = sign_in_connection("race", &tag, true);
    insert_all(repo, std::slice::from_ref(&c)).await;
    const THREADS: usize = 6;
    let results: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..THREADS)
            .map(|t| {
                let (svc, c, tag) = (&svc, &c, &tag);
                s.spawn(move || {
                    let a = Assertion::new("same-user", [("firstName", "T")])
                        .with_email(&format!("u{t}@{tag}.com"));
                    block_on(svc.record_sign_in(&c.id, &a)).expect("sign-in")
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect()
    });
    let ids: HashSet<_> = results.iter().map(|r| r.account.id.clone()).collect();
    assert_eq!(ids.len(), 1, "exactly one account");
    assert_eq!(
        results.iter().filter(|r| r.created).count(),
        1,
        "created once"
    );
    let stored = must_get(repo, &c.id).await;
    assert!(stored.first_authenticated_at.is_some());
    assert_eq!(stored.version, c.version + 1, "activated exactly once");
    let page = repo
        .list_accounts(&c.id, &AccountQuery::default())
        .await
        .expect("list");
    assert_eq!(page.items.len(), 1);
    assert_eq!(
        page.items[0].version as usize, THREADS,
        "every sign-in recorded"
    );
}

// ---- a table of bad inputs --------------------------------------------------------------

/// Create bodies (JSON) that must be refused, with the error code each gets.
pub fn bad_create_inputs() -> Vec<(String, &'static str)> {
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
            saml(json!({"login_hint": {"mode": "off"}})),
            "form_param_unknown",
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
        (
            saml(json!({"idp_certificate": format!("{TEST_CERT_PEM}{TEST_CERT_PEM}")})),
            "saml_certificate_invalid",
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
    for (name, build) in crate::xml_limits::hostile::SHAPES {
        if *name != "widest_allowed" {
            v.push((
                saml(json!({"idp_metadata": build(usize::MAX)})),
                "saml_failed_to_parse_idp_metadata",
            ));
        }
    }
    v
}

/// A PEM private key block (a throwaway value with a valid shape), for the table above.
const KEY_PEM: &str = "-----BEGIN PRIVATE KEY-----\nMIIBVgIBADANBgkqhkiG9w0BAQEFAASCAUAwggE8AgEAAkEAq7BFUpkGp3+LQmlQ\n-----END PRIVATE KEY-----\n";

/// Each bad input gets its error code, and the store is exactly as it was afterwards.
pub async fn bad_inputs_change_nothing(repo: &dyn Store) {
    use crate::wire::{decode_create, decode_update, ApiErrors};
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
