//! Connection operations: one statement or one transaction each.

use enterprise_sso::events::connection_events;
use enterprise_sso::storage::codec::{decode_connection, encode_connection};
use enterprise_sso::storage::{connection_keys, expect_version, version_to_i64};
use enterprise_sso::{
    Change, ConnectionId, Domain, EnterpriseConnection, Error, ListQuery, Order, Page, Result,
};
use tokio_postgres::types::ToSql;

use crate::error::storage;
use crate::pipelined::Pipelined;
use crate::Inner;

fn decode_rows(rows: Vec<tokio_postgres::Row>) -> Result<Vec<EnterpriseConnection>> {
    rows.iter()
        .map(|r| decode_connection(r.try_get::<_, &[u8]>(0).map_err(storage)?))
        .collect()
}

pub(crate) async fn get(inner: &Inner, id: &str) -> Result<Option<EnterpriseConnection>> {
    let client = inner.client().await?;
    let st = client
        .prepare_cached(&inner.sql.get)
        .await
        .map_err(storage)?;
    let row = client.query_opt(&st, &[&id]).await.map_err(storage)?;
    row.map(|r| decode_connection(r.try_get::<_, &[u8]>(0).map_err(storage)?))
        .transpose()
}

pub(crate) async fn find_by_domain(
    inner: &Inner,
    domain: &str,
) -> Result<Option<EnterpriseConnection>> {
    let client = inner.client().await?;
    let st = client
        .prepare_cached(&inner.sql.by_domain)
        .await
        .map_err(storage)?;
    let row = client.query_opt(&st, &[&domain]).await.map_err(storage)?;
    row.map(|r| decode_connection(r.try_get::<_, &[u8]>(0).map_err(storage)?))
        .transpose()
}

/// The values a write stores beside the record.
struct Row {
    id: String,
    organization_id: Option<String>,
    active: bool,
    provider: &'static str,
    version: i64,
    cert_expires_at: Option<i64>,
    record: Vec<u8>,
    domains: Vec<String>,
    conn: EnterpriseConnection,
}

impl Row {
    fn new(c: &EnterpriseConnection) -> Result<Row> {
        let keys = connection_keys(c);
        Ok(Row {
            id: keys.id.to_string(),
            organization_id: keys.organization_id.map(str::to_owned),
            active: keys.active,
            provider: keys.provider.as_str(),
            version: version_to_i64(c.version)?,
            cert_expires_at: keys.certificate_expires_at,
            record: encode_connection(c),
            domains: keys.domains.iter().map(|d| d.as_str().to_owned()).collect(),
            conn: c.clone(),
        })
    }
}

pub(crate) async fn insert(inner: &Inner, c: &EnterpriseConnection) -> Result<()> {
    let row = Row::new(c)?;
    let events = connection_events(None, Some(&row.conn), row.conn.updated_at.get());
    let (times, records) = crate::events::columns(&events);
    inner
        .retrying(|| async {
            // One statement, its own transaction: the row, its claims and its events.
            let client = inner.client().await?;
            let st = client
                .prepare_cached(&inner.sql.insert)
                .await
                .map_err(storage)?;
            let r = client
                .query_one(
                    &st,
                    &[
                        &row.id,
                        &row.organization_id,
                        &row.active,
                        &row.provider,
                        &row.version,
                        &row.cert_expires_at,
                        &row.record,
                        &row.domains,
                        &times,
                        &records,
                    ],
                )
                .await
                .map_err(storage)?;
            if let Some(domain) = r.try_get::<_, Option<String>>(1).map_err(storage)? {
                return Err(Error::DomainConflict {
                    domain: Domain::from_normalized(domain),
                });
            }
            let inserted: i64 = r.try_get(0).map_err(storage)?;
            if inserted == 0 {
                return Err(Error::AlreadyExists { id: (&c.id).into() });
            }
            Ok(())
        })
        .await
}

/// Compare-and-swap in one transaction: the row is read and locked (`FOR UPDATE`), its
/// version checked, the write done and its events appended.
pub(crate) async fn update(inner: &Inner, c: &EnterpriseConnection, expected: u64) -> Result<()> {
    let row = Row::new(c)?;
    inner
        .retrying(|| async {
            let mut client = inner.client().await?;
            let tx = client.transaction().await.map_err(storage)?;
            let stored = lock_and_read(&tx, inner, &row.id).await?;
            let old = expect_version(&c.id, expected, stored, |o| o.version)?;
            write_next(&tx, inner, &old, &row, expected).await?;
            tx.commit().await.map_err(storage)
        })
        .await
}

