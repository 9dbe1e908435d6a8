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
