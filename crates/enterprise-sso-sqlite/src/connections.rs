//! The SQL behind every repository operation (synchronous; run on worker threads).

use std::borrow::Cow;

use enterprise_sso::events::{connection_events, Event};
use enterprise_sso::storage::codec::{decode_connection, encode_connection};
use enterprise_sso::storage::{connection_keys, expect_version, version_from_i64, version_to_i64};
use enterprise_sso::{
    Change, ConnectionId, Domain, EnterpriseConnection, Error, ListQuery, Order, Page, Result,
};
use rusqlite::types::{Value, ValueRef};
use rusqlite::{params, Connection, OptionalExtension};

use crate::error::storage;
use crate::savepoint::Savepoint;

/// What a write stores: the encoded record plus the columns the indexes need.
pub(crate) struct Row {
    key: ConnectionId,
    id: String,
    columns: Columns,
    version: i64,
    record: Vec<u8>,
    domains: Vec<String>,
    /// The connection itself, for the change feed's events.
    conn: EnterpriseConnection,
}

impl Row {
    pub(crate) fn new(c: &EnterpriseConnection) -> Result<Row> {
        Ok(Row {
            key: c.id.clone(),
            id: c.id.to_string(),
            columns: Columns::of(c),
            version: version_to_i64(c.version)?,
            record: encode_connection(c),
            domains: c.domains.iter().map(|d| d.as_str().to_owned()).collect(),
            conn: c.clone(),
        })
    }
}

/// The indexed columns of a row.
struct Columns {
    organization_id: Option<String>,
    active: bool,
    /// Borrowed from the connection's provider, owned when read back from a row.
    provider: Cow<'static, str>,
    cert_expires_at: Option<i64>,
}

impl Columns {
    fn of(c: &EnterpriseConnection) -> Columns {
        let keys = connection_keys(c);
        Columns {
            organization_id: keys.organization_id.map(str::to_owned),
            active: keys.active,
            provider: Cow::Borrowed(keys.provider.as_str()),
            cert_expires_at: keys.certificate_expires_at,
        }
    }
}

fn is_constraint(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::ConstraintViolation)
}

pub(crate) const GET_SQL: &str = "SELECT record FROM connections WHERE id = ?1";
/// A join of `connection_domains` and `connections` would be re-prepared on every call:
/// SQLite weighs the partial index on `connections` against the bound value (with STAT4,
/// as the bundled build has). A scalar subquery keeps one plan.
pub(crate) const BY_DOMAIN_SQL: &str = "SELECT record FROM connections WHERE id = \
     (SELECT connection_id FROM connection_domains WHERE domain = ?1)";
pub(crate) const INSERT_SQL: &str = "INSERT INTO connections \
     (id, organization_id, active, provider, version, record, cert_expires_at) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
/// The widest form of the CAS write (every indexed column changing); `update` builds the
/// narrower forms. Kept for the query-plan test.
#[cfg(test)]
pub(crate) const UPDATE_SQL: &str = "UPDATE connections SET version = ?3, record = ?4, \
     organization_id = ?5, active = ?6, provider = ?7, cert_expires_at = ?8 \
     WHERE id = ?1 AND version = ?2";
pub(crate) const EXPIRING_SQL: &str = "SELECT record FROM connections \
     WHERE cert_expires_at < ?1 ORDER BY cert_expires_at, id";
pub(crate) const CLAIM_SQL: &str =
    "INSERT INTO connection_domains (domain, connection_id) VALUES (?1, ?2)";
pub(crate) const RELEASE_SQL: &str =
    "DELETE FROM connection_domains WHERE domain = ?1 AND connection_id = ?2";
pub(crate) const DELETE_SQL: &str = "DELETE FROM connections WHERE id = ?1";

/// Upper bound above every id, for descending listings without a cursor.
const ID_MAX: &str = "~";

