//! # enterprise-sso-memory
//!
//! The in-memory reference implementation of every store capability of enterprise-sso
//! ([`ConnectionRepo`], [`AccountRepo`], [`EventFeed`], [`SignInStore`]): the store
//! the conformance suite measures every adapter against, and the store of tests, examples
//! and hosts that keep nothing. Like every adapter it only stores: the rules are the
//! core's (`enterprise_sso::storage`).
//!
//! ```
//! use enterprise_sso::{Connections, CreateConnection, Provider};
//! use enterprise_sso_memory::MemoryRepo;
//! # futures_executor::block_on(async {
//! let svc = Connections::new(MemoryRepo::new());
//! let conn = svc.create(&CreateConnection::new(Provider::SamlOkta, "Acme")).await.unwrap();
//! assert_eq!(svc.get(&conn.id).await.unwrap(), conn);
//! # });
//! ```

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::RwLock;

use async_trait::async_trait;

use enterprise_sso::events::{account_events, connection_events, Event};
use enterprise_sso::storage::{
    account_keys, check_account_keys_unchanged, email_key, expect_version,
};
use enterprise_sso::{
    AccountId, AccountPage, AccountQuery, AccountRepo, AccountWrite, ConnectionId, ConnectionRepo,
    Domain, EnterpriseAccount, EnterpriseConnection, Error, EventFeed, FeedPage, ListQuery, Order,
    Page, Result, SignInCommit, SignInConflict, SignInItem, SignInKind, SignInOp, SignInStore,
    UnixMillis,
};

/// A thread-safe, in-memory store of connections and accounts: the reference every adapter
/// is measured against by the conformance suite. Nothing is persisted.
#[derive(Debug, Default)]
pub struct MemoryRepo {
    state: RwLock<State>,
    sign_ins: std::sync::Mutex<HashMap<(SignInKind, String), SignInItem>>,
}

#[derive(Debug, Default)]
struct State {
    by_id: BTreeMap<ConnectionId, EnterpriseConnection>,
    domains: HashMap<Domain, ConnectionId>,
    by_org: BTreeSet<(String, ConnectionId)>,
    accounts: BTreeMap<AccountId, EnterpriseAccount>,
    by_subject: HashMap<(ConnectionId, String), AccountId>,
    by_email: HashMap<String, BTreeSet<AccountId>>,
    by_connection: BTreeSet<(ConnectionId, AccountId)>,
    events: BTreeMap<u64, Event>,
    last_position: u64,
    /// The largest position a prune deleted.
    pruned_to: u64,
}

impl MemoryRepo {
    /// An empty repository.
    pub fn new() -> Self {
        Self::default()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(|e| e.into_inner())
    }

    fn sign_ins(&self) -> std::sync::MutexGuard<'_, HashMap<(SignInKind, String), SignInItem>> {
        self.sign_ins.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[async_trait]
impl SignInStore for MemoryRepo {
    async fn put_sign_in(&self, item: &SignInItem, now: UnixMillis) -> Result<bool> {
        let mut m = self.sign_ins();
        let key = (item.kind, item.key.clone());
        if m.get(&key).is_some_and(|old| old.is_live_at(now)) {
            return Ok(false);
        }
        m.insert(key, item.clone());
        Ok(true)
    }

    async fn take_sign_in(
        &self,
        kind: SignInKind,
        key: &str,
        now: UnixMillis,
    ) -> Result<Option<SignInItem>> {
        let taken = self.sign_ins().remove(&(kind, key.to_owned()));
        Ok(taken.filter(|i| i.is_live_at(now)))
    }

    async fn get_sign_in(
        &self,
        kind: SignInKind,
        key: &str,
        now: UnixMillis,
    ) -> Result<Option<SignInItem>> {
        let m = self.sign_ins();
        Ok(m.get(&(kind, key.to_owned()))
            .filter(|i| i.is_live_at(now))
            .cloned())
    }

    async fn sweep_sign_ins(&self, now: UnixMillis) -> Result<u64> {
        let mut m = self.sign_ins();
        let before = m.len();
        m.retain(|_, i| i.is_live_at(now));
        Ok((before - m.len()) as u64)
    }

    async fn list_sign_ins(
        &self,
        kind: SignInKind,
        connection_id: &ConnectionId,
        now: UnixMillis,
    ) -> Result<Vec<SignInItem>> {
        let m = self.sign_ins();
        Ok(m.values()
            .filter(|i| {
                i.kind == kind
                    && i.connection_id.as_ref() == Some(connection_id)
                    && i.is_live_at(now)
            })
            .cloned()
            .collect())
    }

