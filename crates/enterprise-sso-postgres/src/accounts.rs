//! Account operations.

use enterprise_sso::events::account_events;
use enterprise_sso::storage::codec::{decode_account, encode_account};
use enterprise_sso::storage::email_key;
use enterprise_sso::storage::{
    account_keys, check_account_keys_unchanged, expect_version, stored_id, version_to_i64,
};
use enterprise_sso::{AccountPage, AccountQuery, EnterpriseAccount, Error, Order, Result};

use crate::error::{storage, unique_violation};
use crate::pipelined::Pipelined;
use crate::Inner;

fn decode_rows(rows: &[tokio_postgres::Row]) -> Result<Vec<EnterpriseAccount>> {
    rows.iter()
        .map(|r| decode_account(r.try_get::<_, &[u8]>(0).map_err(storage)?))
        .collect()
}

async fn one(
    inner: &Inner,
    sql: &str,
    args: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> Result<Option<EnterpriseAccount>> {
    let client = inner.client().await?;
    let st = client.prepare_cached(sql).await.map_err(storage)?;
    let row = client.query_opt(&st, args).await.map_err(storage)?;
    row.map(|r| decode_account(r.try_get::<_, &[u8]>(0).map_err(storage)?))
        .transpose()
}

async fn many(
    inner: &Inner,
    sql: &str,
    args: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> Result<Vec<EnterpriseAccount>> {
    let client = inner.client().await?;
    let st = client.prepare_cached(sql).await.map_err(storage)?;
    decode_rows(&client.query(&st, args).await.map_err(storage)?)
}

pub(crate) async fn get(inner: &Inner, id: &str) -> Result<Option<EnterpriseAccount>> {
    one(inner, &inner.sql.account_get, &[&id]).await
}

pub(crate) async fn by_subject(
    inner: &Inner,
    connection: &str,
    subject: &str,
) -> Result<Option<EnterpriseAccount>> {
    one(
        inner,
        &inner.sql.account_by_subject,
        &[&connection, &subject],
    )
    .await
}

pub(crate) async fn by_email(inner: &Inner, email: &str) -> Result<Vec<EnterpriseAccount>> {
    many(inner, &inner.sql.account_by_email, &[&email_key(email)]).await
}

pub(crate) async fn list(inner: &Inner, connection: &str, q: &AccountQuery) -> Result<AccountPage> {
    let limit = i64::try_from(q.limit.saturating_add(1)).unwrap_or(i64::MAX);
    let cursor = q.after.as_ref().map(|a| a.as_str().to_owned());
    let items = match q.order {
        Order::Asc => {
            let c = cursor.unwrap_or_default();
            many(
                inner,
                &inner.sql.account_list_asc,
                &[&connection, &c, &limit],
            )
            .await?
        }
        Order::Desc => {
            let c = cursor.unwrap_or_else(|| "~".into());
            many(
                inner,
                &inner.sql.account_list_desc,
                &[&connection, &c, &limit],
            )
            .await?
        }
    };
    Ok(AccountPage::from_overfetch(items, q.limit))
}

/// Inserts an account with its events in one statement (one round trip). A linked account
/// takes a share lock on its connection's row in the same statement, so it cannot be
/// linked to a connection being deleted.
pub(crate) async fn insert(inner: &Inner, a: &EnterpriseAccount) -> Result<()> {
    let inserted = inner
        .retrying(|| async {
            let client = inner.client().await?;
            insert_on(&client, inner, a).await
        })
        .await?;
    match inserted {
        Inserted::Done => Ok(()),
        // Another account has this (connection, provider user id): name it.
        Inserted::SubjectTaken => {
            let client = inner.client().await?;
            Err(existing_subject_owner(&client, inner, a).await)
        }
    }
}

/// `BEGIN` and the stored account, read and locked (`FOR UPDATE`): one round trip.
async fn begin_locked(
    tx: &mut Pipelined,
    inner: &Inner,
    id: &str,
) -> Result<Option<EnterpriseAccount>> {
    let lock = tx
        .client()?
        .prepare_cached(&inner.sql.account_get_for_update)
        .await
        .map_err(storage)?;
    tx.begin_with(&lock, &[&id])
        .await?
        .map(|r| decode_account(r.try_get::<_, &[u8]>(0).map_err(storage)?))
        .transpose()
}

/// Runs `op` on a transaction of its own ([`Pipelined`]); rolls it back when `op` fails
/// and may have left it open. The answer is `op`'s own error: if the rollback fails too,
/// dropping the [`Pipelined`] closes the connection, and the server rolls back.
async fn in_pipelined<T>(
    inner: &Inner,
    op: impl AsyncFnOnce(&mut Pipelined) -> Result<T>,
) -> Result<T> {
    let mut tx = Pipelined::new(inner.client().await?);
    let out = op(&mut tx).await;
    if out.is_err() {
        let _ = tx.end("ROLLBACK").await;
    }
    out
}

/// Compare-and-swap on the version in two round trips (see [`Pipelined`]): `BEGIN` with
/// the locking read (version and keys checked on the stored row), then the write, its
/// events and `COMMIT`; connection and provider user id cannot change.
pub(crate) async fn update(inner: &Inner, a: &EnterpriseAccount, expected: u64) -> Result<()> {
    let id = a.id.to_string();
    let keys = account_keys(a);
    let linked = keys.connection.map(|c| c.to_string());
    let version = version_to_i64(a.version)?;
    let expected_i = version_to_i64(expected)?;
    let record = encode_account(a);
    let key = keys.email;
    inner
        .retrying(|| {
            in_pipelined(inner, async |tx| {
                let stored = begin_locked(tx, inner, &id).await?;
                let old = expect_version(&a.id, expected, stored, |o| o.version)?;
                check_account_keys_unchanged(
                    old.enterprise_connection_id.as_ref(),
                    old.provider_user_id.as_deref(),
                    a,
                )?;
                let (times, records) = crate::events::columns(&account_events(
                    Some(&old),
                    Some(a),
                    a.updated_at.get(),
                ));
                let st = tx
                    .client()?
                    .prepare_cached(&inner.sql.account_update)
                    .await
                    .map_err(storage)?;
                let row = tx
                    .commit_with(
                        &st,
                        &[
                            &id,
                            &expected_i,
                            &key,
                            &version,
                            &record,
                            &linked,
                            &a.provider_user_id,
                            &times,
                            &records,
                        ],
                    )
                    .await?;
                let n: i64 = row.try_get(0).map_err(storage)?;
                if n != 1 {
                    return Err(Error::VersionConflict {
                        id: (&a.id).into(),
                        expected,
                        actual: expected.saturating_add(1),
                    });
                }
                Ok(())
            })
        })
        .await
}

/// Deletes an account in two round trips: `BEGIN` with the locking read (the events need
/// the stored account), then the delete, its events and `COMMIT`.
pub(crate) async fn delete(inner: &Inner, id: &str, now: i64) -> Result<bool> {
    inner
        .retrying(|| {
            in_pipelined(inner, async |tx| {
                let Some(old) = begin_locked(tx, inner, id).await? else {
                    tx.end("COMMIT").await?;
                    return Ok(false);
                };
                let (times, records) =
                    crate::events::columns(&account_events(Some(&old), None, now));
                let st = tx
                    .client()?
                    .prepare_cached(&inner.sql.account_delete)
                    .await
                    .map_err(storage)?;
                let row = tx.commit_with(&st, &[&id, &times, &records]).await?;
                let n: i64 = row.try_get(0).map_err(storage)?;
                Ok(n > 0)
            })
        })
        .await
}

/// What [`insert_in`] found.
pub(crate) enum Inserted {
    /// The account is in (with its events).
    Done,
    /// Another account has its (connection, provider user id): the transaction is
    /// aborted; [`existing_subject_owner`] names it once it has ended.
    SubjectTaken,
}

/// Inserts an account with its events inside `tx` (see [`insert`]).
pub(crate) async fn insert_in(
    tx: &deadpool_postgres::Transaction<'_>,
    inner: &Inner,
    a: &EnterpriseAccount,
) -> Result<Inserted> {
    insert_on(tx, inner, a).await
}

/// The account insert with its events, one statement on `client` (a pooled connection or
/// a transaction).
async fn insert_on<C: deadpool_postgres::GenericClient + Sync>(
    client: &C,
    inner: &Inner,
    a: &EnterpriseAccount,
) -> Result<Inserted> {
    let id = a.id.to_string();
    let keys = account_keys(a);
    let linked = keys.connection.map(|c| c.to_string());
    let version = version_to_i64(a.version)?;
    let record = encode_account(a);
    let (times, records) =
        crate::events::columns(&account_events(None, Some(a), a.updated_at.get()));
    let st = client
        .prepare_cached(&inner.sql.account_insert)
        .await
        .map_err(storage)?;
    let inserted = client
        .query_one(
            &st,
            &[
                &id,
                &linked,
                &a.provider_user_id,
                &keys.email,
                &version,
                &record,
                &times,
                &records,
            ],
        )
        .await;
    match inserted {
        Ok(row) => {
            let n: i64 = row.try_get(0).map_err(storage)?;
            match (n, &a.enterprise_connection_id) {
                (0, Some(cid)) => Err(Error::not_found(cid)),
                (0, None) => Err(Error::corrupt("an unlinked account was not inserted")),
                _ => Ok(Inserted::Done),
            }
        }
        Err(e) => match unique_violation(&e) {
            Some("accounts_pkey") => Err(Error::AlreadyExists { id: (&a.id).into() }),
            Some("accounts_by_subject") => Ok(Inserted::SubjectTaken),
            _ => Err(storage(e)),
        },
    }
}

/// [`Error::AccountExists`] naming the account that has `a`'s (connection, provider user
/// id).
pub(crate) async fn existing_subject_owner(
    client: &deadpool_postgres::Object,
    inner: &Inner,
    a: &EnterpriseAccount,
) -> Error {
    let linked = a.enterprise_connection_id.as_ref().map(|c| c.to_string());
    let found = async {
        let st = client
            .prepare_cached(&inner.sql.account_id_by_subject)
            .await
            .map_err(storage)?;
        let existing: String = client
            .query_one(&st, &[&linked, &a.provider_user_id])
            .await
            .map_err(storage)?
            .try_get(0)
            .map_err(storage)?;
        stored_id(&existing, "accounts")
    };
    match found.await {
        Ok(id) => Error::AccountExists { id },
        Err(e) => e,
    }
}

/// Compare-and-swap of an account inside `tx`: the row locked and read, version and keys
/// checked, then the write with its events (see [`update`]).
pub(crate) async fn update_in(
    tx: &deadpool_postgres::Transaction<'_>,
    inner: &Inner,
    a: &EnterpriseAccount,
    expected: u64,
) -> Result<()> {
    let id = a.id.to_string();
    let keys = account_keys(a);
    let linked = keys.connection.map(|c| c.to_string());
    let version = version_to_i64(a.version)?;
    let expected_i = version_to_i64(expected)?;
    let lock = tx
        .prepare_cached(&inner.sql.account_get_for_update)
        .await
        .map_err(storage)?;
    let stored = tx
        .query_opt(&lock, &[&id])
        .await
        .map_err(storage)?
        .map(|r| decode_account(r.try_get::<_, &[u8]>(0).map_err(storage)?))
        .transpose()?;
    let old = expect_version(&a.id, expected, stored, |o| o.version)?;
    check_account_keys_unchanged(
        old.enterprise_connection_id.as_ref(),
        old.provider_user_id.as_deref(),
        a,
    )?;
    let (times, records) =
        crate::events::columns(&account_events(Some(&old), Some(a), a.updated_at.get()));
    let st = tx
        .prepare_cached(&inner.sql.account_update)
        .await
        .map_err(storage)?;
    let row = tx
        .query_one(
            &st,
            &[
                &id,
                &expected_i,
                &keys.email,
                &version,
                &encode_account(a),
                &linked,
                &a.provider_user_id,
                &times,
                &records,
            ],
        )
        .await
        .map_err(storage)?;
    let n: i64 = row.try_get(0).map_err(storage)?;
    if n != 1 {
        return Err(Error::VersionConflict {
            id: (&a.id).into(),
            expected,
            actual: expected.saturating_add(1),
        });
    }
    Ok(())
}