/// Decodes the record in column 0 where SQLite holds it (no copy of the blob first).
fn decode_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Result<EnterpriseConnection>> {
    Ok(match r.get_ref(0)? {
        ValueRef::Blob(bytes) => decode_connection(bytes),
        _ => Err(Error::corrupt("connection record is not a blob")),
    })
}

pub(crate) fn get(conn: &Connection, id: &str) -> Result<Option<EnterpriseConnection>> {
    let mut st = conn.prepare_cached(GET_SQL).map_err(storage)?;
    st.query_row([id], decode_row)
        .optional()
        .map_err(storage)?
        .transpose()
}

pub(crate) fn find_by_domain(
    conn: &Connection,
    domain: &str,
) -> Result<Option<EnterpriseConnection>> {
    let mut st = conn.prepare_cached(BY_DOMAIN_SQL).map_err(storage)?;
    st.query_row([domain], decode_row)
        .optional()
        .map_err(storage)?
        .transpose()
}

/// The SQL and parameters of a listing. Every shape is an index search: the cursor bound is
/// always present (the empty string or [`ID_MAX`] when there is no cursor), so even an
/// unfiltered first page is a primary-key range, and each filter has an `(x, id)` index
/// that also gives the order.
pub(crate) fn list_sql(q: &ListQuery) -> (String, Vec<Value>) {
    select_sql("SELECT c.record FROM ", q, true)
}

/// `SELECT count(*)` with the listing's filters; the cursor and limit are ignored.
pub(crate) fn count_sql(q: &ListQuery) -> (String, Vec<Value>) {
    select_sql("SELECT count(*) FROM ", q, false)
}

/// Equalities, `LIMIT` and `OFFSET` take `CAST(? AS …)`: beside `ORDER BY`, an equality
/// on a bare parameter, and a bare `LIMIT ?`, make SQLite compile the statement again for
/// every new binding (tens of microseconds per call).
fn select_sql(head: &str, q: &ListQuery, paged: bool) -> (String, Vec<Value>) {
    let mut sql = String::from(head);
    let mut args = Vec::new();
    if let Some(d) = &q.domain {
        sql.push_str(
            "connection_domains d JOIN connections c ON c.id = d.connection_id \
             WHERE d.domain = CAST(? AS TEXT)",
        );
        args.push(Value::Text(d.as_str().to_owned()));
    } else {
        sql.push_str("connections c WHERE 1");
    }
    if let Some(o) = &q.organization_id {
        sql.push_str(" AND c.organization_id = CAST(? AS TEXT)");
        args.push(Value::Text(o.clone()));
    }
    if let Some(a) = q.active {
        sql.push_str(" AND c.active = CAST(? AS INTEGER)");
        args.push(Value::Integer(i64::from(a)));
    }
    if let Some(p) = q.provider {
        sql.push_str(" AND c.provider = CAST(? AS TEXT)");
        args.push(Value::Text(p.as_str().to_owned()));
    }
    if !paged {
        return (sql, args);
    }
    let cursor = q.after.as_ref().map(|a| a.as_str().to_owned());
    match q.order {
        Order::Asc => {
            sql.push_str(" AND c.id > ? ORDER BY c.id ASC LIMIT CAST(? AS INTEGER) OFFSET CAST(? AS INTEGER)");
            args.push(Value::Text(cursor.unwrap_or_default()));
        }
        Order::Desc => {
            sql.push_str(" AND c.id < ? ORDER BY c.id DESC LIMIT CAST(? AS INTEGER) OFFSET CAST(? AS INTEGER)");
            args.push(Value::Text(cursor.unwrap_or_else(|| ID_MAX.to_owned())));
        }
    }
    args.push(Value::Integer(
        i64::try_from(q.limit.saturating_add(1)).unwrap_or(i64::MAX),
    ));
    args.push(Value::Integer(i64::try_from(q.offset).unwrap_or(i64::MAX)));
    (sql, args)
}

