//! The sign-in store ([`SignInStore`]) on the `sign_in_items` table (see `schema`).
//!
//! Every operation is one statement, so one implicit transaction and one round trip, and
//! atomic across every replica: a put is `INSERT … ON CONFLICT DO UPDATE … WHERE` the
//! stored row has expired (a concurrent put of the same key waits for the first one's row
//! and then sees it live: exactly one writes); a take is `DELETE … RETURNING` (a
//! concurrent take waits for the first one's row lock and then finds the row gone:
//! exactly one gets it). Reads see live rows only; a sweep is one range delete on the
//! expiry index.

use async_trait::async_trait;
use enterprise_sso::storage::stored_id;
use enterprise_sso::{
    AccountWrite, ConnectionId, Error, Result, SignInCommit, SignInConflict, SignInItem,
    SignInKind, SignInOp, SignInStore, UnixMillis,
};

use crate::error::storage;
use crate::{Inner, PostgresRepo};

/// The statements, with the schema name spliced in once at open.
#[derive(Debug, Clone)]
pub(crate) struct Statements {
    pub(crate) put: String,
    pub(crate) take: String,
    pub(crate) get: String,
    pub(crate) sweep: String,
    pub(crate) list: String,
}

impl Statements {
    pub(crate) fn new(s: &str) -> Statements {
        Statements {
            put: format!(
                "INSERT INTO {s}.sign_in_items AS old \
                    (kind, key, connection_id, created_at, expires_at, payload) \
                 VALUES ($1, $2, $3, $4, $5, $6) \
                 ON CONFLICT (kind, key) DO UPDATE SET connection_id = EXCLUDED.connection_id, \
                    created_at = EXCLUDED.created_at, expires_at = EXCLUDED.expires_at, \
                    payload = EXCLUDED.payload \
                 WHERE old.expires_at <= $7"
            ),
            take: format!(
                "DELETE FROM {s}.sign_in_items WHERE kind = $1 AND key = $2 \
                 RETURNING connection_id, created_at, expires_at, payload"
            ),
            get: format!(
                "SELECT connection_id, created_at, expires_at, payload FROM {s}.sign_in_items \
                 WHERE kind = $1 AND key = $2 AND expires_at > $3"
            ),
            sweep: format!("DELETE FROM {s}.sign_in_items WHERE expires_at <= $1"),
            // A search of the primary key's kind prefix.
            list: format!(
                "SELECT connection_id, created_at, expires_at, payload, key \
                 FROM {s}.sign_in_items \
                 WHERE kind = $1 AND connection_id = $2 AND expires_at > $3"
            ),
        }
    }
}

fn item(kind: SignInKind, key: &str, row: &tokio_postgres::Row) -> Result<SignInItem> {
    let conn: Option<&str> = row.try_get(0).map_err(storage)?;
    Ok(SignInItem {
        kind,
        key: key.to_owned(),
        connection_id: conn
            .map(|c| stored_id::<ConnectionId>(c, "sign_in_items"))
            .transpose()?,
        created_at: UnixMillis::new(row.try_get(1).map_err(storage)?),
        expires_at: UnixMillis::new(row.try_get(2).map_err(storage)?),
        payload: row.try_get(3).map_err(storage)?,
    })
}

async fn put(inner: &Inner, it: &SignInItem, now: i64) -> Result<bool> {
    inner
        .retrying(|| async {
            let client = inner.client().await?;
            put_on(&client, inner, it, now).await
        })
        .await
}

/// The put statement on `client` (a pooled connection or a transaction): whether it wrote.
async fn put_on<C: deadpool_postgres::GenericClient + Sync>(
    client: &C,
    inner: &Inner,
    it: &SignInItem,
    now: i64,
) -> Result<bool> {
    let conn = it.connection_id.as_ref().map(ConnectionId::as_str);
    let st = client
        .prepare_cached(&inner.sign_ins.put)
        .await
        .map_err(storage)?;
    let n = client
        .execute(
            &st,
            &[
                &it.kind.as_str(),
                &it.key,
                &conn,
                &it.created_at.get(),
                &it.expires_at.get(),
                &it.payload,
                &now,
            ],
        )
        .await
        .map_err(storage)?;
    Ok(n > 0)
}

async fn take(inner: &Inner, kind: SignInKind, key: &str, now: i64) -> Result<Option<SignInItem>> {
    inner
        .retrying(|| async {
            let client = inner.client().await?;
            take_on(&client, inner, kind, key, now).await
        })
        .await
}

/// The take statement on `client` (a pooled connection or a transaction): the record it
/// removed, when that one was live.
async fn take_on<C: deadpool_postgres::GenericClient + Sync>(
    client: &C,
    inner: &Inner,
    kind: SignInKind,
    key: &str,
    now: i64,
) -> Result<Option<SignInItem>> {
    let st = client
        .prepare_cached(&inner.sign_ins.take)
        .await
        .map_err(storage)?;
    let row = client
        .query_opt(&st, &[&kind.as_str(), &key])
        .await
        .map_err(storage)?;
    Ok(row
        .map(|r| item(kind, key, &r))
        .transpose()?
        .filter(|it| it.is_live_at(UnixMillis::new(now))))
}

