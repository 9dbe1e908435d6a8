//! The cache's tests with a store that counts or pauses the calls that reach it.
#![allow(clippy::unwrap_used)]
use crate::millis::UnixMillis;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;

use super::*;
use crate::memory::MemoryRepo;
use crate::repo::{ListQuery, Page};
use crate::service::Connections;
use crate::testing::saml_connection;
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
    async fn events_after(&self, p: u64, l: usize) -> Result<crate::repo::FeedPage> {
        self.inner.events_after(p, l).await
    }
    async fn prune_events_before(&self, t: UnixMillis) -> Result<u64> {
        self.inner.prune_events_before(t).await
    }
}

/// A store whose `update` commits, then waits for the test's go-ahead before it
/// returns: the window between a write's commit and the cache's record of it.
#[derive(Default)]
struct Paused {
    inner: MemoryRepo,
    committed: std::sync::Mutex<Option<std::sync::mpsc::Sender<()>>>,
    go: std::sync::Mutex<Option<std::sync::mpsc::Receiver<()>>>,
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
        self.inner.update(c, v).await?;
        if let Some(tx) = self.committed.lock().unwrap().take() {
            tx.send(()).unwrap();
            let go = self.go.lock().unwrap().take().unwrap();
            go.recv().unwrap();
        }
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
    async fn events_after(&self, p: u64, l: usize) -> Result<crate::repo::FeedPage> {
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
    let (committed_tx, committed) = std::sync::mpsc::channel();
    let (go, go_rx) = std::sync::mpsc::channel();
    *c.inner().committed.lock().unwrap() = Some(committed_tx);
    *c.inner().go.lock().unwrap() = Some(go_rx);
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
    let (committed_tx, committed) = std::sync::mpsc::channel();
    let (go, go_rx) = std::sync::mpsc::channel();
    *c.inner().committed.lock().unwrap() = Some(committed_tx);
    *c.inner().go.lock().unwrap() = Some(go_rx);
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
