//! The change feed's tables: events appended inside each write's transaction.

use deadpool_postgres::Transaction;
use enterprise_sso::events::Event;
use enterprise_sso::storage::codec::{decode_event, encode_event};
use enterprise_sso::Result;

use crate::error::storage;
use crate::Inner;

/// Appends `events` in `tx`: the counter row update takes its lock until commit, so
/// concurrent writers get consecutive positions in commit order (a reader never sees a
/// position before the ones below it have committed).
pub(crate) async fn append(tx: &Transaction<'_>, inner: &Inner, events: Vec<Event>) -> Result<()> {
    if events.is_empty() {
        return Ok(());
    }
    let n = i64::try_from(events.len()).unwrap_or(i64::MAX);
    let bump = tx
        .prepare_cached(&inner.sql.bump_events)
        .await
        .map_err(storage)?;
    let last: i64 = tx
        .query_one(&bump, &[&n])
        .await
        .map_err(storage)?
        .try_get(0)
        .map_err(storage)?;
    let mut positions = Vec::with_capacity(events.len());
    let mut times = Vec::with_capacity(events.len());
    let mut records = Vec::with_capacity(events.len());
    for (i, mut e) in events.into_iter().enumerate() {
        let pos = last - n + 1 + i64::try_from(i).unwrap_or(0);
        e.position = u64::try_from(pos).unwrap_or(0);
        positions.push(pos);
        times.push(e.created_at);
        records.push(encode_event(&e));
    }
    let ins = tx
        .prepare_cached(&inner.sql.insert_events)
        .await
        .map_err(storage)?;
    tx.execute(&ins, &[&positions, &times, &records])
        .await
        .map_err(storage)?;
    Ok(())
}

pub(crate) async fn after(inner: &Inner, position: u64, limit: usize) -> Result<Vec<Event>> {
    let client = inner.client().await?;
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
    rows.iter()
        .map(|r| decode_event(r.try_get::<_, &[u8]>(0).map_err(storage)?))
        .collect()
}

pub(crate) async fn prune(inner: &Inner, before_ms: i64) -> Result<u64> {
    let client = inner.client().await?;
    let st = client
        .prepare_cached(&inner.sql.prune_events)
        .await
        .map_err(storage)?;
    client.execute(&st, &[&before_ms]).await.map_err(storage)
}
