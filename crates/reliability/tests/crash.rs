//! Crash safety: a child process writes every kind of operation (creates with domains,
//! updates that move domains, sign-ins that create and update accounts, deletes that
//! unlink accounts) and acknowledges each; it is killed with SIGKILL at a random moment
//! after its first acknowledgement. After every kill the store must open, pass its full
//! integrity check (`verify`: every record and index), hold every acknowledged operation,
//! and keep every invariant: each domain claimed once and routed to its owner, no account
//! linked to a deleted connection. At most the one operation in flight at the kill may
//! show up unacknowledged. `SSO_CRASH_CYCLES` sets the cycles per store (default 20; 100
//! for a long run).
#![allow(clippy::unwrap_used)]

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use enterprise_sso::{AccountQuery, ConnectionId};
use enterprise_sso_reliability::{all_connections, Kind, Rng};

fn cycles() -> usize {
    std::env::var("SSO_CRASH_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20)
}

#[derive(Debug, Clone, PartialEq)]
struct Conn {
    version: u64,
    name: String,
    domain: String,
}

#[derive(Default)]
struct Model {
    conns: HashMap<String, Conn>,
    deleted: HashSet<String>,
    /// (connection, subject) -> (account id, version)
    accounts: HashMap<(String, String), (String, u64)>,
}

impl Model {
    fn apply(&mut self, line: &str) {
        let f: Vec<&str> = line.split(' ').collect();
        match f.as_slice() {
            ["C" | "U", id, version, name, domain] => {
                self.conns.insert(
                    id.to_string(),
                    Conn {
                        version: version.parse().unwrap(),
                        name: name.to_string(),
                        domain: domain.to_string(),
                    },
                );
            }
            ["S", conn, conn_version, subject, account, version] => {
                if let Some(c) = self.conns.get_mut(*conn) {
                    c.version = conn_version.parse().unwrap();
                }
                self.accounts.insert(
                    (conn.to_string(), subject.to_string()),
                    (account.to_string(), version.parse().unwrap()),
                );
            }
            ["D", id] => {
                self.conns.remove(*id);
                self.deleted.insert(id.to_string());
            }
            _ => panic!("unexpected line {line:?}"),
        }
    }
}

fn crash_cycles(kind: Kind) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(format!("crash-{}", kind.name()));
    let mut rng = Rng::new(0xC0FFEE ^ kind as u64);
    let mut model = Model::default();
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
        let (first_ack_tx, first_ack) = mpsc::channel();
        let reader = std::thread::spawn(move || {
            let mut lines = Vec::new();
            let mut sent = false;
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if !sent && line != "OPEN" {
                    let _ = first_ack_tx.send(());
                    sent = true;
                }
                lines.push(line);
            }
            lines
        });
        // Pass bar: every cycle acknowledges at least one write after opening the store.
        first_ack
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("cycle {cycle}: no write acknowledged"));
        std::thread::sleep(Duration::from_millis(rng.below(120)));
        child.kill().unwrap(); // SIGKILL on Unix
        assert!(
            !child.wait().unwrap().success(),
            "cycle {cycle}: not killed"
        );
        let lines = reader.join().unwrap();
        assert_eq!(
            lines.first().map(String::as_str),
            Some("OPEN"),
            "cycle {cycle}"
        );
        for line in &lines[1..] {
            assert!(!line.starts_with("ERR"), "cycle {cycle}: {line}");
            model.apply(line);
            total_acks += 1;
        }
        check(kind, &path, &mut model, cycle);
    }
    eprintln!(
        "{}: {} kill cycles, {total_acks} acknowledged operations verified",
        kind.name(),
        cycles()
    );
}

