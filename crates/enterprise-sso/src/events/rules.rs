//! The one rule from a write to its events.

use super::event::{Event, EventKind};
use crate::account::EnterpriseAccount;
use crate::connection::{
    connection_fields, oidc_fields, saml_fields, EnterpriseConnection, ProtocolConfig,
};
use crate::millis::UnixMillis;

/// The connection as events show it: without its client secret, and without the raw IdP
/// metadata XML (up to 1 MiB; what was read from it — entity id, SSO URL, certificates —
/// stays), so an event stays a few KiB whatever the connection holds.
fn snapshot(c: &EnterpriseConnection) -> EnterpriseConnection {
    let mut s = c.clone();
    match &mut s.config {
        ProtocolConfig::Oidc(o) => o.client_secret = None,
        ProtocolConfig::Saml(m) => m.idp_metadata = None,
    }
    s
}

/// The field paths found to differ, in the order they were compared.
#[derive(Default)]
struct Changes(Vec<String>);

impl Changes {
    fn note(&mut self, path: &str, differs: bool) {
        if differs {
            self.0.push(path.to_owned());
        }
    }
}

/// Notes every field of a table that differs between `$o` and `$n` (secrets compared in
/// constant time), in the table's order, as `$path` + its name.
macro_rules! diff_fields {
    ({$diff:ident, $o:ident, $n:ident, $path:literal} $(blank $header:tt)? $( { $(#[$doc:meta])*
        $name:ident: $kind:ident $val:ty $(= $blank:expr)? $(, clear $clear:ident)?
        $(, stored $st:meta)? } )*) => {
        $( $diff(
            concat!($path, stringify!($name)),
            !crate::fields::field_eq!($kind, $o.$name, $n.$name),
        ); )*
    };
}

/// The field paths that differ between two versions of a connection (bookkeeping fields
/// — version, `updated_at`, `first_authenticated_at`, renewal notices, the primary
/// certificate shown from the set — are not changes of content). Top-level fields in their
/// table's order, then the protocol block's (alphabetical).
fn changed_paths(o: &EnterpriseConnection, n: &EnterpriseConnection) -> Vec<String> {
    let mut changes = Changes::default();
    let mut diff = |path: &str, differs: bool| changes.note(path, differs);
    connection_fields!(diff_fields {diff, o, n, ""});
    match (&o.config, &n.config) {
        (ProtocolConfig::Oidc(a), ProtocolConfig::Oidc(b)) => {
            oidc_fields!(diff_fields {diff, a, b, "oidc."});
        }
        (ProtocolConfig::Saml(a), ProtocolConfig::Saml(b)) => {
            saml_fields!(diff_fields {diff, a, b, "saml."});
        }
        (ProtocolConfig::Oidc(_), ProtocolConfig::Saml(_)) => {
            diff("oidc", true);
            diff("saml", true);
        }
        (ProtocolConfig::Saml(_), ProtocolConfig::Oidc(_)) => {
            diff("saml", true);
            diff("oidc", true);
        }
    }
    changes.0
}

fn for_connection(kind: EventKind, c: &EnterpriseConnection, at: i64) -> Event {
    let mut e = Event::new(kind, UnixMillis::new(at));
    e.connection_id = Some(c.id.clone());
    e.connection = Some(snapshot(c));
    e
}

/// The events of a connection write: `old` is the stored connection before it (`None` for
/// an insert), `new` after it (`None` for a delete); `now` is the delete's time (a write's
/// time is the new record's `updated_at`).
///
/// - insert: `connection.created` (and `connection.activated` when created active);
/// - update: `connection.updated` with the changed paths when content changed (with none
///   when the version moved and nothing below applies: every stored version has an event);
///   `connection.activated` / `connection.deactivated` when `active` flips;
///   `connection.state_changed` on the first sign-in of an active connection;
///   `connection.saml_certificate_renewed` when a non-empty certificate set is replaced;
/// - delete: `connection.deleted`.
pub fn connection_events(
    old: Option<&EnterpriseConnection>,
    new: Option<&EnterpriseConnection>,
    now: i64,
) -> Vec<Event> {
    use EventKind as K;
    let mut out = Vec::new();
    match (old, new) {
        (None, Some(n)) => {
            out.push(for_connection(K::ConnectionCreated, n, n.updated_at.get()));
            if n.active {
                out.push(for_connection(
                    K::ConnectionActivated,
                    n,
                    n.updated_at.get(),
                ));
            }
        }
        (Some(o), Some(n)) => {
            let at = n.updated_at;
            let changed = changed_paths(o, n);
            if !changed.is_empty() {
                let mut e = for_connection(K::ConnectionUpdated, n, at.get());
                e.changed = changed;
                out.push(e);
            }
            if !o.active && n.active {
                out.push(for_connection(K::ConnectionActivated, n, at.get()));
            }
            if o.active && !n.active {
                out.push(for_connection(K::ConnectionDeactivated, n, at.get()));
            }
            if n.active && o.first_authenticated_at.is_none() && n.first_authenticated_at.is_some()
            {
                out.push(for_connection(K::ConnectionStateChanged, n, at.get()));
            }
            if let (Some(a), Some(b)) = (o.saml(), n.saml()) {
                for notice in &b.renewal_notices {
                    if !a.renewal_notices.iter().any(|x| x.same_as(notice)) {
                        let mut e = for_connection(
                            K::CertificateRenewalRequired,
                            n,
                            notice.noticed_at.get(),
                        );
                        let left = notice.certificate_expires_at.get() - notice.noticed_at.get();
                        e.days_until_expiry = Some((left.max(0) + 86_399_999) / 86_400_000);
                        out.push(e);
                    }
                }
                if !a.idp_certificates.is_empty()
                    && !b.idp_certificates.is_empty()
                    && a.idp_certificates != b.idp_certificates
                {
                    out.push(for_connection(K::CertificateRenewed, n, at.get()));
                }
            }
            if out.is_empty() && o.version != n.version {
                // Every stored version has its event (as for accounts): a write of
                // bookkeeping alone (`first_authenticated_at` on an inactive connection, a
                // renewal notice already noticed) still moves the version, and a cache on
                // another handle learns versions only from the feed.
                out.push(for_connection(K::ConnectionUpdated, n, at.get()));
            }
        }
        (Some(o), None) => out.push(for_connection(K::ConnectionDeleted, o, now)),
        (None, None) => {}
    }
    out
}

fn for_account(kind: EventKind, a: &EnterpriseAccount, at: i64) -> Event {
    let mut e = Event::new(kind, UnixMillis::new(at));
    e.account_id = Some(a.id.clone());
    e.connection_id = a.enterprise_connection_id.clone();
    e.account = Some(a.clone());
    e
}

/// The events of an account write (as [`connection_events`]): `account.created`,
/// `account.updated` (with changed paths), `account.deactivated` when `active` turns off
/// (also when its connection's delete unlinks it), `account.deleted`, and
/// `authentication.sso_succeeded` when the write is a sign-in's (it creates the account
/// with, or moves, `last_authenticated_at`).
pub fn account_events(
    old: Option<&EnterpriseAccount>,
    new: Option<&EnterpriseAccount>,
    now: i64,
) -> Vec<Event> {
    use EventKind as K;
    let mut out = Vec::new();
    match (old, new) {
        (None, Some(n)) => {
            out.push(for_account(K::AccountCreated, n, n.updated_at.get()));
            // Accounts are created by a sign-in (the service has no other way).
            if n.last_authenticated_at.is_some() {
                out.push(for_account(K::SsoSucceeded, n, n.updated_at.get()));
            }
        }
        (Some(o), Some(n)) => {
            let at = n.updated_at;
            let mut changes = Changes::default();
            let mut diff = |p: &str, d: bool| changes.note(p, d);
            diff("active", o.active != n.active);
            diff("email_address", o.email_address != n.email_address);
            diff("first_name", o.first_name != n.first_name);
            diff("last_name", o.last_name != n.last_name);
            diff(
                "enterprise_connection_id",
                o.enterprise_connection_id != n.enterprise_connection_id,
            );
            diff("public_metadata", o.public_metadata != n.public_metadata);
            diff("verification", o.verification != n.verification);
            diff(
                "last_authenticated_at",
                o.last_authenticated_at != n.last_authenticated_at,
            );
            let changed = changes.0;
            if !changed.is_empty() {
                let mut e = for_account(K::AccountUpdated, n, at.get());
                // The connection id as it was, so an unlinking shows which connection.
                e.connection_id = o.enterprise_connection_id.clone();
                e.changed = changed;
                out.push(e);
            }
            if o.active && !n.active {
                let mut e = for_account(K::AccountDeactivated, n, at.get());
                e.connection_id = o.enterprise_connection_id.clone();
                out.push(e);
            }
            if out.is_empty() && o.version != n.version {
                // Every stored version has its event: a second sign-in within the same
                // millisecond changes no listed field but is a write.
                let mut e = for_account(K::AccountUpdated, n, at.get());
                e.connection_id = o.enterprise_connection_id.clone();
                out.push(e);
            }
            // A sign-in is the write that moves `last_authenticated_at`.
            if n.last_authenticated_at.is_some()
                && n.last_authenticated_at != o.last_authenticated_at
            {
                out.push(for_account(K::SsoSucceeded, n, at.get()));
            }
        }
        (Some(o), None) => out.push(for_account(K::AccountDeleted, o, now)),
        (None, None) => {}
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The crash test's rare "feed replay vs stored account: feed version 1, stored 2": a
    /// second sign-in in the same millisecond bumped the account's version with no event.
    #[test]
    fn every_new_account_version_has_an_event() {
        let c = crate::testing::saml_connection("v", &[], false);
        let a = crate::testing::account_for(&c, "subject", "u@acme.com");
        let mut a2 = a.clone();
        a2.version += 1;
        let e = account_events(Some(&a), Some(&a2), 0);
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].kind, EventKind::AccountUpdated);
        assert_eq!(e[0].account.as_ref().map(|a| a.version), Some(a2.version));
        // A write that stores nothing new (same version) has none.
        assert!(account_events(Some(&a), Some(&a), 0).is_empty());
    }

    /// A connection write that changes no listed field (an inactive connection's first
    /// sign-in sets `first_authenticated_at` only) still moves the version: without an
    /// event, a cache on another handle kept the older version with no bound.
    #[test]
    fn every_new_connection_version_has_an_event() {
        let c = crate::testing::saml_connection("v", &[], false);
        let mut n = c.clone();
        n.version += 1;
        n.first_authenticated_at = Some(crate::UnixMillis::new(5));
        let e = connection_events(Some(&c), Some(&n), 0);
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].kind, EventKind::ConnectionUpdated);
        assert!(e[0].changed.is_empty());
        assert_eq!(e[0].connection.as_ref().map(|s| s.version), Some(n.version));
        assert!(connection_events(Some(&c), Some(&c), 0).is_empty());
    }

    #[test]
    fn snapshots_leave_out_the_raw_metadata() {
        let mut c = crate::testing::saml_connection("m", &[], false);
        if let ProtocolConfig::Saml(s) = &mut c.config {
            s.idp_metadata = Some("<EntityDescriptor/>".repeat(10_000));
        }
        let e = &connection_events(None, Some(&c), 0)[0];
        let snap = e.connection.as_ref().and_then(|s| s.saml()).unwrap();
        assert!(snap.idp_metadata.is_none());
        assert_eq!(snap.idp_certificates, c.saml().unwrap().idp_certificates);
        assert!(crate::storage::codec::encode_event(e).len() < 16 * 1024);
    }

    #[test]
    fn writes_become_events() {
        let c = crate::testing::oidc_connection("a", &[], true);
        let created = connection_events(None, Some(&c), 0);
        let kinds: Vec<_> = created.iter().map(|e| e.kind).collect();
        assert_eq!(
            kinds,
            [EventKind::ConnectionCreated, EventKind::ConnectionActivated]
        );
        assert!(created[0]
            .connection
            .as_ref()
            .and_then(|s| s.oidc())
            .is_some_and(|o| o.client_secret.is_none()));
        let mut n = c.clone();
        n.name = "b".into();
        n.active = false;
        if let ProtocolConfig::Oidc(o) = &mut n.config {
            o.client_secret = Some(crate::ClientSecret::new("other"));
        }
        let ev = connection_events(Some(&c), Some(&n), 0);
        assert_eq!(ev[0].kind, EventKind::ConnectionUpdated);
        assert_eq!(ev[0].changed, ["name", "active", "oidc.client_secret"]);
        assert_eq!(ev[1].kind, EventKind::ConnectionDeactivated);
        assert!(connection_events(Some(&c), Some(&c), 0).is_empty());
        let mut authed = c.clone();
        authed.first_authenticated_at = Some(crate::UnixMillis::new(5));
        let ev = connection_events(Some(&c), Some(&authed), 0);
        assert_eq!(
            ev.iter().map(|e| e.kind).collect::<Vec<_>>(),
            [EventKind::ConnectionStateChanged]
        );
        assert_eq!(
            connection_events(Some(&c), None, 9)[0].kind,
            EventKind::ConnectionDeleted
        );
    }
}
