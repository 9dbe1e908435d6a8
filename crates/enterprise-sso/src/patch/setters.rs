//! Fluent setters on the parameter types, so a patch reads as what it changes:
//! `UpdateConnection::default().name("Acme").clear_organization_id()`.

use super::{
    AttributeMappingPatch, CreateConnection, OidcPatch, Patch, SamlPatch, UpdateConnection,
};
use crate::connection::{attribute_mapping_fields, connection_fields, oidc_fields, saml_fields};
use crate::fields::plain_only;
use crate::provider::Provider;

/// `set` methods for `Patch` fields: `field(value)` and, for nullable fields, `clear_field()`.
macro_rules! patch_setters {
    ($ty:ty { $($field:ident: $val:ty $(, clear $clear:ident)?;)* }) => {
        impl $ty {
            $(
                #[doc = concat!("Sets `", stringify!($field), "`.")]
                #[must_use]
                pub fn $field(mut self, value: impl Into<$val>) -> Self {
                    self.$field = Patch::Value(value.into());
                    self
                }
                $(
                    #[doc = concat!("Clears `", stringify!($field), "` (`null`).")]
                    #[must_use]
                    pub fn $clear(mut self) -> Self {
                        self.$field = Patch::Null;
                        self
                    }
                )?
            )*
        }
    };
}

/// Setters for the plain fields of a table: `field(value)`, and `clear_field()` where the
/// table names one.
macro_rules! table_setters {
    ({$ty:ty} $( { $(#[$doc:meta])* $name:ident: $kind:ident $val:ty
        $(= $blank:expr)? $(, clear $clear:ident)? $(, stored $st:meta)? } )*) => {
        patch_setters!($ty { $( $name: $val $(, clear $clear)?; )* });
    };
}

connection_fields!(plain_only table_setters {UpdateConnection} []);
patch_setters!(UpdateConnection {
    provider: Provider;
    domains: Vec<String>;
    oidc: OidcPatch;
    saml: SamlPatch;
});

oidc_fields!(plain_only table_setters {OidcPatch} []);

saml_fields!(plain_only table_setters {SamlPatch} []);
patch_setters!(SamlPatch {
    allow_subdomains: bool;
    attribute_mapping: AttributeMappingPatch, clear clear_attribute_mapping;
    idp_certificate: String, clear clear_idp_certificate;
    idp_certificates: Vec<String>, clear clear_idp_certificates;
});

attribute_mapping_fields!(plain_only table_setters {AttributeMappingPatch} []);

/// Setters for the optional fields of [`CreateConnection`].
macro_rules! option_setters {
    ($ty:ty { $($field:ident: $val:ty;)* }) => {
        impl $ty {
            $(
                #[doc = concat!("Sets `", stringify!($field), "`.")]
                #[must_use]
                pub fn $field(mut self, value: impl Into<$val>) -> Self {
                    self.$field = Some(value.into());
                    self
                }
            )*
        }
    };
}

/// Setters for the plain fields of [`CreateConnection`] but `name` (given to `new`).
macro_rules! create_setters {
    ({} { $(#[$ndoc:meta])* name: $($name_entry:tt)* }
        $( { $(#[$doc:meta])* $name:ident: $kind:ident $val:ty
        $(= $blank:expr)? $(, clear $clear:ident)? $(, stored $st:meta)? } )*) => {
        option_setters!(CreateConnection { $( $name: $val; )* });
    };
}

connection_fields!(plain_only create_setters {} []);
option_setters!(CreateConnection {
    oidc: OidcPatch;
    saml: SamlPatch;
});

impl CreateConnection {
    /// Sets the domains to claim.
    #[must_use]
    pub fn domains<I, S>(mut self, domains: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.domains = Some(domains.into_iter().map(Into::into).collect());
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn setters_equal_struct_literals() {
        let fluent = UpdateConnection::default()
            .active(true)
            .clear_organization_id()
            .domains(vec!["a.com".to_owned()])
            .saml(
                SamlPatch::default()
                    .idp_entity_id("urn:idp")
                    .clear_idp_metadata_url()
                    .attribute_mapping(AttributeMappingPatch::default().clear_user_id()),
            );
        let literal = UpdateConnection {
            active: Patch::Value(true),
            organization_id: Patch::Null,
            domains: Patch::Value(vec!["a.com".into()]),
            saml: Patch::Value(SamlPatch {
                idp_entity_id: Patch::Value("urn:idp".into()),
                idp_metadata_url: Patch::Null,
                attribute_mapping: Patch::Value(AttributeMappingPatch {
                    user_id: Patch::Null,
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(fluent, literal);

        let create = CreateConnection::new(Provider::OidcCustom, "Acme")
            .domains(["acme.com"])
            .active(true)
            .oidc(OidcPatch::default().client_secret("s").clear_auth_url());
        assert_eq!(create.domains, Some(vec!["acme.com".to_owned()]));
        assert_eq!(create.active, Some(true));
        let oidc = create
            .oidc
            .as_ref()
            .map(|o| (&o.client_secret, &o.auth_url));
        assert!(matches!(oidc, Some((Patch::Value(s), Patch::Null)) if s.expose_secret() == "s"));
    }
}
