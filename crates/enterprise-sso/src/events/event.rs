//! One event of the feed.

use crate::account::EnterpriseAccount;
use crate::connection::EnterpriseConnection;
use crate::ids::{AccountId, ConnectionId, EventId};
use crate::millis::UnixMillis;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EventKind {
    /// A connection was created.
    ConnectionCreated,
    /// Fields of a connection changed (see [`Event::changed`]).
    ConnectionUpdated,
    /// A connection became active.
    ConnectionActivated,
    /// A connection became inactive.
    ConnectionDeactivated,
    /// A connection was deleted.
    ConnectionDeleted,
    /// The first sign-in moved an active connection from `validating` to `active`.
    ConnectionStateChanged,
    /// A SAML connection's certificate expires within a threshold
    /// ([`crate::Connections::certificate_renewal_check`]).
    CertificateRenewalRequired,
    /// A SAML connection's certificate set was replaced.
    CertificateRenewed,
    /// An enterprise account was created.
    AccountCreated,
    /// Fields of an account changed.
    AccountUpdated,
    /// An account became inactive (by the host, or because its connection was deleted).
    AccountDeactivated,
    /// An account was deleted.
    AccountDeleted,
    /// A user signed in through a connection (WorkOS's `authentication.sso_succeeded`):
    /// appended with the account write of the sign-in, in the same atomic write (the
    /// account snapshot is the account after it).
    SsoSucceeded,
    /// A sign-in through a connection was refused (WorkOS's `authentication.sso_failed`):
    /// appended on its own (nothing else is written), with the typed reason
    /// ([`Event::failure`]).
    SsoFailed,
}

impl EventKind {
    /// Every kind.
    pub const ALL: [EventKind; 14] = [
        EventKind::ConnectionCreated,
        EventKind::ConnectionUpdated,
        EventKind::ConnectionActivated,
        EventKind::ConnectionDeactivated,
        EventKind::ConnectionDeleted,
        EventKind::ConnectionStateChanged,
        EventKind::CertificateRenewalRequired,
        EventKind::CertificateRenewed,
        EventKind::AccountCreated,
        EventKind::AccountUpdated,
        EventKind::AccountDeactivated,
        EventKind::AccountDeleted,
        EventKind::SsoSucceeded,
        EventKind::SsoFailed,
    ];

    /// The wire name, as WorkOS spells its events (`connection.activated`).
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::ConnectionCreated => "connection.created",
            EventKind::ConnectionUpdated => "connection.updated",
            EventKind::ConnectionActivated => "connection.activated",
            EventKind::ConnectionDeactivated => "connection.deactivated",
            EventKind::ConnectionDeleted => "connection.deleted",
            EventKind::ConnectionStateChanged => "connection.state_changed",
            EventKind::CertificateRenewalRequired => "connection.saml_certificate_renewal_required",
            EventKind::CertificateRenewed => "connection.saml_certificate_renewed",
            EventKind::AccountCreated => "account.created",
            EventKind::AccountUpdated => "account.updated",
            EventKind::AccountDeactivated => "account.deactivated",
            EventKind::AccountDeleted => "account.deleted",
            EventKind::SsoSucceeded => "authentication.sso_succeeded",
            EventKind::SsoFailed => "authentication.sso_failed",
        }
    }

    /// The kind with this wire name.
    pub fn parse(s: &str) -> Option<EventKind> {
        EventKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// One event of the change feed.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Position in the store's feed: strictly increasing, assigned by the store when the
    /// write commits (0 before that).
    pub position: u64,
    /// Stable id.
    pub id: EventId,
    /// What happened.
    pub kind: EventKind,
    /// The connection concerned (for account events: the account's connection, if any).
    pub connection_id: Option<ConnectionId>,
    /// The account concerned (account events only).
    pub account_id: Option<AccountId>,
    /// For `*.updated`: the field paths that changed (`name`, `oidc.client_secret`,
    /// `saml.idp_certificates`), never their values.
    pub changed: Vec<String>,
    /// The connection after the write (before it, for `connection.deleted`), without its
    /// client secret and without the raw IdP metadata XML (`saml.idp_metadata`; the
    /// values read from it stay).
    pub connection: Option<EnterpriseConnection>,
    /// The account after the write (before it, for `account.deleted`).
    pub account: Option<EnterpriseAccount>,
    /// For `connection.saml_certificate_renewal_required`: days until the certificate
    /// expires, at the check.
    pub days_until_expiry: Option<i64>,
    /// For `authentication.sso_failed`: why the sign-in was refused.
    pub failure: Option<SignInFailure>,
    /// When the write happened.
    pub created_at: UnixMillis,
}

/// Why a sign-in was refused, as its event records it: the refusal's stable code and its
/// message (expected and received values; never a secret, code or token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignInFailure {
    /// The stable code (`saml_audience_mismatch`, `oidc_browser_mismatch`, …).
    pub code: String,
    /// The refusal's message.
    pub message: String,
}

impl Event {
    /// An event of `kind` at `created_at`, every other field empty (the feed gives it its
    /// position when it is appended).
    pub fn new(kind: EventKind, created_at: UnixMillis) -> Event {
        Event {
            position: 0,
            id: EventId::generate(),
            kind,
            connection_id: None,
            account_id: None,
            changed: Vec::new(),
            connection: None,
            account: None,
            days_until_expiry: None,
            failure: None,
            created_at,
        }
    }

    /// An `authentication.sso_failed` event: a sign-in through `connection_id` refused
    /// for `failure`, at `at` (Unix ms).
    pub fn sign_in_failed(connection_id: ConnectionId, failure: SignInFailure, at: i64) -> Event {
        let mut e = Event::new(EventKind::SsoFailed, UnixMillis::new(at));
        e.connection_id = Some(connection_id);
        e.failure = Some(failure);
        e
    }
}
