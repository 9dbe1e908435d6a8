//! Opening the store's tree, and migrating a store of layout 1 or 2 (a tree per record
//! kind and per index) into it: records and accounts are copied and their index entries
//! built afresh from them (layout 1 lacked the expiry index), account generations,
//! counters and events are copied, then the layout version is written — the marker that
//! the migration is complete — and only after a flush are the old trees dropped. A
//! migration cut short leaves the old trees whole; the next open clears the new tree and
//! runs it again.

use enterprise_sso::storage::codec::{decode_account, decode_connection};
use enterprise_sso::{Error, Result};
use sled::{Batch, Tree};

use crate::keys::{self, account_keys, index_keys, Kind};
use crate::tx::{read_seq, storage, COMMIT_SEQ, EVENT_SEQ};
use crate::{INDEX_VERSION, TREE_NAME};

/// The trees of layouts 1 and 2 (layout 1 had no `by_cert_expiry`).
const OLD_TREES: [&str; 12] = [
    "records",
    "domains",
    "by_org",
    "by_active",
    "by_provider",
    "by_cert_expiry",
    "meta",
    "accounts",
    "acc_by_subject",
    "acc_by_email",
    "acc_by_conn",
    "acc_gen",
];

/// The layout version's name among the `meta` keys (in both layouts).
const VERSION: &str = "index_version";

/// Layout 2 kept events in `meta` under this prefix, then the position.
const OLD_EVENT_PREFIX: &[u8] = b"ev\0";

/// Writes applied per batch while migrating (each batch is atomic; the whole migration
/// is made safe by the version marker, not by one huge batch held in memory).
const BATCH: usize = 10_000;

fn version_of(v: Option<sled::IVec>) -> Result<Option<u64>> {
    v.map(|v| {
        <[u8; 8]>::try_from(v.as_ref())
            .map(u64::from_be_bytes)
            .map_err(|e| Error::corrupt_with("bad index_version", e))
    })
    .transpose()
}

fn newer(found: u64) -> Error {
    Error::corrupt(format!(
        "index layout {found} is newer than this library ({INDEX_VERSION})"
    ))
}

/// Opens (creating or migrating) the store's tree under `prefix`.
pub(crate) fn open_store(db: &sled::Db, prefix: &str) -> Result<Tree> {
    let tree = db
        .open_tree(format!("{prefix}{TREE_NAME}"))
        .map_err(storage)?;
    let names = db.tree_names();
    let old: Vec<String> = OLD_TREES
        .iter()
        .map(|n| format!("{prefix}{n}"))
        .filter(|n| names.iter().any(|t| t.as_ref() == n.as_bytes()))
        .collect();
    match version_of(tree.get(keys::meta(VERSION)).map_err(storage)?)? {
        Some(v) if v > INDEX_VERSION => return Err(newer(v)),
        Some(_) => {}
        None => {
            if !old.is_empty() {
                tree.clear().map_err(storage)?;
                copy_old_layout(db, prefix, &tree)?;
            }
            tree.insert(keys::meta(VERSION), &INDEX_VERSION.to_be_bytes())
                .map_err(storage)?;
            if !old.is_empty() {
                tree.flush().map_err(storage)?;
            }
        }
    }
    // Also finishes a migration whose dropping of the old trees was cut short.
    for name in old {
        db.drop_tree(name).map_err(storage)?;
    }
    Ok(tree)
}

/// Collects writes and applies them in batches of [`BATCH`].
struct Writer<'a> {
    tree: &'a Tree,
    batch: Batch,
    pending: usize,
}

impl Writer<'_> {
    fn put(&mut self, k: impl Into<sled::IVec>, v: impl Into<sled::IVec>) -> Result<()> {
        self.batch.insert(k, v);
        self.pending += 1;
        if self.pending >= BATCH {
            self.apply()?;
        }
        Ok(())
    }

    fn apply(&mut self) -> Result<()> {
        let batch = std::mem::take(&mut self.batch);
        self.pending = 0;
        self.tree.apply_batch(batch).map_err(storage)
    }
}

fn copy_old_layout(db: &sled::Db, prefix: &str, tree: &Tree) -> Result<()> {
    let old = |name: &str| db.open_tree(format!("{prefix}{name}")).map_err(storage);
    let meta = old("meta")?;
    if let Some(v) = version_of(meta.get(VERSION).map_err(storage)?)? {
        if v > 2 {
            return Err(newer(v));
        }
    }
    let mut w = Writer {
        tree,
        batch: Batch::default(),
        pending: 0,
    };
    for item in old("records")?.iter() {
        let (id, bytes) = item.map_err(storage)?;
        let c = decode_connection(&bytes)?;
        for d in &c.domains {
            w.put(keys::domain(d.as_str()), c.id.as_str())?;
        }
        let k = index_keys(&c);
        for key in k.all() {
            w.put(key, &[])?;
        }
        w.put(Kind::Record.key(&[&id]), bytes)?;
    }
    for item in old("accounts")?.iter() {
        let (id, bytes) = item.map_err(storage)?;
        let a = decode_account(&bytes)?;
        let k = account_keys(&a);
        if let Some(s) = k.subject {
            w.put(s, a.id.as_str())?;
        }
        w.put(k.email, &[])?;
        if let Some(c) = k.conn {
            w.put(c, &[])?;
        }
        w.put(Kind::Account.key(&[&id]), bytes)?;
    }
    for item in old("acc_gen")?.iter() {
        let (conn, n) = item.map_err(storage)?;
        w.put(Kind::AccountGeneration.key(&[&conn]), n)?;
    }
    for name in [COMMIT_SEQ, EVENT_SEQ] {
        if let Some(v) = meta.get(name).map_err(storage)? {
            w.put(keys::meta(name), &read_seq(Some(v)).to_be_bytes())?;
        }
    }
    for item in meta.scan_prefix(OLD_EVENT_PREFIX) {
        let (k, event) = item.map_err(storage)?;
        let position: [u8; 8] = k[OLD_EVENT_PREFIX.len()..]
            .try_into()
            .map_err(|e| Error::corrupt_with("bad event key in meta", e))?;
        w.put(&keys::event(u64::from_be_bytes(position))[..], event)?;
    }
    w.apply()
}