/// [`ConnectionRepo::modify`](enterprise_sso::ConnectionRepo::modify) in one transaction:
/// the row is locked and read, changed, and written back, so no other replica can write
/// it in between (no version conflict, no retry of the change) and the caller's separate
/// read is saved. Two round trips: `BEGIN` is pipelined with the locking read, and
/// `COMMIT` with the write (which appends its events only if it wrote the row, so a
/// refused write commits nothing); see [`Pipelined`].
pub(crate) async fn modify(
    inner: &Inner,
    id: &ConnectionId,
    change: &Change,
) -> Result<EnterpriseConnection> {
    inner
        .retrying(|| async {
            let mut tx = Pipelined::new(inner.client().await?);
            let lock = tx
                .client()?
                .prepare_cached(&inner.sql.get_for_update)
                .await
                .map_err(storage)?;
            let read = tx.begin_with(&lock, &[&id.as_str()]).await;
            let outcome = match read {
                Ok(row) => modify_locked(inner, change, row, &mut tx).await,
                Err(e) => Err(e),
            };
            match outcome {
                Ok(Some(next)) => Ok(next),
                Ok(None) | Err(_) => {
                    tx.end("ROLLBACK").await?;
                    outcome.and_then(|n| n.ok_or_else(|| Error::not_found(id)))
                }
            }
        })
        .await
}

/// The part of [`modify`] after the locking read: `Ok(None)` when there is no such
/// connection, `Ok(Some(next))` once the change is committed (a change that leaves the
/// version alone commits the empty transaction). On an error the transaction may still be
/// open: the caller ends it.
async fn modify_locked(
    inner: &Inner,
    change: &Change,
    row: Option<tokio_postgres::Row>,
    tx: &mut Pipelined,
) -> Result<Option<EnterpriseConnection>> {
    let Some(row) = row else {
        return Ok(None);
    };
    let current = decode_connection(row.try_get::<_, &[u8]>(0).map_err(storage)?)?;
    let next = change(&current)?;
    if next.version == current.version {
        tx.end("COMMIT").await?;
        return Ok(Some(next));
    }
    let new_row = Row::new(&next)?;
    let args = UpdateArgs::new(&current, &new_row, current.version)?;
    let st = tx
        .client()?
        .prepare_cached(args.sql(&inner.sql))
        .await
        .map_err(storage)?;
    let written = tx.commit_with(&st, &args.params(&new_row)).await?;
    check_written(&written, &new_row, current.version)?;
    Ok(Some(next))
}

/// Locks the connection's row for this transaction and decodes it.
async fn lock_and_read(
    tx: &deadpool_postgres::Transaction<'_>,
    inner: &Inner,
    id: &str,
) -> Result<Option<EnterpriseConnection>> {
    let lock = tx
        .prepare_cached(&inner.sql.get_for_update)
        .await
        .map_err(storage)?;
    tx.query_opt(&lock, &[&id])
        .await
        .map_err(storage)?
        .map(|r| decode_connection(r.try_get::<_, &[u8]>(0).map_err(storage)?))
        .transpose()
}

/// The compare-and-swap statement (record, indexed columns, domain claims, and the write's
/// events, appended by the same statement) for a row locked at version `expected`.
async fn write_next(
    tx: &deadpool_postgres::Transaction<'_>,
    inner: &Inner,
    old: &EnterpriseConnection,
    row: &Row,
    expected: u64,
) -> Result<()> {
    let args = UpdateArgs::new(old, row, expected)?;
    let st = tx
        .prepare_cached(args.sql(&inner.sql))
        .await
        .map_err(storage)?;
    let r = tx
        .query_one(&st, &args.params(row))
        .await
        .map_err(storage)?;
    check_written(&r, row, expected)
}

/// The compare-and-swap statement's values besides the row's own: the expected version
/// and the write's events (`created_at` and `record` columns).
struct UpdateArgs {
    expected: i64,
    times: Vec<i64>,
    records: Vec<Vec<u8>>,
    /// The write keeps the stored domains: `Sql::update_same_domains` does.
    same_domains: bool,
}

