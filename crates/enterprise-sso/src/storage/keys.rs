//! The index keys of a record: one definition of what an adapter indexes a connection and
//! an account by. Adapters map these values onto their engine (columns, key prefixes); they
//! never derive them from a record themselves.

use crate::account::{email_key, EnterpriseAccount};
use crate::connection::EnterpriseConnection;
use crate::domain::Domain;
use crate::ids::ConnectionId;
use crate::millis::UnixMillis;
use crate::provider::Provider;

/// What a connection is found by: its domains (each claimed by one connection), its
/// organization, whether it is active, its provider and its certificate expiry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionKeys<'a> {
    /// The record's id.
    pub id: &'a ConnectionId,
    /// Claimed domains (unique across the store).
    pub domains: &'a [Domain],
    /// Organization scope.
    pub organization_id: Option<&'a str>,
    /// Active flag.
    pub active: bool,
    /// Provider.
    pub provider: Provider,
    /// IdP certificate expiry, Unix ms ([`EnterpriseConnection::certificate_expires_at`]).
    pub certificate_expires_at: Option<i64>,
}

/// The index keys of `c`.
pub fn connection_keys(c: &EnterpriseConnection) -> ConnectionKeys<'_> {
    ConnectionKeys {
        id: &c.id,
        domains: &c.domains,
        organization_id: c.organization_id.as_deref(),
        active: c.active,
        provider: c.provider,
        certificate_expires_at: c.certificate_expires_at().map(UnixMillis::get),
    }
}

/// What an account is found by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountKeys<'a> {
    /// The linked connection (`None` once unlinked).
    pub connection: Option<&'a ConnectionId>,
    /// (connection, provider user id): unique among linked accounts; `None` when unlinked
    /// or without a provider user id.
    pub subject: Option<(&'a ConnectionId, &'a str)>,
    /// The email lookup key ([`email_key`]).
    pub email: String,
}

/// The index keys of `a`.
pub fn account_keys(a: &EnterpriseAccount) -> AccountKeys<'_> {
    let connection = a.enterprise_connection_id.as_ref();
    AccountKeys {
        connection,
        subject: connection.zip(a.provider_user_id.as_deref()),
        email: email_key(&a.email_address),
    }
}
