//! Concurrent writers share transactions (group commit), and each still gets its own
//! outcome.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use enterprise_sso::{ConnectionRepo, Error};
use enterprise_sso_conformance::saml_connection;
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

/// With other writes waiting or running, `modify` runs the change on the caller's thread
/// from a snapshot and the writer only writes it; when the row was written after the
/// snapshot, the writer runs the change again on what is stored (no conflict, nothing
/// lost). A lone `modify` (writer idle) runs its change on the writer. Concurrent updates
/// of distinct connections share commits either way.
#[test]
fn updates_change_on_the_caller_when_writers_are_busy_and_are_redone_when_stale() {
    use enterprise_sso::{Connections, EnterpriseConnection, Patch, UpdateConnection};
    use std::sync::mpsc;
    let dir = tempfile::tempdir().unwrap();
    let repo = Arc::new(SqliteRepo::open(dir.path().join("m.db")).unwrap());
    let c = saml_connection("m", &["m.group.com"], true);
    let busy = saml_connection("busy", &["busy.group.com"], true);
    futures_executor::block_on(repo.insert(&c)).unwrap();
    futures_executor::block_on(repo.insert(&busy)).unwrap();
    let thread_name = || std::thread::current().name().map(str::to_owned);
    let rename = |to: &'static str| {
        move |current: &EnterpriseConnection| {
            let mut next = current.clone();
            next.name = to.into();
            next.version += 1;
            Ok(next)
        }
    };

    // A lone modify: the writer is idle, so the change runs there.
    let lone_ran_on = Arc::new(std::sync::Mutex::new(None));
    let lone_in = Arc::clone(&lone_ran_on);
    futures_executor::block_on(repo.modify(
        &busy.id,
        Arc::new(move |current: &EnterpriseConnection| {
            *lone_in.lock().unwrap() = thread_name();
            rename("lone")(current)
        }),
    ))
    .unwrap();
    assert_eq!(
        lone_ran_on.lock().unwrap().as_deref(),
        Some("sso-sqlite-write"),
        "a lone modify runs its change on the writer"
    );

    // Keep the writer busy: a modify whose change (on the writer) waits for a signal.
    let (entered, is_in) = mpsc::channel();
    let (release, released) = mpsc::channel::<()>();
    let released = Arc::new(std::sync::Mutex::new(released));
    let blocker = {
        let repo = Arc::clone(&repo);
        let id = busy.id.clone();
        std::thread::spawn(move || {
            futures_executor::block_on(repo.modify(
                &id,
                Arc::new(move |current: &EnterpriseConnection| {
                    let _ = entered.send(());
                    // Bounded: were the next modify queued behind this one instead of
                    // running its change on the caller, nothing would release it.
                    let _ = released
                        .lock()
                        .unwrap()
                        .recv_timeout(std::time::Duration::from_secs(3));
                    rename("held")(current)
                }),
            ))
            .unwrap()
        })
    };
    is_in.recv().unwrap();

    let ran_on = Arc::new(std::sync::Mutex::new(Vec::new()));
    let (ran_on_in, repo_in) = (Arc::clone(&ran_on), Arc::clone(&repo));
    let release = std::sync::Mutex::new(Some(release));
    let next = futures_executor::block_on(repo.modify(
        &c.id,
        Arc::new(move |current: &EnterpriseConnection| {
            let mut calls = ran_on_in.lock().unwrap();
            calls.push(thread_name());
            // (On the writer, a write from here would wait for the writer itself.)
            if calls.len() == 1 && calls[0].as_deref() != Some("sso-sqlite-write") {
                // Free the writer, then another write of the same row lands between this
                // snapshot and its write.
                drop(release.lock().unwrap().take());
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
            rename("renamed")(current)
        }),
    ))
    .unwrap();
    assert_eq!(blocker.join().unwrap().name, "held");
    let calls = ran_on.lock().unwrap().clone();
    assert_eq!(
        calls,
        vec![thread_name(), Some("sso-sqlite-write".to_owned())],
        "first on the caller (the writer was busy), then again on the writer after the \
         row changed"
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
