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

/// One IdP signing certificate: canonical PEM with its X.509 validity window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdpCertificate {
    /// PEM, re-encoded from the parsed DER (never the text as given).
    pub pem: String,
    /// `NotBefore`, Unix ms.
    pub issued_at: i64,
    /// `NotAfter`, Unix ms.
    pub expires_at: i64,
}

impl IdpCertificate {
    /// Whether `now_ms` lies inside the validity window (both ends included).
    pub fn is_valid_at(&self, now_ms: i64) -> bool {
        self.issued_at <= now_ms && now_ms <= self.expires_at
    }

    /// Whether it has expired at `now_ms`.
    pub fn is_expired_at(&self, now_ms: i64) -> bool {
        self.expires_at < now_ms
    }

    /// The primary certificate of `set` at `now_ms`: the one valid now that expires last,
    /// or, when none is valid now, the one that expires last. Ties keep the earlier entry.
    pub fn primary_of(set: &[IdpCertificate], now_ms: i64) -> Option<&IdpCertificate> {
        primary(set, now_ms)
    }

    /// The latest `NotAfter` in `set` (Unix ms), or `None` for an empty set.
    pub fn latest_expiry_of(set: &[IdpCertificate]) -> Option<i64> {
        latest_expiry(set)
    }
}

impl From<&crate::saml::Certificate> for IdpCertificate {
    fn from(c: &crate::saml::Certificate) -> Self {
        IdpCertificate {
            pem: c.to_pem(),
            issued_at: c.not_before_ms,
            expires_at: c.not_after_ms,
        }
    }
}

/// The primary certificate of `set` at `now_ms`: the one valid now that expires last, or,
/// when none is valid now, the one that expires last. Ties keep the earlier entry.
pub(crate) fn primary(set: &[IdpCertificate], now_ms: i64) -> Option<&IdpCertificate> {
    let latest = |best: Option<&IdpCertificate>, c: &IdpCertificate| -> bool {
        best.is_none_or(|b| c.expires_at > b.expires_at)
    };
    let mut valid: Option<&IdpCertificate> = None;
    let mut any: Option<&IdpCertificate> = None;
    for c in set {
        if c.is_valid_at(now_ms) && latest(valid, c) {
            valid = Some(c);
        }
        if latest(any, c) {
            any = Some(c);
        }
    }
    valid.or(any)
}

/// The latest `NotAfter` in `set` (Unix ms), or `None` for an empty set.
pub(crate) fn latest_expiry(set: &[IdpCertificate]) -> Option<i64> {
    set.iter().map(|c| c.expires_at).max()
}

/// Why a set holds no certificate valid at a moment: every one has expired (the latest at
/// `Expired`), or the unexpired ones start later (the earliest at `NotYetValid`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NoneValid {
    /// All expired; the latest expiry.
    Expired(i64),
    /// None valid yet; the earliest start among the unexpired.
    NotYetValid(i64),
}

/// `None` when `set` is empty or holds a certificate valid at `now_ms`; otherwise why not.
pub(crate) fn none_valid(set: &[IdpCertificate], now_ms: i64) -> Option<NoneValid> {
    if set.is_empty() || set.iter().any(|c| c.is_valid_at(now_ms)) {
        return None;
    }
    match set
        .iter()
        .filter(|c| !c.is_expired_at(now_ms))
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
            issued_at,
            expires_at,
        }
    }

    #[test]
    fn primary_prefers_valid_then_latest() {
        let old = cert("old", 0, 100);
        let new = cert("new", 50, 500);
        let future = cert("future", 300, 900);
        let set = [old.clone(), new.clone(), future.clone()];
        assert_eq!(primary(&set, 60), Some(&new));
        assert_eq!(primary(&set, 10), Some(&old));
        assert_eq!(primary(&set, 400), Some(&future));
        assert_eq!(primary(&set, 1_000), Some(&future));
        assert_eq!(primary(&[], 0), None);
        assert_eq!(latest_expiry(&set), Some(900));
        assert_eq!(none_valid(&set, 60), None);
        assert_eq!(none_valid(&set, 1_000), Some(NoneValid::Expired(900)));
        assert_eq!(
            none_valid(&[cert("a", 10, 20), cert("b", 5, 30)], 0),
            Some(NoneValid::NotYetValid(5))
        );
    }
}
