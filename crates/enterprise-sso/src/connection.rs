//! The stored enterprise connection and its protocol configuration.

use crate::cert_set::IdpCertificate;
use crate::ids::ConnectionId;
use crate::millis::UnixMillis;
use crate::provider::{Protocol, Provider};

/// The connection's own fields, listed once (the rules of a table: [`crate::fields`]): the
/// struct, [`crate::UpdateConnection`], [`crate::CreateConnection`], their setters, the merge,
/// the storage record and the diff of `connection.updated` follow this list. `blank` names
/// what a new connection starts from ([`crate::build`]).
macro_rules! connection_fields {
    ($cb:ident $($args:tt)*) => { $cb! { $($args)* blank(id, provider, now)
        { /// Label shown to people.
          name: req String = String::new() }
        { /// Identity provider; its protocol always matches `config`.
          provider: special $crate::Provider = provider }
        { /// Whether sign-ins may use the connection.
          active: req bool = false }
        { /// Organization the connection is scoped to, if any; `null` makes it instance-wide.
          organization_id: opt String, clear clear_organization_id }
        { /// Email domains routed to this connection, normalised and unique across connections.
          domains: special Vec<$crate::Domain> = Vec::new() }
        { /// Whether users with an email address on a subdomain of `domains` may use it
          /// (set through `saml.allow_subdomains`).
          allow_subdomains: special bool = false }
        { /// Whether additional identifications are disabled for users of this connection.
          disable_additional_identifications: req bool = false }
        { /// Whether user attributes are synced from the IdP on every sign-in.
          sync_user_attributes: req bool = false }
        { /// Whether the connection may be used for sign-in and sign-up at all (default
          /// `true`); `false` keeps it configured but refuses every sign-in through it
          /// ([`crate::SignInRefusal::NotAuthenticatable`]).
          authenticatable: req bool = true, stored serde(default = "yes") }
        { /// Whether just-in-time provisioning is off: a sign-in that would create a new
          /// enterprise account is refused ([`crate::SignInRefusal::JitProvisioningDisabled`]);
          /// existing accounts still sign in (default `false`).
          disable_jit_provisioning: req bool = false, stored serde(default) }
        { /// Whether existing members of the organization may link their account to their
          /// enterprise identity (stored and returned; the host's user store acts on it).
          allow_organization_account_linking: req bool = false, stored serde(default) }
    } };
}
pub(crate) use connection_fields;

macro_rules! define_connection {
    (blank($id:ident, $provider:ident, $now:ident) $( { $(#[$doc:meta])* $name:ident: $kind:ident $ty:ty
        $(= $blank:expr)? $(, clear $clear:ident)? $(, stored $st:meta)? } )*) => {
        /// An enterprise SSO connection (Clerk's `EnterpriseConnection`, WorkOS's `Connection`).
        ///
        /// The protocol is not stored: it follows from [`ProtocolConfig`], which holds exactly one
        /// of the SAML or OIDC configurations, so a connection can never carry both. The WorkOS
        /// state is derived as well ([`EnterpriseConnection::state`]).
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct EnterpriseConnection {
            /// Unique id, `ent_` + ULID.
            pub id: ConnectionId,
            $( $(#[$doc])* pub $name: crate::fields::field_ty!($kind $ty), )*
            /// The protocol configuration.
            pub config: ProtocolConfig,
            /// When the first successful authentication through this connection happened (Unix ms).
            pub first_authenticated_at: Option<crate::UnixMillis>,
            /// Creation time.
            pub created_at: crate::UnixMillis,
            /// Last update time.
            pub updated_at: crate::UnixMillis,
            /// Optimistic-concurrency version: 1 on create, +1 on every write.
            pub version: u64,
        }

        impl EnterpriseConnection {
            /// What [`crate::build`] applies create parameters to: inactive, an empty
            /// configuration of the provider's protocol, every field at its blank value.
            pub(crate) fn blank($id: ConnectionId, $provider: Provider, $now: i64) -> Self {
                EnterpriseConnection {
                    $id,
                    $( $name: crate::connection::blank_value!($kind $(= $blank)?), )*
                    config: ProtocolConfig::empty($provider.protocol()),
                    first_authenticated_at: None,
                    created_at: UnixMillis::new($now),
                    updated_at: UnixMillis::new($now),
                    version: 0,
                }
            }
        }
    };
}

/// The blank value of a field: the table's, else `None` for optional kinds.
macro_rules! blank_value {
    ($kind:ident = $blank:expr) => {
        $blank
    };
    (opt) => {
        None
    };
    (secret) => {
        None
    };
    (dflt) => {
        Default::default()
    };
}
pub(crate) use blank_value;

connection_fields!(define_connection);

/// Whether a connection can authenticate users (WorkOS `state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConnectionState {
    /// Not active: cannot authenticate users.
    Inactive,
    /// Active, but no successful authentication has been recorded yet.
    Validating,
    /// Active, and at least one user has authenticated through it.
    Active,
}

impl ConnectionState {
    /// The lowercase WorkOS spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectionState::Inactive => "inactive",
            ConnectionState::Validating => "validating",
            ConnectionState::Active => "active",
        }
    }
}

