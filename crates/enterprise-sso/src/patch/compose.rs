//! Sequential composition of patches, for property tests of the merge rules (feature
//! `testing`): `a.then(&b)` applied once must equal `a` then `b`.

use super::{AttributeMappingPatch, OidcPatch, Patch, SamlPatch, UpdateConnection};
use crate::connection::{attribute_mapping_fields, connection_fields, oidc_fields, saml_fields};
use crate::fields::plain_only;
use crate::provider::Provider;
use crate::secret::ClientSecret;

/// Sequential composition of patches: `a.then(&b)` applied once equals applying `a`, then
/// `b` (for patches that do not switch the provider's protocol; see [`UpdateConnection::then`]).
pub trait Compose: Clone {
    /// The patch equal to `self` followed by `next`.
    fn then(&self, next: &Self) -> Self {
        next.clone()
    }

    /// The patch equal to clearing the field (`null`) followed by `next`.
    fn after_clear(next: &Self) -> Self {
        next.clone()
    }
}

impl Compose for String {}
impl Compose for bool {}
impl Compose for Provider {}
impl Compose for Vec<String> {}
impl Compose for ClientSecret {}
impl Compose for crate::login_hint::LoginHint {}

impl<T: Compose> Patch<T> {
    /// `self` followed by `next`.
    pub fn then(&self, next: &Patch<T>) -> Patch<T> {
        match (self, next) {
            (_, Patch::Absent) => self.clone(),
            (Patch::Value(a), Patch::Value(b)) => Patch::Value(a.then(b)),
            (Patch::Null, Patch::Value(b)) => Patch::Value(T::after_clear(b)),
            (_, n) => n.clone(),
        }
    }
}

/// `Compose` for a patch type: its table's plain fields compose field-wise, `$hand` by hand
/// (`$n` names the next patch in it).
macro_rules! compose_fields {
    ({$ty:ident, $s:tt, $n:ident, [$($pre:tt)*], $($hand:tt)*} $( { $(#[$doc:meta])* $name:ident:
        $kind:ident $val:ty $(= $blank:expr)? $(, clear $clear:ident)? $(, stored $st:meta)? } )*) => {
        impl Compose for $ty {
            fn then(&$s, $n: &Self) -> Self {
                $($pre)*
                $ty {
                    $( $name: $s.$name.then(&$n.$name), )*
                    $($hand)*
                }
            }
        }
    };
}

// Field-wise composition. Exact for patches that keep the protocol; a patch that switches
// protocol drops the old configuration, which a composed patch cannot express.
connection_fields!(plain_only compose_fields {UpdateConnection, self, n, [],
    provider: self.provider.then(&n.provider),
    domains: self.domains.then(&n.domains),
    oidc: self.oidc.then(&n.oidc),
    saml: self.saml.then(&n.saml),
} []);

oidc_fields!(plain_only compose_fields {OidcPatch, self, n, [], } []);

// The two certificate fields are one input (the set): when `n` gives either, `n`'s pair
// replaces `self`'s.
saml_fields!(plain_only compose_fields {SamlPatch, self, n, [
    let certs = if n.idp_certificate.is_absent() && n.idp_certificates.is_absent() {
        self
    } else {
        n
    };
],
    allow_subdomains: self.allow_subdomains.then(&n.allow_subdomains),
    attribute_mapping: self.attribute_mapping.then(&n.attribute_mapping),
    idp_certificate: certs.idp_certificate.clone(),
    idp_certificates: certs.idp_certificates.clone(),
} []);

/// `Compose` for the attribute mapping patch: field-wise, and after a clear every field the
/// next patch leaves absent is cleared.
macro_rules! compose_mapping {
    ({} $( { $(#[$doc:meta])* $name:ident: $kind:ident $val:ty
        $(= $blank:expr)? $(, clear $clear:ident)? $(, stored $st:meta)? } )*) => {
        impl Compose for AttributeMappingPatch {
            fn then(&self, n: &Self) -> Self {
                AttributeMappingPatch {
                    $( $name: self.$name.then(&n.$name), )*
                }
            }

            /// Clearing the mapping, then `next`: every field `next` leaves absent is cleared.
            fn after_clear(next: &Self) -> Self {
                let cleared = AttributeMappingPatch {
                    $( $name: Patch::Null, )*
                };
                cleared.then(next)
            }
        }
    };
}

attribute_mapping_fields!(plain_only compose_mapping {} []);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compose_after_null_clears_unset_mapping_fields() {
        let a = Patch::<AttributeMappingPatch>::Null;
        let b = Patch::Value(AttributeMappingPatch {
            user_id: Patch::Value("uid".into()),
            ..Default::default()
        });
        let c = a.then(&b);
        let m = c.as_value().unwrap();
        assert_eq!(m.user_id, Patch::Value("uid".into()));
        assert_eq!(m.email_address, Patch::Null);
    }
}
