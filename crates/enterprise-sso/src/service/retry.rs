//! The one compare-and-swap retry loop: every service write reads, computes and writes
//! with a version check, and starts again from a fresh read when another writer won.

use std::future::Future;

use crate::error::{Error, Result};

/// Whether `e` is a lost compare-and-swap race.
pub(super) fn is_version_conflict(e: &Error) -> bool {
    matches!(e, Error::VersionConflict { .. })
}

/// Runs `attempt` until it succeeds, fails with an error `retryable` does not accept, or
/// has been retried `max_retries` times (the last error is then returned as is).
pub(super) async fn retry_on_conflict<T, F, Fut>(
    max_retries: usize,
    retryable: impl Fn(&Error) -> bool,
    mut attempt: F,
) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T>>,
{
    let mut retries = 0;
    loop {
        match attempt().await {
            Err(e) if retries < max_retries && retryable(&e) => retries += 1,
            other => return other,
        }
    }
}
