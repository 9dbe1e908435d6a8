//! The storage boundary: what every adapter implements.

use std::sync::Arc;

use async_trait::async_trait;

use crate::account::EnterpriseAccount;
use crate::connection::EnterpriseConnection;
use crate::domain::Domain;
use crate::error::Result;
use crate::ids::{AccountId, ConnectionId};
use crate::millis::UnixMillis;
use crate::provider::Provider;

/// Sort order of a listing, by id (which is creation order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Order {
    /// Oldest first.
    Asc,
    /// Newest first (the default, as in Clerk and WorkOS).
    #[default]
    Desc,
}

/// Default page size.
pub const DEFAULT_LIMIT: usize = 10;
/// Largest page size.
pub const MAX_LIMIT: usize = 500;

/// A listing: filters (all optional, combined with AND), a cursor and a page size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListQuery {
    /// Only connections of this organization.
    pub organization_id: Option<String>,
    /// Only active (or inactive) connections.
    pub active: Option<bool>,
    /// Only connections of this provider.
    pub provider: Option<Provider>,
    /// Only the connection that claims this domain.
    pub domain: Option<Domain>,
    /// Exclusive cursor: start after this id in the chosen order.
    pub after: Option<ConnectionId>,
    /// Exclusive cursor the other way: the page that ends just before this id in the
    /// chosen order (WorkOS `before`). Stores never see it: [`crate::Connections::list`]
    /// turns it into an `after` cursor in the reverse order. Not combined with `after`.
    pub before: Option<ConnectionId>,
    /// How many matching connections to skip first (Clerk `offset`), after the cursor.
    /// Stores skip along their index (the cost grows with the offset, not the store).
    pub offset: usize,
    /// Page size, 1..=[`MAX_LIMIT`] (the service clamps it).
    pub limit: usize,
    /// Sort order by id.
    pub order: Order,
}

impl Default for ListQuery {
    fn default() -> Self {
        ListQuery {
            organization_id: None,
            active: None,
            provider: None,
            domain: None,
            after: None,
            before: None,
            offset: 0,
            limit: DEFAULT_LIMIT,
            order: Order::Desc,
        }
    }
}

impl ListQuery {
    /// Whether `c` passes every filter (the cursor is not checked).
    pub fn matches(&self, c: &EnterpriseConnection) -> bool {
        self.organization_id
            .as_ref()
            .is_none_or(|o| c.organization_id.as_ref() == Some(o))
            && self.active.is_none_or(|a| c.active == a)
            && self.provider.is_none_or(|p| c.provider == p)
            && self.domain.as_ref().is_none_or(|d| c.domains.contains(d))
    }

    /// Whether `id` lies after the cursor in the chosen order.
    pub fn after_cursor(&self, id: &ConnectionId) -> bool {
        self.order.is_after(self.after.as_ref(), id)
    }
}

/// Every connection matching the query's filters, in its order, walking all pages (the
/// query's cursor and limit are ignored).
pub async fn list_all<R: ConnectionRepo + ?Sized>(
    repo: &R,
    query: &ListQuery,
) -> Result<Vec<EnterpriseConnection>> {
    let mut q = ListQuery {
        after: None,
        before: None,
        offset: 0,
        limit: MAX_LIMIT,
        ..query.clone()
    };
    let mut out = Vec::new();
    loop {
        let page = repo.list(&q).await?;
        out.extend(page.items);
        match page.next_cursor {
            Some(c) => q.after = Some(c),
            None => return Ok(out),
        }
    }
}

/// A stored record kind that listings page through: it has an id, and ids order pages.
pub trait Record {
    /// The record's id type (also the cursor type of its listings).
    type Id: Clone + Ord + std::fmt::Debug + std::hash::Hash;

    /// The record's id.
    fn record_id(&self) -> &Self::Id;
}

impl Record for EnterpriseConnection {
    type Id = ConnectionId;

    fn record_id(&self) -> &ConnectionId {
        &self.id
    }
}

impl Record for EnterpriseAccount {
    type Id = AccountId;

    fn record_id(&self) -> &AccountId {
        &self.id
    }
}

/// One page of a listing of connections (or, as [`AccountPage`], of accounts).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T: Record = EnterpriseConnection> {
    /// The records, in the query's order.
    pub items: Vec<T>,
    /// Cursor of the next page (the last item's id), `None` at the end.
    pub next_cursor: Option<T::Id>,
    /// Cursor of the page before (the first item's id) when this page does not start at
    /// the beginning (set by [`crate::Connections::list`]; adapters leave it `None`).
    pub prev_cursor: Option<T::Id>,
}

