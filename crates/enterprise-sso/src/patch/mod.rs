//! Create and partial-update (PATCH) parameters, and the three-state [`Patch`] field.
//!
//! Parameters can be written as struct literals or with fluent setters
//! ([`setters`](self#fluent-setters)); both give the same value:
//!
//! ```
//! use enterprise_sso::{OidcPatch, Patch, UpdateConnection};
//! let fluent = UpdateConnection::default()
//!     .name("Acme")
//!     .clear_organization_id()
//!     .oidc(OidcPatch::default().client_id("client-1").requires_pkce(true));
//! let literal = UpdateConnection {
//!     name: Patch::Value("Acme".into()),
//!     organization_id: Patch::Null,
//!     oidc: Patch::Value(OidcPatch {
//!         client_id: Patch::Value("client-1".into()),
//!         requires_pkce: Patch::Value(true),
//!         ..Default::default()
//!     }),
//!     ..Default::default()
//! };
//! assert_eq!(fluent, literal);
//! ```
//!
//! # Fluent setters
//!
//! Every field `f` of [`UpdateConnection`], [`OidcPatch`], [`SamlPatch`] and
//! [`AttributeMappingPatch`] has a setter `f(value)` (sets [`Patch::Value`]); every nullable
//! field also has `clear_f()` (sets [`Patch::Null`]). [`CreateConnection`] has a setter per
//! optional field.

#[cfg(feature = "testing")]
mod compose;
mod setters;

#[cfg(feature = "testing")]
pub use compose::Compose;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::login_hint::LoginHint;
use crate::provider::Provider;
use crate::secret::ClientSecret;

/// One field of a partial update: absent (keep), `null` (clear) or a value (set).
///
/// Deserialising needs `#[serde(default)]` on the field so that a missing key becomes
/// [`Patch::Absent`]; a JSON `null` becomes [`Patch::Null`] and anything else
/// [`Patch::Value`].
///
/// ```
/// use enterprise_sso::Patch;
/// #[derive(serde::Deserialize)]
/// struct P { #[serde(default)] a: Patch<u32>, #[serde(default)] b: Patch<u32>, #[serde(default)] c: Patch<u32> }
/// let p: P = serde_json::from_str(r#"{"b": null, "c": 7}"#).unwrap();
/// assert_eq!((p.a, p.b, p.c), (Patch::Absent, Patch::Null, Patch::Value(7)));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Patch<T> {
    /// Not given: keep the current value.
    #[default]
    Absent,
    /// Explicit `null`: clear the value (only for nullable fields).
    Null,
    /// Set to this value.
    Value(T),
}

impl<T> Patch<T> {
    /// True for [`Patch::Absent`].
    pub fn is_absent(&self) -> bool {
        matches!(self, Patch::Absent)
    }

    /// The value, if one is set.
    pub fn as_value(&self) -> Option<&T> {
        match self {
            Patch::Value(v) => Some(v),
            _ => None,
        }
    }
}

impl<T> From<Option<T>> for Patch<T> {
    /// `None` becomes [`Patch::Absent`] (not `Null`): used to turn create parameters into
    /// a patch over a blank connection.
    fn from(o: Option<T>) -> Self {
        o.map_or(Patch::Absent, Patch::Value)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Patch<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Option::<T>::deserialize(d).map(|o| o.map_or(Patch::Null, Patch::Value))
    }
}

impl<T: Serialize> Serialize for Patch<T> {
    /// `Null` and `Absent` both serialise as `null`; skip absent fields with
    /// `#[serde(skip_serializing_if = "Patch::is_absent")]`.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Patch::Value(v) => v.serialize(s),
            Patch::Absent | Patch::Null => s.serialize_none(),
        }
    }
}

