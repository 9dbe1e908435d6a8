//! Storage-level refusals: writes that reach the adapter and must be refused by it (a
//! domain clash, a stale version, an id or subject taken, a link to a missing connection,
//! a delete of a missing id). Each must leave the store byte for byte as it was, as every
//! read the traits offer sees it.

use enterprise_sso::limits::MAX_LIMIT;
use enterprise_sso::storage::codec::{encode_account, encode_connection};
use enterprise_sso::EnterpriseAccount;
use enterprise_sso::EnterpriseConnection;
use enterprise_sso::Error;
use enterprise_sso::UnixMillis;
use enterprise_sso::{AccountId, ConnectionId};
use enterprise_sso::{AccountQuery, ListQuery, Order, Store};

use crate::fixtures::*;

/// Everything the traits can read back about `conns`, `accounts` and `emails`, as stored
/// bytes (the core codec's encoding): every listed connection in order, the count, the
/// owner of each domain, the certificate-expiry listing, each connection's accounts, each
/// account by id and by email.
async fn snapshot(
    repo: &dyn Store,
    domains: &[&str],
    accounts: &[AccountId],
    emails: &[&str],
) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let q = ListQuery {
        limit: MAX_LIMIT,
        order: Order::Asc,
        ..ListQuery::default()
    };
    let ids = walk(repo, &q).await;
    out.push(format!("count {}", repo.count(&q).await.expect("count")).into_bytes());
    for id in &ids {
        out.push(encode_connection(&must_get(repo, id).await));
        let mut aq = AccountQuery {
            limit: MAX_LIMIT,
            ..AccountQuery::default()
        };
        loop {
            let page = repo.list_accounts(id, &aq).await.expect("list_accounts");
            out.extend(page.items.iter().map(encode_account));
            match page.next_cursor {
                Some(c) => aq.after = Some(c),
                None => break,
            }
        }
    }
    for d in domains {
        let owner = repo
            .find_by_domain(&domain(d))
            .await
            .expect("find_by_domain");
        out.push(owner.as_ref().map(encode_connection).unwrap_or_default());
    }
    let expiring = repo
        .certificates_expiring_before(UnixMillis::new(i64::MAX))
        .await
        .expect("expiry");
    out.extend(expiring.iter().map(|c| c.id.as_str().as_bytes().to_vec()));
    for id in accounts {
        let a = repo.get_account(id).await.expect("get_account");
        out.push(a.as_ref().map(encode_account).unwrap_or_default());
    }
    for e in emails {
        let found = repo.find_accounts_by_email(e).await.expect("by email");
        out.extend(found.iter().map(encode_account));
    }
    out
}

fn changed(
    c: &EnterpriseConnection,
    f: impl FnOnce(&mut EnterpriseConnection),
) -> EnterpriseConnection {
    let mut next = c.clone();
    f(&mut next);
    next.version = c.version + 1;
    next
}

fn changed_account(
    a: &EnterpriseAccount,
    f: impl FnOnce(&mut EnterpriseAccount),
) -> EnterpriseAccount {
    let mut next = a.clone();
    f(&mut next);
    next.version = a.version + 1;
    next
}