/// One page of accounts.
pub type AccountPage = Page<EnterpriseAccount>;

impl<T: Record> Page<T> {
    /// Builds a page from up to `limit + 1` matching items fetched in order: the extra
    /// item only tells that a next page exists.
    pub fn from_overfetch(mut items: Vec<T>, limit: usize) -> Self {
        let more = items.len() > limit;
        items.truncate(limit);
        let next_cursor = if more {
            items.last().map(|c| c.record_id().clone())
        } else {
            None
        };
        Page {
            items,
            next_cursor,
            prev_cursor: None,
        }
    }
}

impl Order {
    /// The other order.
    pub fn reverse(self) -> Order {
        match self {
            Order::Asc => Order::Desc,
            Order::Desc => Order::Asc,
        }
    }

    /// Whether `id` lies after the exclusive cursor `after` in this order (every id does
    /// when there is no cursor).
    pub fn is_after<I: Ord>(self, after: Option<&I>, id: &I) -> bool {
        match (after, self) {
            (None, _) => true,
            (Some(a), Order::Asc) => id > a,
            (Some(a), Order::Desc) => id < a,
        }
    }
}

/// The change of one [`ConnectionRepo::modify`]: from the stored connection to the next.
pub type Change = Arc<dyn Fn(&EnterpriseConnection) -> Result<EnterpriseConnection> + Send + Sync>;

/// [`ConnectionRepo::modify`]'s default, on the caller: [`ConnectionRepo::get`], `change`,
/// then [`ConnectionRepo::update`] with the version read (a concurrent writer makes it a
/// [`crate::Error::VersionConflict`]).
pub async fn modify_by_cas<R: ConnectionRepo + ?Sized>(
    repo: &R,
    id: &ConnectionId,
    change: Change,
) -> Result<EnterpriseConnection> {
    let current = repo
        .get(id)
        .await?
        .ok_or_else(|| crate::error::Error::not_found(id))?;
    let next = change(&current)?;
    if next.version != current.version {
        repo.update(&next, current.version).await?;
    }
    Ok(next)
}

/// Storage of connections. Adapters only store: merge and validation live in the core
/// ([`crate::Connections`]); an adapter must never change a record it is given.
///
/// Every write is atomic: the record, its version check and its domain claims commit
/// together or not at all.
#[async_trait]
pub trait ConnectionRepo: Send + Sync {
    /// Stores a new connection and claims its domains.
    ///
    /// Errors: [`crate::Error::AlreadyExists`], [`crate::Error::DomainConflict`].
    async fn insert(&self, conn: &EnterpriseConnection) -> Result<()>;

    /// The connection with this id, if any.
    async fn get(&self, id: &ConnectionId) -> Result<Option<EnterpriseConnection>>;

    /// Replaces the stored connection `conn.id` if its version is `expected_version`
    /// (compare-and-swap), claiming new domains and releasing dropped ones.
    ///
    /// Errors: [`crate::Error::NotFound`], [`crate::Error::VersionConflict`],
    /// [`crate::Error::DomainConflict`].
    async fn update(&self, conn: &EnterpriseConnection, expected_version: u64) -> Result<()>;

    /// One read-modify-write of the connection `id`: `change` gets the stored connection
    /// and returns the next one, which is written with a version check (a next of the same
    /// version is not written); returns the connection as it is after the call.
    ///
    /// The default reads with [`ConnectionRepo::get`] and writes with
    /// [`ConnectionRepo::update`], so a concurrent writer can make it fail with
    /// [`crate::Error::VersionConflict`] (the caller retries). A store whose writes go
    /// through one writer overrides it to read, change and write there in one step, which
    /// saves the caller's read and cannot conflict with writers of the same handle;
    /// `change` then runs on that writer, so it must be cheap (the core sends only
    /// patches without metadata XML this way) and may run more than once.
    ///
    /// Errors: [`crate::Error::NotFound`], `change`'s own, and [`ConnectionRepo::update`]'s.
    async fn modify(&self, id: &ConnectionId, change: Change) -> Result<EnterpriseConnection> {
        modify_by_cas(self, id, change).await
    }

    /// Deletes a connection and releases its domains; `false` when there was none.
    ///
    /// A store that also holds accounts ([`AccountRepo`]) keeps the connection's accounts
    /// but deactivates and unlinks them ([`EnterpriseAccount::unlinked`] at `now`) in the
    /// same atomic write.
    async fn delete(&self, id: &ConnectionId, now: UnixMillis) -> Result<bool>;

