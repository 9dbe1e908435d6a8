//! The two parties of an OIDC connection: the provider (its discovery metadata) and this
//! relying party (client id, redirect URI, secret, and the rules the connection sets).

use serde::Deserialize;

use super::refusal::OidcRefusal;
use crate::limits::Policy;
use crate::oidc::{parse_discovery, Discovery, ENTRA_TENANT_TEMPLATE};

crate::secret_type! {
    /// The OAuth client secret of a confidential client. The core keeps its own
    /// `ClientSecret`; hand its value over with `OidcClientSecret::new(s.expose_secret())`.
    pub OidcClientSecret
}

/// The default clock skew allowed on `exp`, `iat` and `nbf`: 120 seconds.
pub const DEFAULT_CLOCK_SKEW_MS: i64 = 120_000;

/// What the relying party reads from a provider's discovery document: the endpoints
/// ([`Discovery`], checked by [`parse_discovery`]) and the capabilities that choose the
/// flow's options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderMetadata {
    /// Issuer and endpoints.
    pub discovery: Discovery,
    /// `token_endpoint_auth_methods_supported`; empty when absent, which means
    /// `client_secret_basic` only (OIDC Discovery §3).
    pub token_endpoint_auth_methods_supported: Vec<String>,
    /// `id_token_signing_alg_values_supported`; the HS* algorithms are accepted only when
    /// listed here.
    pub id_token_signing_alg_values_supported: Vec<String>,
    /// `authorization_response_iss_parameter_supported` (RFC 9207): when true, a callback
    /// without `iss` is refused.
    pub authorization_response_iss_parameter_supported: bool,
}

#[derive(Deserialize)]
struct Extra {
    #[serde(default)]
    token_endpoint_auth_methods_supported: Option<Vec<String>>,
    #[serde(default)]
    id_token_signing_alg_values_supported: Option<Vec<String>>,
    #[serde(default)]
    authorization_response_iss_parameter_supported: Option<bool>,
}

impl ProviderMetadata {
    /// Parses a discovery document fetched from `discovery_url` ([`parse_discovery`]: size
    /// cap, required members, issuer rule, endpoint URL rules) and reads the capabilities.
    pub fn from_discovery(
        body: &[u8],
        discovery_url: &str,
        policy: &Policy,
    ) -> Result<Self, OidcRefusal> {
        let discovery =
            parse_discovery(body, discovery_url, policy).map_err(OidcRefusal::Discovery)?;
        let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
        // parse_discovery accepted the JSON, so this parse of the same bytes succeeds unless
        // a capability has the wrong type.
        let extra: Extra = serde_json::from_slice(body).map_err(|_| OidcRefusal::Config {
            problem: "the discovery document has a capability of the wrong JSON type".into(),
        })?;
        Ok(Self {
            discovery,
            token_endpoint_auth_methods_supported: extra
                .token_endpoint_auth_methods_supported
                .unwrap_or_default(),
            id_token_signing_alg_values_supported: extra
                .id_token_signing_alg_values_supported
                .unwrap_or_default(),
            authorization_response_iss_parameter_supported: extra
                .authorization_response_iss_parameter_supported
                .unwrap_or(false),
        })
    }

    /// Metadata for endpoints configured by hand: no capability advertised
    /// (`client_secret_basic`, no HS*, `iss` checked only when the callback has one).
    pub fn from_endpoints(discovery: Discovery) -> Self {
        Self {
            discovery,
            token_endpoint_auth_methods_supported: Vec::new(),
            id_token_signing_alg_values_supported: Vec::new(),
            authorization_response_iss_parameter_supported: false,
        }
    }

    /// The provider's issuer.
    pub fn issuer(&self) -> &str {
        &self.discovery.issuer
    }

    /// Whether the issuer is a multi-tenant template (Entra's `common` and
    /// `organizations` endpoints give `https://login.microsoftonline.com/{tenantid}/v2.0`).
    pub fn is_tenant_template(&self) -> bool {
        self.discovery.issuer.contains(ENTRA_TENANT_TEMPLATE)
    }
}

/// How the client authenticates at the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenAuthMethod {
    /// HTTP Basic with the form-encoded client id and secret (RFC 6749 §2.3.1).
    ClientSecretBasic,
    /// `client_id` and `client_secret` in the form body.
    ClientSecretPost,
    /// A public client: `client_id` in the form, no secret; PKCE is what binds the code.
    None,
}

impl TokenAuthMethod {
    /// The discovery name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ClientSecretBasic => "client_secret_basic",
            Self::ClientSecretPost => "client_secret_post",
            Self::None => "none",
        }
    }
}

/// This relying party as one connection presents it to its provider.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// The client id registered at the provider (the audience of its ID tokens).
    pub client_id: String,
    /// The client secret; `None` for a public client, which authenticates with PKCE only.
    pub client_secret: Option<OidcClientSecret>,
    /// The redirect URI registered at the provider (where the callback arrives).
    pub redirect_uri: String,
    /// Scopes requested besides `openid email profile`.
    pub extra_scopes: Vec<String>,
    /// For a provider whose issuer is a multi-tenant template (Entra `common`,
    /// `organizations`): the tenant ids (GUIDs) whose tokens are accepted. Empty: every
    /// token from such a provider is refused.
    pub allowed_tenants: Vec<String>,
    /// Clock skew allowed on `exp`, `iat` and `nbf`, ms ([`DEFAULT_CLOCK_SKEW_MS`]).
    pub clock_skew_ms: i64,
    /// Treat the provider's `email` as verified even without `email_verified: true`. Only
    /// for a provider whose directory the connection's organization controls (see the
    /// module documentation on Entra ID).
    pub provider_emails_verified: bool,
    /// The token endpoint authentication method; `None` chooses from discovery
    /// (`client_secret_basic` when listed or when nothing is listed, else
    /// `client_secret_post`; `none` for a public client).
    pub token_auth_method: Option<TokenAuthMethod>,
}

impl ClientConfig {
    /// A confidential or public client with the defaults: no extra scopes, no tenants,
    /// 120 s skew, emails verified only by `email_verified`, the auth method from
    /// discovery.
    pub fn new(
        client_id: impl Into<String>,
        client_secret: Option<OidcClientSecret>,
        redirect_uri: impl Into<String>,
    ) -> Self {
        Self {
            client_id: client_id.into(),
            client_secret,
            redirect_uri: redirect_uri.into(),
            extra_scopes: Vec::new(),
            allowed_tenants: Vec::new(),
            clock_skew_ms: DEFAULT_CLOCK_SKEW_MS,
            provider_emails_verified: false,
            token_auth_method: None,
        }
    }

    /// Whether this is a public client (no secret).
    pub fn is_public(&self) -> bool {
        self.client_secret.is_none()
    }
}
