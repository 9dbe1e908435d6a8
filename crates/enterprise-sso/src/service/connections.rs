//! Connections: create, read, list, update (with compare-and-swap retries), delete, and
//! email routing.

use std::sync::Arc;

use super::retry::{is_version_conflict, retry_on_conflict};
use super::Connections;
use crate::connection::EnterpriseConnection;
use crate::connection::ProtocolConfig;
use crate::domain::Domain;
use crate::error::{Error, Result};
use crate::ids::ConnectionId;
use crate::merge::{build_with, merge_with};
use crate::millis::UnixMillis;
use crate::patch::{CreateConnection, OidcPatch, Patch, UpdateConnection};
use crate::repo::{modify_by_cas, Change, ConnectionRepo, EventFeed, ListQuery, Page, MAX_LIMIT};
use crate::routing::{email_domain, route_candidates, routes};
use enterprise_sso_protocol::oidc::Discovery;

impl<R: ConnectionRepo> Connections<R> {
    /// Validates and stores a new connection (version 1, inactive unless `active` is set).
    pub async fn create(&self, params: &CreateConnection) -> Result<EnterpriseConnection> {
        let conn = build_with(
            params,
            ConnectionId::generate(),
            (self.clock)(),
            &self.policy,
        )?;
        self.repo.insert(&conn).await?;
        Ok(conn)
    }

    /// The connection with this id, or [`Error::NotFound`].
    pub async fn get(&self, id: &ConnectionId) -> Result<EnterpriseConnection> {
        self.repo.get(id).await?.ok_or_else(|| Error::not_found(id))
    }

    /// One page of connections; `limit` is clamped to 1..=500.
    ///
    /// With `before`, the page is the `limit` matching connections just before that id in
    /// the query's order (read from the store as an `after` page in the reverse order);
    /// `after` and `before` together are refused. The page's `prev_cursor` is its first id
    /// when it does not start at the beginning (a cursor or offset was given and, for
    /// `before`, more connections lie before it); `next_cursor` is its last id when more
    /// follow.
    pub async fn list(&self, query: &ListQuery) -> Result<Page> {
        let mut q = query.clone();
        q.limit = q.limit.clamp(1, MAX_LIMIT);
        let Some(before) = q.before.take() else {
            let mut page = self.repo.list(&q).await?;
            if q.after.is_some() || q.offset > 0 {
                page.prev_cursor = page.items.first().map(|c| c.id.clone());
            }
            return Ok(page);
        };
        if q.after.is_some() {
            return Err(Error::InvalidArgument {
                argument: "before",
                reason: "cannot be combined with after",
            });
        }
        q.after = Some(before);
        q.order = q.order.reverse();
        let page = self.repo.list(&q).await?;
        let more_before = page.next_cursor.is_some();
        let mut items = page.items;
        items.reverse();
        Ok(Page {
            prev_cursor: items.first().filter(|_| more_before).map(|c| c.id.clone()),
            // The `before` connection itself follows this page.
            next_cursor: items.last().map(|c| c.id.clone()),
            items,
        })
    }