pub(crate) fn list(conn: &Connection, q: &ListQuery) -> Result<Page> {
    let (sql, args) = list_sql(q);
    let mut st = conn.prepare_cached(&sql).map_err(storage)?;
    let rows = st
        .query_map(rusqlite::params_from_iter(args), decode_row)
        .map_err(storage)?;
    let mut items = Vec::new();
    for c in rows {
        items.push(c.map_err(storage)??);
    }
    Ok(Page::from_overfetch(items, q.limit))
}

pub(crate) fn certificates_expiring_before(
    conn: &Connection,
    before_ms: i64,
) -> Result<Vec<EnterpriseConnection>> {
    let mut st = conn.prepare_cached(EXPIRING_SQL).map_err(storage)?;
    let rows = st.query_map([before_ms], decode_row).map_err(storage)?;
    let mut out = Vec::new();
    for c in rows {
        out.push(c.map_err(storage)??);
    }
    Ok(out)
}

pub(crate) fn count(conn: &Connection, q: &ListQuery) -> Result<u64> {
    let (sql, args) = count_sql(q);
    let mut st = conn.prepare_cached(&sql).map_err(storage)?;
    let n: i64 = st
        .query_row(rusqlite::params_from_iter(args), |r| r.get(0))
        .map_err(storage)?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// Claims `domains` for `id` inside the open transaction; the UNIQUE primary key on
/// `domain` turns a taken domain into [`Error::DomainConflict`] (naming the domain only).
fn claim(tx: &Connection, id: &str, domains: &[String]) -> Result<()> {
    let mut st = tx.prepare_cached(CLAIM_SQL).map_err(storage)?;
    for d in domains {
        match st.execute(params![d, id]) {
            Ok(_) => {}
            Err(e) if is_constraint(&e) => {
                return Err(Error::DomainConflict {
                    domain: Domain::from_normalized(d.clone()),
                });
            }
            Err(e) => return Err(storage(e)),
        }
    }
    Ok(())
}

pub(crate) fn insert(conn: &mut Connection, row: &Row) -> Result<()> {
    insert_many(conn, std::slice::from_ref(row))
}

/// Inserts many new connections in one transaction (all or nothing).
pub(crate) fn insert_many(conn: &mut Connection, rows: &[Row]) -> Result<()> {
    let tx = Savepoint::begin(conn)?;
    for row in rows {
        tx.prepare_cached(INSERT_SQL)
            .and_then(|mut st| {
                st.execute(params![
                    row.id,
                    row.columns.organization_id,
                    row.columns.active,
                    row.columns.provider,
                    row.version,
                    row.record,
                    row.columns.cert_expires_at
                ])
            })
            .map_err(|e| {
                if is_constraint(&e) {
                    Error::AlreadyExists {
                        id: (&row.key).into(),
                    }
                } else {
                    storage(e)
                }
            })?;
        claim(&tx, &row.id, &row.domains)?;
        crate::events::append(
            &tx,
            connection_events(None, Some(&row.conn), row.conn.updated_at.get()),
        )?;
    }
    tx.commit()
}

/// The indexed columns of a stored row and its record, as read inside the CAS transaction.
pub(crate) const INDEXED_SQL: &str =
    "SELECT version, organization_id, active, provider, cert_expires_at, record \
     FROM connections WHERE id = ?1";
/// The stored version, to tell a version conflict from a missing row after a CAS that
/// wrote nothing.
pub(crate) const VERSION_SQL: &str = "SELECT version FROM connections WHERE id = ?1";

/// Compare-and-swap write: version check, record, and the domain changes in one transaction.
pub(crate) fn update(conn: &mut Connection, row: &Row, expected: u64) -> Result<()> {
    update_from(conn, row, expected, None, None)
}

/// A change computed on the caller's thread from a snapshot, for the writer to apply if
/// the row still holds the version it was computed from.
pub(crate) struct Prepared {
    old: EnterpriseConnection,
    row: Row,
    events: Vec<Event>,
}

/// What the caller's half of `modify` made of its snapshot.
pub(crate) enum Snapshot {
    /// A write for the writer thread.
    Write(Box<Prepared>),
    /// The change changed nothing: the answer, with nothing to write.
    Unchanged(Box<EnterpriseConnection>),
}

/// The caller's half of [`ConnectionRepo::modify`](enterprise_sso::ConnectionRepo::modify)
/// (on a read connection): reads the connection and runs `change` on it. An error (a
/// missing connection, a refused change) and [`Snapshot::Unchanged`] are final answers,
/// true of the snapshot read; [`Snapshot::Write`] goes to the writer.
pub(crate) fn prepare_modify(
    conn: &Connection,
    id: &ConnectionId,
    change: &Change,
) -> Result<Snapshot> {
    let old = get(conn, id.as_str())?.ok_or_else(|| Error::not_found(id))?;
    let next = change(&old)?;
    if next.version == old.version {
        return Ok(Snapshot::Unchanged(Box::new(next)));
    }
    Ok(Snapshot::Write(Box::new(Prepared {
        events: connection_events(Some(&old), Some(&next), next.updated_at.get()),
        row: Row::new(&next)?,
        old,
    })))
}

/// [`ConnectionRepo::modify`](enterprise_sso::ConnectionRepo::modify) on the writer: writes
/// `prepared` if the row still holds the version it was computed from; otherwise (or with
/// nothing prepared) reads, runs `change` and writes, in the writer's transaction (nothing
/// in between can write the row), so writers of one handle never conflict.
pub(crate) fn modify(
    conn: &mut Connection,
    id: &ConnectionId,
    change: &Change,
    prepared: Option<Prepared>,
) -> Result<EnterpriseConnection> {
    if let Some(p) = prepared {
        match update_from(conn, &p.row, p.old.version, Some(&p.old), Some(p.events)) {
            Ok(()) => return Ok(p.row.conn),
            // Written since the snapshot: start again from the stored row.
            Err(Error::VersionConflict { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    let current = get(conn, id.as_str())?.ok_or_else(|| Error::not_found(id))?;
    let next = change(&current)?;
    if next.version != current.version {
        update_from(
            conn,
            &Row::new(&next)?,
            current.version,
            Some(&current),
            None,
        )?;
    }
    Ok(next)
}

/// Reads the stored row's indexed columns and record, checking its version.
fn read_indexed(tx: &Connection, row: &Row, expected: u64) -> Result<(Columns, Vec<u8>)> {
    type Indexed = (i64, Option<String>, bool, String, Option<i64>, Vec<u8>);
    let stored: Option<Indexed> = tx
        .prepare_cached(INDEXED_SQL)
        .and_then(|mut st| {
            st.query_row([&row.id], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                ))
            })
            .optional()
        })
        .map_err(storage)?;
    let (_, organization_id, active, provider, cert_expires_at, record) =
        expect_version(&row.key, expected, stored, |o| {
            version_from_i64(o.0).unwrap_or(0)
        })?;
    let columns = Columns {
        organization_id,
        active,
        provider: Cow::Owned(provider),
        cert_expires_at,
    };
    Ok((columns, record))
}

/// The compare-and-swap write. `known_old` is the stored connection when the caller has
/// it at version `expected` (read in this transaction, or a snapshot: the `UPDATE` only
/// matches that version, so a stale one writes nothing and is a conflict); without it
/// the stored row is read and decoded. `events`, when given, are the write's events
/// (computed from `known_old`).
fn update_from<'a>(
    conn: &Connection,
    row: &'a Row,
    expected: u64,
    known_old: Option<&EnterpriseConnection>,
    events: Option<Vec<Event>>,
) -> Result<()> {
    let tx = Savepoint::begin(conn)?;
    let decoded;
    let (old_conn, old) = match known_old {
        Some(old) => (old, Columns::of(old)),
        None => {
            let (columns, record) = read_indexed(&tx, row, expected)?;
            decoded = decode_connection(&record)?;
            (&decoded, columns)
        }
    };
    let expected_i64 = version_to_i64(expected)?;
    // Only the indexed columns whose value changes are set: SQLite rewrites the index
    // entries of every column named in SET, which costs more pages per commit.
    let mut sql = String::from("UPDATE connections SET version = ?3, record = ?4");
    let mut args: Vec<&dyn rusqlite::ToSql> =
        vec![&row.id, &expected_i64, &row.version, &row.record];
    let mut set = |column: &str, value: &'a dyn rusqlite::ToSql| {
        args.push(value);
        sql.push_str(&format!(", {column} = ?{}", args.len()));
    };
    let new = &row.columns;
    if old.organization_id != new.organization_id {
        set("organization_id", &new.organization_id);
    }
    if old.active != new.active {
        set("active", &new.active);
    }
    if old.provider != new.provider {
        set("provider", &new.provider);
    }
    if old.cert_expires_at != new.cert_expires_at {
        set("cert_expires_at", &new.cert_expires_at);
    }
    sql.push_str(" WHERE id = ?1 AND version = ?2");
    let written = tx
        .prepare_cached(&sql)
        .and_then(|mut st| st.execute(args.as_slice()))
        .map_err(storage)?;
    if written == 0 {
        let stored: Option<i64> = tx
            .prepare_cached(VERSION_SQL)
            .and_then(|mut st| st.query_row([&row.id], |r| r.get(0)).optional())
            .map_err(storage)?;
        expect_version(&row.key, expected, stored, |v| {
            version_from_i64(*v).unwrap_or(0)
        })?;
        return Err(Error::corrupt("the version matched but no row was written"));
    }
    // The old record's domains are its claims (written in the same transactions; `verify`
    // checks it), so they need no query.
    let current: Vec<String> = old_conn
        .domains
        .iter()
        .map(|d| d.as_str().to_owned())
        .collect();
    {
        let mut release = tx.prepare_cached(RELEASE_SQL).map_err(storage)?;
        for d in current.iter().filter(|d| !row.domains.contains(d)) {
            release.execute(params![d, row.id]).map_err(storage)?;
        }
    }
    let added: Vec<String> = row
        .domains
        .iter()
        .filter(|d| !current.contains(d))
        .cloned()
        .collect();
    claim(&tx, &row.id, &added)?;
    let events = events.unwrap_or_else(|| {
        connection_events(Some(old_conn), Some(&row.conn), row.conn.updated_at.get())
    });
    crate::events::append(&tx, events)?;
    tx.commit()
}