    async fn commit_sign_ins(
        &self,
        ops: &[SignInOp],
        account: Option<&AccountWrite>,
        now: UnixMillis,
    ) -> Result<SignInCommit> {
        let now = now.get();
        // The account state first, then the records (no other path holds both).
        let mut state = self.write();
        let mut m = self.sign_ins();
        // What the batch changes, checked against the map as the earlier ops left it.
        let mut changes: HashMap<(SignInKind, String), Option<SignInItem>> = HashMap::new();
        let mut taken = Vec::new();
        for (index, op) in ops.iter().enumerate() {
            let (k, live) = match op {
                SignInOp::Take { kind, key } => {
                    let k = (*kind, key.clone());
                    let live = match changes.get(&k) {
                        Some(changed) => changed.clone(),
                        None => m.get(&k).cloned(),
                    }
                    .filter(|i| i.is_live_at(UnixMillis::new(now)));
                    (k, live)
                }
                SignInOp::Put(item) => {
                    let k = (item.kind, item.key.clone());
                    let live = match changes.get(&k) {
                        Some(changed) => changed
                            .as_ref()
                            .is_some_and(|i| i.is_live_at(UnixMillis::new(now))),
                        None => m
                            .get(&k)
                            .is_some_and(|i| i.is_live_at(UnixMillis::new(now))),
                    };
                    if live {
                        return Ok(Err(SignInConflict { index }));
                    }
                    changes.insert(k, Some(item.clone()));
                    continue;
                }
                // A kind of operation this store does not know: refuse rather than skip.
                _ => return Ok(Err(SignInConflict { index })),
            };
            let Some(item) = live else {
                return Ok(Err(SignInConflict { index }));
            };
            taken.push(item);
            changes.insert(k, None);
        }
        match account {
            Some(AccountWrite::Insert(a)) => state.insert_account(a)?,
            Some(AccountWrite::Update {
                account,
                expected_version,
            }) => state.update_account(account, *expected_version)?,
            Some(_) => {
                return Err(Error::InvalidArgument {
                    argument: "account",
                    reason: "an account write this store does not know",
                })
            }
            None => {}
        }
        for (k, v) in changes {
            match v {
                Some(item) => m.insert(k, item),
                None => m.remove(&k),
            };
        }
        Ok(Ok(taken))
    }
}

fn subject_key(a: &EnterpriseAccount) -> Option<(ConnectionId, String)> {
    account_keys(a)
        .subject
        .map(|(c, s)| (c.clone(), s.to_owned()))
}

impl State {
    fn check_domains(&self, conn: &EnterpriseConnection) -> Result<()> {
        for d in &conn.domains {
            if let Some(owner) = self.domains.get(d) {
                if *owner != conn.id {
                    return Err(Error::DomainConflict { domain: d.clone() });
                }
            }
        }
        Ok(())
    }

    fn release(&mut self, conn: &EnterpriseConnection) {
        for d in &conn.domains {
            self.domains.remove(d);
        }
        if let Some(o) = &conn.organization_id {
            self.by_org.remove(&(o.clone(), conn.id.clone()));
        }
    }

    fn claim(&mut self, conn: &EnterpriseConnection) {
        for d in &conn.domains {
            self.domains.insert(d.clone(), conn.id.clone());
        }
        if let Some(o) = &conn.organization_id {
            self.by_org.insert((o.clone(), conn.id.clone()));
        }
    }

    fn unindex_account(&mut self, a: &EnterpriseAccount) {
        if let Some(k) = subject_key(a) {
            self.by_subject.remove(&k);
        }
        let key = account_keys(a).email;
        if let Some(set) = self.by_email.get_mut(&key) {
            set.remove(&a.id);
            if set.is_empty() {
                self.by_email.remove(&key);
            }
        }
        if let Some(c) = &a.enterprise_connection_id {
            self.by_connection.remove(&(c.clone(), a.id.clone()));
        }
    }

    fn index_account(&mut self, a: &EnterpriseAccount) {
        if let Some(k) = subject_key(a) {
            self.by_subject.insert(k, a.id.clone());
        }
        self.by_email
            .entry(account_keys(a).email)
            .or_default()
            .insert(a.id.clone());
        if let Some(c) = &a.enterprise_connection_id {
            self.by_connection.insert((c.clone(), a.id.clone()));
        }
    }

