//! The key layout: how a record's index keys (the core's `storage::connection_keys` and
//! `storage::account_keys`, the one definition of what a record is found by) become sled
//! keys. See the crate docs for the table of trees.

use std::ops::Bound;

use enterprise_sso::storage::{account_keys as core_account_keys, connection_keys};
use enterprise_sso::{EnterpriseAccount, EnterpriseConnection, Order};

/// Index keys of one connection (its domains are claimed one key each in `domains`).
pub(crate) struct IndexKeys {
    pub(crate) org: Option<Vec<u8>>,
    pub(crate) active: Vec<u8>,
    pub(crate) provider: Vec<u8>,
    pub(crate) cert_expiry: Option<Vec<u8>>,
}

/// Big-endian with the sign bit flipped: byte order equals numeric order for all i64.
pub(crate) fn ordered_i64(v: i64) -> [u8; 8] {
    ((v as u64) ^ (1 << 63)).to_be_bytes()
}

/// `prefix`, `0x00`, `id`.
pub(crate) fn prefixed(prefix: &[u8], id: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(prefix.len() + 1 + id.len());
    k.extend_from_slice(prefix);
    k.push(0);
    k.extend_from_slice(id.as_bytes());
    k
}

/// `head` directly followed by `id` (fixed-width heads need no separator).
fn joined(head: &[u8], id: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(head.len() + id.len());
    k.extend_from_slice(head);
    k.extend_from_slice(id.as_bytes());
    k
}

pub(crate) fn index_keys(c: &EnterpriseConnection) -> IndexKeys {
    let k = connection_keys(c);
    let id = k.id.as_str();
    IndexKeys {
        org: k.organization_id.map(|o| prefixed(o.as_bytes(), id)),
        active: joined(&[u8::from(k.active)], id),
        provider: prefixed(k.provider.as_str().as_bytes(), id),
        cert_expiry: k
            .certificate_expires_at
            .map(|t| joined(&ordered_i64(t), id)),
    }
}

/// A connection's account generation as stored in `acc_gen` (0 when absent).
pub(crate) fn generation_of(stored: Option<sled::IVec>) -> u64 {
    stored
        .and_then(|v| <[u8; 8]>::try_from(v.as_ref()).ok())
        .map_or(0, u64::from_be_bytes)
}

/// Keys of an account's index entries.
pub(crate) struct AccountKeys {
    pub(crate) subject: Option<Vec<u8>>,
    pub(crate) email: Vec<u8>,
    pub(crate) conn: Option<Vec<u8>>,
}

pub(crate) fn account_keys(a: &EnterpriseAccount) -> AccountKeys {
    let k = core_account_keys(a);
    let id = a.id.as_str();
    AccountKeys {
        subject: k.subject.map(|(c, s)| prefixed(c.as_str().as_bytes(), s)),
        email: prefixed(k.email.as_bytes(), id),
        conn: k.connection.map(|c| joined(c.as_str().as_bytes(), id)),
    }
}

/// The key range of every key that starts with `prefix` (a tree's keys are `prefix` + id),
/// in `order`, starting after the id `after` (exclusive cursor).
pub(crate) fn range_of(
    prefix: &[u8],
    after: Option<&str>,
    order: Order,
) -> (Bound<Vec<u8>>, Bound<Vec<u8>>) {
    let lower = Bound::Included(prefix.to_vec());
    // The first key after every key that starts with `prefix`.
    let upper = {
        let mut end = prefix.to_vec();
        while let Some(last) = end.pop() {
            if last < u8::MAX {
                end.push(last + 1);
                break;
            }
        }
        if end.is_empty() {
            Bound::Unbounded
        } else {
            Bound::Excluded(end)
        }
    };
    match (after, order) {
        (None, _) => (lower, upper),
        (Some(a), Order::Asc) => (Bound::Excluded(joined(prefix, a)), upper),
        (Some(a), Order::Desc) => (lower, Bound::Excluded(joined(prefix, a))),
    }
}
