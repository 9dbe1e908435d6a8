//! # enterprise-sso-cache
//!
//! A read cache over any store: [`Cached`].
//!
//! `Cached<S>` holds decoded connections by id, and the answer of `find_by_domain` by
//! domain (including "no connection"), in bounded LRU maps. A hit (`get`,
//! `find_by_domain`, and so [`enterprise_sso::Connections::get`] and
//! [`enterprise_sso::Connections::route_email`]) never touches the store.
//!
//! ## Consistency
//!
//! - **Writes through the same `Cached`** update it in the same step as the store write:
//!   the next read sees the write. Writes to one id are ordered by a lock held across the
//!   store write and the cache step. While a write through this cache is in flight, reads
//!   of that connection go to the store (the store and its feed may already show the write
//!   before memory does), and while any is, a held "no connection" answer by domain is not
//!   used (the write may claim the domain). Writes in flight are counted apart from the
//!   held entries (per stripe of ids: a read of an id that shares its stripe with a write
//!   in flight goes to the store too), so a reset after a prune or an eviction, which drop
//!   the entry's "being written" mark, does not end this. If any read went to the store
//!   meanwhile the write's record leaves a miss instead of its version (that read may have
//!   seen something newer, such as another handle's delete). The first write through a
//!   new cache waits for its first catch-up (which finds the feed's end), so nothing is
//!   held that the feed has not been followed for.
//!
//!   So what this cache answers is never older than a write its store's feed shows
//!   (once the write was made through it, or once it caught up past the write's event).
//!   A cache layered over this one relies on that: its feed comes from the store
//!   underneath, and after it reset past an event (the feed pruned) it fills from this
//!   cache's answers and keeps them. When the mark of a write in flight was lost in a
//!   reset, a read between the store's commit and the write's record answered the older
//!   version from memory here, and the outer cache kept it until the next write of that
//!   connection (the SQLite `file_cached` model test at a zero interval, 1 run in 20).
//!   Layering one cache over another is therefore sound only when every write goes
//!   through the inner one (one process, as in that test): another process's write
//!   reaches the inner cache only within its own interval, and an outer cache that reset
//!   past the write's event may keep what the inner one answered until the next write of
//!   that connection. Give each process one cache, over the store itself.
//! - **Writes by other processes and replicas** reach it through the store's change feed
//!   ([`enterprise_sso::EventFeed::events_after`]): the first read after
//!   [`CacheOptions::sync_interval`] has passed since the last catch-up reads the new
//!   events before it answers, and each event turns the entry of its connection into a
//!   miss (a delete into "no such connection"). So **a read never answers from data older
//!   than `sync_interval`** (default 1 s) plus the time of one feed read; with
//!   `Duration::ZERO` every read first catches up with the feed (reads then cost one
//!   indexed feed query; hits still skip the record decode). Hosts may also call
//!   [`Cached::sync`] themselves, e.g. from a timer.
//! - **A version only moves forward.** After a read went to the store (a miss), the next
//!   read catches up with the feed first, so what memory answers is at least as new as
//!   any answer the store gave (a miss by domain may have found a delete or a newer
//!   version the entry by id does not know of yet). A read that raced with a write never puts an older
//!   version back: fills carry the version they read and lose against any newer entry,
//!   against "deleted", and against any invalidation that happened while they were
//!   reading. A write through this cache loses the same way against another handle's
//!   newer write (or delete) that reached the cache through the feed between the store
//!   write and the cache step; and it fills an empty slot only if nothing was invalidated,
//!   evicted or reset meanwhile (else the next read goes to the store).
//! - If the feed was pruned past the cache's position, the whole cache is dropped
//!   ([`CacheStats::resets`]). Every feed answer carries the store's prune floor
//!   ([`enterprise_sso::FeedPage`]), so this holds even when the prune took the feed to its end and
//!   no later write left a gap to see.
//!
//! ## Memory
//!
//! At most [`CacheOptions::capacity`] connections and
//! [`CacheOptions::domain_capacity`] domain answers are held (least recently used out
//! first). A connection with a certificate takes a few KiB; one holding raw IdP metadata
//! can take up to the metadata limit (1 MiB), so size the capacity for the
//! connections a host serves. Client secrets are held decrypted in memory (wrap the
//! [`enterprise_sso::crypto::Encrypted`] store, not the other way round) and zeroized on eviction.

