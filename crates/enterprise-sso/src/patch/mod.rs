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

use crate::connection::{attribute_mapping_fields, connection_fields, oidc_fields, saml_fields};
use crate::fields::plain_only;
use crate::provider::Provider;

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

macro_rules! define_top_patch {
    ({} $( { $(#[$doc:meta])* $name:ident: $kind:ident $ty:ty
        $(= $blank:expr)? $(, clear $clear:ident)? $(, stored $st:meta)? } )*) => {
        /// Partial update of a connection (seed 004, plus `disable_additional_identifications`).
        ///
        /// `domains` replaces the whole list; `oidc` and `saml` merge field by field into the
        /// existing configuration. Unknown fields are refused when decoding. The other fields
        /// are the connection's ([`crate::EnterpriseConnection`]): a value sets one, `null`
        /// clears a nullable one.
        #[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
        #[serde(default, deny_unknown_fields)]
        pub struct UpdateConnection {
            /// New provider; switching to the other protocol needs that protocol's block and
            /// drops the old configuration.
            pub provider: Patch<Provider>,
            /// Replacement domain list.
            pub domains: Patch<Vec<String>>,
            $( $(#[$doc])* pub $name: Patch<$ty>, )*
            /// OIDC changes (only for OIDC providers).
            pub oidc: Patch<OidcPatch>,
            /// SAML changes (only for SAML providers).
            pub saml: Patch<SamlPatch>,
        }

        /// Parameters of a new connection (seed 001, plus `provider` and
        /// `disable_additional_identifications`). Only `provider` is required here; `name` is
        /// required by validation. A field not given takes the connection's blank value
        /// (`active` false, `authenticatable` true, ...).
        #[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct CreateConnection {
            /// Identity provider.
            pub provider: Provider,
            /// Domains to claim.
            #[serde(default)]
            pub domains: Option<Vec<String>>,
            $( $(#[$doc])* #[serde(default)] pub $name: Option<$ty>, )*
            /// OIDC settings (OIDC providers only).
            #[serde(default)]
            pub oidc: Option<OidcPatch>,
            /// SAML settings (SAML providers only).
            #[serde(default)]
            pub saml: Option<SamlPatch>,
        }

        impl CreateConnection {
            /// Minimal parameters: a provider and a name.
            pub fn new(provider: Provider, name: impl Into<String>) -> Self {
                let mut params = CreateConnection {
                    provider,
                    domains: None,
                    $( $name: None, )*
                    oidc: None,
                    saml: None,
                };
                params.name = Some(name.into());
                params
            }

            /// The same parameters as a patch over a blank connection of this provider.
            pub fn to_patch(&self) -> UpdateConnection {
                UpdateConnection {
                    provider: Patch::Absent,
                    domains: self.domains.clone().into(),
                    $( $name: self.$name.clone().into(), )*
                    oidc: self.oidc.clone().into(),
                    saml: self.saml.clone().into(),
                }
            }
        }
    };
}

connection_fields!(plain_only define_top_patch {} []);

macro_rules! define_oidc_patch {
    ({} $( { $(#[$doc:meta])* $name:ident: $kind:ident $ty:ty
        $(= $blank:expr)? $(, clear $clear:ident)? $(, stored $st:meta)? } )*) => {
        /// Changes to the OIDC configuration ([`crate::OidcConfig`]). The URL fields,
        /// `client_id` and `client_secret` are nullable; `requires_pkce` is not. Equality
        /// compares the secret in constant time.
        #[derive(Debug, Clone, Default, Deserialize)]
        #[serde(default, deny_unknown_fields)]
        pub struct OidcPatch {
            $( $(#[$doc])* pub $name: Patch<$ty>, )*
        }

        impl PartialEq for OidcPatch {
            fn eq(&self, o: &Self) -> bool {
                $( crate::fields::patch_eq!($kind, self.$name, o.$name) && )* true
            }
        }
    };
}

oidc_fields!(plain_only define_oidc_patch {} []);

impl Eq for OidcPatch {}

macro_rules! define_saml_patch {
    ({} $( { $(#[$doc:meta])* $name:ident: $kind:ident $ty:ty
        $(= $blank:expr)? $(, clear $clear:ident)? $(, stored $st:meta)? } )*) => {
        /// Changes to the SAML configuration ([`crate::SamlConfig`]). The IdP fields are
        /// nullable; the booleans are not.
        #[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
        #[serde(default, deny_unknown_fields)]
        pub struct SamlPatch {
            $( $(#[$doc])* pub $name: Patch<$ty>, )*
            /// Allow email subdomains (stored on the connection).
            pub allow_subdomains: Patch<bool>,
            /// Attribute mapping changes; `null` resets every mapping to its default.
            pub attribute_mapping: Patch<AttributeMappingPatch>,
            /// IdP certificate(s): PEM (one or more `CERTIFICATE` blocks) or base64 DER. Sets the
            /// certificate set to these; `null` clears it (manual chapter 3).
            pub idp_certificate: Patch<String>,
            /// IdP certificates, each PEM or base64 DER: sets the certificate set. Given beside
            /// `idp_certificate`, the set is both together; `null` clears it.
            pub idp_certificates: Patch<Vec<String>>,
        }
    };
}

saml_fields!(plain_only define_saml_patch {} []);

macro_rules! define_mapping_patch {
    ({} $( { $(#[$doc:meta])* $name:ident: $kind:ident $ty:ty
        $(= $blank:expr)? $(, clear $clear:ident)? $(, stored $st:meta)? } )*) => {
        /// Changes to the SAML attribute mapping ([`crate::AttributeMapping`]); every field
        /// is nullable.
        #[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
        #[serde(default, deny_unknown_fields)]
        pub struct AttributeMappingPatch {
            $( $(#[$doc])* #[serde(skip_serializing_if = "Patch::is_absent")] pub $name: Patch<$ty>, )*
        }
    };
}

attribute_mapping_fields!(plain_only define_mapping_patch {} []);

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