async fn get(inner: &Inner, kind: SignInKind, key: &str, now: i64) -> Result<Option<SignInItem>> {
    let client = inner.client().await?;
    let st = client
        .prepare_cached(&inner.sign_ins.get)
        .await
        .map_err(storage)?;
    client
        .query_opt(&st, &[&kind.as_str(), &key, &now])
        .await
        .map_err(storage)?
        .map(|r| item(kind, key, &r))
        .transpose()
}

async fn list(
    inner: &Inner,
    kind: SignInKind,
    connection_id: &str,
    now: i64,
) -> Result<Vec<SignInItem>> {
    let client = inner.client().await?;
    let st = client
        .prepare_cached(&inner.sign_ins.list)
        .await
        .map_err(storage)?;
    client
        .query(&st, &[&kind.as_str(), &connection_id, &now])
        .await
        .map_err(storage)?
        .iter()
        .map(|r| {
            let key: &str = r.try_get(4).map_err(storage)?;
            item(kind, key, r)
        })
        .collect()
}

async fn sweep(inner: &Inner, now: i64) -> Result<u64> {
    inner
        .retrying(|| async {
            let client = inner.client().await?;
            let st = client
                .prepare_cached(&inner.sign_ins.sweep)
                .await
                .map_err(storage)?;
            client.execute(&st, &[&now]).await.map_err(storage)
        })
        .await
}

/// [`SignInStore::commit_sign_ins`] in one transaction: the takes and puts (the same
/// statements as alone), then the account write with its events as the last statement
/// (see `events`); the first operation that cannot be applied rolls everything back. A
/// concurrent batch taking the same record waits for this one's row lock and then finds
/// the row gone.
async fn commit(
    inner: &Inner,
    ops: &[SignInOp],
    account: Option<&AccountWrite>,
    now: i64,
    durable: bool,
) -> Result<SignInCommit> {
    inner
        .retrying(|| async {
            let mut client = inner.client().await?;
            let tx = client.transaction().await.map_err(storage)?;
            if !durable {
                // Pending requests only (`commit_pending`): the commit does not wait for
                // the WAL flush. Still atomic, seen at once by every session and replica
                // of this server, ordered before later commits; a server crash may lose
                // it. `SET LOCAL` ends with the transaction.
                tx.batch_execute("SET LOCAL synchronous_commit TO OFF")
                    .await
                    .map_err(storage)?;
            }
            let mut taken = Vec::new();
            for (index, op) in ops.iter().enumerate() {
                let applied = match op {
                    SignInOp::Take { kind, key } => {
                        match take_on(&tx, inner, *kind, key, now).await? {
                            Some(it) => {
                                taken.push(it);
                                true
                            }
                            None => false,
                        }
                    }
                    SignInOp::Put(it) => put_on(&tx, inner, it, now).await?,
                    _ => false,
                };
                if !applied {
                    tx.rollback().await.map_err(storage)?;
                    return Ok(Err(SignInConflict { index }));
                }
            }
            match account {
                Some(AccountWrite::Insert(a)) => {
                    match crate::accounts::insert_in(&tx, inner, a).await? {
                        crate::accounts::Inserted::Done => {}
                        crate::accounts::Inserted::SubjectTaken => {
                            drop(tx);
                            return Err(
                                crate::accounts::existing_subject_owner(&client, inner, a).await
                            );
                        }
                    }
                }
                Some(AccountWrite::Update {
                    account,
                    expected_version,
                }) => crate::accounts::update_in(&tx, inner, account, *expected_version).await?,
                Some(_) => {
                    return Err(Error::InvalidArgument {
                        argument: "account",
                        reason: "an account write this store does not know",
                    })
                }
                None => {}
            }
            tx.commit().await.map_err(storage)?;
            Ok(Ok(taken))
        })
        .await
}

#[async_trait]
impl SignInStore for PostgresRepo {
    async fn put_sign_in(&self, item: &SignInItem, now: UnixMillis) -> Result<bool> {
        let it = item.clone();
        self.run(|i| async move { put(&i, &it, now.get()).await })
            .await
    }

    async fn take_sign_in(
        &self,
        kind: SignInKind,
        key: &str,
        now: UnixMillis,
    ) -> Result<Option<SignInItem>> {
        let key = key.to_owned();
        self.run(|i| async move { take(&i, kind, &key, now.get()).await })
            .await
    }

    async fn get_sign_in(
        &self,
        kind: SignInKind,
        key: &str,
        now: UnixMillis,
    ) -> Result<Option<SignInItem>> {
        let key = key.to_owned();
        self.run(|i| async move { get(&i, kind, &key, now.get()).await })
            .await
    }

