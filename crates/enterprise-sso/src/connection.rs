//! The stored enterprise connection and its protocol configuration.

use crate::cert_set::IdpCertificate;
use crate::domain::Domain;
use crate::ids::ConnectionId;
use crate::provider::{Protocol, Provider};
use crate::secret::ClientSecret;

/// An enterprise SSO connection (Clerk's `EnterpriseConnection`, WorkOS's `Connection`).
///
/// The protocol is not stored: it follows from [`ProtocolConfig`], which holds exactly one
/// of the SAML or OIDC configurations, so a connection can never carry both. The WorkOS
/// state is derived as well ([`EnterpriseConnection::state`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnterpriseConnection {
    /// Unique id, `ent_` + ULID.
    pub id: ConnectionId,
    /// Label shown to people.
    pub name: String,
    /// Identity provider; its protocol always matches `config`.
    pub provider: Provider,
    /// Whether sign-ins may use the connection.
    pub active: bool,
    /// Organization the connection is scoped to, if any.
    pub organization_id: Option<String>,
    /// Email domains routed to this connection, normalised and unique across connections.
    pub domains: Vec<Domain>,
    /// Whether users with an email address on a subdomain of `domains` may use it
    /// (set through `saml.allow_subdomains`).
    pub allow_subdomains: bool,
    /// Whether additional identifications are disabled for users of this connection.
    pub disable_additional_identifications: bool,
    /// Whether user attributes are synced from the IdP on every sign-in.
    pub sync_user_attributes: bool,
    /// Whether the connection may be used for sign-in and sign-up at all (default
    /// `true`); `false` keeps it configured but refuses every sign-in through it
    /// ([`crate::SignInRefusal::NotAuthenticatable`]).
    pub authenticatable: bool,
    /// Whether just-in-time provisioning is off: a sign-in that would create a new
    /// enterprise account is refused ([`crate::SignInRefusal::JitProvisioningDisabled`]);
    /// existing accounts still sign in (default `false`).
    pub disable_jit_provisioning: bool,
    /// Whether existing members of the organization may link their account to their
    /// enterprise identity (stored and returned; the host's user store acts on it).
    pub allow_organization_account_linking: bool,
    /// The protocol configuration.
    pub config: ProtocolConfig,
    /// When the first successful authentication through this connection happened (Unix ms).
    pub first_authenticated_at: Option<i64>,
    /// Creation time, Unix ms.
    pub created_at: i64,
    /// Last update time, Unix ms.
    pub updated_at: i64,
    /// Optimistic-concurrency version: 1 on create, +1 on every write.
    pub version: u64,
}

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
    pub fn certificate_expires_at(&self) -> Option<i64> {
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

/// OAuth (OIDC) configuration (Clerk's `oauth_config`).
///
/// Equality compares the client secret in constant time ([`ClientSecret::ct_eq`]).
#[derive(Debug, Clone, Default)]
pub struct OidcConfig {
    /// Authorization endpoint.
    pub auth_url: Option<String>,
    /// Client id registered at the provider.
    pub client_id: Option<String>,
    /// Client secret; `None` for a public client, which then must use PKCE.
    pub client_secret: Option<ClientSecret>,
    /// OpenID discovery document URL.
    pub discovery_url: Option<String>,
    /// Whether PKCE is used. Must be true when there is no client secret.
    pub requires_pkce: bool,
    /// Token endpoint.
    pub token_url: Option<String>,
    /// User-info endpoint.
    pub user_info_url: Option<String>,
    /// The issuer named by the discovery document, as given (Entra's `common` endpoint
    /// gives the `{tenantid}` template), so the host's ID-token check can use it. Set by
    /// [`crate::Connections::refresh`], cleared when `discovery_url` changes; not settable
    /// through create or update.
    pub issuer: Option<String>,
}

impl PartialEq for OidcConfig {
    fn eq(&self, other: &Self) -> bool {
        let secrets_equal = match (&self.client_secret, &other.client_secret) {
            (Some(a), Some(b)) => a.ct_eq(b),
            (None, None) => true,
            _ => false,
        };
        secrets_equal
            && self.auth_url == other.auth_url
            && self.client_id == other.client_id
            && self.discovery_url == other.discovery_url
            && self.requires_pkce == other.requires_pkce
            && self.token_url == other.token_url
            && self.user_info_url == other.user_info_url
            && self.issuer == other.issuer
    }
}

impl Eq for OidcConfig {}

/// SAML configuration (Clerk's `saml_connection`). `allow_subdomains` lives on the
/// connection itself ([`EnterpriseConnection::allow_subdomains`]).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SamlConfig {
    /// Whether IdP-initiated flows are allowed.
    pub allow_idp_initiated: bool,
    /// Which IdP attributes hold the user's fields.
    pub attribute_mapping: AttributeMapping,
    /// Whether the IdP must re-authenticate the user on every sign-in.
    pub force_authn: bool,
    /// The primary IdP signing certificate ([`IdpCertificate::primary_of`]
    /// [`Self::idp_certificates`] at the time of the write), as canonical PEM.
    pub idp_certificate: Option<String>,
    /// Start of the primary certificate's validity (Unix ms), derived by [`crate::merge()`].
    pub idp_certificate_issued_at: Option<i64>,
    /// End of the primary certificate's validity (Unix ms), derived by [`crate::merge()`].
    pub idp_certificate_expires_at: Option<i64>,
    /// Every signing certificate of the IdP (given, or read from the metadata's signing
    /// `KeyDescriptor`s), in order, each with its validity window. The rules: manual chapter 3.
    pub idp_certificates: Vec<IdpCertificate>,
    /// IdP entity id.
    pub idp_entity_id: Option<String>,
    /// Raw IdP metadata XML.
    pub idp_metadata: Option<String>,
    /// Where the IdP metadata can be fetched.
    pub idp_metadata_url: Option<String>,
    /// IdP single-sign-on URL.
    pub idp_sso_url: Option<String>,
    /// The `login_hint` sent to the IdP.
    pub login_hint: crate::login_hint::LoginHint,
    /// Renewal reminders already sent (one per certificate and threshold), so
    /// [`crate::Connections::certificate_renewal_check`] appends each
    /// `connection.saml_certificate_renewal_required` event once. Bookkeeping: not part of
    /// the configuration, never in `connection.updated`'s changed paths.
    pub renewal_notices: Vec<RenewalNotice>,
}

