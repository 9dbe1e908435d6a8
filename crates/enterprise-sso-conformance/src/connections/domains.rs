//! Domain claims: one owner per domain, released on change and delete.

use enterprise_sso::now_ms;
use enterprise_sso::Error;
use enterprise_sso::Store;
use enterprise_sso::UnixMillis;

use crate::fixtures::*;

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
            let body = enterprise_sso_wire::ApiErrors::from(&e).to_string();
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
    assert!(repo
        .delete(&a.id, UnixMillis::new(now_ms()))
        .await
        .expect("delete"));
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