    /// One page over the union of several providers (the query's own `provider` is
    /// ignored): WorkOS's `GenericOIDC` is `oidc_custom`, `oidc_github_enterprise` and
    /// `oidc_gitlab` together. One store page per provider, merged in the query's order:
    /// the next `limit` connections of the union are among the next `limit` of each
    /// provider. Cursors work as in [`Connections::list`]; `offset` cannot be split
    /// between providers and is refused when more than one is given.
    pub async fn list_any_provider(
        &self,
        query: &ListQuery,
        providers: &[crate::Provider],
    ) -> Result<Page> {
        if let [only] = providers {
            return self
                .list(&ListQuery {
                    provider: Some(*only),
                    ..query.clone()
                })
                .await;
        }
        if query.offset > 0 {
            return Err(Error::InvalidArgument {
                argument: "offset",
                reason: "cannot be combined with a filter on several providers",
            });
        }
        let limit = query.limit.clamp(1, MAX_LIMIT);
        let (mut items, mut more_after, mut more_before) = (Vec::new(), false, false);
        for p in providers {
            let page = self
                .list(&ListQuery {
                    provider: Some(*p),
                    ..query.clone()
                })
                .await?;
            more_after |= page.next_cursor.is_some();
            more_before |= page.prev_cursor.is_some();
            items.extend(page.items);
        }
        items.sort_by(|a, b| match query.order {
            crate::repo::Order::Asc => a.id.cmp(&b.id),
            crate::repo::Order::Desc => b.id.cmp(&a.id),
        });
        let extra = items.len().saturating_sub(limit);
        if query.before.is_some() {
            // Each provider's page ends just before the cursor: keep the last `limit`.
            items.drain(..extra);
            Ok(Page {
                prev_cursor: items
                    .first()
                    .filter(|_| extra > 0 || more_before)
                    .map(|c| c.id.clone()),
                next_cursor: items.last().map(|c| c.id.clone()),
                items,
            })
        } else {
            items.truncate(limit);
            Ok(Page {
                prev_cursor: items
                    .first()
                    .filter(|_| query.after.is_some())
                    .map(|c| c.id.clone()),
                next_cursor: items
                    .last()
                    .filter(|_| extra > 0 || more_after)
                    .map(|c| c.id.clone()),
                items,
            })
        }
    }

    /// How many connections match the query's filters (cursors, offset and limit are
    /// ignored), from the store's index.
    pub async fn count(&self, query: &ListQuery) -> Result<u64> {
        self.repo.count(query).await
    }

    /// Applies a partial update: read, merge, validate, compare-and-swap write; on a
    /// version conflict it starts again from a fresh read, up to the retry limit.
    /// A failed update writes nothing.
    pub async fn update(
        &self,
        id: &ConnectionId,
        patch: &UpdateConnection,
    ) -> Result<EnterpriseConnection> {
        // Parsing metadata XML (up to 1 MiB) is kept off a store's single writer.
        let on_caller =
            matches!(&patch.saml, Patch::Value(s) if matches!(s.idp_metadata, Patch::Value(_)));
        let (patch, policy) = (patch.clone(), self.policy.clone());
        self.modify(id, on_caller, move |current, now| {
            Ok(merge_with(current, &patch, now, &policy)?)
        })
        .await
    }

    /// Like [`Connections::update`], but only if the stored version is `expected_version`
    /// (for hosts that expose `If-Match`); no retry.
    pub async fn update_if_version(
        &self,
        id: &ConnectionId,
        expected_version: u64,
        patch: &UpdateConnection,
    ) -> Result<EnterpriseConnection> {
        let _writing = crate::write_lock::lock(id.as_str()).await;
        let current = self.get(id).await?;
        if current.version != expected_version {
            return Err(Error::VersionConflict {
                id: id.into(),
                expected: expected_version,
                actual: current.version,
            });
        }
        let next = merge_with(&current, patch, (self.clock)(), &self.policy)?;
        self.repo.update(&next, expected_version).await?;
        Ok(next)
    }

    /// Records a successful authentication: the first one moves the connection from
    /// `validating` to `active` state. Later calls change nothing and write nothing.
    pub async fn mark_authenticated(&self, id: &ConnectionId) -> Result<EnterpriseConnection> {
        self.modify(id, false, |current, now| {
            let mut next = current.clone();
            if current.first_authenticated_at.is_none() {
                next.first_authenticated_at = Some(UnixMillis::new(now));
                next.version += 1;
                next.updated_at = UnixMillis::new(now).max(current.updated_at);
            }
            Ok(next)
        })
        .await
    }

