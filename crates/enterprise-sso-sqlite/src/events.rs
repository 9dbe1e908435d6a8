//! The change feed's table: events appended inside each write's transaction.

use enterprise_sso::events::Event;
use enterprise_sso::storage::codec::{decode_event, encode_event};
use enterprise_sso::{FeedPage, Result};
use rusqlite::{params, Connection};

use crate::error::storage;
use crate::savepoint::Savepoint;

const LAST_SQL: &str = "SELECT max(coalesce((SELECT max(position) FROM events), 0), \
     (SELECT pruned_to FROM events_pruned WHERE id = 0))";
const INSERT_SQL: &str = "INSERT INTO events (position, created_at, record) VALUES (?1, ?2, ?3)";
/// `CAST`: a bare `LIMIT ?` makes SQLite compile the statement again for every binding.
pub(crate) const AFTER_SQL: &str =
    "SELECT record FROM events WHERE position > ?1 ORDER BY position LIMIT CAST(?2 AS INTEGER)";
const PRUNE_SQL: &str = "DELETE FROM events WHERE created_at < ?1";
/// The floor rises to the largest position the prune deletes (a consumer at or past it
/// missed nothing; one behind it did). The next position stays above every position used:
/// the largest is either still stored or the floor.
const PRUNED_TO_SQL: &str = "UPDATE events_pruned SET pruned_to = \
     max(pruned_to, coalesce((SELECT max(position) FROM events WHERE created_at < ?1), 0)) \
     WHERE id = 0";
const FLOOR_SQL: &str = "SELECT pruned_to FROM events_pruned WHERE id = 0";

/// Appends `events` inside the caller's transaction: positions follow the largest one (or
/// the pruning floor), and writers are serialised by SQLite's write lock, so positions are
/// consecutive in commit order.
pub(crate) fn append(tx: &Connection, events: Vec<Event>) -> Result<()> {
    if events.is_empty() {
        return Ok(());
    }
    let last: i64 = tx
        .prepare_cached(LAST_SQL)
        .and_then(|mut st| st.query_row([], |r| r.get(0)))
        .map_err(storage)?;
    let mut st = tx.prepare_cached(INSERT_SQL).map_err(storage)?;
    for (i, mut e) in events.into_iter().enumerate() {
        let pos = last + 1 + i64::try_from(i).unwrap_or(0);
        e.position = u64::try_from(pos).unwrap_or(0);
        st.execute(params![pos, e.created_at.get(), encode_event(&e)])
            .map_err(storage)?;
    }
    Ok(())
}

/// The events after `position`, then the prune floor (read second: a prune between the two
/// reads raises the floor this answer reports, so no removed event goes unnoticed).
pub(crate) fn after(conn: &Connection, position: u64, limit: usize) -> Result<FeedPage> {
    let mut st = conn.prepare_cached(AFTER_SQL).map_err(storage)?;
    let rows = st
        .query_map(
            params![
                i64::try_from(position).unwrap_or(i64::MAX),
                i64::try_from(limit).unwrap_or(i64::MAX)
            ],
            |r| r.get::<_, Vec<u8>>(0),
        )
        .map_err(storage)?;
    let mut out = Vec::new();
    for bytes in rows {
        out.push(decode_event(&bytes.map_err(storage)?)?);
    }
    let floor: i64 = conn
        .prepare_cached(FLOOR_SQL)
        .and_then(|mut st| st.query_row([], |r| r.get(0)))
        .map_err(storage)?;
    Ok(FeedPage::new(out, u64::try_from(floor).unwrap_or(0)))
}

/// Deletes old events (a scan: pruning is rare, and an index on the time would cost every
/// write a page), first raising the floor to the largest position so none is reused.
pub(crate) fn prune(conn: &mut Connection, before_ms: i64) -> Result<u64> {
    let tx = Savepoint::begin(conn)?;
    tx.execute(PRUNED_TO_SQL, [before_ms]).map_err(storage)?;
    let n = tx
        .prepare_cached(PRUNE_SQL)
        .and_then(|mut st| st.execute([before_ms]))
        .map_err(storage)?;
    tx.commit()?;
    Ok(n as u64)
}
