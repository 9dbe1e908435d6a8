//! The key layout of the store's one tree: every key starts with a [`Kind`] byte, so
//! records, index entries, counters and events live side by side and a write is a
//! one-tree transaction. How a record's index keys (the core's `storage::connection_keys`
//! and `storage::account_keys`, the one definition of what a record is found by) become
//! keys here. See the crate docs for the table.

use std::ops::Bound;

use enterprise_sso::storage::{account_keys as core_account_keys, connection_keys};
use enterprise_sso::{EnterpriseAccount, EnterpriseConnection, Order};

/// What a key of the store's tree holds, named by its first byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Kind {
    /// `r` + connection id → the connection record.
    Record,
    /// `d` + domain → the id of the connection that claims it.
    Domain,
    /// `o` + organization id + `0x00` + connection id → empty.
    ByOrg,
    /// `a` + `0`/`1` + connection id → empty.
    ByActive,
    /// `p` + provider + `0x00` + connection id → empty.
    ByProvider,
    /// `x` + certificate expiry (8 bytes, order-preserving) + connection id → empty.
    ByCertExpiry,
    /// `A` + account id → the account record.
    Account,
    /// `S` + connection id + `0x00` + provider user id → account id.
    AccountBySubject,
    /// `E` + email key + `0x00` + account id → empty.
    AccountByEmail,
    /// `C` + connection id + account id → empty.
    AccountByConnection,
    /// `G` + connection id → how many accounts were ever linked to it (u64).
    AccountGeneration,
    /// `m` + name → a counter or marker (`commit_seq`, `event_seq`, `event_floor`,
    /// `index_version`).
    Meta,
    /// `e` + position (8 bytes, big-endian) → the change-feed event.
    Event,
    /// `s` + sign-in kind name + `0x00` + key → a sign-in record (see `sign_ins`).
    SignIn,
}

impl Kind {
    /// Every kind (for checks that walk them all).
    pub const ALL: [Kind; 14] = [
        Kind::Record,
        Kind::Domain,
        Kind::ByOrg,
        Kind::ByActive,
        Kind::ByProvider,
        Kind::ByCertExpiry,
        Kind::Account,
        Kind::AccountBySubject,
        Kind::AccountByEmail,
        Kind::AccountByConnection,
        Kind::AccountGeneration,
        Kind::Meta,
        Kind::Event,
        Kind::SignIn,
    ];

    /// The index kinds: entries the records alone decide (what [`crate::SledRepo::verify`]
    /// rebuilds and compares).
    pub const INDEXES: [Kind; 8] = [
        Kind::Domain,
        Kind::ByOrg,
        Kind::ByActive,
        Kind::ByProvider,
        Kind::ByCertExpiry,
        Kind::AccountBySubject,
        Kind::AccountByEmail,
        Kind::AccountByConnection,
    ];

    /// The first byte of every key of this kind.
    pub const fn byte(self) -> u8 {
        match self {
            Kind::Record => b'r',
            Kind::Domain => b'd',
            Kind::ByOrg => b'o',
            Kind::ByActive => b'a',
            Kind::ByProvider => b'p',
            Kind::ByCertExpiry => b'x',
            Kind::Account => b'A',
            Kind::AccountBySubject => b'S',
            Kind::AccountByEmail => b'E',
            Kind::AccountByConnection => b'C',
            Kind::AccountGeneration => b'G',
            Kind::Meta => b'm',
            Kind::Event => b'e',
            Kind::SignIn => b's',
        }
    }

    /// The kind a key's first byte names.
    pub fn of(key: &[u8]) -> Option<Kind> {
        let first = *key.first()?;
        Kind::ALL.into_iter().find(|k| k.byte() == first)
    }

    /// The name integrity errors use (the tree's name in layouts 1 and 2).
    pub const fn name(self) -> &'static str {
        match self {
            Kind::Record => "records",
            Kind::Domain => "domains",
            Kind::ByOrg => "by_org",
            Kind::ByActive => "by_active",
            Kind::ByProvider => "by_provider",
            Kind::ByCertExpiry => "by_cert_expiry",
            Kind::Account => "accounts",
            Kind::AccountBySubject => "acc_by_subject",
            Kind::AccountByEmail => "acc_by_email",
            Kind::AccountByConnection => "acc_by_conn",
            Kind::AccountGeneration => "acc_gen",
            Kind::Meta => "meta",
            Kind::Event => "events",
            Kind::SignIn => "sign_in_items",
        }
    }

    /// `kind` followed by `parts`.
    pub(crate) fn key(self, parts: &[&[u8]]) -> Vec<u8> {
        let len = 1 + parts.iter().map(|p| p.len()).sum::<usize>();
        let mut k = Vec::with_capacity(len);
        k.push(self.byte());
        for p in parts {
            k.extend_from_slice(p);
        }
        k
    }
}

