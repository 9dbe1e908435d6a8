//! The server restarted (`pg_ctl restart -m immediate`) in the middle of a stream of
//! writes: calls in flight fail with a typed error, calls after the restart succeed on the
//! same repository, and every acknowledged write is there afterwards. The only test in
//! this binary, so that no other test of the binary sees the restart.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use enterprise_sso::{ConnectionRepo, Error};
use enterprise_sso_conformance::saml_connection;
use enterprise_sso_postgres::PostgresRepo;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn writes_survive_an_immediate_restart() {
    let Some(url) = common::url() else { return };
    let Ok(restart) = std::env::var("SSO_TEST_POSTGRES_RESTART") else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "SSO_TEST_POSTGRES_RESTART is not set (scripts/with-postgres.sh sets it)"
        );
        eprintln!("SSO_TEST_POSTGRES_RESTART not set: restart test skipped");
        return;
    };
    let schema = common::unique_schema("restart");
    let repo = PostgresRepo::connect_with(&url, common::options(&schema))
        .await
        .unwrap();
    let restarted = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for w in 0..4 {
        let (repo, restarted) = (repo.clone(), restarted.clone());
        writers.push(tokio::spawn(async move {
            let mut acked = Vec::new();
            let mut failed_before_restart_done = 0usize;
            let mut failed_after = 0usize;
            let mut acked_after = 0usize;
            let mut i = 0;
            let deadline = Instant::now() + Duration::from_secs(60);
            while acked_after < 25 && Instant::now() < deadline {
                i += 1;
                let c = saml_connection(
                    &format!("w{w}-{i}"),
                    &[&format!("w{w}-{i}.restart.example.com")],
                    false,
                );
                let done = restarted.load(Ordering::SeqCst);
                match repo.insert(&c).await {
                    Ok(()) => {
                        acked.push(c);
                        if done {
                            acked_after += 1;
                        }
                    }
                    Err(Error::Storage { .. }) if done => failed_after += 1,
                    Err(Error::Storage { .. }) => failed_before_restart_done += 1,
                    Err(e) => panic!("untyped failure: {e:?}"),
                }
                if !done {
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
            }
            (acked, failed_before_restart_done, failed_after, acked_after)
        }));
    }
    // Let some writes land, then restart the server under them.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let out = tokio::process::Command::new("sh")
        .args(["-c", &restart])
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    restarted.store(true, Ordering::SeqCst);

    let mut all = Vec::new();
    let (mut failed_during, mut failed_after) = (0, 0);
    for w in writers {
        let (acked, during, after, acked_after) = w.await.unwrap();
        assert!(acked_after >= 25, "writes resume after the restart");
        all.extend(acked);
        failed_during += during;
        failed_after += after;
    }
    eprintln!(
        "{} acknowledged; {failed_during} failed during the restart, {failed_after} after it",
        all.len()
    );
    assert!(
        failed_during > 0,
        "the restart hit calls in flight (else the test proves nothing)"
    );
    // Stale pooled connections may fail once each after the restart; then it heals.
    assert!(
        failed_after <= 16,
        "{failed_after} failures after the restart"
    );
    for c in &all {
        assert_eq!(
            repo.get(&c.id).await.unwrap().as_ref(),
            Some(c),
            "acknowledged write lost"
        );
    }
}