/// Partial update of a connection (seed 004, plus `disable_additional_identifications`).
///
/// `domains` replaces the whole list; `oidc` and `saml` merge field by field into the
/// existing configuration. Unknown fields are refused when decoding.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UpdateConnection {
    /// New label.
    pub name: Patch<String>,
    /// New provider; switching to the other protocol needs that protocol's block and
    /// drops the old configuration.
    pub provider: Patch<Provider>,
    /// Activate or deactivate.
    pub active: Patch<bool>,
    /// Organization scope; `null` makes the connection instance-wide.
    pub organization_id: Patch<String>,
    /// Replacement domain list.
    pub domains: Patch<Vec<String>>,
    /// Whether to sync user attributes on every sign-in.
    pub sync_user_attributes: Patch<bool>,
    /// Whether additional identifications are disabled.
    pub disable_additional_identifications: Patch<bool>,
    /// Whether the connection may be used for sign-in and sign-up.
    pub authenticatable: Patch<bool>,
    /// Whether just-in-time provisioning is disabled.
    pub disable_jit_provisioning: Patch<bool>,
    /// Whether organization members may link their accounts.
    pub allow_organization_account_linking: Patch<bool>,
    /// OIDC changes (only for OIDC providers).
    pub oidc: Patch<OidcPatch>,
    /// SAML changes (only for SAML providers).
    pub saml: Patch<SamlPatch>,
}

/// Changes to the OIDC configuration. The URL fields, `client_id` and `client_secret` are
/// nullable; `requires_pkce` is not. Equality compares the secret in constant time.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OidcPatch {
    /// Authorization endpoint.
    pub auth_url: Patch<String>,
    /// Client id.
    pub client_id: Patch<String>,
    /// Client secret (write-only; `null` makes a public client).
    pub client_secret: Patch<ClientSecret>,
    /// Discovery document URL.
    pub discovery_url: Patch<String>,
    /// Whether PKCE is required.
    pub requires_pkce: Patch<bool>,
    /// Token endpoint.
    pub token_url: Patch<String>,
    /// User-info endpoint.
    pub user_info_url: Patch<String>,
}

impl PartialEq for OidcPatch {
    fn eq(&self, o: &Self) -> bool {
        let secrets_equal = match (&self.client_secret, &o.client_secret) {
            (Patch::Value(a), Patch::Value(b)) => a.ct_eq(b),
            (Patch::Absent, Patch::Absent) | (Patch::Null, Patch::Null) => true,
            _ => false,
        };
        secrets_equal
            && self.auth_url == o.auth_url
            && self.client_id == o.client_id
            && self.discovery_url == o.discovery_url
            && self.requires_pkce == o.requires_pkce
            && self.token_url == o.token_url
            && self.user_info_url == o.user_info_url
    }
}

impl Eq for OidcPatch {}

/// Changes to the SAML configuration. The IdP fields are nullable; the booleans are not.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SamlPatch {
    /// Allow IdP-initiated flows.
    pub allow_idp_initiated: Patch<bool>,
    /// Allow email subdomains (stored on the connection).
    pub allow_subdomains: Patch<bool>,
    /// Attribute mapping changes; `null` resets every mapping to its default.
    pub attribute_mapping: Patch<AttributeMappingPatch>,
    /// Force re-authentication.
    pub force_authn: Patch<bool>,
    /// IdP certificate(s): PEM (one or more `CERTIFICATE` blocks) or base64 DER. Sets the
    /// certificate set to these; `null` clears it (manual chapter 3).
    pub idp_certificate: Patch<String>,
    /// IdP certificates, each PEM or base64 DER: sets the certificate set. Given beside
    /// `idp_certificate`, the set is both together; `null` clears it.
    pub idp_certificates: Patch<Vec<String>>,
    /// IdP entity id.
    pub idp_entity_id: Patch<String>,
    /// Raw IdP metadata XML.
    pub idp_metadata: Patch<String>,
    /// IdP metadata URL.
    pub idp_metadata_url: Patch<String>,
    /// IdP SSO URL.
    pub idp_sso_url: Patch<String>,
    /// The `login_hint` sent to the IdP; `null` restores the default (`email_address`).
    pub login_hint: Patch<LoginHint>,
}

/// Changes to the SAML attribute mapping; every field is nullable.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct AttributeMappingPatch {
    /// Attribute for the email address.
    #[serde(skip_serializing_if = "Patch::is_absent")]
    pub email_address: Patch<String>,
    /// Attribute for the first name.
    #[serde(skip_serializing_if = "Patch::is_absent")]
    pub first_name: Patch<String>,
    /// Attribute for the last name.
    #[serde(skip_serializing_if = "Patch::is_absent")]
    pub last_name: Patch<String>,
    /// Attribute for the user id.
    #[serde(skip_serializing_if = "Patch::is_absent")]
    pub user_id: Patch<String>,
}

