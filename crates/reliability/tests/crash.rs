//! Crash safety: a child process writes and acknowledges each write; it is killed with
//! SIGKILL at random moments; after every kill the store must open cleanly and hold every
//! acknowledged write exactly. `SSO_CRASH_CYCLES` sets the cycles per store (default 20).
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use enterprise_sso::ConnectionRepo;
use enterprise_sso_reliability::{all_connections, Kind, Rng};

fn cycles() -> usize {
    std::env::var("SSO_CRASH_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20)
}

fn crash_cycles(kind: Kind) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(format!("crash-{}", kind.name()));
    let mut rng = Rng::new(0xC0FFEE ^ kind as u64);
    // id -> (version, name) of the last acknowledged write
    let mut acked: HashMap<String, (u64, String)> = HashMap::new();
    let mut total_acks = 0usize;
    for cycle in 0..cycles() {
        let mut child = Command::new(env!("CARGO_BIN_EXE_crash-writer"))
            .args([
                kind.name(),
                path.to_str().unwrap(),
                &(cycle as u64 + 1).to_string(),
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
                .collect::<Vec<_>>()
        });
        std::thread::sleep(Duration::from_millis(30 + rng.below(150)));
        child.kill().unwrap(); // SIGKILL on Unix
        let status = child.wait().unwrap();
        assert!(
            !status.success(),
            "cycle {cycle}: the writer must have been killed"
        );
        let lines = reader.join().unwrap();
        for line in &lines {
            let parts: Vec<_> = line.splitn(4, ' ').collect();
            match parts.as_slice() {
                ["ACK", id, version, name] => {
                    acked.insert(id.to_string(), (version.parse().unwrap(), name.to_string()));
                    total_acks += 1;
                }
                _ => panic!("cycle {cycle}: unexpected line {line:?}"),
            }
        }
        // Re-open and check every acknowledged write.
        let store = kind
            .open(&path)
            .unwrap_or_else(|e| panic!("cycle {cycle}: open failed: {e}"));
        let stored = futures_executor::block_on(all_connections(&*store)).unwrap();
        let by_id: HashMap<_, _> = stored.iter().map(|c| (c.id.to_string(), c)).collect();
        for (id, (version, name)) in acked.iter_mut() {
            let c = by_id
                .get(id)
                .unwrap_or_else(|| panic!("cycle {cycle}: acknowledged {id} is missing"));
            // At most one write (the one in flight when killed) may follow the last ack.
            assert!(
                c.version == *version || c.version == *version + 1,
                "cycle {cycle}: {id} acknowledged at version {version}, stored {}",
                c.version
            );
            if c.version == *version {
                assert_eq!(
                    &c.name, name,
                    "cycle {cycle}: {id} lost its acknowledged name"
                );
            }
            let got = futures_executor::block_on(store.get(&c.id)).unwrap();
            assert_eq!(
                got.as_ref(),
                Some(*c),
                "cycle {cycle}: list and get disagree"
            );
            *version = c.version;
            *name = c.name.clone();
        }
        // Unacknowledged creates may exist; adopt them as the new baseline.
        for c in &stored {
            acked
                .entry(c.id.to_string())
                .or_insert((c.version, c.name.clone()));
        }
    }
    assert!(
        total_acks > cycles(),
        "the writer acknowledged too little to mean anything ({total_acks})"
    );
    eprintln!(
        "{}: {} kill cycles, {total_acks} acknowledged writes verified",
        kind.name(),
        cycles()
    );
}

#[test]
fn sqlite_survives_sigkill() {
    crash_cycles(Kind::Sqlite);
}

#[test]
fn sled_with_flush_on_write_survives_sigkill() {
    crash_cycles(Kind::Sled);
}