impl EnterpriseConnection {
    /// The protocol, derived from the configuration present.
    pub fn protocol(&self) -> Protocol {
        self.config.protocol()
    }

    /// The WorkOS state, derived from `active` and `first_authenticated_at`.
    pub fn state(&self) -> ConnectionState {
        match (self.active, self.first_authenticated_at) {
            (false, _) => ConnectionState::Inactive,
            (true, None) => ConnectionState::Validating,
            (true, Some(_)) => ConnectionState::Active,
        }
    }

    /// When the connection's IdP certificates run out: the latest expiry in its set (SAML
    /// connections with a certificate). A connection needs renewal only when every
    /// certificate is about to expire; this is what the stores' expiry index holds.
    pub fn certificate_expires_at(&self) -> Option<UnixMillis> {
        self.saml().and_then(|s| s.latest_certificate_expiry())
    }

    /// The SAML configuration, if this is a SAML connection.
    pub fn saml(&self) -> Option<&SamlConfig> {
        match &self.config {
            ProtocolConfig::Saml(c) => Some(c),
            ProtocolConfig::Oidc(_) => None,
        }
    }

    /// The OIDC configuration, if this is an OIDC connection.
    pub fn oidc(&self) -> Option<&OidcConfig> {
        match &self.config {
            ProtocolConfig::Oidc(c) => Some(c),
            ProtocolConfig::Saml(_) => None,
        }
    }
}

/// Exactly one protocol configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProtocolConfig {
    /// SAML 2.0 settings.
    Saml(SamlConfig),
    /// OAuth / OIDC settings.
    Oidc(OidcConfig),
}

impl ProtocolConfig {
    /// The protocol of this configuration.
    pub fn protocol(&self) -> Protocol {
        match self {
            ProtocolConfig::Saml(_) => Protocol::Saml,
            ProtocolConfig::Oidc(_) => Protocol::Oauth,
        }
    }

    /// An empty configuration for `protocol`.
    pub fn empty(protocol: Protocol) -> Self {
        match protocol {
            Protocol::Saml => ProtocolConfig::Saml(SamlConfig::default()),
            Protocol::Oauth => ProtocolConfig::Oidc(OidcConfig::default()),
        }
    }
}

