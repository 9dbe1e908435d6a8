//! Email routing through the service.

use enterprise_sso::Connections;
use enterprise_sso::Error;
use enterprise_sso::Store;

use crate::fixtures::*;

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
