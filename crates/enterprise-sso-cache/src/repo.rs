//! The store traits for [`Cached`]: reads from memory when they can, writes through.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use async_trait::async_trait;

use super::{Cached, Slot};
use enterprise_sso::ConnectionId;
use enterprise_sso::Domain;
use enterprise_sso::EnterpriseConnection;
use enterprise_sso::Result;
use enterprise_sso::UnixMillis;
use enterprise_sso::{AccountRepo, Change, ConnectionRepo, EventFeed, FeedPage, ListQuery, Page};

impl<S: ConnectionRepo + EventFeed> Cached<S> {
    fn hit<T>(&self, v: T) -> Result<T> {
        self.hits.fetch_add(1, Ordering::Relaxed);
        Ok(v)
    }

    /// [`ConnectionRepo::get`] without a copy: the cached connection itself, shared.
    pub async fn get_shared(&self, id: &ConnectionId) -> Result<Option<Arc<EnterpriseConnection>>> {
        self.ensure_fresh().await?;
        if !self.in_flight(id) {
            match self.ids.get(id) {
                Some(Slot::Present(c)) => return self.hit(Some(c)),
                Some(Slot::Absent { .. }) => return self.hit(None),
                Some(Slot::Stale { .. } | Slot::Writing { .. }) | None => {}
            }
        }
        self.misses.fetch_add(1, Ordering::Relaxed);
        let epoch = self.epoch.load(Ordering::Acquire);
        let found = self.inner.get(id).await?.map(Arc::new);
        self.read_the_store();
        self.fill(id, found.as_ref(), epoch);
        Ok(found)
    }

    /// [`ConnectionRepo::find_by_domain`] without a copy.
    pub async fn find_by_domain_shared(
        &self,
        domain: &Domain,
    ) -> Result<Option<Arc<EnterpriseConnection>>> {
        self.ensure_fresh().await?;
        match self.domains.get(domain) {
            // A write through in flight may be claiming the domain.
            Some(None) if !self.any_in_flight() => return self.hit(None),
            Some(None) => {}
            Some(Some(id)) if !self.in_flight(&id) => {
                // The answer holds only while that connection, as cached, still claims
                // the domain.
                if let Some(Slot::Present(c)) = self.ids.get(&id) {
                    if c.domains.contains(domain) {
                        return self.hit(Some(c));
                    }
                }
            }
            Some(Some(_)) | None => {}
        }
        self.misses.fetch_add(1, Ordering::Relaxed);
        let epoch = self.epoch.load(Ordering::Acquire);
        let found = self.inner.find_by_domain(domain).await?.map(Arc::new);
        self.read_the_store();
        if let Some(f) = &found {
            self.fill(&f.id, Some(f), epoch);
        }
        let answer = found.as_ref().map(|f| f.id.clone());
        self.domains.update(domain.clone(), |_| {
            (self.epoch.load(Ordering::Acquire) == epoch).then_some(answer)
        });
        Ok(found)
    }

    /// [`enterprise_sso::Connections::route_email`] (the same rule) answered with shared copies: a
    /// hit allocates nothing. For hosts on the hot path of every sign-in.
    pub async fn route_email_shared(
        &self,
        email: &str,
    ) -> Result<Option<Arc<EnterpriseConnection>>> {
        let domain = enterprise_sso::email_domain(email)?;
        for (d, exact) in enterprise_sso::route_candidates(&domain) {
            if let Some(c) = self.find_by_domain_shared(&d).await? {
                if enterprise_sso::routes(&c, exact) {
                    return Ok(Some(c));
                }
            }
        }
        Ok(None)
    }

    /// Runs a write to `id` through the store and records its outcome, under the lock
    /// that orders this cache's writes to `id`.
    async fn write_through<T>(
        &self,
        id: &ConnectionId,
        write: impl std::future::Future<Output = Result<T>>,
        then: impl FnOnce(&Self, &T, super::WriteStart),
    ) -> Result<T> {
        self.ensure_ready().await?;
        let _ordered = self.write_lock(id).await;
        let _in_flight = self.enter_flight(id);
        let epoch = self.write_start();
        self.writing(id);
        match write.await {
            Ok(v) => {
                then(self, &v, epoch);
                Ok(v)
            }
            Err(e) => {
                self.forget(id);
                Err(e)
            }
        }
    }
}

#[async_trait]
impl<S: ConnectionRepo + EventFeed> ConnectionRepo for Cached<S> {
    async fn insert(&self, conn: &EnterpriseConnection) -> Result<()> {
        self.write_through(&conn.id, self.inner.insert(conn), |c, _, epoch| {
            c.wrote(conn, epoch)
        })
        .await
    }

    async fn get(&self, id: &ConnectionId) -> Result<Option<EnterpriseConnection>> {
        Ok(self.get_shared(id).await?.map(unshare))
    }

    async fn update(&self, conn: &EnterpriseConnection, expected_version: u64) -> Result<()> {
        self.write_through(
            &conn.id,
            self.inner.update(conn, expected_version),
            |c, _, epoch| c.wrote(conn, epoch),
        )
        .await
    }

    /// Through the store's own `modify` (SQLite's writer, PostgreSQL's locked row), then
    /// recorded like an update (a change that wrote nothing records the stored state).
    async fn modify(&self, id: &ConnectionId, change: Change) -> Result<EnterpriseConnection> {
        self.write_through(id, self.inner.modify(id, change), |c, next, epoch| {
            c.wrote(next, epoch)
        })
        .await
    }

    async fn delete(&self, id: &ConnectionId, now: UnixMillis) -> Result<bool> {
        self.write_through(id, self.inner.delete(id, now), |c, _, _| {
            c.epoch.fetch_add(1, Ordering::AcqRel);
            c.ids
                .update(id.clone(), |_| Some(Slot::Absent { after: 0 }));
        })
        .await
    }

    async fn list(&self, query: &ListQuery) -> Result<Page> {
        self.inner.list(query).await
    }

    async fn find_by_domain(&self, domain: &Domain) -> Result<Option<EnterpriseConnection>> {
        Ok(self.find_by_domain_shared(domain).await?.map(unshare))
    }

    async fn certificates_expiring_before(
        &self,
        before: UnixMillis,
    ) -> Result<Vec<EnterpriseConnection>> {
        self.inner.certificates_expiring_before(before).await
    }

    async fn count(&self, query: &ListQuery) -> Result<u64> {
        self.inner.count(query).await
    }
}

#[async_trait]
impl<S: ConnectionRepo + EventFeed> EventFeed for Cached<S> {
    async fn events_after(&self, position: u64, limit: usize) -> Result<FeedPage> {
        self.inner.events_after(position, limit).await
    }
    async fn prune_events_before(&self, before: UnixMillis) -> Result<u64> {
        self.inner.prune_events_before(before).await
    }
    async fn append_events(&self, events: &[enterprise_sso::events::Event]) -> Result<()> {
        self.inner.append_events(events).await
    }
}

/// The connection out of its `Arc` (a copy when the cache holds it too).
fn unshare(c: Arc<EnterpriseConnection>) -> EnterpriseConnection {
    Arc::try_unwrap(c).unwrap_or_else(|c| (*c).clone())
}

// Accounts are not cached: every call goes to the store.
enterprise_sso::forward_account_repo!(
    impl[S: ConnectionRepo + EventFeed + AccountRepo] for Cached<S>, |s| s.inner
);

enterprise_sso::forward_sign_in_store_to_inner!(impl[S: enterprise_sso::SignInStore] for Cached<S>, |s| s.inner);