impl UpdateArgs {
    fn new(old: &EnterpriseConnection, row: &Row, expected: u64) -> Result<UpdateArgs> {
        let events = connection_events(Some(old), Some(&row.conn), row.conn.updated_at.get());
        let (times, records) = crate::events::columns(&events);
        Ok(UpdateArgs {
            expected: version_to_i64(expected)?,
            times,
            records,
            same_domains: old.domains == row.conn.domains,
        })
    }

    /// The statement to run: `update`, or `update_same_domains` when the domains stay.
    fn sql<'a>(&self, sql: &'a crate::sql::Sql) -> &'a str {
        if self.same_domains {
            &sql.update_same_domains
        } else {
            &sql.update
        }
    }

    /// The parameters of [`UpdateArgs::sql`] for writing `row`.
    fn params<'a>(&'a self, row: &'a Row) -> Vec<&'a (dyn ToSql + Sync)> {
        let mut p: Vec<&'a (dyn ToSql + Sync)> = vec![
            &row.id,
            &self.expected,
            &row.version,
            &row.record,
            &row.organization_id,
            &row.active,
            &row.provider,
            &row.cert_expires_at,
        ];
        if !self.same_domains {
            p.push(&row.domains);
        }
        p.push(&self.times);
        p.push(&self.records);
        p
    }
}

/// What the compare-and-swap statement's answer `r` says about the write of `row` over
/// version `expected`.
fn check_written(r: &tokio_postgres::Row, row: &Row, expected: u64) -> Result<()> {
    let updated: i64 = r.try_get(0).map_err(storage)?;
    if updated != 1 {
        if let Some(domain) = r.try_get::<_, Option<String>>(1).map_err(storage)? {
            return Err(Error::DomainConflict {
                domain: Domain::from_normalized(domain),
            });
        }
        // The row is locked and its version matched: only a claim race is left.
        return Err(Error::VersionConflict {
            id: (&row.conn.id).into(),
            expected,
            actual: expected.saturating_add(1),
        });
    }
    Ok(())
}

/// Deletes a connection; its accounts are deactivated and unlinked in the same
/// transaction. The connection row is locked first, so a sign-in that links a new account
/// (which takes a share lock on the row) either commits before and is unlinked here, or
/// waits and then finds the connection gone.
pub(crate) async fn delete(inner: &Inner, id: &str, now: i64) -> Result<bool> {
    inner
        .retrying(|| async {
            let mut client = inner.client().await?;
            let tx = client.transaction().await.map_err(storage)?;
            let lock = tx
                .prepare_cached(&inner.sql.lock_for_delete)
                .await
                .map_err(storage)?;
            if tx
                .query_opt(&lock, &[&id])
                .await
                .map_err(storage)?
                .is_none()
            {
                return Ok(false);
            }
            let get = tx.prepare_cached(&inner.sql.get).await.map_err(storage)?;
            let old = match tx.query_opt(&get, &[&id]).await.map_err(storage)? {
                Some(r) => decode_connection(r.try_get::<_, &[u8]>(0).map_err(storage)?)?,
                None => return Ok(false),
            };
            let mut events = connection_events(Some(&old), None, now);
            let of = tx
                .prepare_cached(&inner.sql.accounts_of_connection)
                .await
                .map_err(storage)?;
            let linked = tx.query(&of, &[&id]).await.map_err(storage)?;
            if !linked.is_empty() {
                let mut ids = Vec::with_capacity(linked.len());
                let mut versions = Vec::with_capacity(linked.len());
                let mut records = Vec::with_capacity(linked.len());
                for r in &linked {
                    let before = enterprise_sso::storage::codec::decode_account(
                        r.try_get::<_, &[u8]>(0).map_err(storage)?,
                    )?;
                    let a = before.unlinked(now);
                    events.extend(enterprise_sso::events::account_events(
                        Some(&before),
                        Some(&a),
                        now,
                    ));
                    ids.push(a.id.to_string());
                    versions.push(version_to_i64(a.version)?);
                    records.push(enterprise_sso::storage::codec::encode_account(&a));
                }
                let unlink = tx
                    .prepare_cached(&inner.sql.unlink_accounts)
                    .await
                    .map_err(storage)?;
                tx.execute(&unlink, &[&ids, &versions, &records])
                    .await
                    .map_err(storage)?;
            }
            let del = tx
                .prepare_cached(&inner.sql.delete)
                .await
                .map_err(storage)?;
            tx.execute(&del, &[&id]).await.map_err(storage)?;
            crate::events::append(&tx, inner, events).await?;
            tx.commit().await.map_err(storage)?;
            Ok(true)
        })
        .await
}