    /// Stores a new account with its events (checked first: a refusal changes nothing).
    fn insert_account(&mut self, a: &EnterpriseAccount) -> Result<()> {
        if self.accounts.contains_key(&a.id) {
            return Err(Error::AlreadyExists { id: (&a.id).into() });
        }
        if let Some(c) = &a.enterprise_connection_id {
            if !self.by_id.contains_key(c) {
                return Err(Error::not_found(c));
            }
        }
        if let Some(existing) = subject_key(a).and_then(|k| self.by_subject.get(&k)) {
            return Err(Error::AccountExists {
                id: existing.clone(),
            });
        }
        self.put_account(a);
        self.append(account_events(None, Some(a), a.updated_at.get()));
        Ok(())
    }

    /// Replaces an account by compare-and-swap, with its events (checked first).
    fn update_account(&mut self, a: &EnterpriseAccount, expected_version: u64) -> Result<()> {
        let old = expect_version(
            &a.id,
            expected_version,
            self.accounts.get(&a.id).cloned(),
            |a| a.version,
        )?;
        check_account_keys_unchanged(
            old.enterprise_connection_id.as_ref(),
            old.provider_user_id.as_deref(),
            a,
        )?;
        self.put_account(a);
        self.append(account_events(Some(&old), Some(a), a.updated_at.get()));
        Ok(())
    }

    /// Appends events under the same lock as the write they describe.
    fn append(&mut self, events: Vec<Event>) {
        for mut e in events {
            self.last_position += 1;
            e.position = self.last_position;
            self.events.insert(e.position, e);
        }
    }

    fn put_account(&mut self, a: &EnterpriseAccount) {
        if let Some(old) = self.accounts.get(&a.id).cloned() {
            self.unindex_account(&old);
        }
        self.index_account(a);
        self.accounts.insert(a.id.clone(), a.clone());
    }
}

#[async_trait]
impl ConnectionRepo for MemoryRepo {
    async fn insert(&self, conn: &EnterpriseConnection) -> Result<()> {
        let mut s = self.write();
        if s.by_id.contains_key(&conn.id) {
            return Err(Error::AlreadyExists {
                id: (&conn.id).into(),
            });
        }
        s.check_domains(conn)?;
        s.claim(conn);
        s.by_id.insert(conn.id.clone(), conn.clone());
        s.append(connection_events(None, Some(conn), conn.updated_at.get()));
        Ok(())
    }

    async fn get(&self, id: &ConnectionId) -> Result<Option<EnterpriseConnection>> {
        Ok(self.read().by_id.get(id).cloned())
    }

    async fn update(&self, conn: &EnterpriseConnection, expected_version: u64) -> Result<()> {
        let mut s = self.write();
        let old = s.by_id.get(&conn.id).cloned();
        let old = expect_version(&conn.id, expected_version, old, |c| c.version)?;
        s.check_domains(conn)?;
        s.release(&old);
        s.claim(conn);
        s.by_id.insert(conn.id.clone(), conn.clone());
        s.append(connection_events(
            Some(&old),
            Some(conn),
            conn.updated_at.get(),
        ));
        Ok(())
    }

    async fn delete(&self, id: &ConnectionId, now: UnixMillis) -> Result<bool> {
        let now = now.get();
        let mut s = self.write();
        let Some(old) = s.by_id.remove(id) else {
            return Ok(false);
        };
        s.release(&old);
        let linked: Vec<AccountId> = s
            .by_connection
            .range((id.clone(), AccountId::min())..)
            .take_while(|(c, _)| c == id)
            .map(|(_, a)| a.clone())
            .collect();
        let mut events = connection_events(Some(&old), None, now);
        for a in linked {
            if let Some(acc) = s.accounts.get(&a).cloned() {
                let unlinked = acc.unlinked(now);
                events.extend(account_events(Some(&acc), Some(&unlinked), now));
                s.put_account(&unlinked);
            }
        }
        s.append(events);
        Ok(true)
    }

