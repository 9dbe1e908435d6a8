//! Connections: reads, listings (index selection and key ranges) and the
//! [`ConnectionRepo`] implementation.

use crate::keys::{self, ordered_i64, range_of, Kind};
use crate::tx::{abort, read_seq, storage, EVENT_FLOOR};
use crate::SledRepo;
use async_trait::async_trait;
use enterprise_sso::events::{account_events, connection_events};
use enterprise_sso::storage::codec::{decode_connection, encode_connection};
use enterprise_sso::storage::expect_version;
use enterprise_sso::UnixMillis;
use enterprise_sso::{
    Change, ConnectionId, ConnectionRepo, Domain, EnterpriseConnection, Error, EventFeed, FeedPage,
    ListQuery, Order, Page, Result,
};

impl SledRepo {
    /// Stores many new connections, one transaction per chunk of 1,000 (each chunk all or
    /// nothing); for imports and benchmarks.
    pub async fn bulk_insert(&self, conns: &[EnterpriseConnection]) -> Result<()> {
        for chunk in conns.chunks(1000) {
            let encoded: Vec<_> = chunk
                .iter()
                .map(|c| {
                    let events = connection_events(None, Some(c), c.updated_at.get());
                    (c.clone(), encode_connection(c), events)
                })
                .collect();
            self.write(move |tx| {
                for (conn, bytes, events) in &encoded {
                    tx.insert_new(conn, bytes)?;
                    tx.append(events)?;
                }
                Ok(())
            })
            .await?;
        }
        Ok(())
    }

    /// The connection with id `id` (the bytes of an id, as index keys end with it).
    pub(crate) fn load(&self, id: &[u8]) -> Result<Option<EnterpriseConnection>> {
        match self.tree.get(Kind::Record.key(&[id])).map_err(storage)? {
            Some(bytes) => decode_connection(&bytes).map(Some),
            None => Ok(None),
        }
    }

    /// Whether the index [`Self::plan`] picks decides every filter of `q` by itself (so
    /// skipping and counting need not read records).
    pub(crate) fn plan_covers(&self, q: &ListQuery) -> bool {
        let filters = usize::from(q.organization_id.is_some())
            + usize::from(q.provider.is_some())
            + usize::from(q.active.is_some());
        q.domain.is_none() && filters <= 1
    }

    /// What a listing or count walks: (whether it walks the records themselves, the key
    /// prefix) — the index [`Self::plan`] picks, else every record.
    fn scan_of(&self, q: &ListQuery) -> (bool, Vec<u8>) {
        match self.plan(q) {
            Some(p) => (false, p),
            None => (true, vec![Kind::Record.byte()]),
        }
    }

    /// Picks the index for a listing: the key prefix of its entries (each followed by a
    /// connection id). `None` scans the records.
    pub(crate) fn plan(&self, q: &ListQuery) -> Option<Vec<u8>> {
        if let Some(o) = &q.organization_id {
            return Some(keys::under(Kind::ByOrg, o.as_bytes()));
        }
        if let Some(pr) = q.provider {
            return Some(keys::under(Kind::ByProvider, pr.as_str().as_bytes()));
        }
        q.active.map(|a| Kind::ByActive.key(&[&[u8::from(a)]]))
    }
}

#[async_trait]
impl ConnectionRepo for SledRepo {
    async fn insert(&self, conn: &EnterpriseConnection) -> Result<()> {
        let bytes = encode_connection(conn);
        let events = connection_events(None, Some(conn), conn.updated_at.get());
        let conn = conn.clone();
        self.write(move |tx| {
            tx.insert_new(&conn, &bytes)?;
            tx.append(&events)
        })
        .await
    }

    async fn get(&self, id: &ConnectionId) -> Result<Option<EnterpriseConnection>> {
        self.load(id.as_str().as_bytes())
    }

    async fn update(&self, conn: &EnterpriseConnection, expected_version: u64) -> Result<()> {
        let bytes = encode_connection(conn);
        let conn = conn.clone();
        self.write(move |tx| {
            let stored = tx.old(&conn.id)?;
            let old = match expect_version(&conn.id, expected_version, stored, |c| c.version) {
                Ok(old) => old,
                Err(e) => return abort(e),
            };
            tx.reindex(&old, &conn)?;
            tx.put_record(&conn.id, &bytes)?;
            tx.append(&connection_events(
                Some(&old),
                Some(&conn),
                conn.updated_at.get(),
            ))?;
            Ok(())
        })
        .await
    }