mod repo;
mod shards;

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use enterprise_sso::events::{Event, EventKind};
use enterprise_sso::ConnectionId;
use enterprise_sso::Domain;
use enterprise_sso::EnterpriseConnection;
use enterprise_sso::Result;
use enterprise_sso::{ConnectionRepo, EventFeed};

use shards::{Shards, Slot};

/// Settings of a [`Cached`] store.
#[derive(Debug, Clone)]
pub struct CacheOptions {
    /// Connections held at most (default 4,096).
    pub capacity: usize,
    /// Domain answers held at most, positive and negative (default 16,384).
    pub domain_capacity: usize,
    /// Longest time a read may answer without having caught up with the change feed
    /// (default 1 s): the bound on how stale another replica's write can look.
    pub sync_interval: Duration,
    /// Events read per feed query while catching up (default 512).
    pub sync_batch: usize,
}

impl Default for CacheOptions {
    fn default() -> Self {
        CacheOptions {
            capacity: 4096,
            domain_capacity: 16_384,
            sync_interval: Duration::from_secs(1),
            sync_batch: 512,
        }
    }
}

/// Counters of a [`Cached`] store (since it was built).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CacheStats {
    /// Reads answered from memory.
    pub hits: u64,
    /// Reads that went to the store.
    pub misses: u64,
    /// Connections and "no such id" answers held now.
    pub entries: usize,
    /// Domain answers held now.
    pub domain_entries: usize,
    /// Entries pushed out to stay within the capacities.
    pub evictions: u64,
    /// Feed catch-ups run.
    pub syncs: u64,
    /// Feed events applied.
    pub events_applied: u64,
    /// Times the whole cache was dropped because the feed had been pruned past it.
    pub resets: u64,
    /// The feed position the cache has caught up to.
    pub feed_position: u64,
}

/// The counters a write through reads when it begins.
#[derive(Debug, Clone, Copy)]
struct WriteStart {
    epoch: u64,
    reads: u64,
}

/// Number of write-order lock stripes.
const WRITE_STRIPES: usize = 256;

/// A read cache over the store `S` (manual chapter 6 explains the sync and its staleness bound). It implements the same
/// traits as `S`, so `Connections::new(Cached::new(store))` is all a host changes.
pub struct Cached<S> {
    inner: S,
    opts: CacheOptions,
    ids: Shards<ConnectionId, Slot>,
    domains: Shards<Domain, Option<ConnectionId>>,
    /// Bumped by every invalidation: a fill of an entry the cache does not hold is kept
    /// only if no invalidation happened while it was read.
    epoch: AtomicU64,
    /// Reads that went to the store, counted when they return: a write through records
    /// its result in memory only if none returned while it was in flight (one may have
    /// answered from the store what the write's record would contradict).
    store_reads: AtomicU64,
    hits: AtomicU64,
    misses: AtomicU64,
    syncs: AtomicU64,
    events_applied: AtomicU64,
    resets: AtomicU64,
    /// Feed position caught up to; the lock is held by the one task catching up.
    feed: async_lock::Mutex<u64>,
    position: AtomicU64,
    /// Whether the first catch-up (which finds the feed's end) has run.
    ready: AtomicBool,
    /// Set when a read went to the store, cleared when a catch-up starts: the next read
    /// catches up first, so memory is at least as new as any answer the store gave (a
    /// miss by domain may have found a delete the entry by id does not know of yet).
    behind: AtomicBool,
    /// When the last catch-up started, as nanoseconds since `born`.
    synced_at: AtomicU64,
    born: Instant,
    writes: Box<[async_lock::Mutex<()>]>,
    /// Writes through in flight, per write-order stripe: while one is, reads of the ids
    /// of that stripe go to the store. Kept apart from the LRU maps, so neither a reset
    /// nor an eviction (which drop [`Slot::Writing`] marks) ends it.
    in_flight: Box<[AtomicUsize]>,
    /// Writes through in flight in all: while any is, cached "no connection" answers by
    /// domain are not used (the write may claim the domain).
    writes_in_flight: AtomicUsize,
}