    async fn list(&self, query: &ListQuery) -> Result<Page> {
        let s = self.read();
        let want = query.limit.saturating_add(1);
        let pass = |c: &&EnterpriseConnection| query.after_cursor(&c.id) && query.matches(c);
        if let Some(org) = &query.organization_id {
            // The organization index gives the order; the other filters are checked.
            let ids = s
                .by_org
                .range((org.clone(), ConnectionId::min())..)
                .take_while(|(o, _)| o == org)
                .filter_map(|(_, id)| s.by_id.get(id));
            let items: Vec<_> = match query.order {
                Order::Asc => ids
                    .filter(pass)
                    .skip(query.offset)
                    .take(want)
                    .cloned()
                    .collect(),
                Order::Desc => ids
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .filter(pass)
                    .skip(query.offset)
                    .take(want)
                    .cloned()
                    .collect(),
            };
            return Ok(Page::from_overfetch(items, query.limit));
        }
        let items: Vec<_> = match query.order {
            Order::Asc => s
                .by_id
                .values()
                .filter(pass)
                .skip(query.offset)
                .take(want)
                .cloned()
                .collect(),
            Order::Desc => s
                .by_id
                .values()
                .rev()
                .filter(pass)
                .skip(query.offset)
                .take(want)
                .cloned()
                .collect(),
        };
        Ok(Page::from_overfetch(items, query.limit))
    }

    async fn find_by_domain(&self, domain: &Domain) -> Result<Option<EnterpriseConnection>> {
        let s = self.read();
        Ok(s.domains
            .get(domain)
            .and_then(|id| s.by_id.get(id))
            .cloned())
    }
}

#[async_trait]
impl EventFeed for MemoryRepo {
    async fn events_after(&self, position: u64, limit: usize) -> Result<FeedPage> {
        let s = self.read();
        let events = s
            .events
            .range(position.saturating_add(1)..)
            .take(limit)
            .map(|(_, e)| e.clone())
            .collect();
        Ok(FeedPage::new(events, s.pruned_to))
    }
    async fn prune_events_before(&self, before: UnixMillis) -> Result<u64> {
        let before_ms = before.get();
        let mut s = self.write();
        let before = s.events.len();
        let mut floor = s.pruned_to;
        s.events.retain(|p, e| {
            let keep = e.created_at >= UnixMillis::new(before_ms);
            if !keep {
                floor = floor.max(*p);
            }
            keep
        });
        s.pruned_to = floor;
        Ok((before - s.events.len()) as u64)
    }
    async fn append_events(&self, events: &[Event]) -> Result<()> {
        self.write().append(events.to_vec());
        Ok(())
    }
}

#[async_trait]
impl AccountRepo for MemoryRepo {
    async fn insert_account(&self, a: &EnterpriseAccount) -> Result<()> {
        self.write().insert_account(a)
    }

    async fn get_account(&self, id: &AccountId) -> Result<Option<EnterpriseAccount>> {
        Ok(self.read().accounts.get(id).cloned())
    }

    async fn update_account(&self, a: &EnterpriseAccount, expected_version: u64) -> Result<()> {
        self.write().update_account(a, expected_version)
    }

    async fn find_account_by_subject(
        &self,
        connection: &ConnectionId,
        provider_user_id: &str,
    ) -> Result<Option<EnterpriseAccount>> {
        let s = self.read();
        let key = (connection.clone(), provider_user_id.to_owned());
        Ok(s.by_subject
            .get(&key)
            .and_then(|id| s.accounts.get(id))
            .cloned())
    }

    async fn find_accounts_by_email(&self, email: &str) -> Result<Vec<EnterpriseAccount>> {
        let s = self.read();
        Ok(s.by_email
            .get(&email_key(email))
            .map(|ids| {
                ids.iter()
                    .filter_map(|id| s.accounts.get(id))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default())
    }

    async fn list_accounts(
        &self,
        connection: &ConnectionId,
        q: &AccountQuery,
    ) -> Result<AccountPage> {
        let s = self.read();
        let want = q.limit.saturating_add(1);
        let ids = s
            .by_connection
            .range((connection.clone(), AccountId::min())..)
            .take_while(|(c, _)| c == connection)
            .map(|(_, a)| a);
        let pick = |id: &AccountId| {
            q.after_cursor(id)
                .then(|| s.accounts.get(id).cloned())
                .flatten()
        };
        let items: Vec<_> = match q.order {
            Order::Asc => ids.filter_map(pick).take(want).collect(),
            Order::Desc => ids
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .filter_map(pick)
                .take(want)
                .collect(),
        };
        Ok(AccountPage::from_overfetch(items, q.limit))
    }

    async fn delete_account(&self, id: &AccountId, now: UnixMillis) -> Result<bool> {
        let now = now.get();
        let mut s = self.write();
        match s.accounts.remove(id) {
            Some(old) => {
                s.unindex_account(&old);
                s.append(account_events(Some(&old), None, now));
                Ok(true)
            }
            None => Ok(false),
        }
    }
}
