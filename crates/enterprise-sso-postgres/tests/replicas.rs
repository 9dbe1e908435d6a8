//! Two replicas on one database: two `PostgresRepo`s with their own pools, and in one test
//! two OS processes.
#![allow(clippy::unwrap_used)]

mod common;

use enterprise_sso::UnixMillis;
use std::collections::BTreeMap;
use std::time::Duration;

use enterprise_sso::{
    merge, AccountRepo, Assertion, ConnectionId, ConnectionRepo, Connections, Domain,
    EnterpriseConnection, Error, EventFeed, Patch, SamlPatch, UpdateConnection,
};
use enterprise_sso_conformance::saml_connection;
use enterprise_sso_postgres::PostgresRepo;

async fn two_replicas(prefix: &str) -> (PostgresRepo, PostgresRepo, String) {
    let url = common::url().unwrap();
    let schema = common::unique_schema(prefix);
    let a = PostgresRepo::connect_with(&url, common::options(&schema))
        .await
        .unwrap();
    let b = PostgresRepo::connect_with(&url, common::options(&schema))
        .await
        .unwrap();
    (a, b, schema)
}

/// A session of its own holding `table`'s row `id` locked (`FOR UPDATE`) in an open
/// transaction, until the caller runs `COMMIT` on it.
async fn hold_row_lock(schema: &str, table: &str, id: &str) -> tokio_postgres::Client {
    let (raw, conn) = tokio_postgres::connect(&common::url().unwrap(), tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    raw.batch_execute("BEGIN").await.unwrap();
    raw.execute(
        &format!("SELECT 1 FROM {schema}.{table} WHERE id = $1 FOR UPDATE"),
        &[&id],
    )
    .await
    .unwrap();
    raw
}

/// Tries to claim `domain` with a new connection; true when this call won it.
async fn claim(repo: &PostgresRepo, domain: &str, name: &str) -> Option<EnterpriseConnection> {
    let c = saml_connection(name, &[domain], false);
    match repo.insert(&c).await {
        Ok(()) => Some(c),
        Err(Error::DomainConflict { domain: d }) => {
            assert_eq!(d.as_str(), domain);
            None
        }
        Err(e) => panic!("{e:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn eight_tasks_on_two_replicas_claim_one_domain_once() {
    if !common::available() {
        return;
    }
    for round in 0..5 {
        let (a, b, _) = two_replicas("claim").await;
        let domain = format!("race{round}.claim.example.com");
        let mut tasks = Vec::new();
        for i in 0..8 {
            let repo = if i % 2 == 0 { a.clone() } else { b.clone() };
            let domain = domain.clone();
            tasks.push(tokio::spawn(async move {
                claim(&repo, &domain, &format!("claimer-{i}")).await
            }));
        }
        let mut winners = Vec::new();
        for t in tasks {
            winners.extend(t.await.unwrap());
        }
        assert_eq!(winners.len(), 1, "round {round}: {} winners", winners.len());
        let owner = a
            .find_by_domain(&Domain::parse(&domain).unwrap())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(owner.id, winners[0].id);
    }
}

/// The child half of [`two_processes_claim_one_domain_once`]; a no-op unless started by it.
#[tokio::test]
async fn child_process_claimer() {
    let Ok(schema) = std::env::var("SSO_CHILD_SCHEMA") else {
        return;
    };
    let domain = std::env::var("SSO_CHILD_DOMAIN").unwrap();
    let start_at: u128 = std::env::var("SSO_CHILD_START_AT")
        .unwrap()
        .parse()
        .unwrap();
    let repo = PostgresRepo::connect_with(&common::url().unwrap(), common::options(&schema))
        .await
        .unwrap();
    wait_until(start_at).await;
    let mut tasks = Vec::new();
    for i in 0..4 {
        let (repo, domain) = (repo.clone(), domain.clone());
        tasks.push(tokio::spawn(async move {
            claim(&repo, &domain, &format!("child-{i}")).await
        }));
    }
    for t in tasks {
        if let Some(c) = t.await.unwrap() {
            println!("WON {}", c.id);
        }
    }
}

fn now_ms() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis()
}

async fn wait_until(at_ms: u128) {
    let now = now_ms();
    if at_ms > now {
        tokio::time::sleep(Duration::from_millis((at_ms - now) as u64)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_processes_claim_one_domain_once() {
    let Some(url) = common::url() else { return };
    for round in 0..3 {
        let schema = common::unique_schema("procs");
        let repo = PostgresRepo::connect_with(&url, common::options(&schema))
            .await
            .unwrap();
        let domain = format!("race{round}.procs.example.com");
        let start_at = now_ms() + 1500;
        let child = tokio::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "child_process_claimer",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("SSO_CHILD_SCHEMA", &schema)
            .env("SSO_CHILD_DOMAIN", &domain)
            .env("SSO_CHILD_START_AT", start_at.to_string())
            .output();
        let child = tokio::spawn(child);
        wait_until(start_at).await;
        let mut tasks = Vec::new();
        for i in 0..4 {
            let (repo, domain) = (repo.clone(), domain.clone());
            tasks.push(tokio::spawn(async move {
                claim(&repo, &domain, &format!("parent-{i}")).await
            }));
        }
        let mut winners: Vec<String> = Vec::new();
        for t in tasks {
            winners.extend(t.await.unwrap().map(|c| c.id.to_string()));
        }
        let out = child.await.unwrap().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8(out.stdout).unwrap();
        assert!(stdout.contains("1 passed"), "the child ran: {stdout}");
        winners.extend(
            stdout
                .lines()
                .filter_map(|l| l.split("WON ").nth(1))
                .map(|s| s.split_whitespace().next().unwrap_or_default().to_owned()),
        );
        assert_eq!(winners.len(), 1, "round {round}: winners {winners:?}");
        let owner = repo
            .find_by_domain(&Domain::parse(&domain).unwrap())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(owner.id.to_string(), winners[0]);
    }
}

/// One of a few kinds of PATCH, with values that depend on the task and step.
fn patch(task: usize, step: usize) -> UpdateConnection {
    let tag = format!("t{task}s{step}");
    match (task + step) % 5 {
        0 => UpdateConnection {
            name: Patch::Value(tag),
            ..Default::default()
        },
        1 => UpdateConnection {
            organization_id: if step.is_multiple_of(2) {
                Patch::Value(format!("org_{tag}"))
            } else {
                Patch::Null
            },
            ..Default::default()
        },
        2 => UpdateConnection {
            domains: Patch::Value(vec![format!("{tag}.patch.example.com")]),
            ..Default::default()
        },
        3 => UpdateConnection {
            sync_user_attributes: Patch::Value(step.is_multiple_of(2)),
            ..Default::default()
        },
        _ => UpdateConnection {
            saml: Patch::Value(SamlPatch {
                force_authn: Patch::Value(task.is_multiple_of(2)),
                ..Default::default()
            }),
            ..Default::default()
        },
    }
}

/// 15 PATCHes of writer `task`: (version given, task, step) of each.
async fn patch_steps(
    repo: PostgresRepo,
    id: ConnectionId,
    task: usize,
) -> Vec<(u64, usize, usize)> {
    let svc = Connections::new(repo).with_max_retries(10_000);
    let mut accepted = Vec::new();
    for step in 0..15 {
        let done = svc.update(&id, &patch(task, step)).await.unwrap();
        accepted.push((done.version, task, step));
    }
    accepted
}

/// The child half of [`concurrent_patches_on_two_replicas_equal_a_serial_replay`]: the odd
/// writers; a no-op unless started by it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn child_process_patcher() {
    let Ok(schema) = std::env::var("SSO_CHILD_PATCH_SCHEMA") else {
        return;
    };
    let id: ConnectionId = std::env::var("SSO_CHILD_PATCH_ID")
        .unwrap()
        .parse()
        .unwrap();
    let start_at: u128 = std::env::var("SSO_CHILD_START_AT")
        .unwrap()
        .parse()
        .unwrap();
    let repo = PostgresRepo::connect_with(&common::url().unwrap(), common::options(&schema))
        .await
        .unwrap();
    wait_until(start_at).await;
    let tasks: Vec<_> = (1..8usize)
        .step_by(2)
        .map(|task| tokio::spawn(patch_steps(repo.clone(), id.clone(), task)))
        .collect();
    for t in tasks {
        for (v, task, step) in t.await.unwrap() {
            println!("ACCEPTED {v} {task} {step}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_patches_on_two_replicas_equal_a_serial_replay() {
    if !common::available() {
        return;
    }
    let (a, b, schema) = two_replicas("patch").await;
    let initial = saml_connection("patched", &["start.patch.example.com"], true);
    a.insert(&initial).await.unwrap();
    // Half the writers in this process (on two pools), half in a child process: the
    // in-process write lock cannot order them, only the store's compare-and-swap can.
    let start_at = now_ms() + 1500;
    let child = tokio::spawn(
        tokio::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "child_process_patcher",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("SSO_CHILD_PATCH_SCHEMA", &schema)
            .env("SSO_CHILD_PATCH_ID", initial.id.to_string())
            .env("SSO_CHILD_START_AT", start_at.to_string())
            .output(),
    );
    wait_until(start_at).await;
    let mut tasks = Vec::new();
    for task in (0..8usize).step_by(2) {
        let repo = if task % 4 == 0 { a.clone() } else { b.clone() };
        tasks.push(tokio::spawn(patch_steps(repo, initial.id.clone(), task)));
    }
    let mut by_version = BTreeMap::new();
    let mut accept = |v: u64, task: usize, step: usize| {
        assert!(
            by_version.insert(v, patch(task, step)).is_none(),
            "version {v} given twice"
        );
    };
    for t in tasks {
        for (v, task, step) in t.await.unwrap() {
            accept(v, task, step);
        }
    }
    let out = child.await.unwrap().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("1 passed"), "the child ran: {stdout}");
    for line in stdout.lines() {
        if let Some(rest) = line.split("ACCEPTED ").nth(1) {
            let f: Vec<usize> = rest
                .split_whitespace()
                .take(3)
                .map(|x| x.parse().unwrap())
                .collect();
            accept(f[0] as u64, f[1], f[2]);
        }
    }
    assert_eq!(by_version.len(), 8 * 15, "every PATCH accepted once");
    let mut replay = initial.clone();
    for (v, p) in &by_version {
        replay = merge(&replay, p, replay.updated_at.get()).unwrap();
        assert_eq!(replay.version, *v, "versions are consecutive");
    }
    let stored = a.get(&initial.id).await.unwrap().unwrap();
    let strip = |c: &EnterpriseConnection| EnterpriseConnection {
        updated_at: UnixMillis::new(0),
        ..c.clone()
    };
    assert_eq!(strip(&stored), strip(&replay));
    // The domain index agrees with the record on both replicas.
    for d in &stored.domains {
        let owner = b.find_by_domain(d).await.unwrap().unwrap();
        assert_eq!(owner.id, stored.id);
    }
    let start = Domain::parse("start.patch.example.com").unwrap();
    if !stored.domains.contains(&start) {
        assert_eq!(a.find_by_domain(&start).await.unwrap(), None);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_delete_on_one_replica_while_the_other_signs_users_in() {
    if !common::available() {
        return;
    }
    for round in 0..4 {
        let (a, b, _) = two_replicas("delsign").await;
        let domain = format!("r{round}.delsign.example.com");
        let c = saml_connection("doomed", &[&domain], true);
        a.insert(&c).await.unwrap();
        let signer = {
            let (b, id, domain) = (b.clone(), c.id.clone(), domain.clone());
            tokio::spawn(async move {
                let svc = Connections::new(b);
                let mut ok = Vec::new();
                for i in 0..60 {
                    let who = Assertion::new(&format!("user-{i}"), [])
                        .with_email(&format!("u{i}@{domain}"));
                    match svc.record_sign_in(&id, &who).await {
                        Ok(s) => ok.push(s.account.id),
                        Err(Error::NotFound { .. }) => break,
                        Err(e) => panic!("{e:?}"),
                    }
                }
                ok
            })
        };
        tokio::time::sleep(Duration::from_millis(5 + 10 * round)).await;
        assert!(a.delete(&c.id, UnixMillis::new(1)).await.unwrap());
        let signed_in = signer.await.unwrap();
        // No account stays linked to the deleted connection.
        let linked = b
            .list_accounts(&c.id, &enterprise_sso::AccountQuery::default())
            .await
            .unwrap();
        assert!(linked.items.is_empty(), "{:?}", linked.items);
        for id in &signed_in {
            let acct = a.get_account(id).await.unwrap().unwrap();
            assert_eq!(acct.enterprise_connection_id, None);
            assert!(!acct.active);
        }
    }
}

/// Two replicas (two pools) writing at once: the feed's positions are 1..N without a gap,
/// in commit order, with one `connection.created` per insert. The counter row's lock
/// orders the commits that append events, so a reader never sees a position before the
/// ones below it have committed.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_replicas_share_one_gap_free_feed() {
    if !common::available() {
        return;
    }
    let (a, b, _) = two_replicas("feedrep").await;
    let (a, b) = (std::sync::Arc::new(a), std::sync::Arc::new(b));
    let mut tasks = Vec::new();
    for t in 0..8 {
        let repo = if t % 2 == 0 { a.clone() } else { b.clone() };
        tasks.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            for i in 0..10 {
                let c = saml_connection(
                    &format!("f{t}-{i}"),
                    &[&format!("f{t}-{i}.feedrep.example.com")],
                    false,
                );
                repo.insert(&c).await.unwrap();
                ids.push(c.id);
            }
            ids
        }));
    }
    let mut created = std::collections::HashSet::new();
    for t in tasks {
        created.extend(t.await.unwrap());
    }
    let events = a.events_after(0, 500).await.unwrap().events;
    assert_eq!(events.len(), 80);
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e.position, i as u64 + 1);
    }
    let seen: std::collections::HashSet<_> = events
        .iter()
        .filter_map(|e| e.connection_id.clone())
        .collect();
    assert_eq!(seen, created);
    assert_eq!(
        b.events_after(40, 500).await.unwrap().events,
        events[40..].to_vec()
    );
}

/// `modify` locks the row for its read-change-write, so 32 tasks on two replicas that each
/// add one to a counter in one connection's name never conflict (no retry at all) and
/// lose no increment; the change sees every earlier write.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn modify_on_two_replicas_never_conflicts_and_loses_nothing() {
    if !common::available() {
        return;
    }
    let (a, b, _) = two_replicas("modify").await;
    let c = saml_connection("0", &["modify.replicas.com"], true);
    a.insert(&c).await.unwrap();
    let (a, b) = (std::sync::Arc::new(a), std::sync::Arc::new(b));
    let tasks: Vec<_> = (0..32)
        .map(|i| {
            let repo = if i % 2 == 0 { a.clone() } else { b.clone() };
            let id = c.id.clone();
            tokio::spawn(async move {
                let change: enterprise_sso::Change =
                    std::sync::Arc::new(|current: &EnterpriseConnection| {
                        let mut next = current.clone();
                        let n: u64 = current.name.parse().unwrap();
                        next.name = (n + 1).to_string();
                        next.version += 1;
                        Ok(next)
                    });
                repo.modify(&id, change).await
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let stored = b.get(&c.id).await.unwrap().unwrap();
    assert_eq!(stored.name, "32");
    assert_eq!(stored.version, c.version + 32);
}

/// A `modify` cancelled while its transaction is open must not hand that connection back
/// to the pool inside the transaction (it would keep the row locked): here it is cancelled
/// while waiting for a row lock another session holds; once that lock is released, the
/// other replica's `modify` of the same row goes through, and the cancelled replica's next
/// call starts clean.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_modify_leaves_no_open_transaction_behind() {
    if !common::available() {
        return;
    }
    let (a, b, schema) = two_replicas("cancel").await;
    let c = saml_connection("0", &["cancel.replicas.com"], true);
    a.insert(&c).await.unwrap();
    let rename = |to: &'static str| -> enterprise_sso::Change {
        std::sync::Arc::new(move |current: &EnterpriseConnection| {
            let mut next = current.clone();
            next.name = to.into();
            next.version += 1;
            Ok(next)
        })
    };
    let holder = hold_row_lock(&schema, "connections", c.id.as_str()).await;
    let cancelled = tokio::time::timeout(
        Duration::from_millis(300),
        a.modify(&c.id, rename("cancelled")),
    )
    .await;
    assert!(
        cancelled.is_err(),
        "the modify was expected to wait for the lock"
    );
    holder.batch_execute("COMMIT").await.unwrap();
    tokio::time::timeout(Duration::from_secs(10), b.modify(&c.id, rename("2")))
        .await
        .expect("the row stayed locked by a cancelled modify's pooled connection")
        .unwrap();
    let after = a.modify(&c.id, rename("3")).await.unwrap();
    assert_eq!(after.name, "3");
    assert_eq!(b.get(&c.id).await.unwrap().unwrap().name, "3");
}

/// The same for an account update (two round trips on one transaction): cancelled while
/// waiting for the account's row lock, it leaves no transaction open on a pooled
/// connection, so the other replica's update goes through once the lock is released.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_account_update_leaves_no_open_transaction_behind() {
    if !common::available() {
        return;
    }
    let (a, b, schema) = two_replicas("cancel_acc").await;
    let c = saml_connection("0", &["cancel-acc.replicas.com"], true);
    a.insert(&c).await.unwrap();
    let acc = enterprise_sso_conformance::account_for(&c, "s1", "u1@cancel-acc.replicas.com");
    a.insert_account(&acc).await.unwrap();
    let renamed = |from: &enterprise_sso::EnterpriseAccount, to: &str| {
        let mut next = from.clone();
        next.first_name = Some(to.into());
        next.version += 1;
        next
    };
    let holder = hold_row_lock(&schema, "accounts", acc.id.as_ref()).await;
    let cancelled = tokio::time::timeout(
        Duration::from_millis(300),
        a.update_account(&renamed(&acc, "cancelled"), acc.version),
    )
    .await;
    assert!(
        cancelled.is_err(),
        "the update was expected to wait for the lock"
    );
    holder.batch_execute("COMMIT").await.unwrap();
    let second = renamed(&acc, "2");
    tokio::time::timeout(
        Duration::from_secs(10),
        b.update_account(&second, acc.version),
    )
    .await
    .expect("the row stayed locked by a cancelled update's pooled connection")
    .unwrap();
    let third = renamed(&second, "3");
    a.update_account(&third, second.version).await.unwrap();
    let stored = b.get_account(&acc.id).await.unwrap().unwrap();
    assert_eq!(stored.first_name.as_deref(), Some("3"));
}