    /// Stores a checked discovery document on OIDC connection `id`: its issuer, and the
    /// endpoints it names where the connection has none (explicit values are kept). Nothing
    /// changes when the connection's discovery URL is no longer `url` (it changed meanwhile)
    /// or it is no longer an OIDC connection. The refresh of IdP documents
    /// (`enterprise-sso-flows`) calls this once it fetched and checked the document.
    pub async fn store_discovery(
        &self,
        id: &ConnectionId,
        url: String,
        d: Discovery,
    ) -> Result<EnterpriseConnection> {
        let policy = self.policy.clone();
        self.modify(id, false, move |current: &EnterpriseConnection, now| {
            let Some(o) = current.oidc() else {
                // The connection switched protocol meanwhile: nothing to fill.
                return Ok(current.clone());
            };
            if o.discovery_url.as_deref() != Some(url.as_str()) {
                // Its discovery URL changed meanwhile: this document is not its own.
                return Ok(current.clone());
            }
            let fill = |have: &Option<String>, found: Option<&String>| match (have, found) {
                (None, Some(found)) => Patch::Value(found.clone()),
                _ => Patch::Absent,
            };
            let patch = UpdateConnection {
                oidc: Patch::Value(OidcPatch {
                    auth_url: fill(&o.auth_url, Some(&d.authorization_endpoint)),
                    token_url: fill(&o.token_url, d.token_endpoint.as_ref()),
                    user_info_url: fill(&o.user_info_url, d.userinfo_endpoint.as_ref()),
                    ..OidcPatch::default()
                }),
                ..UpdateConnection::default()
            };
            let mut next = merge_with(current, &patch, now, &policy)?;
            if let ProtocolConfig::Oidc(o) = &mut next.config {
                o.issuer = Some(d.issuer.clone());
            }
            Ok(next)
        })
        .await
    }

    /// Read-modify-CAS loop shared by every update. `f` returning the record unchanged
    /// (same version) skips the write.
    ///
    /// The step runs through [`ConnectionRepo::modify`], so a store with one writer reads,
    /// changes and writes there; with `on_caller`, `f` runs on the caller instead
    /// ([`crate::modify_by_cas`]): for changes too costly to hold that writer with (a patch
    /// with metadata XML is parsed in `f`).
    pub(super) async fn modify<F>(
        &self,
        id: &ConnectionId,
        on_caller: bool,
        f: F,
    ) -> Result<EnterpriseConnection>
    where
        F: Fn(&EnterpriseConnection, i64) -> Result<EnterpriseConnection> + Send + Sync + 'static,
    {
        // In-process writers of this connection take turns (see `write_lock`), so a conflict
        // below comes from another process or replica.
        let _writing = crate::write_lock::lock(id.as_str()).await;
        let clock = Arc::clone(&self.clock);
        let change: Change = Arc::new(move |current| f(current, clock()));
        retry_on_conflict(self.max_retries, is_version_conflict, || {
            let change = Arc::clone(&change);
            async move {
                if on_caller {
                    modify_by_cas(&self.repo, id, change).await
                } else {
                    self.repo.modify(id, change).await
                }
            }
        })
        .await
    }

    /// Every connection whose IdP certificate expires within `days` days from now (or has
    /// expired already), soonest first: the basis for renewal reminders.
    pub async fn certificates_expiring_within(
        &self,
        days: u32,
    ) -> Result<Vec<EnterpriseConnection>> {
        let before = UnixMillis::new((self.clock)()).saturating_add_days(days);
        self.repo.certificates_expiring_before(before).await
    }

