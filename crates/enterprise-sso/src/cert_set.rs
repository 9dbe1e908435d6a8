//! The IdP certificate set of a SAML connection and its rules.
//!
//! An IdP publishes every certificate it may sign with: during a rotation the old one and
//! its successor side by side (Okta, Entra ID, ADFS and Shibboleth all rotate this way).
//! A connection keeps the whole set ([`crate::SamlConfig::idp_certificates`]); a host
//! verifying a SAML response accepts a signature by any certificate valid at that moment
//! ([`crate::SamlConfig::valid_certificates`]). The rules:
//!
//! - **Primary** ([`primary`]): the certificate valid now that expires last; when none is
//!   valid now, the one that expires last. Never an expired one while a valid one exists.
//!   It is what `idp_certificate` and its `_issued_at`/`_expires_at` show, chosen at the
//!   time of the write.
//! - **Expiry** ([`latest_expiry`]): the latest `NotAfter` in the set. The
//!   certificate-expiry query and renewal signals use it: a connection needs a renewal only
//!   when every certificate is about to expire.
//! - **Activation** needs at least one certificate valid now (see [`crate::merge_with`]).

use crate::millis::UnixMillis;

/// One IdP signing certificate: canonical PEM with its X.509 validity window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdpCertificate {
    /// PEM, re-encoded from the parsed DER (never the text as given).
    pub pem: String,
    /// `NotBefore`.
    pub issued_at: UnixMillis,
    /// `NotAfter`.
    pub expires_at: UnixMillis,
}

impl IdpCertificate {
    /// Whether `now` lies inside the validity window (both ends included).
    pub fn is_valid_at(&self, now: UnixMillis) -> bool {
        self.issued_at <= now && now <= self.expires_at
    }

    /// Whether it has expired at `now`.
    pub fn is_expired_at(&self, now: UnixMillis) -> bool {
        self.expires_at < now
    }

    /// The primary certificate of `set` at `now`: the one valid now that expires last,
    /// or, when none is valid now, the one that expires last. Ties keep the earlier entry.
    pub fn primary_of(set: &[IdpCertificate], now: UnixMillis) -> Option<&IdpCertificate> {
        primary(set, now)
    }

    /// The latest `NotAfter` in `set` or `None` for an empty set.
    pub fn latest_expiry_of(set: &[IdpCertificate]) -> Option<UnixMillis> {
        latest_expiry(set)
    }
}

impl From<&crate::saml::Certificate> for IdpCertificate {
    fn from(c: &crate::saml::Certificate) -> Self {
        IdpCertificate {
            pem: c.to_pem(),
            issued_at: UnixMillis::new(c.not_before_ms),
            expires_at: UnixMillis::new(c.not_after_ms),
        }
    }
}

/// The primary certificate of `set` at `now`: the one valid now that expires last, or,
/// when none is valid now, the one that expires last. Ties keep the earlier entry.
pub(crate) fn primary(set: &[IdpCertificate], now: UnixMillis) -> Option<&IdpCertificate> {
    let latest = |best: Option<&IdpCertificate>, c: &IdpCertificate| -> bool {
        best.is_none_or(|b| c.expires_at > b.expires_at)
    };
    let mut valid: Option<&IdpCertificate> = None;
    let mut any: Option<&IdpCertificate> = None;
    for c in set {
        if c.is_valid_at(now) && latest(valid, c) {
            valid = Some(c);
        }
        if latest(any, c) {
            any = Some(c);
        }
    }
    valid.or(any)
}

/// The latest `NotAfter` in `set` or `None` for an empty set.
pub(crate) fn latest_expiry(set: &[IdpCertificate]) -> Option<UnixMillis> {
    set.iter().map(|c| c.expires_at).max()
}

/// Why a set holds no certificate valid at a moment: every one has expired (the latest at
/// `Expired`), or the unexpired ones start later (the earliest at `NotYetValid`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NoneValid {
    /// All expired; the latest expiry.
    Expired(UnixMillis),
    /// None valid yet; the earliest start among the unexpired.
    NotYetValid(UnixMillis),
}

/// `None` when `set` is empty or holds a certificate valid at `now`; otherwise why not.
pub(crate) fn none_valid(set: &[IdpCertificate], now: UnixMillis) -> Option<NoneValid> {
    if set.is_empty() || set.iter().any(|c| c.is_valid_at(now)) {
        return None;
    }
    match set
        .iter()
        .filter(|c| !c.is_expired_at(now))
        .map(|c| c.issued_at)
        .min()
    {
        Some(start) => Some(NoneValid::NotYetValid(start)),
        None => latest_expiry(set).map(NoneValid::Expired),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cert(name: &str, issued_at: i64, expires_at: i64) -> IdpCertificate {
        IdpCertificate {
            pem: name.into(),
            issued_at: UnixMillis::new(issued_at),
            expires_at: UnixMillis::new(expires_at),
        }
    }

    #[test]
    fn primary_prefers_valid_then_latest() {
        let old = cert("old", 0, 100);
        let new = cert("new", 50, 500);
        let future = cert("future", 300, 900);
        let set = [old.clone(), new.clone(), future.clone()];
        assert_eq!(primary(&set, UnixMillis::new(60)), Some(&new));
        assert_eq!(primary(&set, UnixMillis::new(10)), Some(&old));
        assert_eq!(primary(&set, UnixMillis::new(400)), Some(&future));
        assert_eq!(primary(&set, UnixMillis::new(1_000)), Some(&future));
        assert_eq!(primary(&[], UnixMillis::new(0)), None);
        assert_eq!(latest_expiry(&set), Some(UnixMillis::new(900)));
        assert_eq!(none_valid(&set, UnixMillis::new(60)), None);
        assert_eq!(
            none_valid(&set, UnixMillis::new(1_000)),
            Some(NoneValid::Expired(UnixMillis::new(900)))
        );
        assert_eq!(
            none_valid(&[cert("a", 10, 20), cert("b", 5, 30)], UnixMillis::new(0)),
            Some(NoneValid::NotYetValid(UnixMillis::new(5)))
        );
    }
}
