//! Enterprise accounts: reads, listing, metadata updates and deletes.

use super::retry::{is_version_conflict, retry_on_conflict};
use super::Connections;
use crate::account::EnterpriseAccount;
use crate::error::{Error, Result};
use crate::ids::{AccountId, ConnectionId};
use crate::millis::UnixMillis;
use crate::repo::{AccountPage, AccountQuery, Store, MAX_LIMIT};

impl<R: Store> Connections<R> {
    /// The account with this id, or [`Error::NotFound`].
    pub async fn get_account(&self, id: &AccountId) -> Result<EnterpriseAccount> {
        self.repo
            .get_account(id)
            .await?
            .ok_or_else(|| Error::not_found(id))
    }

    /// One page of a connection's accounts; `limit` is clamped to 1..=500.
    pub async fn list_accounts(
        &self,
        connection: &ConnectionId,
        query: &AccountQuery,
    ) -> Result<AccountPage> {
        let mut q = query.clone();
        q.limit = q.limit.clamp(1, MAX_LIMIT);
        self.repo.list_accounts(connection, &q).await
    }

    /// Every account with this email address (case-insensitive).
    pub async fn find_accounts_by_email(&self, email: &str) -> Result<Vec<EnterpriseAccount>> {
        self.repo.find_accounts_by_email(email).await
    }

    /// Replaces an account's public metadata (a JSON object), with CAS retries.
    pub async fn set_account_metadata(
        &self,
        id: &AccountId,
        metadata: serde_json::Map<String, serde_json::Value>,
    ) -> Result<EnterpriseAccount> {
        let _writing = crate::write_lock::lock(id.as_str()).await;
        let metadata = &metadata;
        retry_on_conflict(self.max_retries, is_version_conflict, || async move {
            let old = self.get_account(id).await?;
            let mut a = old.clone();
            a.public_metadata = metadata.clone();
            a.version += 1;
            a.updated_at = UnixMillis::new((self.clock)()).max(old.updated_at);
            self.repo.update_account(&a, old.version).await?;
            Ok(a)
        })
        .await
    }

    /// Deletes an account; [`Error::NotFound`] when absent.
    pub async fn delete_account(&self, id: &AccountId) -> Result<()> {
        if self
            .repo
            .delete_account(id, UnixMillis::new((self.clock)()))
            .await?
        {
            Ok(())
        } else {
            Err(Error::not_found(id))
        }
    }
}
