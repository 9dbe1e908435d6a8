//! The read cache's model test: two handles ([`Cached`] stores over one store, as two
//! replicas) with concurrent writers, readers, deletes and prunes, every read checked
//! against the store, and the whole history against the cache's promises:
//!
//! - **bounded staleness**: no read answers older than a write acknowledged more than
//!   `sync_interval` before the read began;
//! - **never backwards**: one handle never answers an older version of a connection after
//!   a newer one (a delete counts as newer than every version);
//! - **never ahead of the store**: what a handle answers is stored, or was overwritten.
//!
//! Several processes can run [`run_model`] over one store (SQLite) and hand their
//! [`ModelLog`]s to [`check_model`]: timestamps are wall-clock microseconds, so the logs of
//! processes on one machine compare.

use enterprise_sso::UnixMillis;
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use enterprise_sso::{
    ConnectionId, ConnectionRepo, Connections, Error, Patch, Store, UpdateConnection,
};
use enterprise_sso_cache::{CacheOptions, Cached};

use crate::fixtures::*;
use futures_executor::block_on;

/// How a connection stood: its version, or [`DELETED`].
pub type Ord = u64;

/// The order of "deleted": after every version (ids are never reused here).
pub const DELETED: Ord = u64::MAX;

/// A write the store acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ack {
    /// Which connection (index into the ids).
    pub id: usize,
    /// What it became.
    pub ord: Ord,
    /// When the call returned (µs since the epoch).
    pub at_us: u64,
}

/// A read through a handle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadRecord {
    /// `process/handle`.
    pub handle: String,
    /// Which connection.
    pub id: usize,
    /// What the handle answered.
    pub ord: Ord,
    /// When the call began (µs since the epoch).
    pub began_us: u64,
}

/// What one run saw: its acknowledged writes and its reads, in the order they ended.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ModelLog {
    /// Acknowledged writes.
    pub acks: Vec<Ack>,
    /// Reads.
    pub reads: Vec<ReadRecord>,
}

impl ModelLog {
    /// One line per record (`a id ord at` / `r handle id ord began`), for a child process
    /// to hand its log to its parent.
    pub fn to_lines(&self) -> String {
        let mut out = String::new();
        for a in &self.acks {
            out.push_str(&format!("a {} {} {}\n", a.id, a.ord, a.at_us));
        }
        for r in &self.reads {
            out.push_str(&format!(
                "r {} {} {} {}\n",
                r.handle, r.id, r.ord, r.began_us
            ));
        }
        out
    }

    /// The log [`ModelLog::to_lines`] wrote (lines that do not parse are skipped).
    pub fn from_lines(text: &str) -> ModelLog {
        let mut log = ModelLog::default();
        for line in text.lines() {
            let f: Vec<&str> = line.split(' ').collect();
            let n = |i: usize| f.get(i).and_then(|s| s.parse::<u64>().ok());
            match (f.first(), f.len()) {
                (Some(&"a"), 4) => {
                    if let (Some(id), Some(ord), Some(at_us)) = (n(1), n(2), n(3)) {
                        log.acks.push(Ack {
                            id: usize::try_from(id).unwrap_or(usize::MAX),
                            ord,
                            at_us,
                        });
                    }
                }
                (Some(&"r"), 5) => {
                    if let (Some(id), Some(ord), Some(began_us)) = (n(2), n(3), n(4)) {
                        log.reads.push(ReadRecord {
                            handle: f[1].to_owned(),
                            id: usize::try_from(id).unwrap_or(usize::MAX),
                            ord,
                            began_us,
                        });
                    }
                }
                _ => {}
            }
        }
        log
    }
}

/// Settings of one [`run_model`].
#[derive(Debug, Clone)]
pub struct ModelOptions {
    /// The handles' [`CacheOptions::sync_interval`].
    pub sync_interval: Duration,
    /// Operations per writer and per reader thread.
    pub ops: usize,
    /// Seed of the pseudo-random choices.
    pub seed: u64,
    /// Name of this process in the log.
    pub process: String,
    /// Whether this run prunes the feed (one process of several is enough).
    pub prune: bool,
}

/// Wall-clock microseconds.
pub fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n.max(1)
    }
}

