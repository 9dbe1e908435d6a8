//! Sign-in cases: first and later sign-ins, refusals that write nothing, the routing tenant boundary, concurrent first sign-ins.

use std::collections::HashSet;

use enterprise_sso::Assertion;
use enterprise_sso::ConnectionId;
use enterprise_sso::Connections;
use enterprise_sso::EnterpriseConnection;
use enterprise_sso::Error;
use enterprise_sso::{AccountQuery, Store};
use futures_executor::block_on;

use crate::fixtures::*;

/// The first sign-in creates the account and activates the connection; later ones find
/// it again, refreshing attributes only with sync on.
pub async fn sign_in_creates_then_finds_the_account(repo: &dyn Store) {
    use enterprise_sso::ConnectionState;
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
        // With just-in-time provisioning turned off, the existing user still signs in and
        // a new one is refused.
        svc.update(
            &c.id,
            &enterprise_sso::UpdateConnection::default().disable_jit_provisioning(true),
        )
        .await
        .expect("disable jit");
        let s3 = svc
            .record_sign_in(&c.id, &second)
            .await
            .expect("existing user");
        assert_eq!(s3.account.id, s1.account.id);
        let newcomer = Assertion::new("nameid-2", []).with_email(&format!("bo@{tag}{sync}.com"));
        let refused = svc.record_sign_in(&c.id, &newcomer).await;
        assert!(
            matches!(
                refused,
                Err(Error::SignInRefused(
                    enterprise_sso::SignInRefusal::JitProvisioningDisabled
                ))
            ),
            "{refused:?}"
        );
    }
}

/// Inactive or unknown connection, email outside the domains, missing subject or email:
/// typed refusals, and nothing written.
pub async fn refused_sign_ins_write_nothing(repo: &dyn Store) {
    use enterprise_sso::SignInRefusal as R;
    let tag = unique_tag();
    let svc = Connections::new(repo);
    let c = sign_in_connection("refuse", &tag, false);
    let mut strict = saml_connection("refuse-strict", &[&format!("strict-{tag}.com")], true);
    strict.allow_subdomains = false;
    let mut off = sign_in_connection("refuse-off", &format!("off-{tag}"), false);
    off.active = false;
    let mut closed = sign_in_connection("refuse-closed", &format!("closed-{tag}"), false);
    closed.authenticatable = false;
    let mut no_jit = sign_in_connection("refuse-jit", &format!("jit-{tag}"), false);
    no_jit.disable_jit_provisioning = true;
    insert_all(
        repo,
        &[
            c.clone(),
            strict.clone(),
            off.clone(),
            closed.clone(),
            no_jit.clone(),
        ],
    )
    .await;
    let ok_email = format!("a@{tag}.com");
    let cases: Vec<(&EnterpriseConnection, Assertion, R)> = vec![
        (
            &off,
            Assertion::new("s", []).with_email(&format!("a@off-{tag}.com")),
            R::ConnectionInactive,
        ),
        (
            &closed,
            Assertion::new("s", []).with_email(&format!("a@closed-{tag}.com")),
            R::NotAuthenticatable,
        ),
        (
            &no_jit,
            Assertion::new("new-user", []).with_email(&format!("a@jit-{tag}.com")),
            R::JitProvisioningDisabled,
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
                kind: enterprise_sso::FieldErrorKind::TooLong { max: 1024 },
            },
        ),
        (
            &c,
            Assertion::new("s", [("firstName", "x".repeat(2 * 1024 * 1024).as_str())])
                .with_email(&ok_email),
            R::InvalidField {
                field: "first_name",
                kind: enterprise_sso::FieldErrorKind::TooLong { max: 256 },
            },
        ),
        (
            &c,
            Assertion::new("s", [("lastName", "Doe\u{0}")]).with_email(&ok_email),
            R::InvalidField {
                field: "last_name",
                kind: enterprise_sso::FieldErrorKind::ControlCharacters,
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
    use enterprise_sso::SignInRefusal as R;
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