    /// One page of connections matching the query.
    async fn list(&self, query: &ListQuery) -> Result<Page>;

    /// The connection that claims exactly this domain, if any (active or not).
    async fn find_by_domain(&self, domain: &Domain) -> Result<Option<EnterpriseConnection>>;

    /// Every connection whose IdP certificate expires before `before`,
    /// soonest first (ties by id). All matches, not a page: renewal reminders must not be
    /// silently capped.
    ///
    /// The default walks [`ConnectionRepo::list`]; adapters override it with an index.
    async fn certificates_expiring_before(
        &self,
        before: UnixMillis,
    ) -> Result<Vec<EnterpriseConnection>> {
        let before_ms = before.get();
        let mut out: Vec<_> = list_all(
            self,
            &ListQuery {
                order: Order::Asc,
                ..ListQuery::default()
            },
        )
        .await?
        .into_iter()
        .filter(|c| {
            c.certificate_expires_at()
                .is_some_and(|t| t < UnixMillis::new(before_ms))
        })
        .collect();
        out.sort_by(|a, b| {
            (a.certificate_expires_at(), &a.id).cmp(&(b.certificate_expires_at(), &b.id))
        });
        Ok(out)
    }

    /// How many connections match the query's filters (cursor and limit are ignored).
    ///
    /// The default walks [`ConnectionRepo::list`] page by page; adapters with a cheaper
    /// way (an indexed `COUNT(*)`) override it.
    async fn count(&self, query: &ListQuery) -> Result<u64> {
        let mut q = query.clone();
        q.after = None;
        q.before = None;
        q.offset = 0;
        q.limit = MAX_LIMIT;
        let mut n = 0u64;
        loop {
            let page = self.list(&q).await?;
            n += page.items.len() as u64;
            match page.next_cursor {
                Some(c) => q.after = Some(c),
                None => return Ok(n),
            }
        }
    }
}

macro_rules! forward_repo {
    ($($ty:ty),*) => {$(
        #[async_trait]
        impl<R: ConnectionRepo + ?Sized> ConnectionRepo for $ty {
            async fn insert(&self, conn: &EnterpriseConnection) -> Result<()> {
                (**self).insert(conn).await
            }
            async fn get(&self, id: &ConnectionId) -> Result<Option<EnterpriseConnection>> {
                (**self).get(id).await
            }
            async fn update(&self, conn: &EnterpriseConnection, expected_version: u64) -> Result<()> {
                (**self).update(conn, expected_version).await
            }
            async fn modify(&self, id: &ConnectionId, change: Change) -> Result<EnterpriseConnection> {
                (**self).modify(id, change).await
            }
            async fn delete(&self, id: &ConnectionId, now: UnixMillis) -> Result<bool> {
                (**self).delete(id, now).await
            }
            async fn list(&self, query: &ListQuery) -> Result<Page> {
                (**self).list(query).await
            }
            async fn find_by_domain(&self, domain: &Domain) -> Result<Option<EnterpriseConnection>> {
                (**self).find_by_domain(domain).await
            }
            async fn count(&self, query: &ListQuery) -> Result<u64> {
                (**self).count(query).await
            }
            async fn certificates_expiring_before(&self, before: UnixMillis) -> Result<Vec<EnterpriseConnection>> {
                (**self).certificates_expiring_before(before).await
            }
        }
    )*};
}

forward_repo!(Arc<R>, Box<R>, &R);

/// A listing of one connection's accounts: a cursor and a page size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountQuery {
    /// Exclusive cursor: start after this id in the chosen order.
    pub after: Option<AccountId>,
    /// Page size, 1..=[`MAX_LIMIT`] (the service clamps it).
    pub limit: usize,
    /// Sort order by id.
    pub order: Order,
}

impl Default for AccountQuery {
    fn default() -> Self {
        AccountQuery {
            after: None,
            limit: DEFAULT_LIMIT,
            order: Order::Desc,
        }
    }
}

impl AccountQuery {
    /// Whether `id` lies after the cursor in the chosen order.
    pub fn after_cursor(&self, id: &AccountId) -> bool {
        self.order.is_after(self.after.as_ref(), id)
    }
}

