//! The cache's tests with a store that counts or pauses the calls that reach it.
#![allow(clippy::unwrap_used)]
use enterprise_sso::UnixMillis;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;

use super::*;
use enterprise_sso::testing::saml_connection;
use enterprise_sso::Connections;
use enterprise_sso::{ListQuery, Page};
use enterprise_sso_memory::MemoryRepo;
use futures_executor::block_on;

/// A memory store that counts the reads that reach it.
#[derive(Default)]
struct Counting {
    inner: MemoryRepo,
    reads: AtomicUsize,
}

#[async_trait]
impl ConnectionRepo for Counting {
    async fn insert(&self, c: &EnterpriseConnection) -> Result<()> {
        self.inner.insert(c).await
    }
    async fn get(&self, id: &ConnectionId) -> Result<Option<EnterpriseConnection>> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        self.inner.get(id).await
    }
    async fn update(&self, c: &EnterpriseConnection, v: u64) -> Result<()> {
        self.inner.update(c, v).await
    }
    async fn delete(&self, id: &ConnectionId, now: UnixMillis) -> Result<bool> {
        self.inner.delete(id, now).await
    }
    async fn list(&self, q: &ListQuery) -> Result<Page> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        self.inner.list(q).await
    }
    async fn find_by_domain(&self, d: &Domain) -> Result<Option<EnterpriseConnection>> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        self.inner.find_by_domain(d).await
    }
}

#[async_trait]
impl EventFeed for Counting {
    async fn events_after(&self, p: u64, l: usize) -> Result<enterprise_sso::FeedPage> {
        self.inner.events_after(p, l).await
    }
    async fn prune_events_before(&self, t: UnixMillis) -> Result<u64> {
        self.inner.prune_events_before(t).await
    }
}

/// A pause in a store call: tells the test it got there, then waits for the go-ahead.
type Pause = std::sync::Mutex<Option<(std::sync::mpsc::Sender<()>, std::sync::mpsc::Receiver<()>)>>;

/// Sets `pause` up: the test waits on the first receiver for the store to get there,
/// and sends on the second to let it go on.
fn pause(pause: &Pause) -> (std::sync::mpsc::Receiver<()>, std::sync::mpsc::Sender<()>) {
    let (there, reached) = std::sync::mpsc::channel();
    let (go, wait) = std::sync::mpsc::channel();
    *pause.lock().unwrap() = Some((there, wait));
    (reached, go)
}

/// If `pause` is set: tells the test the store got there and waits for its go-ahead.
fn wait_at(pause: &Pause) {
    if let Some((there, go)) = pause.lock().unwrap().take() {
        there.send(()).unwrap();
        go.recv().unwrap();
    }
}

/// A store whose `update` commits, then waits for the test's go-ahead before it
/// returns: the window between a write's commit and the cache's record of it. With
/// `before` set, it also waits before it writes.
#[derive(Default)]
struct Paused {
    inner: MemoryRepo,
    before: Pause,
    after: Pause,
}

#[async_trait]
impl ConnectionRepo for Paused {
    async fn insert(&self, c: &EnterpriseConnection) -> Result<()> {
        self.inner.insert(c).await
    }
    async fn get(&self, id: &ConnectionId) -> Result<Option<EnterpriseConnection>> {
        self.inner.get(id).await
    }
    async fn update(&self, c: &EnterpriseConnection, v: u64) -> Result<()> {
        wait_at(&self.before);
        self.inner.update(c, v).await?;
        wait_at(&self.after);
        Ok(())
    }
    async fn delete(&self, id: &ConnectionId, now: UnixMillis) -> Result<bool> {
        self.inner.delete(id, now).await
    }
    async fn list(&self, q: &ListQuery) -> Result<Page> {
        self.inner.list(q).await
    }
    async fn find_by_domain(&self, d: &Domain) -> Result<Option<EnterpriseConnection>> {
        self.inner.find_by_domain(d).await
    }
}

#[async_trait]
impl EventFeed for Paused {
    async fn events_after(&self, p: u64, l: usize) -> Result<enterprise_sso::FeedPage> {
        self.inner.events_after(p, l).await
    }
    async fn prune_events_before(&self, t: UnixMillis) -> Result<u64> {
        self.inner.prune_events_before(t).await
    }
}