/// One renewal reminder sent for a certificate of a SAML connection.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RenewalNotice {
    /// End of validity of the certificate concerned, Unix ms.
    pub certificate_expires_at: i64,
    /// CRC-32 of the certificate's PEM (with the expiry, it names the certificate).
    pub certificate_crc: u32,
    /// The threshold crossed, in days.
    pub threshold_days: u32,
    /// When the check noticed it, Unix ms.
    pub noticed_at: i64,
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
    /// The certificates valid at `now_ms`: a SAML response signed by any of them is the
    /// IdP's (during a rotation, both the old and the new one).
    pub fn valid_certificates(&self, now_ms: i64) -> impl Iterator<Item = &IdpCertificate> {
        self.idp_certificates
            .iter()
            .filter(move |c| c.is_valid_at(now_ms))
    }

    /// The latest expiry among the certificates ([`IdpCertificate::latest_expiry_of`]).
    pub fn latest_certificate_expiry(&self) -> Option<i64> {
        crate::cert_set::latest_expiry(&self.idp_certificates)
    }
}

/// SAML attribute names for the user's fields; `None` uses the default.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AttributeMapping {
    /// Attribute holding the email address.
    pub email_address: Option<String>,
    /// Attribute holding the first name.
    pub first_name: Option<String>,
    /// Attribute holding the last name.
    pub last_name: Option<String>,
    /// Attribute holding the user id.
    pub user_id: Option<String>,
}