/// Deletes a connection: its accounts are unlinked and ON DELETE CASCADE releases its
/// domains, all in one transaction.
pub(crate) fn delete(conn: &mut Connection, id: &str, now: i64) -> Result<bool> {
    let tx = Savepoint::begin(conn)?;
    let Some(old) = get(&tx, id)? else {
        return Ok(false);
    };
    let mut events = connection_events(Some(&old), None, now);
    events.extend(crate::accounts::unlink_all(&tx, id, now)?);
    let n = tx
        .prepare_cached(DELETE_SQL)
        .and_then(|mut st| st.execute([id]))
        .map_err(storage)?;
    crate::events::append(&tx, events)?;
    tx.commit()?;
    Ok(n > 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{configure, migrate, SqliteOptions};
    use enterprise_sso::Provider;

    fn plan(conn: &Connection, sql: &str, args: Vec<Value>) -> String {
        let mut st = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let rows = st
            .query_map(rusqlite::params_from_iter(args), |r| r.get::<_, String>(3))
            .unwrap();
        rows.map(|r| r.unwrap()).collect::<Vec<_>>().join(" | ")
    }

    fn assert_indexed(what: &str, p: &str) {
        for bad in [
            "SCAN c",
            "SCAN connections",
            "SCAN d",
            "SCAN connection_domains",
            "TEMP B-TREE",
        ] {
            assert!(!p.contains(bad), "{what}: plan `{p}` contains `{bad}`");
        }
    }

    /// Statements whose plan depends on the bound values are compiled again on every
    /// call (tens of microseconds); none of the hot ones may be.
    #[test]
    fn hot_statements_keep_their_plan_across_bindings() {
        use rusqlite::StatementStatus;
        let mut conn = Connection::open_in_memory().unwrap();
        configure(&conn, &SqliteOptions::default(), false).unwrap();
        migrate(&mut conn).unwrap();
        for i in 0..50 {
            conn.execute(
                "INSERT INTO connections (id, organization_id, active, provider, version, \
                 record, cert_expires_at) VALUES (?1, 'o', 1, 'saml_custom', 1, x'00', ?2)",
                params![format!("c{i}"), i],
            )
            .unwrap();
            conn.execute(CLAIM_SQL, params![format!("d{i}.com"), format!("c{i}")])
                .unwrap();
        }
        let t = |s: String| Value::Text(s);
        type Args = Box<dyn Fn(usize) -> Vec<Value>>;
        let statements: Vec<(&str, Args)> = vec![
            (GET_SQL, Box::new(move |i| vec![t(format!("c{i}"))])),
            (
                BY_DOMAIN_SQL,
                Box::new(move |i| vec![t(format!("d{i}.com"))]),
            ),
            (INDEXED_SQL, Box::new(move |i| vec![t(format!("c{i}"))])),
            (EXPIRING_SQL, Box::new(|i| vec![Value::Integer(i as i64)])),
            (VERSION_SQL, Box::new(move |i| vec![t(format!("c{i}"))])),
            (
                crate::accounts::GET_SQL,
                Box::new(move |i| vec![t(format!("a{i}"))]),
            ),
            (
                crate::accounts::BY_SUBJECT_SQL,
                Box::new(move |i| vec![t(format!("c{i}")), t(format!("s{i}"))]),
            ),
            (
                crate::accounts::BY_EMAIL_SQL,
                Box::new(move |i| vec![t(format!("e{i}"))]),
            ),
            (
                crate::accounts::LIST_ASC_SQL,
                Box::new(move |i| vec![t(format!("c{i}")), t(String::new()), Value::Integer(5)]),
            ),
            (
                crate::accounts::OF_CONNECTION_SQL,
                Box::new(move |i| vec![t(format!("c{i}"))]),
            ),
        ];
        let org_page = list_sql(&ListQuery {
            organization_id: Some("o".into()),
            ..ListQuery::default()
        })
        .0;
        let mut statements = statements;
        statements.push((
            crate::events::AFTER_SQL,
            Box::new(|i| vec![Value::Integer(i as i64), Value::Integer(i as i64 + 1)]),
        ));
        statements.push((
            Box::leak(org_page.into_boxed_str()),
            Box::new(move |i| {
                list_sql(&ListQuery {
                    organization_id: Some(format!("o{i}")),
                    ..ListQuery::default()
                })
                .1
            }),
        ));
        // As the adapter runs them: from rusqlite's statement cache, which clears the
        // bindings of a statement it takes back.
        for (sql, args) in &statements {
            let run = |i| {
                let mut st = conn.prepare_cached(sql).unwrap();
                let mut rows = st.query(rusqlite::params_from_iter(args(i))).unwrap();
                while rows.next().unwrap().is_some() {}
            };
            run(0);
            run(1);
            let status = || {
                conn.prepare_cached(sql)
                    .unwrap()
                    .get_status(StatementStatus::RePrepare)
            };
            let warm = status();
            for i in 2..12 {
                run(i);
            }
            assert_eq!(status(), warm, "re-prepared per binding: {sql}");
        }
    }

    #[test]
    fn every_query_is_an_index_search() {
        let mut conn = Connection::open_in_memory().unwrap();
        configure(&conn, &SqliteOptions::default(), false).unwrap();
        migrate(&mut conn).unwrap();
        let t = |s: &str| Value::Text(s.into());
        for (what, sql, args) in [
            ("get", GET_SQL, vec![t("x")]),
            ("by domain", BY_DOMAIN_SQL, vec![t("x")]),
            ("indexed columns", INDEXED_SQL, vec![t("x")]),
            (
                "update",
                UPDATE_SQL,
                vec![
                    t("x"),
                    Value::Integer(1),
                    Value::Integer(2),
                    Value::Null,
                    t("o"),
                    Value::Integer(1),
                    t("p"),
                    Value::Null,
                ],
            ),
            ("expiring", EXPIRING_SQL, vec![Value::Integer(5)]),
            ("version", VERSION_SQL, vec![t("x")]),
            ("release", RELEASE_SQL, vec![t("x"), t("y")]),
            ("delete", DELETE_SQL, vec![t("x")]),
            ("account get", crate::accounts::GET_SQL, vec![t("x")]),
            (
                "account by subject",
                crate::accounts::BY_SUBJECT_SQL,
                vec![t("c"), t("s")],
            ),
            (
                "account id by subject",
                crate::accounts::ID_BY_SUBJECT_SQL,
                vec![t("c"), t("s")],
            ),
            (
                "account by email",
                crate::accounts::BY_EMAIL_SQL,
                vec![t("e")],
            ),
            (
                "account list asc",
                crate::accounts::LIST_ASC_SQL,
                vec![t("c"), t(""), Value::Integer(5)],
            ),
            (
                "account list desc",
                crate::accounts::LIST_DESC_SQL,
                vec![t("c"), t("~"), Value::Integer(5)],
            ),
            (
                "account update",
                crate::accounts::UPDATE_SQL,
                vec![t("x"), t("c"), t("e"), Value::Integer(2), Value::Null],
            ),
            ("account delete", crate::accounts::DELETE_SQL, vec![t("x")]),
            (
                "accounts of connection",
                crate::accounts::OF_CONNECTION_SQL,
                vec![t("c")],
            ),
            (
                "connection exists",
                crate::accounts::CONNECTION_EXISTS_SQL,
                vec![t("c")],
            ),
        ] {
            assert_indexed(what, &plan(&conn, sql, args));
        }
        let org = Some("org_1".to_string());
        let domain = Some(Domain::parse("acme.com").unwrap());
        let cursor = Some(enterprise_sso::ConnectionId::generate());
        let mut n = 0;
        for order in [Order::Asc, Order::Desc] {
            for after in [None, cursor.clone()] {
                for organization_id in [None, org.clone()] {
                    for active in [None, Some(true)] {
                        for provider in [None, Some(Provider::SamlOkta)] {
                            for d in [None, domain.clone()] {
                                let q = ListQuery {
                                    organization_id: organization_id.clone(),
                                    active,
                                    provider,
                                    domain: d,
                                    after: after.clone(),
                                    limit: 10,
                                    order,
                                    offset: 20,
                                    ..Default::default()
                                };
                                let (sql, args) = list_sql(&q);
                                assert_indexed(&format!("list {q:?}"), &plan(&conn, &sql, args));
                                if q.organization_id.is_some()
                                    || q.domain.is_some()
                                    || q.provider.is_some()
                                    || q.active.is_some()
                                {
                                    // An unfiltered count reads a whole (covering) index by nature.
                                    let (sql, args) = count_sql(&q);
                                    assert_indexed(
                                        &format!("count {q:?}"),
                                        &plan(&conn, &sql, args),
                                    );
                                }
                                n += 1;
                            }
                        }
                    }
                }
            }
        }
        assert_eq!(n, 64);
        // The check itself can fail: a query without an index is caught.
        let p = plan(
            &conn,
            "SELECT record FROM connections c WHERE c.record = ?",
            vec![t("x")],
        );
        assert!(p.contains("SCAN c"), "{p}");
    }
}
