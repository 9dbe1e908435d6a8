//! Account cases: CRUD, lookups, paging, and the unlinking of accounts when their connection is deleted.

use enterprise_sso::now_ms;
use enterprise_sso::AccountId;
use enterprise_sso::Error;
use enterprise_sso::UnixMillis;
use enterprise_sso::{AccountQuery, Order, Store};

use crate::fixtures::*;

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
    assert!(repo
        .delete_account(&a.id, UnixMillis::new(now_ms()))
        .await
        .expect("delete"));
    assert!(!repo
        .delete_account(&a.id, UnixMillis::new(now_ms()))
        .await
        .expect("delete twice"));
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
    assert!(repo
        .delete(&c.id, UnixMillis::new(at))
        .await
        .expect("delete connection"));
    for x in [&a, &b] {
        let got = must_get_account(repo, &x.id).await;
        assert_eq!(got, x.unlinked(at));
        assert!(
            !got.active
                && got.enterprise_connection_id.is_none()
                && got.updated_at == UnixMillis::new(at)
        );
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
