//! Write serialisation inside one process: [`crate::Connections`] holds the lock of a
//! record across its read, merge and compare-and-swap, so two writers in one process never
//! make each other fail with a version conflict; only another process or replica can.
//!
//! The locks are striped (a fixed table of async mutexes chosen by a hash of the key), so
//! memory stays bounded whatever the number of records, and they are process-wide, so every
//! `Connections` over any store shares them. Two keys may share a stripe: they are then
//! serialised too, which costs a little concurrency and never correctness (no code path
//! holds two stripes at once, so no deadlock).

use std::hash::{Hash, Hasher};
use std::sync::LazyLock;

/// Number of stripes.
const STRIPES: usize = 1024;

static LOCKS: LazyLock<Vec<async_lock::Mutex<()>>> =
    LazyLock::new(|| (0..STRIPES).map(|_| async_lock::Mutex::new(())).collect());

/// Waits for the write lock of `key` (a connection id, an account id, or a connection id
/// and subject) and holds it until the guard drops.
pub(crate) async fn lock(key: &str) -> async_lock::MutexGuard<'static, ()> {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    key.hash(&mut h);
    let stripe = usize::try_from(h.finish() % STRIPES as u64).unwrap_or(0);
    LOCKS[stripe].lock().await
}
