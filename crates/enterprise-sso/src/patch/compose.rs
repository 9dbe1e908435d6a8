//! Sequential composition of patches, for property tests of the merge rules (feature
//! `testing`): `a.then(&b)` applied once must equal `a` then `b`.

use super::{AttributeMappingPatch, OidcPatch, Patch, SamlPatch, UpdateConnection};
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

impl Compose for UpdateConnection {
    /// Field-wise composition. Exact for patches that keep the protocol; a patch that
    /// switches protocol drops the old configuration, which a composed patch cannot express.
    fn then(&self, n: &Self) -> Self {
        UpdateConnection {
            name: self.name.then(&n.name),
            provider: self.provider.then(&n.provider),
            active: self.active.then(&n.active),
            organization_id: self.organization_id.then(&n.organization_id),
            domains: self.domains.then(&n.domains),
            sync_user_attributes: self.sync_user_attributes.then(&n.sync_user_attributes),
            disable_additional_identifications: self
                .disable_additional_identifications
                .then(&n.disable_additional_identifications),
            authenticatable: self.authenticatable.then(&n.authenticatable),
            disable_jit_provisioning: self
                .disable_jit_provisioning
                .then(&n.disable_jit_provisioning),
            allow_organization_account_linking: self
                .allow_organization_account_linking
                .then(&n.allow_organization_account_linking),
            oidc: self.oidc.then(&n.oidc),
            saml: self.saml.then(&n.saml),
        }
    }
}

impl Compose for OidcPatch {
    fn then(&self, n: &Self) -> Self {
        OidcPatch {
            auth_url: self.auth_url.then(&n.auth_url),
            client_id: self.client_id.then(&n.client_id),
            client_secret: self.client_secret.then(&n.client_secret),
            discovery_url: self.discovery_url.then(&n.discovery_url),
            requires_pkce: self.requires_pkce.then(&n.requires_pkce),
            token_url: self.token_url.then(&n.token_url),
            user_info_url: self.user_info_url.then(&n.user_info_url),
        }
    }
}

impl Compose for SamlPatch {
    /// The two certificate fields are one input (the set): when `n` gives either, `n`'s
    /// pair replaces `self`'s.
    fn then(&self, n: &Self) -> Self {
        let certs = if n.idp_certificate.is_absent() && n.idp_certificates.is_absent() {
            self
        } else {
            n
        };
        SamlPatch {
            allow_idp_initiated: self.allow_idp_initiated.then(&n.allow_idp_initiated),
            allow_subdomains: self.allow_subdomains.then(&n.allow_subdomains),
            attribute_mapping: self.attribute_mapping.then(&n.attribute_mapping),
            force_authn: self.force_authn.then(&n.force_authn),
            idp_certificate: certs.idp_certificate.clone(),
            idp_certificates: certs.idp_certificates.clone(),
            idp_entity_id: self.idp_entity_id.then(&n.idp_entity_id),
            idp_metadata: self.idp_metadata.then(&n.idp_metadata),
            idp_metadata_url: self.idp_metadata_url.then(&n.idp_metadata_url),
            idp_sso_url: self.idp_sso_url.then(&n.idp_sso_url),
            login_hint: self.login_hint.then(&n.login_hint),
        }
    }
}

impl Compose for AttributeMappingPatch {
    fn then(&self, n: &Self) -> Self {
        AttributeMappingPatch {
            email_address: self.email_address.then(&n.email_address),
            first_name: self.first_name.then(&n.first_name),
            last_name: self.last_name.then(&n.last_name),
            user_id: self.user_id.then(&n.user_id),
        }
    }

    /// Clearing the mapping, then `next`: every field `next` leaves absent is cleared.
    fn after_clear(next: &Self) -> Self {
        let cleared = AttributeMappingPatch {
            email_address: Patch::Null,
            first_name: Patch::Null,
            last_name: Patch::Null,
            user_id: Patch::Null,
        };
        cleared.then(next)
    }
}

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
