//! The routing rule, in one place: which connection an email address signs in with. The
//! service ([`crate::Connections::route_email`]) and the read cache both apply it.

use crate::connection::EnterpriseConnection;
use crate::domain::Domain;
use crate::email::EmailAddress;
use crate::error::{Error, Result};

/// The normalised domain of an email address ([`EmailAddress::parse`]).
pub fn email_domain(email: &str) -> Result<Domain> {
    EmailAddress::parse(email)
        .map(|e| e.domain().clone())
        .map_err(|e| Error::InvalidEmail { reason: e.reason() })
}

/// The routing rule, part one: the domains to look up, in order — the domain itself,
/// then each parent up to (never including) its public suffix — each with whether it is
/// the exact domain.
pub fn route_candidates(
    domain: &Domain,
) -> impl Iterator<Item = (std::borrow::Cow<'_, Domain>, bool)> + '_ {
    use std::borrow::Cow;
    // The parents (a public-suffix lookup) are worked out only if the exact domain
    // did not route.
    std::iter::once((Cow::Borrowed(domain), true)).chain(
        std::iter::once(())
            .flat_map(move |()| domain.parents())
            .map(|p| (Cow::Owned(p), false)),
    )
}

/// The routing rule, part two: whether the connection found for a candidate takes the
/// sign-in (active, and for a parent domain, allowing subdomains).
pub fn routes(c: &EnterpriseConnection, exact: bool) -> bool {
    c.active && (exact || c.allow_subdomains)
}