/// Storage of enterprise accounts. A separate trait from [`ConnectionRepo`] so that each
/// stays small, but every adapter implements both on one store: deleting a connection must
/// deactivate and unlink its accounts in the same write. (connection id, provider user id)
/// is unique among linked accounts.
#[async_trait]
pub trait AccountRepo: Send + Sync {
    /// Stores a new account.
    ///
    /// Errors: [`crate::Error::AlreadyExists`] (id), [`crate::Error::AccountExists`]
    /// ((connection, provider user id) taken), [`crate::Error::NotFound`] (the linked
    /// connection does not exist).
    async fn insert_account(&self, account: &EnterpriseAccount) -> Result<()>;

    /// The account with this id, if any.
    async fn get_account(&self, id: &AccountId) -> Result<Option<EnterpriseAccount>>;

    /// Replaces the stored account if its version is `expected_version` (compare-and-swap).
    /// Its connection and provider user id must not change.
    ///
    /// Errors: [`crate::Error::NotFound`], [`crate::Error::VersionConflict`].
    async fn update_account(
        &self,
        account: &EnterpriseAccount,
        expected_version: u64,
    ) -> Result<()>;

    /// The account linked to `connection` with this provider user id.
    async fn find_account_by_subject(
        &self,
        connection: &ConnectionId,
        provider_user_id: &str,
    ) -> Result<Option<EnterpriseAccount>>;

    /// Every account with this email address ([`crate::account::email_key`]), by id.
    async fn find_accounts_by_email(&self, email: &str) -> Result<Vec<EnterpriseAccount>>;

    /// One page of the accounts linked to `connection`.
    async fn list_accounts(
        &self,
        connection: &ConnectionId,
        query: &AccountQuery,
    ) -> Result<AccountPage>;

    /// Deletes an account; `false` when there was none. `now` stamps the deletion's
    /// change-feed event (the caller's clock, as in [`ConnectionRepo::delete`]).
    async fn delete_account(&self, id: &AccountId, now: UnixMillis) -> Result<bool>;
}

/// Implements [`AccountRepo`] for a type by handing every call to the account store
/// `$inner` (an expression of `$s`, the receiver): smart pointers, and wrappers that leave
/// accounts alone (the read cache of `enterprise-sso-cache`, [`crate::crypto::Encrypted`]).
/// Exported for those wrappers; not an API of its own.
#[doc(hidden)]
#[macro_export]
macro_rules! forward_account_repo {
    (impl[$($gen:tt)*] for $ty:ty, |$s:ident| $inner:expr) => {
        #[async_trait::async_trait]
        impl<$($gen)*> $crate::AccountRepo for $ty {
            async fn insert_account(&self, a: &$crate::EnterpriseAccount) -> $crate::Result<()> {
                let $s = self;
                $inner.insert_account(a).await
            }
            async fn get_account(
                &self,
                id: &$crate::AccountId,
            ) -> $crate::Result<Option<$crate::EnterpriseAccount>> {
                let $s = self;
                $inner.get_account(id).await
            }
            async fn update_account(
                &self,
                a: &$crate::EnterpriseAccount,
                expected_version: u64,
            ) -> $crate::Result<()> {
                let $s = self;
                $inner.update_account(a, expected_version).await
            }
            async fn find_account_by_subject(
                &self,
                c: &$crate::ConnectionId,
                subject: &str,
            ) -> $crate::Result<Option<$crate::EnterpriseAccount>> {
                let $s = self;
                $inner.find_account_by_subject(c, subject).await
            }
            async fn find_accounts_by_email(
                &self,
                email: &str,
            ) -> $crate::Result<Vec<$crate::EnterpriseAccount>> {
                let $s = self;
                $inner.find_accounts_by_email(email).await
            }
            async fn list_accounts(
                &self,
                c: &$crate::ConnectionId,
                q: &$crate::AccountQuery,
            ) -> $crate::Result<$crate::AccountPage> {
                let $s = self;
                $inner.list_accounts(c, q).await
            }
            async fn delete_account(
                &self,
                id: &$crate::AccountId,
                now: $crate::UnixMillis,
            ) -> $crate::Result<bool> {
                let $s = self;
                $inner.delete_account(id, now).await
            }
        }
    };
}

