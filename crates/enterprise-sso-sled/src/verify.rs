//! The integrity check: every key has a known kind, every record decodes (checksum
//! included) under its own key, every index holds exactly the entries the records call for
//! (no stale entry, none missing), every account's connection exists, and the commit
//! counter is not behind the commit sidecar.

use std::collections::{BTreeMap, BTreeSet};

use enterprise_sso::storage::codec::{decode_account, decode_connection};
use enterprise_sso::storage::IntegrityError;

use crate::keys::{account_keys, index_keys, Kind};
use crate::SledRepo;

type Entries = BTreeMap<Vec<u8>, Vec<u8>>;

fn engine(e: sled::Error) -> IntegrityError {
    IntegrityError::Engine(e.to_string())
}

fn show(key: &[u8]) -> String {
    String::from_utf8_lossy(key).into_owned()
}

/// Compares the entries of one index with what the records call for.
fn same(index: &'static str, found: &Entries, expected: &Entries) -> Result<(), IntegrityError> {
    if let Some((k, v)) = found.iter().find(|(k, v)| expected.get(*k) != Some(*v)) {
        return Err(IntegrityError::Index {
            index,
            detail: format!(
                "entry {} -> {} has no record that calls for it",
                show(k),
                show(v)
            ),
        });
    }
    if let Some((k, _)) = expected.iter().find(|(k, _)| !found.contains_key(*k)) {
        return Err(IntegrityError::Index {
            index,
            detail: format!("entry {} is missing", show(k)),
        });
    }
    Ok(())
}

impl SledRepo {
    /// Checks the whole store (see the module docs); the first problem found is returned.
    /// Reads every key: run it when the store is quiet (concurrent writes can make it
    /// report a half-seen write).
    pub fn verify(&self) -> Result<(), IntegrityError> {
        let mut found: BTreeMap<Kind, Entries> = BTreeMap::new();
        for item in self.tree.iter() {
            let (k, v) = item.map_err(engine)?;
            let Some(kind) = Kind::of(&k) else {
                return Err(IntegrityError::Index {
                    index: "store",
                    detail: format!("key {} has no known kind", show(&k)),
                });
            };
            if kind == Kind::SignIn {
                crate::sign_ins::verify_entry(&k, &v).map_err(|reason| IntegrityError::Record {
                    table: kind.name(),
                    key: show(&k[1..]),
                    reason,
                })?;
                continue; // short-lived, decided by no record
            }
            if matches!(kind, Kind::Event | Kind::Meta | Kind::AccountGeneration) {
                continue; // not decided by the records (and events are many)
            }
            found
                .entry(kind)
                .or_default()
                .insert(k.to_vec(), v.to_vec());
        }
        let mut expected: BTreeMap<Kind, Entries> = BTreeMap::new();
        let mut put = |kind: Kind, k: Vec<u8>, v: Vec<u8>| {
            expected.entry(kind).or_default().insert(k, v);
        };
        let mut connection_ids = BTreeSet::new();
        for (k, v) in found.remove(&Kind::Record).unwrap_or_default() {
            let id = &k[1..];
            let record = |reason: String| IntegrityError::Record {
                table: "records",
                key: show(id),
                reason,
            };
            let c = decode_connection(&v).map_err(|e| record(e.to_string()))?;
            if id != c.id.as_str().as_bytes() {
                return Err(record(format!("holds connection {}", c.id)));
            }
            for d in &c.domains {
                put(Kind::Domain, crate::keys::domain(d.as_str()), id.to_vec());
            }
            let keys = index_keys(&c);
            if let Some(o) = keys.org {
                put(Kind::ByOrg, o, Vec::new());
            }
            put(Kind::ByActive, keys.active, Vec::new());
            put(Kind::ByProvider, keys.provider, Vec::new());
            if let Some(e) = keys.cert_expiry {
                put(Kind::ByCertExpiry, e, Vec::new());
            }
            connection_ids.insert(id.to_vec());
        }
        for (k, v) in found.remove(&Kind::Account).unwrap_or_default() {
            let id = &k[1..];
            let record = |reason: String| IntegrityError::Record {
                table: "accounts",
                key: show(id),
                reason,
            };
            let a = decode_account(&v).map_err(|e| record(e.to_string()))?;
            if id != a.id.as_str().as_bytes() {
                return Err(record(format!("holds account {}", a.id)));
            }
            if let Some(c) = &a.enterprise_connection_id {
                if !connection_ids.contains(c.as_str().as_bytes()) {
                    return Err(record(format!("is linked to missing connection {c}")));
                }
            }
            let keys = account_keys(&a);
            if let Some(s) = keys.subject {
                put(Kind::AccountBySubject, s, id.to_vec());
            }
            put(Kind::AccountByEmail, keys.email, Vec::new());
            if let Some(c) = keys.conn {
                put(Kind::AccountByConnection, c, Vec::new());
            }
        }
        for kind in Kind::INDEXES {
            let want = expected.remove(&kind).unwrap_or_default();
            let have = found.remove(&kind).unwrap_or_default();
            same(kind.name(), &have, &want)?;
        }
        if let Some(sidecar) = &self.sidecar {
            let durable = sidecar
                .read()
                .map_err(|e| IntegrityError::Engine(format!("commit sidecar: {e}")))?;
            let found = self
                .commit_seq()
                .map_err(|e| IntegrityError::Engine(e.to_string()))?;
            if let Some(acknowledged) = durable.filter(|d| *d > found) {
                return Err(IntegrityError::WritesLost {
                    acknowledged,
                    found,
                });
            }
        }
        Ok(())
    }
}