    /// Renewal reminders: for every SAML connection whose certificates all expire before
    /// `now + days` (its latest expiry, from the store's expiry index), records a
    /// [`crate::RenewalNotice`] for the latest-expiring certificate and this
    /// threshold, which appends one `connection.saml_certificate_renewal_required` event
    /// (with `days_until_expiry`) in the same write. A certificate and threshold already
    /// noticed is skipped, so calling this every hour sends each reminder once; a rotated
    /// certificate starts afresh (and its replacement appends
    /// `connection.saml_certificate_renewed`). The write keeps `updated_at`. Returns the
    /// connections noticed by this call.
    pub async fn certificate_renewal_check(
        &self,
        now: impl Into<UnixMillis>,
        days: u32,
    ) -> Result<Vec<ConnectionId>> {
        let now = now.into();
        let before = now.saturating_add_days(days);
        let now = now.get();
        let mut noticed = Vec::new();
        for c in self.repo.certificates_expiring_before(before).await? {
            let pushed = Arc::new(std::sync::atomic::AtomicBool::new(false));
            let pushed_in = Arc::clone(&pushed);
            let wrote = self
                .modify(&c.id, false, move |current: &EnterpriseConnection, _| {
                    let pushed = &pushed_in;
                    pushed.store(false, std::sync::atomic::Ordering::Relaxed);
                    let mut next = current.clone();
                    let ProtocolConfig::Saml(s) = &mut next.config else {
                        return Ok(next);
                    };
                    let Some(cert) = s.idp_certificates.iter().max_by_key(|x| x.expires_at) else {
                        return Ok(next);
                    };
                    if cert.expires_at >= before {
                        return Ok(next);
                    }
                    let notice = crate::connection::RenewalNotice {
                        certificate_expires_at: cert.expires_at,
                        certificate_crc: crc32fast::hash(cert.pem.as_bytes()),
                        threshold_days: days,
                        noticed_at: UnixMillis::new(now),
                    };
                    if s.renewal_notices.iter().any(|n| n.same_as(&notice)) {
                        return Ok(next);
                    }
                    // Notices of certificates no longer in the set are dropped.
                    let set = s.idp_certificates.clone();
                    s.renewal_notices.retain(|n| {
                        set.iter().any(|x| {
                            x.expires_at == n.certificate_expires_at
                                && crc32fast::hash(x.pem.as_bytes()) == n.certificate_crc
                        })
                    });
                    s.renewal_notices.push(notice);
                    next.version = current.version + 1;
                    pushed.store(true, std::sync::atomic::Ordering::Relaxed);
                    Ok(next)
                })
                .await;
            match wrote {
                Ok(n) if pushed.load(std::sync::atomic::Ordering::Relaxed) => noticed.push(n.id),
                Ok(_) | Err(Error::NotFound { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(noticed)
    }

    /// Deletes a connection and frees its domains; [`Error::NotFound`] when absent. A store
    /// that holds accounts keeps the connection's accounts, deactivated and unlinked, in
    /// the same write.
    pub async fn delete(&self, id: &ConnectionId) -> Result<()> {
        if self
            .repo
            .delete(id, UnixMillis::new((self.clock)()))
            .await?
        {
            Ok(())
        } else {
            Err(Error::not_found(id))
        }
    }

    /// The active connection a user with this email address should sign in with.
    ///
    /// The email's domain is normalised like a claimed domain. An active connection that
    /// claims exactly that domain wins; otherwise the nearest parent domain (never a
    /// public suffix) whose active connection has `allow_subdomains`. `Ok(None)` when no
    /// connection applies; [`Error::InvalidEmail`] for a malformed address.
    pub async fn route_email(&self, email: &str) -> Result<Option<EnterpriseConnection>> {
        self.route_domain(&email_domain(email)?).await
    }

    /// [`Connections::route_email`] for an already-parsed domain.
    pub(super) async fn route_domain(
        &self,
        domain: &Domain,
    ) -> Result<Option<EnterpriseConnection>> {
        for (d, exact) in route_candidates(domain) {
            if let Some(c) = self.repo.find_by_domain(&d).await? {
                if routes(&c, exact) {
                    return Ok(Some(c));
                }
            }
        }
        Ok(None)
    }
}

/// The change feed, for stores that keep one.
impl<R: ConnectionRepo + EventFeed> Connections<R> {
    /// The change feed after `position` (0: from the start), at most `limit` events
    /// (clamped to 1..=500), in commit order, with the feed's prune floor. A consumer keeps
    /// the position of the last event it handled and asks again from there: delivery is
    /// at least once. When [`crate::FeedPage::missed_events`] says it fell behind a prune,
    /// it must start over (rebuild what it derived from the feed, e.g. from a listing) and
    /// continue from [`crate::FeedPage::resume_at`].
    pub async fn events_after(&self, position: u64, limit: usize) -> Result<crate::FeedPage> {
        self.repo
            .events_after(position, limit.clamp(1, MAX_LIMIT))
            .await
    }

    /// Deletes the feed's events created before `before`, to bound its size; how many were
    /// deleted. Positions are never reused; the floor rises to the largest position
    /// deleted, so consumers behind it learn that they missed events.
    pub async fn prune_events_before(&self, before: impl Into<UnixMillis>) -> Result<u64> {
        self.repo.prune_events_before(before.into()).await
    }
}