crate::forward_account_repo!(impl[R: AccountRepo + ?Sized] for Arc<R>, |s| (**s));
crate::forward_account_repo!(impl[R: AccountRepo + ?Sized] for Box<R>, |s| (**s));
crate::forward_account_repo!(impl['a, R: AccountRepo + ?Sized] for &'a R, |s| (**s));

/// One answer of [`EventFeed::events_after`]: the events, and where the feed begins.
///
/// Pruning deletes old events, so a consumer that was behind them cannot see that it
/// missed them from the events alone (the feed may be pruned to its very end and answer
/// nothing at all). Every answer therefore carries the store's prune `floor`: the largest
/// position any prune has deleted (0 when none has). Every event above the floor is kept;
/// a consumer whose position is below the floor has missed events and must start over
/// ([`FeedPage::missed_events`]).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FeedPage {
    /// Up to `limit` events after the position asked for, in position order.
    pub events: Vec<crate::events::Event>,
    /// The largest position a prune has deleted (0 when none has). A store reads it after
    /// the events (or in the same snapshot), so a prune that removed an event this page
    /// should have held has raised it.
    pub floor: u64,
}

impl FeedPage {
    /// A page of `events` over a feed pruned up to `floor`.
    pub fn new(events: Vec<crate::events::Event>, floor: u64) -> Self {
        FeedPage { events, floor }
    }

    /// Whether a consumer that had read every event up to `position` missed events: some
    /// event after `position` was pruned before it read it. It must then drop what it
    /// derived from the feed and continue from [`FeedPage::resume_at`].
    pub fn missed_events(&self, position: u64) -> bool {
        self.floor > position
    }

    /// The position a consumer at `position` has reached after this page: the last event's,
    /// or the floor when the consumer was behind it and the page holds nothing newer.
    pub fn resume_at(&self, position: u64) -> u64 {
        self.events
            .last()
            .map_or(position, |e| e.position)
            .max(position)
            .max(self.floor)
    }
}

/// The change feed: every write of [`ConnectionRepo`] and [`AccountRepo`] appends its
/// events in the same atomic write, and consumers (the read cache, a host's webhook
/// sender) read them in commit order.
#[async_trait]
pub trait EventFeed: Send + Sync {
    /// The change feed: up to `limit` events with a position greater than `position`, in
    /// position order (which is commit order), and the prune floor ([`FeedPage`]). Every
    /// write of this trait and of [`AccountRepo`] appends the events
    /// [`crate::events::connection_events`] / [`crate::events::account_events`] give for
    /// it, in the same atomic write.
    ///
    /// The floor must be read after the events (or in the same snapshot): a floor read
    /// first could miss a prune that then removed events this page should have held.
    async fn events_after(&self, position: u64, limit: usize) -> Result<FeedPage>;

    /// Deletes the events created before `before`; how many were deleted.
    /// Positions are never reused, and the floor ([`FeedPage::floor`]) is raised to the
    /// largest position deleted, no later than the events are removed.
    async fn prune_events_before(&self, before: UnixMillis) -> Result<u64>;

    /// Appends `events` on their own, in one atomic write, at the next positions (as a
    /// write's events are): events that record something no record write carries, such
    /// as a refused sign-in (`authentication.sso_failed`). Every adapter implements it;
    /// the default refuses, so a store that does not is noticed rather than silent.
    async fn append_events(&self, events: &[crate::events::Event]) -> Result<()> {
        let _ = events;
        Err(crate::error::Error::InvalidArgument {
            argument: "events",
            reason: "this store cannot append events on their own",
        })
    }
}

macro_rules! forward_event_feed {
    ($($ty:ty),*) => {$(
        #[async_trait]
        impl<R: EventFeed + ?Sized> EventFeed for $ty {
            async fn events_after(&self, position: u64, limit: usize) -> Result<FeedPage> {
                (**self).events_after(position, limit).await
            }
            async fn prune_events_before(&self, before: UnixMillis) -> Result<u64> {
                (**self).prune_events_before(before).await
            }
            async fn append_events(&self, events: &[crate::events::Event]) -> Result<()> {
                (**self).append_events(events).await
            }
        }
    )*};
}

forward_event_feed!(Arc<R>, Box<R>, &R);

/// A whole store: connections, accounts, the change feed and the sign-in records, as
/// [`crate::Connections`] needs. Every type implementing the capability traits is one.
pub trait Store: ConnectionRepo + AccountRepo + EventFeed + crate::SignInStore {}

impl<T: ConnectionRepo + AccountRepo + EventFeed + crate::SignInStore + ?Sized> Store for T {}

/// A shared, type-erased store: what a host that picks its storage at run time (from a
/// URL, a config file) holds. `Connections<DynStore>` works like any other.
pub type DynStore = Arc<dyn Store>;