/// The key of a connection record.
pub(crate) fn record(id: &str) -> Vec<u8> {
    Kind::Record.key(&[id.as_bytes()])
}

/// The key of a domain claim.
pub(crate) fn domain(d: &str) -> Vec<u8> {
    Kind::Domain.key(&[d.as_bytes()])
}

/// The key of an account record.
pub(crate) fn account(id: &str) -> Vec<u8> {
    Kind::Account.key(&[id.as_bytes()])
}

/// The key of a connection's account generation.
pub(crate) fn generation(conn: &str) -> Vec<u8> {
    Kind::AccountGeneration.key(&[conn.as_bytes()])
}

/// The key of a counter or marker.
pub(crate) fn meta(name: &str) -> Vec<u8> {
    Kind::Meta.key(&[name.as_bytes()])
}

/// The key of the event at `position`.
pub(crate) fn event(position: u64) -> [u8; 9] {
    let mut k = [0u8; 9];
    k[0] = Kind::Event.byte();
    k[1..].copy_from_slice(&position.to_be_bytes());
    k
}

/// The prefix of every key of `kind` whose next part is `head` followed by `0x00`.
pub(crate) fn under(kind: Kind, head: &[u8]) -> Vec<u8> {
    kind.key(&[head, &[0]])
}

/// Index keys of one connection (its domains are claimed one key each).
pub(crate) struct IndexKeys {
    pub(crate) org: Option<Vec<u8>>,
    pub(crate) active: Vec<u8>,
    pub(crate) provider: Vec<u8>,
    pub(crate) cert_expiry: Option<Vec<u8>>,
}

impl IndexKeys {
    /// Every index key of the connection (its empty-valued entries).
    pub(crate) fn all(self) -> impl Iterator<Item = Vec<u8>> {
        [
            self.org,
            Some(self.active),
            Some(self.provider),
            self.cert_expiry,
        ]
        .into_iter()
        .flatten()
    }
}

/// Big-endian with the sign bit flipped: byte order equals numeric order for all i64.
pub(crate) fn ordered_i64(v: i64) -> [u8; 8] {
    ((v as u64) ^ (1 << 63)).to_be_bytes()
}

pub(crate) fn index_keys(c: &EnterpriseConnection) -> IndexKeys {
    let k = connection_keys(c);
    let id = k.id.as_str().as_bytes();
    IndexKeys {
        org: k
            .organization_id
            .map(|o| Kind::ByOrg.key(&[o.as_bytes(), &[0], id])),
        active: Kind::ByActive.key(&[&[u8::from(k.active)], id]),
        provider: Kind::ByProvider.key(&[k.provider.as_str().as_bytes(), &[0], id]),
        cert_expiry: k
            .certificate_expires_at
            .map(|t| Kind::ByCertExpiry.key(&[&ordered_i64(t), id])),
    }
}

/// A connection's account generation as stored (0 when absent).
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
    let id = a.id.as_str().as_bytes();
    AccountKeys {
        subject: k
            .subject
            .map(|(c, s)| Kind::AccountBySubject.key(&[c.as_str().as_bytes(), &[0], s.as_bytes()])),
        email: Kind::AccountByEmail.key(&[k.email.as_bytes(), &[0], id]),
        conn: k
            .connection
            .map(|c| Kind::AccountByConnection.key(&[c.as_str().as_bytes(), id])),
    }
}

/// The key range of every key that starts with `prefix` (an index's keys are `prefix` +
/// id), in `order`, starting after the id `after` (exclusive cursor).
pub(crate) fn range_of(
    prefix: &[u8],
    after: Option<&str>,
    order: Order,
) -> (Bound<Vec<u8>>, Bound<Vec<u8>>) {
    let lower = Bound::Included(prefix.to_vec());
    let upper = match end_of(prefix) {
        Some(end) => Bound::Excluded(end),
        None => Bound::Unbounded,
    };
    let joined = |a: &str| [prefix, a.as_bytes()].concat();
    match (after, order) {
        (None, _) => (lower, upper),
        (Some(a), Order::Asc) => (Bound::Excluded(joined(a)), upper),
        (Some(a), Order::Desc) => (lower, Bound::Excluded(joined(a))),
    }
}

/// The first key after every key that starts with `prefix` (`None`: no such key).
fn end_of(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < u8::MAX {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}
