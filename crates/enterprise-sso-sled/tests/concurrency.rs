//! Concurrency: open waits for a held lock; 64 writers never deadlock, on OS threads or
//! on tokio, where flush-on-write writers share flushes.
#![allow(clippy::unwrap_used)]

use enterprise_sso::{ConnectionRepo, Error};
use enterprise_sso_conformance::block_on;
use enterprise_sso_sled::{SledOptions, SledRepo};

#[test]
fn open_waits_for_a_lock_being_released() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let first = SledRepo::open(&path).unwrap();
    let dropper = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(150));
        drop(first);
    });
    // Without waiting this fails at once: the first handle still holds the lock.
    let second = SledRepo::open(&path);
    dropper.join().unwrap();
    assert!(second.is_ok(), "{:?}", second.err());
    // A lock that is never released is an error after the timeout, not a hang.
    let held = sled::open(dir.path().join("held")).unwrap();
    let opts = SledOptions {
        lock_timeout: std::time::Duration::from_millis(50),
        ..Default::default()
    };
    assert!(matches!(
        SledRepo::open_with(dir.path().join("held"), opts),
        Err(Error::Storage { .. })
    ));
    drop(held);
}

/// Runs `writers` OS threads that each create `each` connections on a flush-on-write store;
/// false if they have not all finished within `limit` (a deadlock).
fn concurrent_creates_finish(flush_on_write: bool, writers: usize, each: usize) -> bool {
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let dir = tempfile::tempdir().unwrap();
        let repo = SledRepo::open_with(
            dir.path().join("db"),
            SledOptions {
                flush_on_write,
                ..Default::default()
            },
        )
        .unwrap();
        std::thread::scope(|s| {
            for w in 0..writers {
                let repo = &repo;
                s.spawn(move || {
                    for i in 0..each {
                        let c = enterprise_sso_conformance::saml_connection(
                            &format!("w{w}-{i}"),
                            &[&format!("w{w}-{i}.deadlock.example.com")],
                            false,
                        );
                        block_on(repo.insert(&c)).unwrap();
                    }
                });
            }
        });
        let n = block_on(repo.count(&enterprise_sso::ListQuery::default())).unwrap();
        let _ = done_tx.send(n);
    });
    match done_rx.recv_timeout(std::time::Duration::from_secs(90)) {
        Ok(n) => {
            assert_eq!(n, (writers * each) as u64);
            true
        }
        Err(_) => false,
    }
}

#[test]
fn sixty_four_writers_never_deadlock_in_either_mode() {
    // The reported shape (8 writers × 20 stalled at 37 of 160), then 64 writers.
    for flush in [true, false] {
        assert!(
            concurrent_creates_finish(flush, 8, 20),
            "8 writers, flush {flush}: deadlock"
        );
        assert!(
            concurrent_creates_finish(flush, 64, 10),
            "64 writers, flush {flush}: deadlock"
        );
    }
}

/// Flush-on-write under a tokio runtime with two worker threads: writers waiting for a
/// flush give their thread back, so 64 concurrent writers share flushes (one `fsync` for
/// many commits) instead of at most one per worker thread, and every write is on disk.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_four_tokio_writers_share_flushes() {
    let dir = tempfile::tempdir().unwrap();
    let repo = std::sync::Arc::new(
        SledRepo::open_with(
            dir.path().join("db"),
            SledOptions {
                flush_on_write: true,
                ..Default::default()
            },
        )
        .unwrap(),
    );
    let (writers, each) = (64, 4);
    let tasks: Vec<_> = (0..writers)
        .map(|w| {
            let repo = repo.clone();
            tokio::spawn(async move {
                for i in 0..each {
                    let c = enterprise_sso_conformance::saml_connection(
                        &format!("w{w}-{i}"),
                        &[&format!("w{w}-{i}.group.example.com")],
                        false,
                    );
                    repo.insert(&c).await.unwrap();
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let writes = (writers * each) as u64;
    let flushes = repo.write_flushes().unwrap();
    // Each write alone flushes once (256 here); grouped, 10–14 were seen on a loaded
    // two-core host, and more when six builds shared it (the bound was 16 then and
    // failed). At least four writes a flush on average is what only sharing gives; the
    // group's own tests (`group.rs`) check the batching itself without timing.
    assert!(
        flushes * 4 <= writes,
        "{flushes} flushes for {writes} writes: concurrent writers did not share them"
    );
    assert_eq!(
        repo.count(&enterprise_sso::ListQuery::default())
            .await
            .unwrap(),
        writes
    );
}