/// The store committed v2 (its feed shows it) and the cache has not recorded it yet:
/// a read in that window answers v2 from the store, by id and by domain, and after
/// the record the cache holds v2. (Answering v1 from memory there let a cache layered
/// over this one, having read v2's event, fill v1 and keep it.)
#[test]
fn a_read_during_a_write_through_goes_to_the_store() {
    let c = std::sync::Arc::new(Cached::with_options(
        Paused::default(),
        CacheOptions {
            sync_interval: Duration::MAX,
            ..CacheOptions::default()
        },
    ));
    let v1 = saml_connection("x", &["x.in-flight.com"], true);
    block_on(c.insert(&v1)).unwrap();
    assert_eq!(block_on(c.get(&v1.id)).unwrap(), Some(v1.clone()));
    let (committed, go) = pause(&c.inner().after);
    let mut v2 = v1.clone();
    v2.name = "two".into();
    v2.version += 1;
    let writer = {
        let (c, v2) = (std::sync::Arc::clone(&c), v2.clone());
        std::thread::spawn(move || block_on(c.update(&v2, 1)).unwrap())
    };
    committed.recv().unwrap();
    assert_eq!(block_on(c.get(&v1.id)).unwrap(), Some(v2.clone()));
    assert_eq!(
        block_on(c.find_by_domain(&v1.domains[0])).unwrap(),
        Some(v2.clone())
    );
    go.send(()).unwrap();
    writer.join().unwrap();
    // Reads went to the store meanwhile, so the record left a miss: one more read of
    // the store, then hits.
    let misses = c.stats().misses;
    assert_eq!(block_on(c.get(&v1.id)).unwrap(), Some(v2.clone()));
    assert_eq!(c.stats().misses, misses + 1);
    let hits = c.stats().hits;
    assert_eq!(block_on(c.get(&v1.id)).unwrap(), Some(v2));
    assert_eq!(c.stats().hits, hits + 1);
}

/// This cache's write of v2 commits; another handle deletes the connection; a read in
/// the window answers "deleted" from the store. The write's record must not bring v2
/// back (the model test saw "went backwards from deleted to 3").
#[test]
fn a_write_through_does_not_undo_a_delete_a_read_saw() {
    let c = std::sync::Arc::new(Cached::with_options(
        Paused::default(),
        CacheOptions {
            sync_interval: Duration::MAX,
            ..CacheOptions::default()
        },
    ));
    let v1 = saml_connection("x", &["x.write-delete.com"], true);
    block_on(c.insert(&v1)).unwrap();
    let (committed, go) = pause(&c.inner().after);
    let mut v2 = v1.clone();
    v2.version += 1;
    let writer = {
        let (c, v2) = (std::sync::Arc::clone(&c), v2.clone());
        std::thread::spawn(move || block_on(c.update(&v2, 1)).unwrap())
    };
    committed.recv().unwrap();
    assert!(block_on(c.inner().delete(&v1.id, UnixMillis::new(0))).unwrap());
    assert_eq!(block_on(c.get(&v1.id)).unwrap(), None);
    go.send(()).unwrap();
    writer.join().unwrap();
    assert_eq!(block_on(c.get(&v1.id)).unwrap(), None);
    assert_eq!(block_on(c.find_by_domain(&v1.domains[0])).unwrap(), None);
}

/// Runs a write through of v2 and, before the store writes it, `drop_marks` (which
/// empties the cache's slot of the connection), then a read that finds v1 in the store;
/// once the store has committed v2 (its feed shows it) and before the cache records the
/// write, reads must answer v2. They answered v1 from memory when the write's mark was
/// gone with the slot: an outer cache over this one (the SQLite `file_cached` model test
/// at interval 0) had reset past v2's event, filled v1 and kept it until the next write.
fn a_write_in_flight_outlives(
    capacity: usize,
    drop_marks: impl Fn(&Cached<Paused>, &EnterpriseConnection),
) {
    let c = std::sync::Arc::new(Cached::with_options(
        Paused::default(),
        CacheOptions {
            capacity,
            sync_interval: Duration::MAX,
            ..CacheOptions::default()
        },
    ));
    block_on(c.sync()).unwrap();
    let v1 = saml_connection("x", &["x.in-flight-reset.com"], true);
    block_on(c.insert(&v1)).unwrap();
    let version = |c: Option<EnterpriseConnection>| c.map(|c| c.version);
    assert_eq!(version(block_on(c.get(&v1.id)).unwrap()), Some(1));
    let (reached, start) = pause(&c.inner().before);
    let (committed, go) = pause(&c.inner().after);
    let mut v2 = v1.clone();
    v2.name = "two".into();
    v2.version += 1;
    let writer = {
        let (c, v2) = (std::sync::Arc::clone(&c), v2.clone());
        std::thread::spawn(move || block_on(c.update(&v2, 1)).unwrap())
    };
    reached.recv().unwrap();
    drop_marks(&c, &v1);
    assert!(c.ids.get(&v1.id).is_none());
    assert_eq!(version(block_on(c.get(&v1.id)).unwrap()), Some(1));
    assert_eq!(
        version(block_on(c.find_by_domain(&v1.domains[0])).unwrap()),
        Some(1)
    );
    // Another read catches up with the feed before the commit (nothing new in it).
    block_on(c.sync()).unwrap();
    start.send(()).unwrap();
    committed.recv().unwrap();
    // By domain first: a read by id that went to the store would refresh the entry.
    assert_eq!(
        version(block_on(c.find_by_domain(&v1.domains[0])).unwrap()),
        Some(2)
    );
    assert_eq!(version(block_on(c.get(&v1.id)).unwrap()), Some(2));
    go.send(()).unwrap();
    writer.join().unwrap();
    assert_eq!(block_on(c.get(&v1.id)).unwrap(), Some(v2.clone()));
    assert_eq!(
        block_on(c.find_by_domain(&v1.domains[0])).unwrap(),
        Some(v2)
    );
}

