//! The change feed's tables: events appended inside each write's transaction, positioned
//! by the readers.
//!
//! A writer inserts its events without a position: each gets a `seq` from a sequence, which
//! takes no lock, so concurrent writers commit (and share WAL flushes) without waiting for
//! each other. The first reader that finds events committed but unplaced gives them the
//! next positions, in `seq` order, under the feed's advisory lock (readers on every replica
//! take turns; writers never take it). Positions are therefore strictly increasing,
//! gap-free, never reused, and never appear below one a reader has seen: an event committed
//! after others were placed is placed after them. Its order is a commit order: a write
//! appends its events as its last statement, after the row locks it needed, so a write that
//! waited for another's lock takes a greater `seq` and commits later; whenever a reader sees
//! it, it sees the earlier one too.

use deadpool_postgres::Transaction;
use enterprise_sso::events::Event;
use enterprise_sso::storage::codec::{decode_event, encode_event};
use enterprise_sso::{FeedPage, Result};

use crate::error::storage;
use crate::Inner;

/// How many events one placing transaction positions at most.
const PLACE_BATCH: i64 = 4096;

/// Appends `events` in `tx` (as the write's last statement: see the module docs).
pub(crate) async fn append(tx: &Transaction<'_>, inner: &Inner, events: Vec<Event>) -> Result<()> {
    if events.is_empty() {
        return Ok(());
    }
    let (times, records) = columns(&events);
    let ins = tx
        .prepare_cached(&inner.sql.insert_events)
        .await
        .map_err(storage)?;
    tx.execute(&ins, &[&times, &records])
        .await
        .map_err(storage)?;
    Ok(())
}

/// The `created_at` and `record` columns of `events`, for an insert of all of them in one
/// statement (`unnest`).
pub(crate) fn columns(events: &[Event]) -> (Vec<i64>, Vec<Vec<u8>>) {
    events
        .iter()
        .map(|e| (e.created_at.get(), encode_event(e)))
        .unzip()
}

/// Gives every committed event without a position the next positions (module docs).
async fn place(inner: &Inner, client: &mut deadpool_postgres::Client) -> Result<()> {
    let has = client
        .prepare_cached(&inner.sql.has_unplaced)
        .await
        .map_err(storage)?;
    let unplaced: bool = client
        .query_one(&has, &[])
        .await
        .map_err(storage)?
        .try_get(0)
        .map_err(storage)?;
    if !unplaced {
        return Ok(());
    }
    loop {
        let tx = client.transaction().await.map_err(storage)?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&inner.feed_lock])
            .await
            .map_err(storage)?;
        let st = tx
            .prepare_cached(&inner.sql.place_events)
            .await
            .map_err(storage)?;
        let placed = tx.execute(&st, &[&PLACE_BATCH]).await.map_err(storage)?;
        tx.commit().await.map_err(storage)?;
        if placed < PLACE_BATCH.unsigned_abs() {
            return Ok(());
        }
    }
}

/// The events after `position`, then the prune floor (a second statement, so a later
/// snapshot: a prune that removed an event the first one should have returned shows in it).
pub(crate) async fn after(inner: &Inner, position: u64, limit: usize) -> Result<FeedPage> {
    let mut client = inner.client().await?;
    place(inner, &mut client).await?;
    let st = client
        .prepare_cached(&inner.sql.events_after)
        .await
        .map_err(storage)?;
    let rows = client
        .query(
            &st,
            &[
                &i64::try_from(position).unwrap_or(i64::MAX),
                &i64::try_from(limit).unwrap_or(i64::MAX),
            ],
        )
        .await
        .map_err(storage)?;
    let events = rows
        .iter()
        .map(|r| {
            let mut e = decode_event(r.try_get::<_, &[u8]>(1).map_err(storage)?)?;
            let pos: i64 = r.try_get(0).map_err(storage)?;
            e.position = u64::try_from(pos).unwrap_or(0);
            Ok(e)
        })
        .collect::<Result<Vec<_>>>()?;
    let st = client
        .prepare_cached(&inner.sql.event_floor)
        .await
        .map_err(storage)?;
    let floor: i64 = client
        .query_one(&st, &[])
        .await
        .map_err(storage)?
        .try_get(0)
        .map_err(storage)?;
    Ok(FeedPage::new(events, u64::try_from(floor).unwrap_or(0)))
}

/// Deletes the events created before `before_ms`, placing them first: a pruned event leaves
/// a gap in positions, which tells a reader that was behind it that it missed something.
pub(crate) async fn prune(inner: &Inner, before_ms: i64) -> Result<u64> {
    let mut client = inner.client().await?;
    place(inner, &mut client).await?;
    let st = client
        .prepare_cached(&inner.sql.prune_events)
        .await
        .map_err(storage)?;
    let gone: i64 = client
        .query_one(&st, &[&before_ms])
        .await
        .map_err(storage)?
        .try_get(0)
        .map_err(storage)?;
    Ok(u64::try_from(gone).unwrap_or(0))
}