/// Parameters of a new connection (seed 001, plus `provider` and
/// `disable_additional_identifications`). Only `provider` is required here; `name` is
/// required by validation.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateConnection {
    /// Identity provider.
    pub provider: Provider,
    /// Label (required, non-empty).
    #[serde(default)]
    pub name: Option<String>,
    /// Active on creation (default `false`).
    #[serde(default)]
    pub active: Option<bool>,
    /// Domains to claim.
    #[serde(default)]
    pub domains: Option<Vec<String>>,
    /// Organization scope.
    #[serde(default)]
    pub organization_id: Option<String>,
    /// OIDC settings (OIDC providers only).
    #[serde(default)]
    pub oidc: Option<OidcPatch>,
    /// SAML settings (SAML providers only).
    #[serde(default)]
    pub saml: Option<SamlPatch>,
    /// Sync user attributes on every sign-in (default `false`).
    #[serde(default)]
    pub sync_user_attributes: Option<bool>,
    /// Disable additional identifications (default `false`).
    #[serde(default)]
    pub disable_additional_identifications: Option<bool>,
    /// May be used for sign-in and sign-up (default `true`).
    #[serde(default)]
    pub authenticatable: Option<bool>,
    /// Just-in-time provisioning disabled (default `false`).
    #[serde(default)]
    pub disable_jit_provisioning: Option<bool>,
    /// Organization members may link their accounts (default `false`).
    #[serde(default)]
    pub allow_organization_account_linking: Option<bool>,
}

impl CreateConnection {
    /// Minimal parameters: a provider and a name.
    pub fn new(provider: Provider, name: impl Into<String>) -> Self {
        CreateConnection {
            provider,
            name: Some(name.into()),
            active: None,
            domains: None,
            organization_id: None,
            oidc: None,
            saml: None,
            sync_user_attributes: None,
            disable_additional_identifications: None,
            authenticatable: None,
            disable_jit_provisioning: None,
            allow_organization_account_linking: None,
        }
    }

    /// The same parameters as a patch over a blank connection of this provider.
    pub fn to_patch(&self) -> UpdateConnection {
        UpdateConnection {
            name: self.name.clone().into(),
            provider: Patch::Absent,
            active: self.active.into(),
            organization_id: self.organization_id.clone().into(),
            domains: self.domains.clone().into(),
            sync_user_attributes: self.sync_user_attributes.into(),
            disable_additional_identifications: self.disable_additional_identifications.into(),
            authenticatable: self.authenticatable.into(),
            disable_jit_provisioning: self.disable_jit_provisioning.into(),
            allow_organization_account_linking: self.allow_organization_account_linking.into(),
            oidc: self.oidc.clone().into(),
            saml: self.saml.clone().into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_absent_null_value() {
        let p: UpdateConnection = serde_json::from_str(
            r#"{"name":"Acme","organization_id":null,"saml":{"attribute_mapping":{"first_name":null,"email_address":"mail"}}}"#,
        )
        .unwrap();
        assert_eq!(p.name, Patch::Value("Acme".into()));
        assert_eq!(p.organization_id, Patch::Null);
        assert_eq!(p.active, Patch::Absent);
        let am = p
            .saml
            .as_value()
            .unwrap()
            .attribute_mapping
            .as_value()
            .unwrap();
        assert_eq!(am.first_name, Patch::Null);
        assert_eq!(am.email_address, Patch::Value("mail".into()));
        assert_eq!(am.user_id, Patch::Absent);
    }

    #[test]
    fn unknown_fields_are_refused_by_name() {
        let err = serde_json::from_str::<UpdateConnection>(r#"{"nmae":"x"}"#).unwrap_err();
        assert!(err.to_string().contains("nmae"), "{err}");
        let err =
            serde_json::from_str::<UpdateConnection>(r#"{"oidc":{"secret":"x"}}"#).unwrap_err();
        assert!(err.to_string().contains("secret"), "{err}");
    }
}
