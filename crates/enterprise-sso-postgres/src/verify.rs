//! The integrity check: the core's cross-check of records, indexed columns, domain table
//! and accounts ([`cross_check`]), on one repeatable-read, read-only snapshot.

use std::collections::BTreeSet;

use enterprise_sso::storage::{cross_check, AccountColumns, ConnectionColumns, IntegrityError};

use crate::Inner;

fn engine(e: impl std::fmt::Display) -> IntegrityError {
    IntegrityError::Engine(e.to_string())
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
    let connections: Vec<(ConnectionColumns, Vec<u8>)> = tx
        .query(
            &format!(
                "SELECT id, organization_id, active, provider, cert_expires_at, version, record \
                 FROM {s}.connections"
            ),
            &[],
        )
        .await
        .map_err(engine)?
        .iter()
        .map(|r| {
            (
                (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4), r.get(5)),
                r.get(6),
            )
        })
        .collect();
    let domains: BTreeSet<(String, String)> = tx
        .query(
            &format!("SELECT domain, connection_id FROM {s}.connection_domains"),
            &[],
        )
        .await
        .map_err(engine)?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let accounts: Vec<(AccountColumns, Vec<u8>)> = tx
        .query(
            &format!(
                "SELECT id, connection_id, provider_user_id, email_key, record FROM {s}.accounts"
            ),
            &[],
        )
        .await
        .map_err(engine)?
        .iter()
        .map(|r| ((r.get(0), r.get(1), r.get(2), r.get(3)), r.get(4)))
        .collect();
    cross_check(connections, &domains, accounts)
}

/// [`verify`] on an owned handle (for the runtime bridge).
pub(crate) async fn verify_owned(inner: std::sync::Arc<Inner>) -> Result<(), IntegrityError> {
    verify(&inner).await
}