    /// Reads the record, runs `change`, encodes the result and computes the events on the
    /// caller, then writes in a batch (see `group`) only if the stored record is still
    /// the one read (its bytes compared); else reads and changes again. So `change` may
    /// run more than once, as the trait allows, and the batch's leader does no more than
    /// compare and write.
    async fn modify(&self, id: &ConnectionId, change: Change) -> Result<EnterpriseConnection> {
        let key = keys::record(id.as_str());
        loop {
            let Some(read) = self.tree.get(&key).map_err(storage)? else {
                return Err(Error::not_found(id));
            };
            let old = decode_connection(&read)?;
            let next = change(&old)?;
            if next.version == old.version {
                return Ok(next);
            }
            let bytes = encode_connection(&next);
            let events = connection_events(Some(&old), Some(&next), next.updated_at.get());
            let next = std::sync::Arc::new(next);
            let written = std::sync::Arc::clone(&next);
            let id = id.clone();
            let stored = self
                .write(move |tx| {
                    if tx.record_bytes(&id)?.as_ref() != Some(&read) {
                        return Ok(false); // written meanwhile: read and change again
                    }
                    tx.reindex(&old, &written)?;
                    tx.put_record(&id, &bytes)?;
                    tx.append(&events)?;
                    Ok(true)
                })
                .await?;
            if stored {
                return Ok(std::sync::Arc::try_unwrap(next).unwrap_or_else(|n| (*n).clone()));
            }
        }
    }

    async fn delete(&self, id: &ConnectionId, now: UnixMillis) -> Result<bool> {
        loop {
            let generation = self.account_generation(id)?;
            let linked = self.linked_accounts(id)?;
            let id = id.clone();
            let outcome = self
                .write(move |tx| {
                    let id = &id;
                    if tx.generation(id)? != generation {
                        return Ok(None); // an account was linked meanwhile: list again
                    }
                    let Some(old) = tx.old(id)? else {
                        return Ok(Some(false));
                    };
                    let mut events = connection_events(Some(&old), None, now.get());
                    for account_id in &linked {
                        if let Some(a) = tx.old_account(account_id)? {
                            if a.enterprise_connection_id.as_ref() == Some(id) {
                                let unlinked = a.unlinked(now.get());
                                tx.drop_account_indexes(&a)?;
                                tx.put_account(&unlinked)?;
                                events.extend(account_events(Some(&a), Some(&unlinked), now.get()));
                            }
                        }
                    }
                    tx.drop_indexes(&old)?;
                    tx.remove_record(id)?;
                    tx.append(&events)?;
                    Ok(Some(true))
                })
                .await?;
            if let Some(deleted) = outcome {
                return Ok(deleted);
            }
        }
    }

    async fn list(&self, q: &ListQuery) -> Result<Page> {
        let want = q.limit.saturating_add(1);
        let mut skip = q.offset;
        let mut items = Vec::with_capacity(want.min(64));
        if let Some(d) = &q.domain {
            // At most one connection claims a domain.
            if let Some(c) = self.find_by_domain(d).await? {
                if q.matches(&c) && q.after_cursor(&c.id) && q.offset == 0 {
                    items.push(c);
                }
            }
            return Ok(Page::from_overfetch(items, q.limit));
        }
        let (scans_records, prefix) = self.scan_of(q);
        let iter = self.tree.range(range_of(
            &prefix,
            q.after.as_ref().map(|a| a.as_str()),
            q.order,
        ));
        let iter: Box<dyn Iterator<Item = sled::Result<(sled::IVec, sled::IVec)>>> = match q.order {
            Order::Asc => Box::new(iter),
            Order::Desc => Box::new(iter.rev()),
        };
        let covered = self.plan_covers(q);
        for entry in iter {
            let (k, v) = entry.map_err(storage)?;
            if covered && skip > 0 {
                // The index alone decides the match: skip without reading the record.
                skip -= 1;
                continue;
            }
            let c = if scans_records {
                decode_connection(&v)?
            } else {
                match self.load(&k[prefix.len()..])? {
                    Some(c) => c,
                    // Unreachable with transactional writes; skip rather than fail a read.
                    None => continue,
                }
            };
            if q.matches(&c) {
                if skip > 0 {
                    skip -= 1;
                    continue;
                }
                items.push(c);
                if items.len() >= want {
                    break;
                }
            }
        }
        Ok(Page::from_overfetch(items, q.limit))
    }

    /// Counts along the listing's index: keys only when the index decides every filter,
    /// else the records it points at.
    async fn count(&self, q: &ListQuery) -> Result<u64> {
        if let Some(d) = &q.domain {
            let found = self.find_by_domain(d).await?;
            return Ok(u64::from(found.is_some_and(|c| q.matches(&c))));
        }
        let (scans_records, prefix) = self.scan_of(q);
        let covered = self.plan_covers(q);
        let mut n = 0u64;
        for entry in self.tree.scan_prefix(&prefix) {
            let (k, v) = entry.map_err(storage)?;
            let hit = if covered {
                true
            } else if scans_records {
                q.matches(&decode_connection(&v)?)
            } else {
                self.load(&k[prefix.len()..])?
                    .is_some_and(|c| q.matches(&c))
            };
            n += u64::from(hit);
        }
        Ok(n)
    }