/// Re-opens the store and checks it against the model; adopts the effect of the one
/// operation that may have been in flight.
fn check(kind: Kind, path: &std::path::Path, model: &mut Model, cycle: usize) {
    let opened = kind
        .open_checked(path)
        .unwrap_or_else(|e| panic!("cycle {cycle}: open failed: {e}"));
    opened
        .verify()
        .unwrap_or_else(|e| panic!("cycle {cycle}: integrity check failed: {e}"));
    let store = opened.store();
    let stored = futures_executor::block_on(all_connections(store)).unwrap();
    let by_id: HashMap<String, _> = stored.iter().map(|c| (c.id.to_string(), c)).collect();
    let mut in_flight = 0;
    for (id, want) in model.conns.clone() {
        match by_id.get(&id) {
            None => in_flight += 1, // a delete in flight
            Some(c) if c.version == want.version => {
                assert_eq!(c.name, want.name, "cycle {cycle}: {id} lost its name");
                assert_eq!(
                    c.domains[0].as_str(),
                    want.domain,
                    "cycle {cycle}: {id} domain"
                );
            }
            Some(c) => {
                assert_eq!(
                    c.version,
                    want.version + 1,
                    "cycle {cycle}: {id} acknowledged at {}, stored {}",
                    want.version,
                    c.version
                );
                in_flight += 1;
            }
        }
    }
    for id in &model.deleted {
        assert!(
            !by_id.contains_key(id),
            "cycle {cycle}: acknowledged delete of {id} undone"
        );
        let page = futures_executor::block_on(store.list_accounts(
            &id.parse::<ConnectionId>().unwrap(),
            &AccountQuery::default(),
        ))
        .unwrap();
        assert!(
            page.items.is_empty(),
            "cycle {cycle}: account linked to deleted {id}"
        );
    }
    in_flight += by_id
        .keys()
        .filter(|id| !model.conns.contains_key(*id))
        .count();
    // Each domain claimed once and routed to its owner.
    let mut seen = HashSet::new();
    for c in &stored {
        for d in &c.domains {
            assert!(seen.insert(d.clone()), "cycle {cycle}: {d} claimed twice");
            let owner = futures_executor::block_on(store.find_by_domain(d))
                .unwrap()
                .unwrap();
            assert_eq!(owner.id, c.id, "cycle {cycle}: {d} routes elsewhere");
        }
    }
    for ((conn, subject), (account, version)) in &model.accounts {
        let a = futures_executor::block_on(store.get_account(&account.parse().unwrap()))
            .unwrap()
            .unwrap_or_else(|| panic!("cycle {cycle}: acknowledged account {account} missing"));
        assert_eq!(a.provider_user_id.as_deref(), Some(subject.as_str()));
        assert!(
            a.version == *version || a.version == version + 1,
            "cycle {cycle}: account {account} acknowledged at {version}, stored {}",
            a.version
        );
        if model.deleted.contains(conn) {
            assert_eq!(
                a.enterprise_connection_id, None,
                "cycle {cycle}: still linked"
            );
            assert!(!a.active);
        }
    }
    assert!(
        in_flight <= 1,
        "cycle {cycle}: {in_flight} unacknowledged changes"
    );
    // Adopt what is stored as the next baseline (a delete in flight counts as done).
    let vanished: Vec<String> = model
        .conns
        .keys()
        .filter(|id| !by_id.contains_key(*id))
        .cloned()
        .collect();
    model.deleted.extend(vanished);
    model.conns = stored
        .iter()
        .map(|c| {
            (
                c.id.to_string(),
                Conn {
                    version: c.version,
                    name: c.name.clone(),
                    domain: c.domains[0].to_string(),
                },
            )
        })
        .collect();
    for ((_, _), (account, version)) in model.accounts.iter_mut() {
        let a = futures_executor::block_on(store.get_account(&account.parse().unwrap()))
            .unwrap()
            .unwrap();
        *version = a.version;
    }
    check_feed(store, &stored, model, cycle);
}

/// The change feed after a kill: positions 1..=N without a gap, and replaying it gives
/// exactly the stored connections and accounts (same versions): every write that happened
/// has its events, and no event exists for a write that did not happen.
fn check_feed(
    store: &dyn enterprise_sso::Store,
    stored: &[enterprise_sso::EnterpriseConnection],
    model: &Model,
    cycle: usize,
) {
    use enterprise_sso::events::EventKind;
    let mut events = Vec::new();
    loop {
        let from = events
            .last()
            .map_or(0, |e: &enterprise_sso::events::Event| e.position);
        let page = futures_executor::block_on(store.events_after(from, 500))
            .unwrap()
            .events;
        if page.is_empty() {
            break;
        }
        events.extend(page);
    }
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e.position, i as u64 + 1, "cycle {cycle}: feed has a gap");
    }
    let mut conns: HashMap<String, u64> = HashMap::new();
    let mut accounts: HashMap<String, u64> = HashMap::new();
    for e in &events {
        if let (Some(id), Some(snap)) = (&e.connection_id, &e.connection) {
            if e.account_id.is_none() {
                if e.kind == EventKind::ConnectionDeleted {
                    conns.remove(id.as_str());
                } else {
                    conns.insert(id.to_string(), snap.version);
                }
            }
        }
        if let (Some(id), Some(a)) = (&e.account_id, &e.account) {
            if e.kind == EventKind::AccountDeleted {
                accounts.remove(id.as_str());
            } else {
                accounts.insert(id.to_string(), a.version);
            }
        }
    }
    let want: HashMap<String, u64> = stored
        .iter()
        .map(|c| (c.id.to_string(), c.version))
        .collect();
    assert_eq!(
        conns, want,
        "cycle {cycle}: feed replay vs stored connections"
    );
    for (account, _) in model.accounts.values() {
        let a = futures_executor::block_on(store.get_account(&account.parse().unwrap()))
            .unwrap()
            .unwrap();
        assert_eq!(
            accounts.get(account),
            Some(&a.version),
            "cycle {cycle}: feed replay vs stored account {account}"
        );
    }
}

#[test]
fn sqlite_survives_sigkill() {
    crash_cycles(Kind::Sqlite);
}

#[test]
fn sled_with_flush_on_write_survives_sigkill() {
    crash_cycles(Kind::Sled);
}
