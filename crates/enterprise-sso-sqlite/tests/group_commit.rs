//! Concurrent writers share transactions (group commit), and each still gets its own
//! outcome.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use enterprise_sso::conformance::saml_connection;
use enterprise_sso::{ConnectionRepo, Error};
use enterprise_sso_sqlite::SqliteRepo;

#[test]
fn concurrent_writes_share_commits_and_keep_their_own_outcome() {
    let dir = tempfile::tempdir().unwrap();
    let repo = Arc::new(SqliteRepo::open(dir.path().join("g.db")).unwrap());
    let taken = saml_connection("taken", &["taken.group.com"], true);
    futures_executor::block_on(repo.insert(&taken)).unwrap();
    let before = repo.group_commit_stats();
    let threads: Vec<_> = (0..64)
        .map(|i| {
            let repo = Arc::clone(&repo);
            std::thread::spawn(move || {
                // Every 8th writer claims a domain that is already taken.
                let domain = if i % 8 == 0 {
                    "taken.group.com".to_owned()
                } else {
                    format!("d{i}.group.com")
                };
                let c = saml_connection("c", &[&domain], true);
                (i, c.id.clone(), futures_executor::block_on(repo.insert(&c)))
            })
        })
        .collect();
    for t in threads {
        let (i, id, outcome) = t.join().unwrap();
        let stored = futures_executor::block_on(repo.get(&id)).unwrap();
        if i % 8 == 0 {
            assert!(
                matches!(outcome, Err(Error::DomainConflict { .. })),
                "{outcome:?}"
            );
            assert!(stored.is_none(), "a refused write left its record");
        } else {
            outcome.unwrap();
            assert!(stored.is_some());
        }
    }
    let after = repo.group_commit_stats();
    let (txs, writes) = (
        after.transactions - before.transactions,
        after.writes - before.writes,
    );
    assert_eq!(writes, 64);
    assert!(txs < writes, "64 concurrent writes took {txs} transactions");
}

/// `modify` runs the change on the caller's thread from a snapshot and the writer only
/// writes it; when the row was written after the snapshot, the writer runs the change
/// again on what is stored (no conflict, nothing lost). Concurrent updates of distinct
/// connections share commits that way too.
#[test]
fn updates_change_on_the_caller_and_are_redone_on_the_writer_when_stale() {
    use enterprise_sso::{Connections, EnterpriseConnection, Patch, UpdateConnection};
    let dir = tempfile::tempdir().unwrap();
    let repo = Arc::new(SqliteRepo::open(dir.path().join("m.db")).unwrap());
    let c = saml_connection("m", &["m.group.com"], true);
    futures_executor::block_on(repo.insert(&c)).unwrap();
    let ran_on = Arc::new(std::sync::Mutex::new(Vec::new()));
    let (ran_on_in, repo_in) = (Arc::clone(&ran_on), Arc::clone(&repo));
    let next = futures_executor::block_on(repo.modify(
        &c.id,
        Arc::new(move |current: &EnterpriseConnection| {
            let mut calls = ran_on_in.lock().unwrap();
            calls.push(std::thread::current().name().map(str::to_owned));
            if calls.len() == 1 {
                // Another write of the same row lands between the snapshot and the write.
                let mut other = current.clone();
                other.organization_id = Some("org_between".into());
                other.version += 1;
                let (repo, expected) = (Arc::clone(&repo_in), current.version);
                std::thread::spawn(move || {
                    futures_executor::block_on(repo.update(&other, expected)).unwrap()
                })
                .join()
                .unwrap();
            }
            let mut next = current.clone();
            next.name = "renamed".into();
            next.version += 1;
            Ok(next)
        }),
    ))
    .unwrap();
    let calls = ran_on.lock().unwrap().clone();
    let me = std::thread::current().name().map(str::to_owned);
    assert_eq!(
        calls,
        vec![me, Some("sso-sqlite-write".to_owned())],
        "first on the caller, then again on the writer after the row changed"
    );
    assert_eq!(next.name, "renamed");
    assert_eq!(next.organization_id.as_deref(), Some("org_between"));
    assert_eq!(next.version, c.version + 2);
    let stored = futures_executor::block_on(repo.get(&c.id))
        .unwrap()
        .unwrap();
    assert_eq!(stored, next);
    // Through the service: 32 concurrent updates of distinct connections.
    let ids: Vec<_> = (0..32)
        .map(|i| {
            let c = saml_connection("u", &[&format!("u{i}.group.com")], true);
            futures_executor::block_on(repo.insert(&c)).unwrap();
            c.id
        })
        .collect();
    let before = repo.group_commit_stats();
    let threads: Vec<_> = ids
        .iter()
        .cloned()
        .map(|id| {
            let svc = Connections::new(Arc::clone(&repo));
            std::thread::spawn(move || {
                let patch = UpdateConnection {
                    name: Patch::Value("renamed".into()),
                    ..Default::default()
                };
                futures_executor::block_on(svc.update(&id, &patch))
            })
        })
        .collect();
    for t in threads {
        assert_eq!(t.join().unwrap().unwrap().name, "renamed");
    }
    let after = repo.group_commit_stats();
    assert_eq!(after.writes - before.writes, 32);
    for id in &ids {
        let stored = futures_executor::block_on(repo.get(id)).unwrap().unwrap();
        assert_eq!(stored.name, "renamed");
    }
}