/// The connections a model run works on: `n`, each claiming its own domain (which never
/// moves), written straight to the store.
pub async fn model_connections(repo: &(dyn Store + '_), n: usize) -> Vec<ConnectionId> {
    let tag = unique_tag();
    let mut ids = Vec::new();
    for i in 0..n {
        let c = saml_connection(&format!("m{i}"), &[&format!("m{i}.model-{tag}.com")], true);
        repo.insert(&c).await.expect("insert");
        ids.push(c.id);
    }
    ids
}

fn ord_of(c: Option<&enterprise_sso::EnterpriseConnection>) -> Ord {
    c.map_or(DELETED, |c| c.version)
}

/// Runs two handles over `repo` on the connections `ids`: per handle one writer (updates
/// and, rarely, deletes, through the handle) and one reader (by id and by domain, each
/// read checked against the store and against the handle's earlier reads at once), plus a
/// pruner that keeps deleting the whole feed when `opts.prune`. Panics on a failed
/// immediate check; returns the log for [`check_model`].
pub async fn run_model(
    repo: &(dyn Store + '_),
    ids: &[ConnectionId],
    opts: &ModelOptions,
) -> ModelLog {
    let cache_opts = CacheOptions {
        sync_interval: opts.sync_interval,
        ..CacheOptions::default()
    };
    let handles = [
        Cached::with_options(repo, cache_opts.clone()),
        Cached::with_options(repo, cache_opts),
    ];
    let mut domains = Vec::new();
    for id in ids {
        let c = repo.get(id).await.expect("get");
        domains.push(c.map(|c| c.domains[0].clone()));
    }
    let log = Mutex::new(ModelLog::default());
    let writers_left = std::sync::atomic::AtomicUsize::new(handles.len());
    let interval_us = u64::try_from(opts.sync_interval.as_micros()).unwrap_or(u64::MAX);
    let pace = interval_us.clamp(1_000, 50_000);
    thread::scope(|s| {
        for (h, handle) in handles.iter().enumerate() {
            let (log, writers_left) = (&log, &writers_left);
            // The writer: bursts and pauses, so the feed is often pruned to its end with
            // nothing written after (the gap only the floor shows).
            s.spawn(move || {
                let svc = Connections::new(handle);
                let mut rng = Rng::new(opts.seed ^ ((h as u64 + 1) * 7919));
                for _ in 0..opts.ops {
                    let i = usize::try_from(rng.below(ids.len() as u64)).unwrap_or(0);
                    let deleting = i >= 2 && rng.below(40) == 0;
                    let result = if deleting {
                        block_on(svc.delete(&ids[i])).map(|()| DELETED)
                    } else {
                        let patch = UpdateConnection {
                            active: Patch::Value(rng.below(2) == 0),
                            name: Patch::Value(format!("w{h}-{}", rng.below(1_000_000))),
                            ..UpdateConnection::default()
                        };
                        block_on(svc.update(&ids[i], &patch)).map(|c| c.version)
                    };
                    match result {
                        Ok(ord) => log.lock().expect("log").acks.push(Ack {
                            id: i,
                            ord,
                            at_us: now_us(),
                        }),
                        Err(Error::NotFound { .. } | Error::VersionConflict { .. }) => {}
                        Err(e) => panic!("write: {e}"),
                    }
                    thread::sleep(Duration::from_micros(rng.below(pace * 2)));
                }
                writers_left.fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
            });
            let domains = &domains;
            s.spawn(move || {
                let mut rng = Rng::new(opts.seed ^ ((h as u64 + 11) * 104_729));
                let name = format!("{}/{h}", opts.process);
                let mut last = vec![0; ids.len()];
                for _ in 0..opts.ops * 3 {
                    let i = usize::try_from(rng.below(ids.len() as u64)).unwrap_or(0);
                    let began_us = now_us();
                    let ord = match (&domains[i], rng.below(2)) {
                        (Some(d), 0) => {
                            let found = block_on(handle.find_by_domain(d)).expect("find");
                            if let Some(c) = &found {
                                assert_eq!(c.id, ids[i], "{name}: domain {d} moved");
                            }
                            ord_of(found.as_ref())
                        }
                        _ => ord_of(block_on(handle.get(&ids[i])).expect("get").as_ref()),
                    };
                    let stored = ord_of(block_on(repo.get(&ids[i])).expect("store").as_ref());
                    assert!(
                        ord <= stored,
                        "{name}: connection {i} read as {ord}, but the store holds {stored} \
                         (seed {})",
                        opts.seed
                    );
                    assert!(
                        ord >= last[i],
                        "{name}: connection {i} went backwards from {} to {ord} (seed {})",
                        last[i],
                        opts.seed
                    );
                    last[i] = ord;
                    log.lock().expect("log").reads.push(ReadRecord {
                        handle: name.clone(),
                        id: i,
                        ord,
                        began_us,
                    });
                    thread::sleep(Duration::from_micros(rng.below(pace / 2)));
                }
            });
        }
        if opts.prune {
            let writers_left = &writers_left;
            s.spawn(move || {
                let mut rng = Rng::new(opts.seed ^ 0xfeed);
                while writers_left.load(std::sync::atomic::Ordering::Acquire) > 0 {
                    thread::sleep(Duration::from_micros(rng.below(pace)));
                    let now = enterprise_sso::now_ms();
                    block_on(repo.prune_events_before(UnixMillis::new(now.saturating_add(1))))
                        .expect("prune");
                }
            });
        }
    });
    log.into_inner().expect("log")
}

/// Checks the histories of every run over one store: each read was at least as new as
/// every write acknowledged more than `sync_interval` before it began, and no handle went
/// backwards. Returns every violation found (empty: none).
pub fn check_model(logs: &[ModelLog], sync_interval: Duration) -> Vec<String> {
    let interval_us = u64::try_from(sync_interval.as_micros()).unwrap_or(u64::MAX);
    let acks: Vec<&Ack> = logs.iter().flat_map(|l| &l.acks).collect();
    let mut out = Vec::new();
    let mut last: std::collections::HashMap<(&str, usize), Ord> = Default::default();
    let mut reads: Vec<&ReadRecord> = logs.iter().flat_map(|l| &l.reads).collect();
    reads.sort_by_key(|r| r.began_us);
    for r in reads {
        let due = acks
            .iter()
            .filter(|a| a.id == r.id && a.at_us.saturating_add(interval_us) < r.began_us)
            .map(|a| a.ord)
            .max()
            .unwrap_or(0);
        if r.ord < due {
            if out.is_empty() {
                out.push(history(logs, r));
            }
            out.push(format!(
                "{} read connection {} as {} at {}, but {} was acknowledged more than {:?} \
                 before",
                r.handle, r.id, r.ord, r.began_us, due, sync_interval
            ));
        }
        let seen = last.entry((r.handle.as_str(), r.id)).or_insert(0);
        if r.ord < *seen {
            out.push(format!(
                "{} read connection {} as {} after {}",
                r.handle, r.id, r.ord, seen
            ));
        }
        *seen = (*seen).max(r.ord);
    }
    out
}

/// The acknowledged writes and the reads of `r`'s connection, timed relative to `r`'s
/// start (µs): what a violation message shows to diagnose it.
fn history(logs: &[ModelLog], r: &ReadRecord) -> String {
    let rel = |t: u64| i128::from(t) - i128::from(r.began_us);
    let mut lines: Vec<(i128, String)> = logs
        .iter()
        .flat_map(|l| &l.acks)
        .filter(|a| a.id == r.id)
        .map(|a| (rel(a.at_us), format!("ack {}", a.ord)))
        .chain(
            logs.iter()
                .flat_map(|l| &l.reads)
                .filter(|x| x.id == r.id)
                .map(|x| (rel(x.began_us), format!("{} read {}", x.handle, x.ord))),
        )
        .collect();
    lines.sort();
    let lines: Vec<String> = lines.iter().map(|(t, l)| format!("{t:+} {l}")).collect();
    format!("history of connection {}: {}", r.id, lines.join(", "))
}

/// How many model cases to run: `ENTERPRISE_SSO_MODEL_CASES`, else `default`.
pub fn model_cases(default: usize) -> usize {
    std::env::var("ENTERPRISE_SSO_MODEL_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}
