//! A store that counts the calls made to it, by method, around [`MemoryRepo`]: how many
//! commits a flow makes (`commit_sign_ins`, `take_sign_in`, `insert_account`, …).
#![allow(dead_code, clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;
use enterprise_sso::{
    AccountId, AccountPage, AccountQuery, AccountRepo, ConnectionId, ConnectionRepo, Domain,
    EnterpriseAccount, EnterpriseConnection, EventFeed, ListQuery, Page, Result, SignInItem,
    SignInKind, SignInStore, UnixMillis,
};
use enterprise_sso_memory::MemoryRepo;

/// [`MemoryRepo`] with a count of the calls to each method.
#[derive(Debug, Default)]
pub(crate) struct Counting {
    inner: MemoryRepo,
    calls: Mutex<BTreeMap<&'static str, usize>>,
}

impl Counting {
    fn count(&self, method: &'static str) {
        *self.calls.lock().unwrap().entry(method).or_default() += 1;
    }

    /// The calls so far, by method; the count starts again from zero.
    pub(crate) fn take_calls(&self) -> BTreeMap<&'static str, usize> {
        std::mem::take(&mut *self.calls.lock().unwrap())
    }

    /// The writes among `calls`: each is one commit of a durable store.
    pub(crate) fn writes(calls: &BTreeMap<&'static str, usize>) -> BTreeMap<&'static str, usize> {
        const WRITES: [&str; 11] = [
            "put_sign_in",
            "take_sign_in",
            "sweep_sign_ins",
            "commit_sign_ins",
            "insert",
            "update",
            "delete",
            "append_events",
            "insert_account",
            "update_account",
            "delete_account",
        ];
        calls
            .iter()
            .filter(|(m, _)| WRITES.contains(m))
            .map(|(m, n)| (*m, *n))
            .collect()
    }
}

#[async_trait]
impl SignInStore for Counting {
    async fn put_sign_in(&self, item: &SignInItem, now: UnixMillis) -> Result<bool> {
        self.count("put_sign_in");
        self.inner.put_sign_in(item, now).await
    }
    async fn take_sign_in(
        &self,
        kind: SignInKind,
        key: &str,
        now: UnixMillis,
    ) -> Result<Option<SignInItem>> {
        self.count("take_sign_in");
        self.inner.take_sign_in(kind, key, now).await
    }
    async fn get_sign_in(
        &self,
        kind: SignInKind,
        key: &str,
        now: UnixMillis,
    ) -> Result<Option<SignInItem>> {
        self.count("get_sign_in");
        self.inner.get_sign_in(kind, key, now).await
    }
    async fn sweep_sign_ins(&self, now: UnixMillis) -> Result<u64> {
        self.count("sweep_sign_ins");
        self.inner.sweep_sign_ins(now).await
    }
    async fn list_sign_ins(
        &self,
        kind: SignInKind,
        connection_id: &ConnectionId,
        now: UnixMillis,
    ) -> Result<Vec<SignInItem>> {
        self.count("list_sign_ins");
        self.inner.list_sign_ins(kind, connection_id, now).await
    }
    async fn commit_sign_ins(
        &self,
        ops: &[enterprise_sso::SignInOp],
        account: Option<&enterprise_sso::AccountWrite>,
        now: enterprise_sso::UnixMillis,
    ) -> Result<enterprise_sso::SignInCommit> {
        self.count("commit_sign_ins");
        self.inner.commit_sign_ins(ops, account, now).await
    }
}

#[async_trait]
impl ConnectionRepo for Counting {
    async fn insert(&self, c: &EnterpriseConnection) -> Result<()> {
        self.count("insert");
        self.inner.insert(c).await
    }
    async fn get(&self, id: &ConnectionId) -> Result<Option<EnterpriseConnection>> {
        self.count("get");
        self.inner.get(id).await
    }
    async fn update(&self, c: &EnterpriseConnection, expected: u64) -> Result<()> {
        self.count("update");
        self.inner.update(c, expected).await
    }
    async fn delete(&self, id: &ConnectionId, now: UnixMillis) -> Result<bool> {
        self.count("delete");
        self.inner.delete(id, now).await
    }
    async fn list(&self, q: &ListQuery) -> Result<Page> {
        self.count("list");
        self.inner.list(q).await
    }
    async fn find_by_domain(&self, d: &Domain) -> Result<Option<EnterpriseConnection>> {
        self.count("find_by_domain");
        self.inner.find_by_domain(d).await
    }
}

#[async_trait]
impl EventFeed for Counting {
    async fn events_after(&self, position: u64, limit: usize) -> Result<enterprise_sso::FeedPage> {
        self.count("events_after");
        self.inner.events_after(position, limit).await
    }
    async fn prune_events_before(&self, before: UnixMillis) -> Result<u64> {
        self.count("prune_events_before");
        self.inner.prune_events_before(before).await
    }
    async fn append_events(&self, events: &[enterprise_sso::events::Event]) -> Result<()> {
        self.count("append_events");
        self.inner.append_events(events).await
    }
}

#[async_trait]
impl AccountRepo for Counting {
    async fn insert_account(&self, a: &EnterpriseAccount) -> Result<()> {
        self.count("insert_account");
        self.inner.insert_account(a).await
    }
    async fn get_account(&self, id: &AccountId) -> Result<Option<EnterpriseAccount>> {
        self.count("get_account");
        self.inner.get_account(id).await
    }
    async fn update_account(&self, a: &EnterpriseAccount, expected: u64) -> Result<()> {
        self.count("update_account");
        self.inner.update_account(a, expected).await
    }
    async fn find_account_by_subject(
        &self,
        c: &ConnectionId,
        s: &str,
    ) -> Result<Option<EnterpriseAccount>> {
        self.count("find_account_by_subject");
        self.inner.find_account_by_subject(c, s).await
    }
    async fn find_accounts_by_email(&self, e: &str) -> Result<Vec<EnterpriseAccount>> {
        self.count("find_accounts_by_email");
        self.inner.find_accounts_by_email(e).await
    }
    async fn list_accounts(&self, c: &ConnectionId, q: &AccountQuery) -> Result<AccountPage> {
        self.count("list_accounts");
        self.inner.list_accounts(c, q).await
    }
    async fn delete_account(&self, id: &AccountId, now: UnixMillis) -> Result<bool> {
        self.count("delete_account");
        self.inner.delete_account(id, now).await
    }
}