/// One write through in flight ([`Cached::in_flight`]), counted until dropped (also when
/// the write's future is dropped mid-way).
struct InFlight<'a> {
    stripe: &'a AtomicUsize,
    all: &'a AtomicUsize,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.stripe.fetch_sub(1, Ordering::SeqCst);
        self.all.fetch_sub(1, Ordering::SeqCst);
    }
}

impl<S: ConnectionRepo + EventFeed> Cached<S> {
    /// A cache with default options over `inner`.
    pub fn new(inner: S) -> Self {
        Self::with_options(inner, CacheOptions::default())
    }

    /// A cache over `inner`.
    pub fn with_options(inner: S, opts: CacheOptions) -> Self {
        Cached {
            inner,
            ids: Shards::new(opts.capacity),
            domains: Shards::new(opts.domain_capacity),
            opts,
            epoch: AtomicU64::new(0),
            store_reads: AtomicU64::new(0),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            syncs: AtomicU64::new(0),
            events_applied: AtomicU64::new(0),
            resets: AtomicU64::new(0),
            feed: async_lock::Mutex::new(0),
            position: AtomicU64::new(0),
            ready: AtomicBool::new(false),
            behind: AtomicBool::new(false),
            synced_at: AtomicU64::new(0),
            born: Instant::now(),
            writes: (0..WRITE_STRIPES)
                .map(|_| async_lock::Mutex::new(()))
                .collect(),
            in_flight: (0..WRITE_STRIPES).map(|_| AtomicUsize::new(0)).collect(),
            writes_in_flight: AtomicUsize::new(0),
        }
    }

