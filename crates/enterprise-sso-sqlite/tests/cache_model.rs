//! The read cache's model test across processes: two processes, each with two cached
//! handles, concurrent writers, readers, deletes and prunes over one SQLite file; every
//! read checked against the store in its process, and the merged histories against the
//! staleness bound and "never backwards" (`enterprise_sso_conformance::model`).
//! `ENTERPRISE_SSO_MODEL_CASES` runs more cases (default 1).
#![allow(clippy::unwrap_used)]

use std::process::Command;
use std::time::Duration;

use enterprise_sso::ConnectionId;
use enterprise_sso_conformance::model::{
    check_model, model_cases, model_connections, now_us, run_model, ModelLog, ModelOptions,
};
use enterprise_sso_sqlite::SqliteRepo;
use futures_executor::block_on;

const CHILD: &str = "ENTERPRISE_SSO_MODEL_CHILD";

/// The child's half: runs the model over the file its parent named, writes its log.
#[test]
fn child_model_process() {
    let Ok(spec) = std::env::var(CHILD) else {
        return;
    };
    let f: Vec<&str> = spec.split('|').collect();
    let (path, log_path, process, interval_ms, prune, seed, ids) =
        (f[0], f[1], f[2], f[3], f[4], f[5], f[6]);
    let repo = SqliteRepo::open(path).unwrap();
    let ids: Vec<ConnectionId> = ids.split(',').map(|s| s.parse().unwrap()).collect();
    let opts = ModelOptions {
        sync_interval: Duration::from_millis(interval_ms.parse().unwrap()),
        ops: 40,
        seed: seed.parse().unwrap(),
        process: process.to_owned(),
        prune: prune == "1",
    };
    let log = block_on(run_model(&repo, &ids, &opts));
    std::fs::write(log_path, log.to_lines()).unwrap();
}

#[test]
fn two_processes_never_read_older_than_the_sync_interval() {
    if std::env::var(CHILD).is_ok() {
        return;
    }
    for case in 0..model_cases(1) {
        for interval_ms in [0u64, 20] {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("model.db");
            let repo = SqliteRepo::open(&path).unwrap();
            let ids = block_on(model_connections(&repo, 5));
            drop(repo);
            let ids: Vec<String> = ids.iter().map(|i| i.to_string()).collect();
            let seed = now_us() ^ case as u64;
            let children: Vec<_> = (0..2)
                .map(|p| {
                    let log = dir.path().join(format!("p{p}.log"));
                    let spec = format!(
                        "{}|{}|p{p}|{interval_ms}|{}|{}|{}",
                        path.display(),
                        log.display(),
                        u8::from(p == 0),
                        seed + p,
                        ids.join(",")
                    );
                    let child = Command::new(std::env::current_exe().unwrap())
                        .args(["--exact", "child_model_process", "--nocapture"])
                        .env(CHILD, spec)
                        .spawn()
                        .unwrap();
                    (child, log)
                })
                .collect();
            let mut logs = Vec::new();
            for (mut child, log) in children {
                assert!(
                    child.wait().unwrap().success(),
                    "a child's own checks failed"
                );
                logs.push(ModelLog::from_lines(&std::fs::read_to_string(log).unwrap()));
            }
            assert!(logs
                .iter()
                .all(|l| !l.reads.is_empty() && !l.acks.is_empty()));
            let violations = check_model(&logs, Duration::from_millis(interval_ms));
            assert!(
                violations.is_empty(),
                "seed {seed}, interval {interval_ms} ms: {violations:#?}"
            );
        }
    }
}