/// Every storage-level refusal gets its typed error and leaves the store byte for byte as
/// it was.
pub async fn storage_refusals_change_nothing(repo: &dyn Store) {
    let tag = unique_tag();
    let (da, db, dc) = (
        format!("a-{tag}.com"),
        format!("b-{tag}.com"),
        format!("c-{tag}.com"),
    );
    let a = saml_connection("refuse-a", &[&da], true);
    let b = oidc_connection("refuse-b", &[&db], true);
    insert_all(repo, &[a.clone(), b.clone()]).await;
    let email_a = format!("jane@{da}");
    let email_b = format!("joe@{db}");
    let acc_a = account_for(&a, "subject-a", &email_a);
    let acc_b = account_for(&b, "subject-b", &email_b);
    for acc in [&acc_a, &acc_b] {
        repo.insert_account(acc).await.expect("insert account");
    }
    let domains = [da.as_str(), db.as_str(), dc.as_str()];
    let accounts = [acc_a.id.clone(), acc_b.id.clone()];
    let emails = [email_a.as_str(), email_b.as_str()];
    let before = snapshot(repo, &domains, &accounts, &emails).await;

    let missing = saml_connection("refuse-missing", &[&dc], true);
    let missing_acc = account_for(&a, "subject-m", &email_a);
    let expected = |what: &str, result: &Result<(), Error>| match (what, result) {
        (w, Err(Error::DomainConflict { domain })) if w.contains("taken domain") => {
            domain.as_str() == db
        }
        (w, Err(Error::VersionConflict { id, actual, .. })) if w.contains("stale") => {
            *actual == 1 && (id.as_str() == a.id.as_str() || id.as_str() == acc_a.id.as_str())
        }
        (
            "insert of an existing id" | "insert of an existing account id",
            Err(Error::AlreadyExists { .. }),
        ) => true,
        (
            "update of a missing id"
            | "update of a missing account"
            | "insert linked to a missing connection",
            Err(Error::NotFound { id }),
        ) => id.as_str() == missing.id.as_str() || id.as_str() == missing_acc.id.as_str(),
        ("insert of a taken subject", Err(Error::AccountExists { id })) => *id == acc_a.id,
        (w, Err(Error::InvalidArgument { .. })) if w.starts_with("account update") => true,
        _ => false,
    };
    // Each refusal is checked as soon as it returns: its error, then the whole store.
    macro_rules! refused {
        ($what:expr, $call:expr $(,)?) => {{
            let what: &str = $what;
            let result: Result<(), Error> = $call;
            assert!(
                expected(what, &result),
                "{what}: unexpected result {result:?}"
            );
            assert_eq!(
                snapshot(repo, &domains, &accounts, &emails).await,
                before,
                "{what} changed the store"
            );
        }};
    }
    let mut clash = saml_connection("refuse-c", &[&dc, &db], true);
    refused!("insert claiming a taken domain", repo.insert(&clash).await);
    clash.domains.reverse();
    refused!(
        "insert claiming a taken domain (first)",
        repo.insert(&clash).await,
    );
    let a_takes_b = changed(&a, |c| c.domains.push(domain(&db)));
    refused!(
        "update claiming a taken domain",
        repo.update(&a_takes_b, a.version).await,
    );
    let stale = changed(&a, |c| c.name = "stale".into());
    refused!(
        "update with a stale version",
        repo.update(&stale, a.version + 7).await,
    );
    refused!("insert of an existing id", repo.insert(&a).await);
    refused!("update of a missing id", repo.update(&missing, 1).await);
    let dup_subject = account_for(&a, "subject-a", &email_a);
    refused!(
        "insert of a taken subject",
        repo.insert_account(&dup_subject).await,
    );
    refused!(
        "insert of an existing account id",
        repo.insert_account(&acc_a).await,
    );
    let orphan = account_for(&missing, "subject-o", &email_a);
    refused!(
        "insert linked to a missing connection",
        repo.insert_account(&orphan).await,
    );
    let stale_acc = changed_account(&acc_a, |x| x.first_name = Some("Stale".into()));
    refused!(
        "account update with a stale version",
        repo.update_account(&stale_acc, acc_a.version + 3).await,
    );
    let moved = changed_account(&acc_a, |x| x.enterprise_connection_id = Some(b.id.clone()));
    refused!(
        "account update moving it to another connection",
        repo.update_account(&moved, acc_a.version).await,
    );
    let resubject = changed_account(&acc_a, |x| x.provider_user_id = Some("other".into()));
    refused!(
        "account update changing its provider user id",
        repo.update_account(&resubject, acc_a.version).await,
    );
    refused!(
        "update of a missing account",
        repo.update_account(&missing_acc, 1).await,
    );

    let gone = ConnectionId::generate();
    assert!(!repo
        .delete(&gone, UnixMillis::new(now()))
        .await
        .expect("delete missing"));
    assert!(!repo
        .delete_account(&AccountId::generate(), UnixMillis::new(now()))
        .await
        .expect("delete missing account"));
    assert_eq!(
        snapshot(repo, &domains, &accounts, &emails).await,
        before,
        "a delete of a missing id changed the store"
    );
}

fn now() -> i64 {
    enterprise_sso::now_ms()
}