    /// The store underneath (reads and writes there bypass the cache; writes made there
    /// reach the cache through the feed like another replica's).
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// The counters.
    pub fn stats(&self) -> CacheStats {
        CacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            entries: self.ids.len(),
            domain_entries: self.domains.len(),
            evictions: self.ids.evictions() + self.domains.evictions(),
            syncs: self.syncs.load(Ordering::Relaxed),
            events_applied: self.events_applied.load(Ordering::Relaxed),
            resets: self.resets.load(Ordering::Relaxed),
            feed_position: self.position.load(Ordering::Relaxed),
        }
    }

    /// Drops everything because events were missed.
    fn reset(&self) {
        self.resets.fetch_add(1, Ordering::Relaxed);
        self.clear();
    }

    /// Drops every entry (the next reads go to the store).
    pub fn clear(&self) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        self.ids.clear();
        self.domains.clear();
    }

    /// Catches up with the change feed now: every event since the last catch-up
    /// invalidates what it changed. Reads do this by themselves once
    /// [`CacheOptions::sync_interval`] has passed.
    pub async fn sync(&self) -> Result<()> {
        let mut position = self.feed.lock().await;
        self.sync_locked(&mut position).await
    }

    fn elapsed_nanos(&self) -> u64 {
        u64::try_from(self.born.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    /// Whether reads may answer from memory without catching up first.
    fn fresh(&self) -> bool {
        if !self.ready.load(Ordering::Acquire) || self.behind.load(Ordering::Acquire) {
            return false;
        }
        let interval = u64::try_from(self.opts.sync_interval.as_nanos()).unwrap_or(u64::MAX);
        self.elapsed_nanos()
            .saturating_sub(self.synced_at.load(Ordering::Acquire))
            < interval
    }

    /// Catches up with the feed if the last catch-up is older than the interval (one task
    /// does it; the others wait for it, then answer).
    async fn ensure_fresh(&self) -> Result<()> {
        if self.fresh() {
            return Ok(());
        }
        let mut position = self.feed.lock().await;
        if self.fresh() {
            return Ok(());
        }
        self.sync_locked(&mut position).await
    }

    /// Runs the first catch-up if none has run. Before it the cache holds nothing, so it
    /// only moves the position to the feed's end; a write through must wait for it, or
    /// the entry it records would miss every event that first catch-up skips.
    async fn ensure_ready(&self) -> Result<()> {
        if self.ready.load(Ordering::Acquire) {
            return Ok(());
        }
        let mut position = self.feed.lock().await;
        if self.ready.load(Ordering::Acquire) {
            return Ok(());
        }
        self.sync_locked(&mut position).await
    }

    async fn sync_locked(&self, position: &mut u64) -> Result<()> {
        let started = self.elapsed_nanos();
        self.behind.store(false, Ordering::Release);
        let ready = self.ready.load(Ordering::Acquire);
        let batch = self.opts.sync_batch.max(1);
        loop {
            let page = self
                .inner
                .events_after(*position, batch)
                .await
                .inspect_err(|_| self.behind.store(true, Ordering::Release))?;
            if page.missed_events(*position) {
                // A prune removed events after this cache's position before it read them
                // (perhaps every event up to the feed's end, so the page may be empty).
                if ready {
                    self.reset();
                }
                *position = page.floor;
            }
            for e in &page.events {
                if e.position <= *position {
                    continue;
                }
                if ready && e.position != position.saturating_add(1) {
                    // Events between are missing although the floor is below them: the
                    // store's positions have a gap. Start over rather than miss a change.
                    self.reset();
                }
                // Before the first catch-up the cache is empty: events only move it to
                // the feed's end.
                if ready {
                    self.apply(e);
                }
                *position = e.position;
            }
            if page.events.len() < batch {
                break;
            }
        }
        self.position.store(*position, Ordering::Relaxed);
        self.synced_at.store(started, Ordering::Release);
        self.ready.store(true, Ordering::Release);
        self.syncs.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Invalidates what one event of the feed changed.
    fn apply(&self, e: &Event) {
        let Some(id) = &e.connection_id else { return };
        let deleted = match e.kind {
            EventKind::ConnectionDeleted => true,
            EventKind::AccountCreated
            | EventKind::AccountUpdated
            | EventKind::AccountDeactivated
            | EventKind::AccountDeleted
            | EventKind::SsoSucceeded
            | EventKind::SsoFailed => return,
            _ => false,
        };
        self.events_applied.fetch_add(1, Ordering::Relaxed);
        self.epoch.fetch_add(1, Ordering::AcqRel);
        let version = e.connection.as_ref().map_or(u64::MAX, |c| c.version);
        self.ids.update(id.clone(), |slot| match (deleted, slot) {
            (true, _) => Some(Slot::Absent { after: version }),
            (false, Some(Slot::Present(c))) if c.version >= version => None,
            (false, Some(Slot::Writing { min_version })) => Some(Slot::Writing {
                min_version: version.max(*min_version),
            }),
            (false, _) => Some(Slot::Stale {
                min_version: version,
            }),
        });
        // Domains the connection claims now (or claimed, for a delete) may have had
        // another answer; answers for domains it dropped are checked at lookup.
        if let Some(c) = &e.connection {
            for d in &c.domains {
                self.domains.remove(d);
            }
        }
    }

    /// Records a write made through this cache: `conn` was stored by a write that began
    /// when the epoch was `epoch`.
    ///
    /// Versions only move forward: another handle's newer write may have reached this
    /// cache (through the feed) between the store write and this step, so an entry or
    /// mark of a newer version stays, and a delete of this version or newer stays. An
    /// empty slot is filled only if nothing was invalidated, evicted or reset meanwhile
    /// (what the slot held may have been newer); otherwise the next read goes to the store.
    fn wrote(&self, conn: &EnterpriseConnection, start: WriteStart) {
        let quiet = self.epoch.fetch_add(1, Ordering::AcqRel) == start.epoch;
        // A read that went to the store while the write was in flight may have answered
        // something newer than `conn` (another handle's later write, or its delete): the
        // record then leaves a miss, so no later read answers older than that one.
        let unread = self.store_reads.load(Ordering::Acquire) == start.reads;
        let fresh = Arc::new(conn.clone());
        self.ids.update(conn.id.clone(), |slot| match slot {
            Some(Slot::Writing { min_version }) if *min_version > conn.version => {
                Some(Slot::Stale {
                    min_version: *min_version,
                })
            }
            Some(Slot::Present(c)) if c.version > conn.version => None,
            Some(Slot::Stale { min_version }) if *min_version > conn.version => None,
            Some(Slot::Absent { after }) if *after >= conn.version => None,
            None if !quiet => None,
            _ if !unread => Some(Slot::Stale {
                min_version: conn.version,
            }),
            _ => Some(Slot::Present(Arc::clone(&fresh))),
        });
        for d in &conn.domains {
            self.domains
                .update(d.clone(), |_| Some(Some(conn.id.clone())));
        }
    }

    /// Marks `id` as being written through this cache (see [`Slot::Writing`]): until the
    /// write is recorded ([`Cached::wrote`]) or forgotten, reads of `id` go to the store.
    /// Without it a read in the window between the store's commit and the record would
    /// answer the older version from memory while the feed already shows the newer one,
    /// and a cache layered over this one would keep that older version.
    fn writing(&self, id: &ConnectionId) {
        self.ids.update(id.clone(), |slot| {
            let min_version = match slot {
                Some(Slot::Present(c)) => c.version,
                Some(Slot::Stale { min_version } | Slot::Writing { min_version }) => *min_version,
                Some(Slot::Absent { after }) => *after,
                None => 0,
            };
            Some(Slot::Writing { min_version })
        });
    }

    /// Where a write through begins (see [`Cached::wrote`]).
    fn write_start(&self) -> WriteStart {
        WriteStart {
            epoch: self.epoch.load(Ordering::Acquire),
            reads: self.store_reads.load(Ordering::Acquire),
        }
    }

    /// Counts a read that went to the store and returned.
    fn read_the_store(&self) {
        self.store_reads.fetch_add(1, Ordering::AcqRel);
        self.behind.store(true, Ordering::Release);
    }

    /// Forgets `id` (a write through this cache failed: the store may differ from memory).
    fn forget(&self, id: &ConnectionId) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        self.ids.remove(id);
    }

    /// Fills the entry of `id` with what a read that started at `epoch` found (the same
    /// `Arc` the read hands out: a miss copies nothing).
    fn fill(&self, id: &ConnectionId, found: Option<&Arc<EnterpriseConnection>>, epoch: u64) {
        let quiet = || self.epoch.load(Ordering::Acquire) == epoch;
        self.ids.update(id.clone(), |slot| match (slot, found) {
            (Some(Slot::Present(c)), Some(f)) if f.version > c.version => {
                Some(Slot::Present(Arc::clone(f)))
            }
            (Some(Slot::Stale { min_version }), Some(f)) if f.version >= *min_version => {
                Some(Slot::Present(Arc::clone(f)))
            }
            (Some(Slot::Stale { min_version }), None) if quiet() => Some(Slot::Absent {
                after: *min_version,
            }),
            (None, Some(f)) if quiet() => Some(Slot::Present(Arc::clone(f))),
            (None, None) if quiet() => Some(Slot::Absent { after: 0 }),
            _ => None,
        });
    }

    /// The write-order stripe of `id`.
    fn stripe(id: &ConnectionId) -> usize {
        use std::hash::BuildHasher;
        let h =
            std::hash::BuildHasherDefault::<std::collections::hash_map::DefaultHasher>::default()
                .hash_one(id);
        usize::try_from(h % WRITE_STRIPES as u64).unwrap_or(0)
    }

    /// The lock ordering writes to `id` through this cache.
    async fn write_lock(&self, id: &ConnectionId) -> async_lock::MutexGuard<'_, ()> {
        self.writes[Self::stripe(id)].lock().await
    }

    /// Counts a write through to `id` as in flight until the guard is dropped. Taken
    /// before the store write begins and dropped after the write's record, so it covers
    /// the window between the store's commit and the record even when the slot's
    /// [`Slot::Writing`] mark is gone (a reset after a prune, an eviction).
    fn enter_flight(&self, id: &ConnectionId) -> InFlight<'_> {
        let stripe = &self.in_flight[Self::stripe(id)];
        stripe.fetch_add(1, Ordering::SeqCst);
        self.writes_in_flight.fetch_add(1, Ordering::SeqCst);
        InFlight {
            stripe,
            all: &self.writes_in_flight,
        }
    }

    /// Whether a write through to `id` (or to another id of its stripe) is in flight:
    /// memory may then be older than the store, so reads of `id` go to the store.
    fn in_flight(&self, id: &ConnectionId) -> bool {
        self.in_flight[Self::stripe(id)].load(Ordering::SeqCst) > 0
    }

    /// Whether any write through is in flight.
    fn any_in_flight(&self) -> bool {
        self.writes_in_flight.load(Ordering::SeqCst) > 0
    }
}

