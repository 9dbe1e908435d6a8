//! A bounded map split into independently locked LRU shards.

use std::hash::{BuildHasher, Hash};
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use lru::LruCache;

use enterprise_sso::EnterpriseConnection;

/// Number of shards of each map: lookups of different keys rarely share a lock.
const SHARDS: usize = 16;

/// What the cache knows about one connection id.
#[derive(Clone)]
pub(crate) enum Slot {
    /// The stored connection at this version.
    Present(Arc<EnterpriseConnection>),
    /// No connection has this id (deleted, or never created) as of the last write or event.
    Absent {
        /// The version the connection had when it was deleted (0 when unknown, or when
        /// it never existed): a write-through of this version or older is older than the
        /// delete and must not bring the connection back.
        after: u64,
    },
    /// A write of at least this version happened that the cache has not read yet: a miss,
    /// and only a read of that version or newer may fill it.
    Stale {
        /// Smallest acceptable version.
        min_version: u64,
    },
    /// A write through this cache is in flight: the store (and its feed) may already hold
    /// it while memory does not, so no read fills the slot; the write's own record
    /// replaces it. (Reads go to the store while the write is counted in flight, which a
    /// reset or an eviction of this mark does not end.)
    Writing {
        /// The newest version known meanwhile (held before, or seen in the feed): the
        /// write's record replaces the mark only if it is at least as new.
        min_version: u64,
    },
}

/// `SHARDS` LRU maps, each behind its own mutex, holding at most `capacity` entries in all.
pub(crate) struct Shards<K: Hash + Eq, V> {
    shards: Box<[Mutex<LruCache<K, V>>]>,
    hasher: std::collections::hash_map::RandomState,
    evictions: AtomicU64,
}

impl<K: Hash + Eq, V: Clone> Shards<K, V> {
    pub(crate) fn new(capacity: usize) -> Self {
        let per = NonZeroUsize::new(capacity.div_ceil(SHARDS).max(1)).unwrap_or(NonZeroUsize::MIN);
        Shards {
            shards: (0..SHARDS)
                .map(|_| Mutex::new(LruCache::new(per)))
                .collect(),
            hasher: std::collections::hash_map::RandomState::new(),
            evictions: AtomicU64::new(0),
        }
    }

    fn shard(&self, key: &K) -> std::sync::MutexGuard<'_, LruCache<K, V>> {
        let i = usize::try_from(self.hasher.hash_one(key) % SHARDS as u64).unwrap_or(0);
        self.shards[i].lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The value of `key` (marking it recently used).
    pub(crate) fn get(&self, key: &K) -> Option<V> {
        self.shard(key).get(key).cloned()
    }

    /// Changes the entry of `key` under its shard's lock: `f` gets the current value and
    /// returns what to store (`None` keeps the map as it was, whether or not a value was
    /// there).
    pub(crate) fn update(&self, key: K, f: impl FnOnce(Option<&V>) -> Option<V>) {
        let mut shard = self.shard(&key);
        let current = shard.peek(&key);
        let existed = current.is_some();
        if let Some(v) = f(current) {
            // `push` hands back the replaced entry or the least recently used one it
            // pushed out; only the latter is an eviction.
            if shard.push(key, v).is_some() && !existed {
                self.evictions.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Removes `key`.
    pub(crate) fn remove(&self, key: &K) {
        self.shard(key).pop(key);
    }

    /// Removes everything.
    pub(crate) fn clear(&self) {
        for s in self.shards.iter() {
            s.lock().unwrap_or_else(|e| e.into_inner()).clear();
        }
    }

    /// Entries held.
    pub(crate) fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(|e| e.into_inner()).len())
            .sum()
    }

    /// Entries pushed out to stay within the capacity.
    pub(crate) fn evictions(&self) -> u64 {
        self.evictions.load(Ordering::Relaxed)
    }
}
