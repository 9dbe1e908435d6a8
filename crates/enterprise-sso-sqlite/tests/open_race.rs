//! Many processes opening one fresh file at once: each one's switch to WAL and its
//! migration wait for the others' locks (within the busy timeout) instead of failing with
//! `database is locked`. 12 processes, several rounds (`ENTERPRISE_SSO_OPEN_RACE_ROUNDS`).
#![allow(clippy::unwrap_used)]

use std::process::Command;
use std::time::{Duration, Instant};

use enterprise_sso::ConnectionRepo;
use enterprise_sso_conformance::saml_connection;
use enterprise_sso_sqlite::SqliteRepo;

const CHILD: &str = "ENTERPRISE_SSO_OPEN_RACE_CHILD";

/// The child: waits for the start file, opens the store, writes one connection.
#[test]
fn child_open_race_process() {
    let Ok(spec) = std::env::var(CHILD) else {
        return;
    };
    let (path, go, n) = {
        let f: Vec<&str> = spec.split('|').collect();
        (f[0].to_owned(), f[1].to_owned(), f[2].to_owned())
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while !std::path::Path::new(&go).exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_micros(200));
    }
    let repo = match SqliteRepo::open(&path) {
        Ok(r) => r,
        Err(e) => panic!("process {n}: open failed: {e}"),
    };
    let c = saml_connection(&format!("p{n}"), &[&format!("p{n}.open-race.com")], true);
    futures_executor::block_on(repo.insert(&c)).unwrap();
}

#[test]
fn twelve_processes_open_a_fresh_file_at_once() {
    if std::env::var(CHILD).is_ok() {
        return;
    }
    let rounds: usize = std::env::var("ENTERPRISE_SSO_OPEN_RACE_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4);
    for round in 0..rounds {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fresh.db");
        let go = dir.path().join("go");
        let children: Vec<_> = (0..12)
            .map(|n| {
                Command::new(std::env::current_exe().unwrap())
                    .args(["--exact", "child_open_race_process", "--nocapture"])
                    .env(CHILD, format!("{}|{}|{n}", path.display(), go.display()))
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        // Let them all start and spin on the start file, then release them together.
        std::thread::sleep(Duration::from_millis(300));
        std::fs::write(&go, b"go").unwrap();
        let mut failures = Vec::new();
        for child in children {
            let out = child.wait_with_output().unwrap();
            if !out.status.success() {
                let text = String::from_utf8_lossy(&out.stderr).into_owned();
                failures.push(
                    text.lines()
                        .find(|l| l.contains("panicked") || l.contains("failed"))
                        .unwrap_or("")
                        .to_owned()
                        + &text
                            .lines()
                            .filter(|l| l.contains("open failed"))
                            .collect::<String>(),
                );
            }
        }
        assert!(failures.is_empty(), "round {round}: {failures:#?}");
        let repo = SqliteRepo::open(&path).unwrap();
        let n =
            futures_executor::block_on(repo.count(&enterprise_sso::ListQuery::default())).unwrap();
        assert_eq!(n, 12, "round {round}");
    }
}
