//! Sign-in records taken across processes: two processes open the same database file and
//! race to take the same 128 records (and to put the same 128 replay-cache keys). Every
//! record must be taken by exactly one of them, every key written by exactly one.
//!
//! The test runs this test binary again as the two children (`child_takes`, which does
//! nothing unless `SSO_SIGN_IN_CHILD` names the database).
#![allow(clippy::unwrap_used)]

use enterprise_sso::UnixMillis;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use enterprise_sso::{sign_in_key, SignInItem, SignInKind, SignInStore};
use enterprise_sso_sqlite::SqliteRepo;
use futures_executor::block_on;

const KEYS: usize = 128;
const CHILD_ENV: &str = "SSO_SIGN_IN_CHILD";
const GO_ENV: &str = "SSO_SIGN_IN_GO";

fn item(kind: SignInKind, i: usize) -> SignInItem {
    SignInItem {
        kind,
        key: sign_in_key(&format!("{kind:?}-{i}")),
        connection_id: None,
        created_at: UnixMillis::new(1),
        expires_at: UnixMillis::new(i64::MAX),
        payload: format!("payload-{i}").into_bytes(),
    }
}

/// One child: opens the database, waits for the start file, then takes every pending
/// request and puts every assertion ID, printing `T i` for a take it won and `P i` for a
/// put it wrote.
#[test]
fn child_takes() {
    let (Ok(db), Ok(go)) = (std::env::var(CHILD_ENV), std::env::var(GO_ENV)) else {
        return;
    };
    let repo = SqliteRepo::open(&db).unwrap();
    println!("READY");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !Path::new(&go).exists() {
        assert!(Instant::now() < deadline, "no start signal");
        std::hint::spin_loop();
    }
    for i in 0..KEYS {
        let key = item(SignInKind::SamlRequest, i).key;
        if block_on(repo.take_sign_in(SignInKind::SamlRequest, &key, UnixMillis::new(2)))
            .unwrap()
            .is_some()
        {
            println!("T {i}");
        }
        if block_on(repo.put_sign_in(&item(SignInKind::SamlAssertion, i), UnixMillis::new(2)))
            .unwrap()
        {
            println!("P {i}");
        }
    }
}

#[test]
fn two_processes_take_each_record_once() {
    if std::env::var(CHILD_ENV).is_ok() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("sign_ins.db");
    let go = dir.path().join("go");
    {
        let repo = SqliteRepo::open(&db).unwrap();
        for i in 0..KEYS {
            assert!(block_on(
                repo.put_sign_in(&item(SignInKind::SamlRequest, i), UnixMillis::new(1))
            )
            .unwrap());
        }
    }
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = (0..2)
        .map(|_| {
            Command::new(&exe)
                .args(["--exact", "child_takes", "--nocapture", "--test-threads=1"])
                .env(CHILD_ENV, &db)
                .env(GO_ENV, &go)
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()
                .unwrap()
        })
        .collect();
    // Both are waiting on the file; they open the database before that, so the race is
    // between two open handles.
    std::thread::sleep(Duration::from_millis(300));
    std::fs::write(&go, b"").unwrap();
    let mut takes = vec![0; KEYS];
    let mut puts = vec![0; KEYS];
    let mut per_child = Vec::new();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "a child failed: {:?}", out.status);
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(text.contains("READY"), "the child did not run: {text}");
        let mut won = 0;
        for line in text.lines() {
            let mut f = line.split(' ');
            match (f.next(), f.next().and_then(|i| i.parse::<usize>().ok())) {
                (Some("T"), Some(i)) => {
                    takes[i] += 1;
                    won += 1;
                }
                (Some("P"), Some(i)) => puts[i] += 1,
                _ => {}
            }
        }
        per_child.push(won);
    }
    assert_eq!(takes, vec![1; KEYS], "each record taken exactly once");
    assert_eq!(puts, vec![1; KEYS], "each replay key written exactly once");
    eprintln!("takes won per process: {per_child:?}");
    let repo = SqliteRepo::open(&db).unwrap();
    for i in 0..KEYS {
        let key = item(SignInKind::SamlRequest, i).key;
        assert_eq!(
            block_on(repo.get_sign_in(SignInKind::SamlRequest, &key, UnixMillis::new(2))).unwrap(),
            None
        );
    }
}