/// The SQL and arguments of a listing (`count` without cursor, order and limit). Every
/// shape is an index search: the cursor bound is always present, so even an unfiltered
/// first page is a primary-key range, and each filter has an `(x, id)` index that also
/// gives the order.
pub(crate) fn select_sql(
    schema: &str,
    q: &ListQuery,
    paged: bool,
) -> (String, Vec<Box<dyn ToSql + Sync + Send>>) {
    let mut args: Vec<Box<dyn ToSql + Sync + Send>> = Vec::new();
    let head = if paged {
        "SELECT c.record FROM"
    } else {
        "SELECT count(*) FROM"
    };
    let mut sql = if let Some(d) = &q.domain {
        args.push(Box::new(d.as_str().to_owned()));
        format!(
            "{head} {schema}.connection_domains d JOIN {schema}.connections c \
             ON c.id = d.connection_id WHERE d.domain = $1"
        )
    } else {
        format!("{head} {schema}.connections c WHERE true")
    };
    let mut push = |sql: &mut String, cond: &str, v: Box<dyn ToSql + Sync + Send>| {
        args.push(v);
        sql.push_str(&format!(" AND {cond} ${}", args.len()));
    };
    if let Some(o) = &q.organization_id {
        push(&mut sql, "c.organization_id =", Box::new(o.clone()));
    }
    if let Some(a) = q.active {
        push(&mut sql, "c.active =", Box::new(a));
    }
    if let Some(p) = q.provider {
        push(&mut sql, "c.provider =", Box::new(p.as_str()));
    }
    if !paged {
        return (sql, args);
    }
    let cursor = q.after.as_ref().map(ConnectionId::to_string);
    match q.order {
        Order::Asc => push(&mut sql, "c.id >", Box::new(cursor.unwrap_or_default())),
        Order::Desc => push(
            &mut sql,
            "c.id <",
            Box::new(cursor.unwrap_or_else(|| "~".to_owned())),
        ),
    }
    let limit = i64::try_from(q.limit.saturating_add(1)).unwrap_or(i64::MAX);
    args.push(Box::new(limit));
    let dir = match q.order {
        Order::Asc => "ASC",
        Order::Desc => "DESC",
    };
    sql.push_str(&format!(" ORDER BY c.id {dir} LIMIT ${}", args.len()));
    args.push(Box::new(i64::try_from(q.offset).unwrap_or(i64::MAX)));
    sql.push_str(&format!(" OFFSET ${}", args.len()));
    (sql, args)
}

fn params(args: &[Box<dyn ToSql + Sync + Send>]) -> Vec<&(dyn ToSql + Sync)> {
    args.iter()
        .map(|a| a.as_ref() as &(dyn ToSql + Sync))
        .collect()
}

pub(crate) async fn list(inner: &Inner, q: &ListQuery) -> Result<Page> {
    let (sql, args) = select_sql(&inner.sql.schema, q, true);
    let client = inner.client().await?;
    let st = client.prepare_cached(&sql).await.map_err(storage)?;
    let rows = client.query(&st, &params(&args)).await.map_err(storage)?;
    Ok(Page::from_overfetch(decode_rows(rows)?, q.limit))
}

pub(crate) async fn count(inner: &Inner, q: &ListQuery) -> Result<u64> {
    let (sql, args) = select_sql(&inner.sql.schema, q, false);
    let client = inner.client().await?;
    let st = client.prepare_cached(&sql).await.map_err(storage)?;
    let n: i64 = client
        .query_one(&st, &params(&args))
        .await
        .map_err(storage)?
        .try_get(0)
        .map_err(storage)?;
    Ok(u64::try_from(n).unwrap_or(0))
}

pub(crate) async fn certificates_expiring_before(
    inner: &Inner,
    before_ms: i64,
) -> Result<Vec<EnterpriseConnection>> {
    let client = inner.client().await?;
    let st = client
        .prepare_cached(&inner.sql.expiring)
        .await
        .map_err(storage)?;
    decode_rows(client.query(&st, &[&before_ms]).await.map_err(storage)?)
}