/// The OIDC configuration's fields, listed once (see [`connection_fields`]).
macro_rules! oidc_fields {
    ($cb:ident $($args:tt)*) => { $cb! { $($args)*
        { /// Authorization endpoint.
          auth_url: opt String, clear clear_auth_url }
        { /// Client id registered at the provider.
          client_id: opt String, clear clear_client_id }
        { /// Client secret (write-only on the wire); `None` for a public client, which then
          /// must use PKCE.
          client_secret: secret $crate::ClientSecret, clear clear_client_secret }
        { /// OpenID discovery document URL.
          discovery_url: opt String, clear clear_discovery_url }
        { /// The issuer named by the discovery document, as given (Entra's `common` endpoint
          /// gives the `{tenantid}` template), so the host's ID-token check can use it. Set by
          /// `enterprise_sso_flows::Flows::refresh`, cleared when `discovery_url` changes; not settable
          /// through create or update.
          issuer: special Option<String> }
        { /// Whether PKCE is used. Must be true when there is no client secret.
          requires_pkce: req bool }
        { /// Token endpoint.
          token_url: opt String, clear clear_token_url }
        { /// User-info endpoint.
          user_info_url: opt String, clear clear_user_info_url }
    } };
}
pub(crate) use oidc_fields;

macro_rules! define_oidc {
    ($( { $(#[$doc:meta])* $name:ident: $kind:ident $ty:ty
        $(= $blank:expr)? $(, clear $clear:ident)? $(, stored $st:meta)? } )*) => {
        /// OAuth (OIDC) configuration (Clerk's `oauth_config`).
        ///
        /// Equality compares the client secret in constant time ([`crate::ClientSecret::ct_eq`]).
        #[derive(Debug, Clone, Default)]
        pub struct OidcConfig {
            $( $(#[$doc])* pub $name: crate::fields::field_ty!($kind $ty), )*
        }

        impl PartialEq for OidcConfig {
            fn eq(&self, other: &Self) -> bool {
                $( crate::fields::field_eq!($kind, self.$name, other.$name) && )* true
            }
        }
    };
}

oidc_fields!(define_oidc);

impl Eq for OidcConfig {}

/// The SAML configuration's fields, listed once (see [`connection_fields`]).
/// `allow_subdomains` lives on the connection itself.
macro_rules! saml_fields {
    ($cb:ident $($args:tt)*) => { $cb! { $($args)*
        { /// Whether IdP-initiated flows are allowed.
          allow_idp_initiated: req bool }
        { /// Which IdP attributes hold the user's fields.
          attribute_mapping: special $crate::AttributeMapping }
        { /// Whether the IdP must re-authenticate the user on every sign-in.
          force_authn: req bool }
        { /// Every signing certificate of the IdP (given, or read from the metadata's signing
          /// `KeyDescriptor`s), in order, each with its validity window. The rules: manual
          /// chapter 3.
          idp_certificates: special Vec<$crate::IdpCertificate> }
        { /// IdP entity id.
          idp_entity_id: opt String, clear clear_idp_entity_id }
        { /// Raw IdP metadata XML.
          idp_metadata: opt String, clear clear_idp_metadata }
        { /// Where the IdP metadata can be fetched.
          idp_metadata_url: opt String, clear clear_idp_metadata_url }
        { /// IdP single-sign-on URL.
          idp_sso_url: opt String, clear clear_idp_sso_url }
        { /// The `login_hint` sent to the IdP; `null` in a patch restores the default
          /// (`email_address`).
          login_hint: dflt $crate::LoginHint, clear clear_login_hint, stored serde(default) }
        { /// Display name of the SAML configuration (Clerk's `saml.name`); `None` shows the
          /// connection's own name.
          name: opt String, clear clear_name,
          stored serde(default, skip_serializing_if = "Option::is_none") }
    } };
}
pub(crate) use saml_fields;

macro_rules! define_saml {
    ($( { $(#[$doc:meta])* $name:ident: $kind:ident $ty:ty
        $(= $blank:expr)? $(, clear $clear:ident)? $(, stored $st:meta)? } )*) => {
        /// SAML configuration (Clerk's `saml_connection`). `allow_subdomains` lives on the
        /// connection itself ([`EnterpriseConnection::allow_subdomains`]).
        #[derive(Debug, Clone, PartialEq, Eq, Default)]
        pub struct SamlConfig {
            $( $(#[$doc])* pub $name: crate::fields::field_ty!($kind $ty), )*
            /// The primary IdP signing certificate ([`IdpCertificate::primary_of`]
            /// [`Self::idp_certificates`] at the time of the write), as canonical PEM.
            pub idp_certificate: Option<String>,
            /// Start of the primary certificate's validity (Unix ms), derived by [`crate::merge()`].
            pub idp_certificate_issued_at: Option<crate::UnixMillis>,
            /// End of the primary certificate's validity (Unix ms), derived by [`crate::merge()`].
            pub idp_certificate_expires_at: Option<crate::UnixMillis>,
            /// Renewal reminders already sent (one per certificate and threshold), so
            /// [`crate::Connections::certificate_renewal_check`] appends each
            /// `connection.saml_certificate_renewal_required` event once. Bookkeeping: not part of
            /// the configuration, never in `connection.updated`'s changed paths.
            pub renewal_notices: Vec<RenewalNotice>,
        }
    };
}

saml_fields!(define_saml);

/// One renewal reminder sent for a certificate of a SAML connection.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RenewalNotice {
    /// End of validity of the certificate concerned.
    pub certificate_expires_at: UnixMillis,
    /// CRC-32 of the certificate's PEM (with the expiry, it names the certificate).
    pub certificate_crc: u32,
    /// The threshold crossed, in days.
    pub threshold_days: u32,
    /// When the check noticed it.
    pub noticed_at: UnixMillis,
}

impl RenewalNotice {
    /// Whether this notice is for the same certificate and threshold as `other`.
    pub fn same_as(&self, other: &RenewalNotice) -> bool {
        (
            self.certificate_expires_at,
            self.certificate_crc,
            self.threshold_days,
        ) == (
            other.certificate_expires_at,
            other.certificate_crc,
            other.threshold_days,
        )
    }
}

impl SamlConfig {
    /// The certificates valid at `now`: a SAML response signed by any of them is the
    /// IdP's (during a rotation, both the old and the new one).
    pub fn valid_certificates(&self, now: UnixMillis) -> impl Iterator<Item = &IdpCertificate> {
        self.idp_certificates
            .iter()
            .filter(move |c| c.is_valid_at(now))
    }

    /// The latest expiry among the certificates ([`IdpCertificate::latest_expiry_of`]).
    pub fn latest_certificate_expiry(&self) -> Option<UnixMillis> {
        crate::cert_set::latest_expiry(&self.idp_certificates)
    }
}

/// The SAML attribute mapping's fields, listed once (see [`connection_fields`]): which IdP
/// attribute holds each of the user's fields. Stored as `map_` + the name (by hand in the
/// codec).
macro_rules! attribute_mapping_fields {
    ($cb:ident $($args:tt)*) => { $cb! { $($args)*
        { /// Attribute holding the email address.
          email_address: opt String, clear clear_email_address }
        { /// Attribute holding the first name.
          first_name: opt String, clear clear_first_name }
        { /// Attribute holding the last name.
          last_name: opt String, clear clear_last_name }
        { /// Attribute holding the user id.
          user_id: opt String, clear clear_user_id }
    } };
}
pub(crate) use attribute_mapping_fields;

macro_rules! define_mapping {
    ($( { $(#[$doc:meta])* $name:ident: $kind:ident $ty:ty
        $(= $blank:expr)? $(, clear $clear:ident)? $(, stored $st:meta)? } )*) => {
        /// SAML attribute names for the user's fields; `None` uses the default.
        #[derive(Debug, Clone, PartialEq, Eq, Default)]
        pub struct AttributeMapping {
            $( $(#[$doc])* pub $name: crate::fields::field_ty!($kind $ty), )*
        }
    };
}

attribute_mapping_fields!(define_mapping);