impl<S> std::fmt::Debug for Cached<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cached")
            .field("opts", &self.opts)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use enterprise_sso::testing::saml_connection;
    use enterprise_sso_memory::MemoryRepo;
    use futures_executor::block_on;

    fn cache() -> Cached<MemoryRepo> {
        Cached::with_options(
            MemoryRepo::new(),
            CacheOptions {
                sync_interval: Duration::MAX,
                ..CacheOptions::default()
            },
        )
    }

    #[test]
    fn a_read_that_raced_a_delete_does_not_bring_the_connection_back() {
        let c = cache();
        let x = saml_connection("x", &["x.race.com"], true);
        block_on(c.insert(&x)).unwrap();
        let epoch = c.epoch.load(Ordering::Acquire);
        // The read saw `x`; the delete lands before the read fills the cache.
        block_on(c.delete(&x.id, enterprise_sso::UnixMillis::new(1))).unwrap();
        c.fill(&x.id, Some(&Arc::new(x.clone())), epoch);
        assert_eq!(block_on(c.get(&x.id)).unwrap(), None);
        // Even when the "deleted" answer was evicted meanwhile.
        c.ids.remove(&x.id);
        c.fill(&x.id, Some(&Arc::new(x.clone())), epoch);
        assert_eq!(block_on(c.get(&x.id)).unwrap(), None);
    }

    #[test]
    fn an_older_version_never_replaces_a_newer_one() {
        let c = cache();
        let v1 = saml_connection("x", &["x.versions.com"], true);
        block_on(c.insert(&v1)).unwrap();
        let mut v2 = v1.clone();
        v2.name = "two".into();
        v2.version += 1;
        block_on(c.update(&v2, v1.version)).unwrap();
        c.fill(
            &v1.id,
            Some(&Arc::new(v1.clone())),
            c.epoch.load(Ordering::Acquire),
        );
        assert_eq!(block_on(c.get(&v1.id)).unwrap(), Some(v2.clone()));
        // A feed event of a newer version than held turns the entry into a miss that
        // only that version (or newer) fills.
        let mut v3 = v2.clone();
        v3.version += 1;
        let mut e = Event::new(
            EventKind::ConnectionUpdated,
            enterprise_sso::UnixMillis::new(0),
        );
        e.connection_id = Some(v3.id.clone());
        e.connection = Some(v3.clone());
        c.apply(&e);
        c.fill(
            &v1.id,
            Some(&Arc::new(v2.clone())),
            c.epoch.load(Ordering::Acquire),
        );
        assert!(
            matches!(c.ids.get(&v1.id), Some(Slot::Stale { min_version }) if min_version == v3.version)
        );
    }

    /// This cache's write of v lands in the store, another handle writes v+1, and this
    /// cache reads that event before it records its own write: the record of v must not
    /// replace the mark of v+1 (nothing else would ever correct it).
    #[test]
    fn a_write_through_never_replaces_a_newer_version() {
        let c = cache();
        block_on(c.sync()).unwrap();
        let v1 = saml_connection("x", &["x.wrote.com"], true);
        block_on(c.insert(&v1)).unwrap();
        let epoch = c.write_start();
        let mut v2 = v1.clone();
        v2.version += 1;
        block_on(c.inner().update(&v2, v1.version)).unwrap();
        let mut v3 = v2.clone();
        v3.version += 1;
        v3.name = "other handle".into();
        block_on(c.inner().update(&v3, v2.version)).unwrap();
        block_on(c.sync()).unwrap();
        c.wrote(&v2, epoch);
        assert_eq!(block_on(c.get(&v1.id)).unwrap(), Some(v3.clone()));
        // Nor a delete of a newer version by another handle.
        let epoch = c.write_start();
        block_on(c.inner().delete(&v1.id, enterprise_sso::UnixMillis::new(1))).unwrap();
        block_on(c.sync()).unwrap();
        c.wrote(&v3, epoch);
        assert_eq!(block_on(c.get(&v1.id)).unwrap(), None);
    }

    /// Between this cache's store write and its record of it, the feed was pruned and
    /// the cache reset (or the slot evicted): what it held may have been newer, so the
    /// write leaves a miss rather than fill the empty slot.
    #[test]
    fn a_write_through_does_not_fill_a_slot_emptied_meanwhile() {
        let c = cache();
        block_on(c.sync()).unwrap();
        let v1 = saml_connection("x", &["x.wrote-reset.com"], true);
        block_on(c.insert(&v1)).unwrap();
        let epoch = c.write_start();
        let mut v2 = v1.clone();
        v2.version += 1;
        block_on(c.inner().update(&v2, v1.version)).unwrap();
        let mut v3 = v2.clone();
        v3.version += 1;
        block_on(c.inner().update(&v3, v2.version)).unwrap();
        block_on(
            c.inner()
                .prune_events_before(enterprise_sso::UnixMillis::new(i64::MAX)),
        )
        .unwrap();
        block_on(c.sync()).unwrap();
        assert_eq!(c.stats().resets, 1);
        c.wrote(&v2, epoch);
        assert_eq!(block_on(c.get(&v1.id)).unwrap(), Some(v3));
    }

    /// A write through a cache that has not caught up yet fills its slot; another handle
    /// then writes a newer version. The first catch-up must not skip that event as if the
    /// cache were empty (it was not): the next read answers the newer version.
    #[test]
    fn a_write_before_the_first_catch_up_is_followed_by_the_feed() {
        let c = cache();
        let v1 = saml_connection("x", &["x.first-sync.com"], true);
        block_on(c.inner().insert(&v1)).unwrap();
        let mut v2 = v1.clone();
        v2.version += 1;
        block_on(c.update(&v2, v1.version)).unwrap();
        let mut v3 = v2.clone();
        v3.version += 1;
        v3.name = "other handle".into();
        block_on(c.inner().update(&v3, v2.version)).unwrap();
        block_on(c.sync()).unwrap();
        assert_eq!(block_on(c.get(&v1.id)).unwrap(), Some(v3));
    }

    #[test]
    fn memory_stays_within_the_capacity() {
        let c = Cached::with_options(
            MemoryRepo::new(),
            CacheOptions {
                capacity: 32,
                domain_capacity: 32,
                ..CacheOptions::default()
            },
        );
        for i in 0..500 {
            let x = saml_connection("x", &[&format!("d{i}.cap.com")], true);
            block_on(c.insert(&x)).unwrap();
            block_on(c.get(&x.id)).unwrap();
            block_on(c.find_by_domain(&x.domains[0])).unwrap();
        }
        let s = c.stats();
        assert!(s.entries <= 32 && s.domain_entries <= 32, "{s:?}");
        assert!(s.evictions >= 2 * (500 - 32), "{s:?}");
    }
}

#[cfg(test)]
mod hit_tests;
