//! Accounts: reads, the linked-account listing a connection delete needs, and the
//! [`AccountRepo`] implementation.

use async_trait::async_trait;
use enterprise_sso::events::account_events;
use enterprise_sso::storage::codec::decode_account;
use enterprise_sso::storage::email_key;
use enterprise_sso::storage::{check_account_keys_unchanged, expect_version, stored_id};
use enterprise_sso::UnixMillis;
use enterprise_sso::{
    AccountId, AccountPage, AccountQuery, AccountRepo, ConnectionId, EnterpriseAccount, Error,
    Order, Result,
};

use crate::keys::{self, account_keys, generation_of, range_of, Kind};
use crate::tx::{abort, storage, Tx, TxResult};
use crate::SledRepo;

impl SledRepo {
    pub(crate) fn account_generation(&self, id: &ConnectionId) -> Result<u64> {
        Ok(generation_of(
            self.tree
                .get(keys::generation(id.as_str()))
                .map_err(storage)?,
        ))
    }

    /// Ids of the accounts linked to a connection (outside any transaction).
    pub(crate) fn linked_accounts(&self, id: &ConnectionId) -> Result<Vec<String>> {
        let prefix = Kind::AccountByConnection.key(&[id.as_str().as_bytes()]);
        self.tree
            .scan_prefix(&prefix)
            .map(|e| {
                let (k, _) = e.map_err(storage)?;
                Ok(String::from_utf8_lossy(&k[prefix.len()..]).into_owned())
            })
            .collect()
    }

    pub(crate) fn load_account(&self, id: &[u8]) -> Result<Option<EnterpriseAccount>> {
        match self.tree.get(Kind::Account.key(&[id])).map_err(storage)? {
            Some(bytes) => decode_account(&bytes).map(Some),
            None => Ok(None),
        }
    }
}

/// Stores a new account with its events inside the write `tx` (refused: aborted).
pub(crate) fn insert_in(tx: &Tx<'_>, a: &EnterpriseAccount) -> TxResult<()> {
    if tx.account_exists(a.id.as_str())? {
        return abort(Error::AlreadyExists { id: (&a.id).into() });
    }
    if let Some(c) = &a.enterprise_connection_id {
        if !tx.exists(c)? {
            return abort(Error::not_found(c));
        }
        if let Some(s) = account_keys(a).subject {
            if let Some(existing) = tx.subject_owner(&s)? {
                let id = String::from_utf8_lossy(&existing);
                return match stored_id(&id, "acc_by_subject") {
                    Ok(id) => abort(Error::AccountExists { id }),
                    Err(e) => abort(e),
                };
            }
        }
        tx.set_generation(c, tx.generation(c)? + 1)?;
    }
    tx.put_account(a)?;
    tx.append(&account_events(None, Some(a), a.updated_at.get()))
}

/// Replaces an account by compare-and-swap, with its events, inside the write `tx`.
pub(crate) fn update_in(tx: &Tx<'_>, a: &EnterpriseAccount, expected_version: u64) -> TxResult<()> {
    let stored = tx.old_account(a.id.as_str())?;
    let checked = expect_version(&a.id, expected_version, stored, |a| a.version).and_then(|old| {
        check_account_keys_unchanged(
            old.enterprise_connection_id.as_ref(),
            old.provider_user_id.as_deref(),
            a,
        )
        .map(|()| old)
    });
    let old = match checked {
        Ok(old) => old,
        Err(e) => return abort(e),
    };
    tx.drop_account_indexes(&old)?;
    tx.put_account(a)?;
    tx.append(&account_events(Some(&old), Some(a), a.updated_at.get()))
}

#[async_trait]
impl AccountRepo for SledRepo {
    async fn insert_account(&self, a: &EnterpriseAccount) -> Result<()> {
        let a = a.clone();
        self.write(move |tx| insert_in(tx, &a)).await
    }

    async fn get_account(&self, id: &AccountId) -> Result<Option<EnterpriseAccount>> {
        self.load_account(id.as_str().as_bytes())
    }

    async fn update_account(&self, a: &EnterpriseAccount, expected_version: u64) -> Result<()> {
        let a = a.clone();
        self.write(move |tx| update_in(tx, &a, expected_version))
            .await
    }

    async fn find_account_by_subject(
        &self,
        connection: &ConnectionId,
        provider_user_id: &str,
    ) -> Result<Option<EnterpriseAccount>> {
        let key = Kind::AccountBySubject.key(&[
            connection.as_str().as_bytes(),
            &[0],
            provider_user_id.as_bytes(),
        ]);
        match self.tree.get(key).map_err(storage)? {
            Some(id) => self.load_account(&id),
            None => Ok(None),
        }
    }

    async fn find_accounts_by_email(&self, email: &str) -> Result<Vec<EnterpriseAccount>> {
        let prefix = keys::under(Kind::AccountByEmail, email_key(email).as_bytes());
        let mut out = Vec::new();
        for entry in self.tree.scan_prefix(&prefix) {
            let (k, _) = entry.map_err(storage)?;
            if let Some(a) = self.load_account(&k[prefix.len()..])? {
                out.push(a);
            }
        }
        Ok(out)
    }

    async fn list_accounts(
        &self,
        connection: &ConnectionId,
        q: &AccountQuery,
    ) -> Result<AccountPage> {
        let prefix = Kind::AccountByConnection.key(&[connection.as_str().as_bytes()]);
        // Keys are connection id + account id: the prefix's range, narrowed by the cursor.
        let range = range_of(&prefix, q.after.as_ref().map(|a| a.as_str()), q.order);
        let iter = self.tree.range(range);
        let iter: Box<dyn Iterator<Item = sled::Result<(sled::IVec, sled::IVec)>>> = match q.order {
            Order::Asc => Box::new(iter),
            Order::Desc => Box::new(iter.rev()),
        };
        let want = q.limit.saturating_add(1);
        let mut items = Vec::new();
        for entry in iter {
            let (k, _) = entry.map_err(storage)?;
            if let Some(a) = self.load_account(&k[prefix.len()..])? {
                items.push(a);
                if items.len() >= want {
                    break;
                }
            }
        }
        Ok(AccountPage::from_overfetch(items, q.limit))
    }

    async fn delete_account(&self, id: &AccountId, now: UnixMillis) -> Result<bool> {
        let id = id.clone();
        self.write(move |tx| {
            let Some(old) = tx.old_account(id.as_str())? else {
                return Ok(false);
            };
            tx.drop_account_indexes(&old)?;
            tx.remove_account(id.as_str())?;
            tx.append(&account_events(Some(&old), None, now.get()))?;
            Ok(true)
        })
        .await
    }
}