/// The feed is pruned past the cache while its write is in flight: the catch-up drops
/// the whole cache, and with it the write's mark.
#[test]
fn a_write_in_flight_outlives_a_reset() {
    a_write_in_flight_outlives(4096, |c, _| {
        block_on(c.inner().prune_events_before(UnixMillis::new(i64::MAX))).unwrap();
        block_on(c.sync()).unwrap();
        assert_eq!(c.stats().resets, 1);
    });
}

/// Reads of other connections push the write's mark out of the LRU map.
#[test]
fn a_write_in_flight_outlives_an_eviction() {
    a_write_in_flight_outlives(16, |c, x| {
        for _ in 0..10_000 {
            if c.ids.get(&x.id).is_none() {
                return;
            }
            block_on(c.get(&ConnectionId::generate())).unwrap();
        }
    });
}

/// A write through claims a domain the cache holds "no connection" for: once the store
/// has committed the claim and before the cache records the write, a read by that
/// domain finds the connection (a cache over this one that read the claim's event took
/// the "no connection" answered from memory here and kept it).
#[test]
fn a_domain_claimed_in_flight_is_not_answered_from_memory() {
    let c = std::sync::Arc::new(Cached::with_options(
        Paused::default(),
        CacheOptions {
            sync_interval: Duration::MAX,
            ..CacheOptions::default()
        },
    ));
    block_on(c.sync()).unwrap();
    let v1 = saml_connection("x", &["x.claim-in-flight.com"], true);
    block_on(c.insert(&v1)).unwrap();
    let claimed = Domain::parse("y.claim-in-flight.com").unwrap();
    assert_eq!(block_on(c.find_by_domain(&claimed)).unwrap(), None);
    let hits = c.stats().hits;
    assert_eq!(block_on(c.find_by_domain(&claimed)).unwrap(), None);
    assert_eq!(c.stats().hits, hits + 1, "the answer is held");
    let (committed, go) = pause(&c.inner().after);
    let mut v2 = v1.clone();
    v2.domains.push(claimed.clone());
    v2.version += 1;
    let writer = {
        let (c, v2) = (std::sync::Arc::clone(&c), v2.clone());
        std::thread::spawn(move || block_on(c.update(&v2, 1)).unwrap())
    };
    committed.recv().unwrap();
    let found = block_on(c.find_by_domain(&claimed)).unwrap();
    assert_eq!(found.map(|f| f.version), Some(2));
    go.send(()).unwrap();
    writer.join().unwrap();
    assert_eq!(block_on(c.find_by_domain(&claimed)).unwrap(), Some(v2));
}

#[test]
fn hits_never_reach_the_store() {
    let c = Cached::with_options(
        Counting::default(),
        CacheOptions {
            sync_interval: Duration::MAX,
            ..CacheOptions::default()
        },
    );
    let mut x = saml_connection("x", &["hit.example.com"], true);
    x.allow_subdomains = true;
    block_on(c.insert(&x)).unwrap();
    let svc = Connections::new(&c);
    // First calls may fill (the exact domain, the subdomain's own miss, the parent).
    block_on(svc.route_email("a@hit.example.com")).unwrap();
    block_on(svc.route_email("a@sub.hit.example.com")).unwrap();
    block_on(svc.route_email("a@nobody.example.com")).unwrap();
    block_on(svc.get(&x.id)).unwrap();
    let before = c.inner().reads.load(Ordering::SeqCst);
    for _ in 0..10 {
        let routed = block_on(svc.route_email("a@hit.example.com")).unwrap();
        assert_eq!(routed.map(|r| r.id), Some(x.id.clone()));
        let sub = block_on(c.route_email_shared("a@sub.hit.example.com")).unwrap();
        assert_eq!(sub.map(|r| r.id.clone()), Some(x.id.clone()));
        assert_eq!(
            block_on(svc.route_email("a@nobody.example.com")).unwrap(),
            None
        );
        assert_eq!(block_on(svc.get(&x.id)).unwrap(), x);
        assert_eq!(block_on(c.get_shared(&x.id)).unwrap().as_deref(), Some(&x));
    }
    assert_eq!(c.inner().reads.load(Ordering::SeqCst), before);
}