    async fn sweep_sign_ins(&self, now: UnixMillis) -> Result<u64> {
        self.run(|i| async move { sweep(&i, now.get()).await })
            .await
    }

    async fn list_sign_ins(
        &self,
        kind: SignInKind,
        connection_id: &ConnectionId,
        now: UnixMillis,
    ) -> Result<Vec<SignInItem>> {
        let conn = connection_id.as_str().to_owned();
        self.run(|i| async move { list(&i, kind, &conn, now.get()).await })
            .await
    }

    async fn commit_sign_ins(
        &self,
        ops: &[SignInOp],
        account: Option<&AccountWrite>,
        now: UnixMillis,
    ) -> Result<SignInCommit> {
        let (ops, account, now) = (ops.to_vec(), account.cloned(), now.get());
        self.run(|i| async move { commit(&i, &ops, account.as_ref(), now, true).await })
            .await
    }

    async fn commit_pending(&self, ops: &[SignInOp], now: UnixMillis) -> Result<SignInCommit> {
        let (ops, now) = (ops.to_vec(), now.get());
        self.run(|i| async move { commit(&i, &ops, None, now, false).await })
            .await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::test_server::url;
    use crate::PostgresOptions;
    use tokio_postgres::types::ToSql;

    /// A pending request committed without waiting for the WAL flush is stored like any
    /// other, and the relaxed setting ends with its transaction: the pool's one connection
    /// syncs its next commits again.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_pending_commit_does_not_leave_its_connection_relaxed() {
        let Some(url) = url() else { return };
        let repo = PostgresRepo::connect_with(
            &url,
            PostgresOptions {
                schema: format!("sign_in_relaxed_{}", std::process::id()),
                pool_size: 1,
                ..PostgresOptions::default()
            },
        )
        .await
        .unwrap();
        let now = UnixMillis::new(1_000);
        let item = SignInItem {
            kind: SignInKind::SamlRequest,
            key: "pending-1".into(),
            connection_id: None,
            created_at: now,
            expires_at: UnixMillis::new(60_000),
            payload: vec![1, 2, 3],
        };
        let ops = [SignInOp::Put(item.clone())];
        assert!(repo.commit_pending(&ops, now).await.unwrap().is_ok());
        assert!(
            repo.commit_pending(&ops, now).await.unwrap().is_err(),
            "a live key refuses"
        );
        let got = repo
            .get_sign_in(SignInKind::SamlRequest, "pending-1", now)
            .await;
        assert_eq!(got.unwrap(), Some(item));
        let client = repo.pool().get().await.unwrap();
        let row = client
            .query_one("SHOW synchronous_commit", &[])
            .await
            .unwrap();
        assert_eq!(row.get::<_, String>(0), "on");
    }

    /// Each statement is an index search on a filled, analysed table (never a sequential
    /// scan), the sweep included.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_sign_in_statement_is_an_index_search() {
        let Some(url) = url() else { return };
        let schema = format!("sign_in_plans_{}", std::process::id());
        let repo = PostgresRepo::connect_with(
            &url,
            PostgresOptions {
                schema: schema.clone(),
                ..PostgresOptions::default()
            },
        )
        .await
        .unwrap();
        let client = repo.pool().get().await.unwrap();
        client
            .batch_execute(&format!(
                "INSERT INTO {schema}.sign_in_items \
                    (kind, key, connection_id, created_at, expires_at, payload) \
                 SELECT 'saml_assertion', md5(n::text), NULL, 0, n, '\\x00' \
                 FROM generate_series(1, 20000) AS n"
            ))
            .await
            .unwrap();
        client
            .batch_execute(&format!("VACUUM ANALYZE {schema}.sign_in_items"))
            .await
            .unwrap();
        let st = &repo.inner.sign_ins;
        let (kind, key, none) = ("saml_assertion", "k", None::<String>);
        // The filled kind is every row; a list reads a rare kind (a connection's runs).
        let test_run = "test_run";
        let (zero, payload) = (0i64, vec![0u8]);
        let cases: Vec<(&str, &String, Vec<&(dyn ToSql + Sync)>)> = vec![
            (
                "put",
                &st.put,
                vec![&kind, &key, &none, &zero, &zero, &payload, &zero],
            ),
            ("take", &st.take, vec![&kind, &key]),
            ("get", &st.get, vec![&kind, &key, &zero]),
            ("sweep", &st.sweep, vec![&zero]),
            ("list", &st.list, vec![&test_run, &key, &zero]),
        ];
        let mut bad = Vec::new();
        for (what, sql, args) in cases {
            let plan: serde_json::Value = client
                .query_one(&format!("EXPLAIN (FORMAT JSON) {sql}"), &args)
                .await
                .unwrap_or_else(|e| panic!("{what}: {e}"))
                .get(0);
            if plan.to_string().contains("Seq Scan") {
                bad.push(format!("{what}: {plan}"));
            }
        }
        client
            .batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
            .await
            .unwrap();
        assert!(bad.is_empty(), "{}", bad.join("\n"));
    }
}