    async fn certificates_expiring_before(
        &self,
        before: UnixMillis,
    ) -> Result<Vec<EnterpriseConnection>> {
        let mut out = Vec::new();
        let start = Kind::ByCertExpiry.key(&[]);
        let end = Kind::ByCertExpiry.key(&[&ordered_i64(before.get())]);
        for entry in self.tree.range(start..end) {
            let (k, _) = entry.map_err(storage)?;
            if let Some(c) = self.load(&k[1 + 8..])? {
                out.push(c);
            }
        }
        Ok(out)
    }

    async fn find_by_domain(&self, domain: &Domain) -> Result<Option<EnterpriseConnection>> {
        match self
            .tree
            .get(keys::domain(domain.as_str()))
            .map_err(storage)?
        {
            Some(id) => self.load(&id),
            None => Ok(None),
        }
    }
}

#[async_trait]
impl EventFeed for SledRepo {
    /// The events, then the floor: a prune raises the floor before it removes anything,
    /// so an event this scan missed because a prune removed it shows in the floor.
    async fn events_after(&self, position: u64, limit: usize) -> Result<FeedPage> {
        let (start, end) = (
            keys::event(position.saturating_add(1)),
            keys::event(u64::MAX),
        );
        let events = self
            .tree
            .range(start..=end)
            .take(limit)
            .map(|e| {
                let (_, v) = e.map_err(storage)?;
                enterprise_sso::storage::codec::decode_event(&v)
            })
            .collect::<Result<Vec<_>>>()?;
        let floor = read_seq(self.tree.get(keys::meta(EVENT_FLOOR)).map_err(storage)?);
        Ok(FeedPage::new(events, floor))
    }
    /// Walks the feed for the events older than `before`, raises the floor to the
    /// largest of their positions, then removes them (events are not records, so no
    /// transaction spans them; the floor only grows).
    async fn append_events(&self, events: &[enterprise_sso::events::Event]) -> Result<()> {
        let events = events.to_vec();
        self.write(move |tx| {
            tx.append(&events)?;
            Ok(())
        })
        .await
    }
    async fn prune_events_before(&self, before: UnixMillis) -> Result<u64> {
        let mut old = Vec::new();
        let mut top = 0;
        for e in self.tree.scan_prefix([Kind::Event.byte()]) {
            let (k, v) = e.map_err(storage)?;
            let event = enterprise_sso::storage::codec::decode_event(&v)?;
            if event.created_at < before {
                top = top.max(event.position);
                old.push(k);
            }
        }
        if old.is_empty() {
            return Ok(0);
        }
        self.tree
            .fetch_and_update(keys::meta(EVENT_FLOOR), |v| {
                let floor = read_seq(v.map(sled::IVec::from)).max(top);
                Some(floor.to_be_bytes().to_vec())
            })
            .map_err(storage)?;
        for k in &old {
            self.tree.remove(k).map_err(storage)?;
        }
        self.after_write().await?;
        Ok(old.len() as u64)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use enterprise_sso::testing::saml_connection;
    use futures_executor::block_on;

    use super::*;

    fn renamed(name: &'static str) -> Change {
        Arc::new(move |old: &EnterpriseConnection| {
            let mut next = old.clone();
            next.name = name.to_owned();
            next.version += 1;
            Ok(next)
        })
    }

    /// `modify` changes what it read on the caller and writes only if the record is still
    /// that: a write that lands in between makes it read and change again (no lost update).
    #[test]
    fn a_modify_whose_read_went_stale_reads_and_changes_again() {
        let repo = Arc::new(SledRepo::temporary().unwrap());
        let c = saml_connection("stale", &[], true);
        block_on(repo.insert(&c)).unwrap();
        let calls = Arc::new(AtomicUsize::new(0));
        let (r, id, n) = (Arc::clone(&repo), c.id.clone(), Arc::clone(&calls));
        let change: Change = Arc::new(move |old: &EnterpriseConnection| {
            if n.fetch_add(1, Ordering::SeqCst) == 0 {
                // Another writer changes the record between this read and its write.
                let (r, id) = (Arc::clone(&r), id.clone());
                std::thread::spawn(move || block_on(r.modify(&id, renamed("other"))))
                    .join()
                    .unwrap()
                    .unwrap();
            }
            let mut next = old.clone();
            next.active = false;
            next.version += 1;
            Ok(next)
        });
        let out = block_on(repo.modify(&c.id, change)).unwrap();
        assert_eq!(
            calls.load(Ordering::SeqCst),
            2,
            "the stale change ran again"
        );
        assert_eq!(out.name, "other", "the concurrent write was kept");
        assert!(!out.active);
        assert_eq!(out.version, c.version + 2);
        assert_eq!(block_on(repo.get(&c.id)).unwrap().unwrap(), out);
    }
}
