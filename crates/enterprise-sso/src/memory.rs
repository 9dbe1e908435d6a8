//! The in-memory reference implementation of [`ConnectionRepo`].

use std::collections::{BTreeMap, HashMap};
use std::sync::RwLock;

use async_trait::async_trait;

use crate::connection::EnterpriseConnection;
use crate::domain::Domain;
use crate::error::{Error, Result};
use crate::ids::ConnectionId;
use crate::repo::{ConnectionRepo, ListQuery, Order, Page};

/// A thread-safe, in-memory [`ConnectionRepo`]: the reference every adapter is measured
/// against by the conformance suite. Nothing is persisted.
#[derive(Debug, Default)]
pub struct MemoryRepo {
    state: RwLock<State>,
}

#[derive(Debug, Default)]
struct State {
    by_id: BTreeMap<ConnectionId, EnterpriseConnection>,
    domains: HashMap<Domain, ConnectionId>,
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
}

impl State {
    fn check_domains(&self, conn: &EnterpriseConnection) -> Result<()> {
        for d in &conn.domains {
            if let Some(owner) = self.domains.get(d) {
                if *owner != conn.id {
                    return Err(Error::DomainConflict {
                        domain: d.clone(),
                        owner: owner.clone(),
                    });
                }
            }
        }
        Ok(())
    }

    fn release(&mut self, conn: &EnterpriseConnection) {
        for d in &conn.domains {
            self.domains.remove(d);
        }
    }

    fn claim(&mut self, conn: &EnterpriseConnection) {
        for d in &conn.domains {
            self.domains.insert(d.clone(), conn.id.clone());
        }
    }
}

#[async_trait]
impl ConnectionRepo for MemoryRepo {
    async fn insert(&self, conn: &EnterpriseConnection) -> Result<()> {
        let mut s = self.write();
        if s.by_id.contains_key(&conn.id) {
            return Err(Error::AlreadyExists {
                id: conn.id.clone(),
            });
        }
        s.check_domains(conn)?;
        s.claim(conn);
        s.by_id.insert(conn.id.clone(), conn.clone());
        Ok(())
    }

    async fn get(&self, id: &ConnectionId) -> Result<Option<EnterpriseConnection>> {
        Ok(self.read().by_id.get(id).cloned())
    }

    async fn update(&self, conn: &EnterpriseConnection, expected_version: u64) -> Result<()> {
        let mut s = self.write();
        let old = s
            .by_id
            .get(&conn.id)
            .cloned()
            .ok_or_else(|| Error::NotFound {
                id: conn.id.to_string(),
            })?;
        if old.version != expected_version {
            return Err(Error::VersionConflict {
                id: conn.id.clone(),
                expected: expected_version,
                actual: old.version,
            });
        }
        s.check_domains(conn)?;
        s.release(&old);
        s.claim(conn);
        s.by_id.insert(conn.id.clone(), conn.clone());
        Ok(())
    }

    async fn delete(&self, id: &ConnectionId) -> Result<bool> {
        let mut s = self.write();
        match s.by_id.remove(id) {
            Some(old) => {
                s.release(&old);
                Ok(true)
            }
            None => Ok(false),
        }
    }

    async fn list(&self, query: &ListQuery) -> Result<Page> {
        let s = self.read();
        let want = query.limit.saturating_add(1);
        let pass = |c: &&EnterpriseConnection| query.after_cursor(&c.id) && query.matches(c);
        let items: Vec<_> = match query.order {
            Order::Asc => s.by_id.values().filter(pass).take(want).cloned().collect(),
            Order::Desc => s
                .by_id
                .values()
                .rev()
                .filter(pass)
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
