//! The integrity check: every record decodes (checksum included) under its own key, the
//! indexed columns and the domain table agree with the records, and every linked
//! account's connection exists. Runs in one repeatable-read, read-only transaction.

use std::collections::BTreeSet;

use enterprise_sso::codec::{decode_account, decode_connection};
use enterprise_sso::integrity::{
    account_columns, connection_columns, AccountColumns, ConnectionColumns, IntegrityError,
};

use crate::Inner;

fn engine(e: impl std::fmt::Display) -> IntegrityError {
    IntegrityError::Engine(e.to_string())
}

fn index(index: &'static str, detail: String) -> IntegrityError {
    IntegrityError::Index { index, detail }
}

pub(crate) async fn verify(inner: &Inner) -> Result<(), IntegrityError> {
    let s = &inner.sql.schema;
    let mut client = inner.pool.get().await.map_err(engine)?;
    let tx = client
        .build_transaction()
        .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await
        .map_err(engine)?;
    let rows = tx
        .query(
            &format!(
                "SELECT id, organization_id, active, provider, cert_expires_at, version, record \
                 FROM {s}.connections"
            ),
            &[],
        )
        .await
        .map_err(engine)?;
    let mut ids = BTreeSet::new();
    let mut expected_domains = BTreeSet::new();
    for r in &rows {
        let id: String = r.get(0);
        let c = decode_connection(r.get::<_, &[u8]>(6)).map_err(|e| IntegrityError::Record {
            table: "connections",
            key: id.clone(),
            reason: e.to_string(),
        })?;
        let version: i64 = r.get(5);
        let stored: ConnectionColumns = (id.clone(), r.get(1), r.get(2), r.get(3), r.get(4));
        if connection_columns(&c) != stored || i64::try_from(c.version).ok() != Some(version) {
            return Err(index(
                "connections",
                format!("the indexed columns of {id} disagree with its record"),
            ));
        }
        for d in &c.domains {
            expected_domains.insert((d.as_str().to_owned(), id.clone()));
        }
        ids.insert(id);
    }
    let found_domains: BTreeSet<(String, String)> = tx
        .query(
            &format!("SELECT domain, connection_id FROM {s}.connection_domains"),
            &[],
        )
        .await
        .map_err(engine)?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    if let Some((d, c)) = found_domains.symmetric_difference(&expected_domains).next() {
        return Err(index(
            "connection_domains",
            format!("{d} -> {c} disagrees with the records"),
        ));
    }
    let accounts = tx
        .query(
            &format!(
                "SELECT id, connection_id, provider_user_id, email_key, record FROM {s}.accounts"
            ),
            &[],
        )
        .await
        .map_err(engine)?;
    for r in &accounts {
        let id: String = r.get(0);
        let a = decode_account(r.get::<_, &[u8]>(4)).map_err(|e| IntegrityError::Record {
            table: "accounts",
            key: id.clone(),
            reason: e.to_string(),
        })?;
        let linked = a.enterprise_connection_id.as_ref().map(|c| c.to_string());
        let stored: AccountColumns = (id.clone(), r.get(1), r.get(2), r.get(3));
        if account_columns(&a) != stored {
            return Err(index(
                "accounts",
                format!("the indexed columns of {id} disagree with its record"),
            ));
        }
        if let Some(c) = linked.filter(|c| !ids.contains(c)) {
            return Err(IntegrityError::Record {
                table: "accounts",
                key: id,
                reason: format!("is linked to missing connection {c}"),
            });
        }
    }
    Ok(())
}

/// [`verify`] on an owned handle (for the runtime bridge).
pub(crate) async fn verify_owned(inner: std::sync::Arc<Inner>) -> Result<(), IntegrityError> {
    verify(&inner).await
}
