//! The integrity check: every record decodes (checksum included) under its own key, and
//! every index tree holds exactly the entries the records call for (no stale entry, none
//! missing), every account's connection exists, and the commit counter is not behind the
//! commit sidecar.

use std::collections::{BTreeMap, BTreeSet};

use enterprise_sso::integrity::IntegrityError;
use enterprise_sso::storage::codec::{decode_account, decode_connection};
use sled::Tree;

use crate::keys::{account_keys, index_keys};
use crate::SledRepo;

type Entries = BTreeMap<Vec<u8>, Vec<u8>>;

fn engine(e: sled::Error) -> IntegrityError {
    IntegrityError::Engine(e.to_string())
}

fn read_tree(tree: &Tree) -> Result<Entries, IntegrityError> {
    tree.iter()
        .map(|kv| kv.map(|(k, v)| (k.to_vec(), v.to_vec())).map_err(engine))
        .collect()
}

fn show(key: &[u8]) -> String {
    String::from_utf8_lossy(key).into_owned()
}

/// Compares an index tree with what the records call for.
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
    /// Reads every tree: run it when the store is quiet (concurrent writes can make it
    /// report a half-seen write).
    pub fn verify(&self) -> Result<(), IntegrityError> {
        let mut expected: BTreeMap<&'static str, Entries> = BTreeMap::new();
        let mut put = |index: &'static str, k: Vec<u8>, v: Vec<u8>| {
            expected.entry(index).or_default().insert(k, v);
        };
        let mut connection_ids = BTreeSet::new();
        for (k, v) in read_tree(&self.records)? {
            let record = |reason: String| IntegrityError::Record {
                table: "records",
                key: show(&k),
                reason,
            };
            let c = decode_connection(&v).map_err(|e| record(e.to_string()))?;
            if k != c.id.as_str().as_bytes() {
                return Err(record(format!("holds connection {}", c.id)));
            }
            for d in &c.domains {
                put("domains", d.as_str().as_bytes().to_vec(), k.clone());
            }
            let keys = index_keys(&c);
            if let Some(o) = keys.org {
                put("by_org", o, Vec::new());
            }
            put("by_active", keys.active, Vec::new());
            put("by_provider", keys.provider, Vec::new());
            if let Some(e) = keys.cert_expiry {
                put("by_cert_expiry", e, Vec::new());
            }
            connection_ids.insert(k);
        }
        for (k, v) in read_tree(&self.accounts)? {
            let record = |reason: String| IntegrityError::Record {
                table: "accounts",
                key: show(&k),
                reason,
            };
            let a = decode_account(&v).map_err(|e| record(e.to_string()))?;
            if k != a.id.as_str().as_bytes() {
                return Err(record(format!("holds account {}", a.id)));
            }
            if let Some(c) = &a.enterprise_connection_id {
                if !connection_ids.contains(c.as_str().as_bytes()) {
                    return Err(record(format!("is linked to missing connection {c}")));
                }
            }
            let keys = account_keys(&a);
            if let Some(s) = keys.subject {
                put("acc_by_subject", s, k.clone());
            }
            put("acc_by_email", keys.email, Vec::new());
            if let Some(c) = keys.conn {
                put("acc_by_conn", c, Vec::new());
            }
        }
        for (index, tree) in [
            ("domains", &self.domains),
            ("by_org", &self.by_org),
            ("by_active", &self.by_active),
            ("by_provider", &self.by_provider),
            ("by_cert_expiry", &self.by_cert_expiry),
            ("acc_by_subject", &self.acc_by_subject),
            ("acc_by_email", &self.acc_by_email),
            ("acc_by_conn", &self.acc_by_conn),
        ] {
            let want = expected.remove(index).unwrap_or_default();
            same(index, &read_tree(tree)?, &want)?;
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
