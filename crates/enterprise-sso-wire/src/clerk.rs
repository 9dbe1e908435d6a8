//! Clerk Backend API shapes: `EnterpriseConnection`, list, deleted object, requests,
//! `EnterpriseAccount`.

use enterprise_sso::UnixMillis;
use serde::Serialize;

use crate::errors::{codes, decode_error, ApiErrors};
use enterprise_sso::{CreateConnection, Patch, UpdateConnection};
use enterprise_sso::{EnterpriseConnection, ProtocolConfig};

/// The parameters whose value must be a JSON object. serde would also accept an array
/// and fill the fields by position, which this API does not allow.
const OBJECTS: &[&[&str]] = &[&[], &["oidc"], &["saml"], &["saml", "attribute_mapping"]];

fn decode<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiErrors> {
    let value = crate::strict::parse(body)?;
    for path in OBJECTS {
        let mut v = Some(&value);
        for key in *path {
            v = v.and_then(|v| v.get(key));
        }
        if let Some(v) = v.filter(|v| !v.is_object() && !v.is_null()) {
            let param = if path.is_empty() {
                "body".to_owned()
            } else {
                path.join(".")
            };
            let kind = if v.is_array() { "array" } else { "scalar" };
            return Err(ApiErrors::param(
                codes::PARAM_FORMAT_INVALID,
                "is invalid",
                &param,
                format!("{param}: expected an object, got {kind}"),
            ));
        }
    }
    serde_path_to_error::deserialize(value)
        .map_err(|e| decode_error(e.path().to_string(), e.into_inner()))
}

/// Decodes a `POST /enterprise_connections` body.
///
/// As in the spec, `name`, `provider` and `domains` (at least one) are required and
/// unknown fields are refused. `null` on a nullable field means "not given".
pub fn decode_create(body: &[u8]) -> Result<CreateConnection, ApiErrors> {
    let params: CreateConnection = decode(body)?;
    if params.name.is_none() {
        return Err(ApiErrors::param(
            codes::PARAM_MISSING,
            "is missing",
            "name",
            "name is required".into(),
        ));
    }
    match &params.domains {
        None => Err(ApiErrors::param(
            codes::PARAM_MISSING,
            "is missing",
            "domains",
            "domains is required".into(),
        )),
        Some(d) if d.is_empty() => Err(ApiErrors::param(
            codes::PARAM_MISSING,
            "is missing",
            "domains",
            "domains needs at least one domain".into(),
        )),
        Some(_) => Ok(params),
    }
}

/// Decodes a `PATCH /enterprise_connections/{id}` body, keeping absent, `null` and values
/// apart. As in the spec, `"domains": []` means "no change" (use a non-empty list to
/// replace the domains).
pub fn decode_update(body: &[u8]) -> Result<UpdateConnection, ApiErrors> {
    let mut patch: UpdateConnection = decode(body)?;
    if matches!(&patch.domains, Patch::Value(d) if d.is_empty()) {
        patch.domains = Patch::Absent;
    }
    Ok(patch)
}

/// Service-provider endpoints of a SAML connection, which depend on where the host serves
/// them; `null` in responses unless the host gives them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SpEndpoints {
    /// Assertion Consumer Service URL.
    pub acs_url: Option<String>,
    /// SP entity id.
    pub sp_entity_id: Option<String>,
    /// SP metadata URL.
    pub sp_metadata_url: Option<String>,
}

/// The spec's `EnterpriseConnection` response object.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConnectionJson<'a> {
    /// Always `enterprise_connection`.
    pub object: &'static str,
    /// Connection id.
    pub id: &'a str,
    /// Display name.
    pub name: &'a str,
    /// Provider, e.g. `saml_okta`.
    pub provider: &'static str,
    /// No logos are stored: always `null`.
    pub logo_public_url: Option<&'a str>,
    /// Whether the connection is active.
    pub active: bool,
    /// Whether the connection may be used for sign-in and sign-up (stored; see
    /// [`EnterpriseConnection::authenticatable`]).
    pub authenticatable: bool,
    /// Whether just-in-time provisioning is disabled.
    pub disable_jit_provisioning: bool,
    /// Whether organization members may link their accounts.
    pub allow_organization_account_linking: bool,
    /// Claimed domains.
    pub domains: Vec<&'a str>,
    /// Organization scope.
    pub organization_id: Option<&'a str>,
    /// Sync attributes on sign-in.
    pub sync_user_attributes: bool,
    /// Additional identifications disabled.
    pub disable_additional_identifications: bool,
    /// Email subdomains allowed (seed 000's top-level `allowSubdomains`).
    pub allow_subdomains: bool,
    /// SAML details, `null` for OIDC connections.
    pub saml_connection: Option<SamlConnectionJson<'a>>,
    /// OIDC details, `null` for SAML connections. Never contains the client secret.
    pub oauth_config: Option<OauthConfigJson<'a>>,
    /// Unix ms.
    pub created_at: i64,
    /// Unix ms.
    pub updated_at: i64,
}

/// `saml_connection` of a response.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SamlConnectionJson<'a> {
    /// The connection id (one SAML configuration per connection).
    pub id: &'a str,
    /// The SAML configuration's display name (`saml.name`), else the connection's name.
    pub name: &'a str,
    /// IdP entity id.
    pub idp_entity_id: Option<&'a str>,
    /// IdP SSO URL.
    pub idp_sso_url: Option<&'a str>,
    /// IdP metadata URL.
    pub idp_metadata_url: Option<&'a str>,
    /// The primary IdP certificate, base64 DER without PEM armor (as the Clerk SDK
    /// documents it; input takes PEM or base64 DER).
    pub idp_certificate: Option<String>,
    /// Start of the certificate's validity, Unix ms.
    pub idp_certificate_issued_at: Option<i64>,
    /// End of the certificate's validity, Unix ms.
    pub idp_certificate_expires_at: Option<i64>,
    /// Every IdP signing certificate, with its window: the primary first (it is also
    /// `idp_certificate`, as the Clerk SDK assumes), then the others in their stored order.
    pub idp_certificates: Vec<IdpCertificateJson>,
    /// ACS URL (from [`SpEndpoints`]).
    pub acs_url: Option<String>,
    /// SP entity id (from [`SpEndpoints`]).
    pub sp_entity_id: Option<String>,
    /// SP metadata URL (from [`SpEndpoints`]).
    pub sp_metadata_url: Option<String>,
    /// Whether the connection is active.
    pub active: bool,
    /// IdP-initiated flows allowed.
    pub allow_idp_initiated: bool,
    /// Email subdomains allowed.
    pub allow_subdomains: bool,
    /// Forced re-authentication.
    pub force_authn: bool,
    /// Attribute mapping.
    pub attribute_mapping: AttributeMappingJson<'a>,
    /// The `login_hint` sent to the IdP.
    pub login_hint: &'a enterprise_sso::LoginHint,
}

/// One entry of `idp_certificates`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IdpCertificateJson {
    /// The X.509 certificate, base64 DER without PEM armor.
    pub certificate: String,
    /// Start of validity, Unix ms.
    pub issued_at: i64,
    /// End of validity, Unix ms.
    pub expires_at: i64,
}

/// `attribute_mapping` of a SAML response.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AttributeMappingJson<'a> {
    /// Attribute for the user id.
    pub user_id: Option<&'a str>,
    /// Attribute for the email address.
    pub email_address: Option<&'a str>,
    /// Attribute for the first name.
    pub first_name: Option<&'a str>,
    /// Attribute for the last name.
    pub last_name: Option<&'a str>,
}

/// `oauth_config` of a response (no `client_secret`, by design).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OauthConfigJson<'a> {
    /// The connection id (one OAuth configuration per connection).
    pub id: &'a str,
    /// The connection name.
    pub name: &'a str,
    /// Provider key, e.g. `oidc_custom`.
    pub provider_key: &'static str,
    /// Client id.
    pub client_id: Option<&'a str>,
    /// Discovery URL.
    pub discovery_url: Option<&'a str>,
    /// Authorization endpoint.
    pub auth_url: Option<&'a str>,
    /// Token endpoint.
    pub token_url: Option<&'a str>,
    /// User-info endpoint.
    pub user_info_url: Option<&'a str>,
    /// PKCE required.
    pub requires_pkce: bool,
    /// Always `null`.
    pub logo_public_url: Option<&'a str>,
    /// Unix ms (the connection's).
    pub created_at: i64,
    /// Unix ms (the connection's).
    pub updated_at: i64,
}

impl<'a> ConnectionJson<'a> {
    /// The response view of a connection.
    pub fn new(c: &'a EnterpriseConnection) -> Self {
        Self::with_sp(c, &SpEndpoints::default())
    }

    /// The response view, with the host's SAML service-provider endpoints.
    pub fn with_sp(c: &'a EnterpriseConnection, sp: &SpEndpoints) -> Self {
        let (saml_connection, oauth_config) = match &c.config {
            ProtocolConfig::Saml(s) => (
                Some(SamlConnectionJson {
                    id: c.id.as_str(),
                    name: s.name.as_deref().unwrap_or(&c.name),
                    idp_entity_id: s.idp_entity_id.as_deref(),
                    idp_sso_url: s.idp_sso_url.as_deref(),
                    idp_metadata_url: s.idp_metadata_url.as_deref(),
                    idp_certificate: s.idp_certificate.as_deref().map(der_base64),
                    idp_certificate_issued_at: s.idp_certificate_issued_at.map(UnixMillis::get),
                    idp_certificate_expires_at: s.idp_certificate_expires_at.map(UnixMillis::get),
                    idp_certificates: primary_first(s),
                    acs_url: sp.acs_url.clone(),
                    sp_entity_id: sp.sp_entity_id.clone(),
                    sp_metadata_url: sp.sp_metadata_url.clone(),
                    active: c.active,
                    allow_idp_initiated: s.allow_idp_initiated,
                    allow_subdomains: c.allow_subdomains,
                    force_authn: s.force_authn,
                    attribute_mapping: AttributeMappingJson {
                        user_id: s.attribute_mapping.user_id.as_deref(),
                        email_address: s.attribute_mapping.email_address.as_deref(),
                        first_name: s.attribute_mapping.first_name.as_deref(),
                        last_name: s.attribute_mapping.last_name.as_deref(),
                    },
                    login_hint: &s.login_hint,
                }),
                None,
            ),
            ProtocolConfig::Oidc(o) => (
                None,
                Some(OauthConfigJson {
                    id: c.id.as_str(),
                    name: &c.name,
                    provider_key: c.provider.as_str(),
                    client_id: o.client_id.as_deref(),
                    discovery_url: o.discovery_url.as_deref(),
                    auth_url: o.auth_url.as_deref(),
                    token_url: o.token_url.as_deref(),
                    user_info_url: o.user_info_url.as_deref(),
                    requires_pkce: o.requires_pkce,
                    logo_public_url: None,
                    created_at: c.created_at.get(),
                    updated_at: c.updated_at.get(),
                }),
            ),
        };
        ConnectionJson {
            object: "enterprise_connection",
            id: c.id.as_str(),
            name: &c.name,
            provider: c.provider.as_str(),
            logo_public_url: None,
            active: c.active,
            authenticatable: c.authenticatable,
            disable_jit_provisioning: c.disable_jit_provisioning,
            allow_organization_account_linking: c.allow_organization_account_linking,
            domains: c.domains.iter().map(|d| d.as_str()).collect(),
            organization_id: c.organization_id.as_deref(),
            sync_user_attributes: c.sync_user_attributes,
            disable_additional_identifications: c.disable_additional_identifications,
            allow_subdomains: c.allow_subdomains,
            saml_connection,
            oauth_config,
            created_at: c.created_at.get(),
            updated_at: c.updated_at.get(),
        }
    }
}

/// The body of a PEM certificate: its base64 DER, armor and line breaks removed. Stored
/// certificates are canonical PEM (written from their DER by the merge), so the body is
/// exactly the DER's standard base64.
fn der_base64(pem: &str) -> String {
    pem.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("-----"))
        .collect()
}

/// The certificate set as the Clerk SDK reads it: the primary (`idp_certificate`) first,
/// then the others in their stored order; each as base64 DER.
fn primary_first(s: &enterprise_sso::SamlConfig) -> Vec<IdpCertificateJson> {
    let is_primary =
        |x: &&enterprise_sso::IdpCertificate| s.idp_certificate.as_ref() == Some(&x.pem);
    let primary = s.idp_certificates.iter().filter(is_primary).take(1);
    let rest = s.idp_certificates.iter().filter(|x| !is_primary(x));
    primary
        .chain(rest)
        .map(|x| IdpCertificateJson {
            certificate: der_base64(&x.pem),
            issued_at: x.issued_at.get(),
            expires_at: x.expires_at.get(),
        })
        .collect()
}

/// The list envelope `{data, total_count}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConnectionListJson<'a> {
    /// One page.
    pub data: Vec<ConnectionJson<'a>>,
    /// How many connections match the filters in all (see [`enterprise_sso::ConnectionRepo::count`]).
    pub total_count: u64,
}

impl<'a> ConnectionListJson<'a> {
    /// The envelope of one page.
    pub fn new(items: &'a [EnterpriseConnection], total_count: u64) -> Self {
        ConnectionListJson {
            data: items.iter().map(ConnectionJson::new).collect(),
            total_count,
        }
    }
}

/// The `DeletedObject` answer of a delete.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeletedObjectJson<'a> {
    /// Always `enterprise_connection`.
    pub object: &'static str,
    /// The deleted id.
    pub id: &'a str,
    /// Always `true`.
    pub deleted: bool,
}

impl<'a> DeletedObjectJson<'a> {
    /// The answer for a deleted connection.
    pub fn new(id: &'a enterprise_sso::ConnectionId) -> Self {
        DeletedObjectJson {
            object: "enterprise_connection",
            id: id.as_str(),
            deleted: true,
        }
    }
}

/// The spec's `EnterpriseAccountConnection` (a connection as nested in an account).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EnterpriseAccountConnectionJson<'a> {
    /// Connection id.
    pub id: &'a str,
    /// `saml` or `oauth`.
    pub protocol: &'static str,
    /// Provider.
    pub provider: &'static str,
    /// Name.
    pub name: &'a str,
    /// Always `null`.
    pub logo_public_url: Option<&'a str>,
    /// Domains.
    pub domains: Vec<&'a str>,
    /// Active.
    pub active: bool,
    /// Sync attributes.
    pub sync_user_attributes: bool,
    /// Subdomains allowed.
    pub allow_subdomains: bool,
    /// IdP-initiated allowed (false for OIDC).
    pub allow_idp_initiated: bool,
    /// Additional identifications disabled.
    pub disable_additional_identifications: bool,
    /// Unix ms.
    pub created_at: i64,
    /// Unix ms.
    pub updated_at: i64,
}

impl<'a> EnterpriseAccountConnectionJson<'a> {
    /// The nested view of a connection.
    pub fn new(c: &'a EnterpriseConnection) -> Self {
        EnterpriseAccountConnectionJson {
            id: c.id.as_str(),
            protocol: c.protocol().as_str(),
            provider: c.provider.as_str(),
            name: &c.name,
            logo_public_url: None,
            domains: c.domains.iter().map(|d| d.as_str()).collect(),
            active: c.active,
            sync_user_attributes: c.sync_user_attributes,
            allow_subdomains: c.allow_subdomains,
            allow_idp_initiated: c.saml().is_some_and(|s| s.allow_idp_initiated),
            disable_additional_identifications: c.disable_additional_identifications,
            created_at: c.created_at.get(),
            updated_at: c.updated_at.get(),
        }
    }
}

/// `verification` of an account: `verification_saml` or `verification_oauth`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerificationJson {
    /// `verification_saml` or `verification_oauth`.
    pub object: &'static str,
    /// `verified`, `unverified`, `failed`, `expired`, `transferable`.
    pub status: String,
    /// `saml`, or for OAuth `oauth_custom_` + the provider's short name
    /// ([`oauth_strategy`]).
    pub strategy: String,
    /// Attempts (not counted: always `null`).
    pub attempts: Option<u32>,
    /// Until when the verification's IdP response was accepted, Unix ms: the account's
    /// last sign-in (else its creation) plus [`VERIFICATION_WINDOW_MS`].
    pub expire_at: Option<i64>,
}

/// How long an IdP response is accepted after the sign-in started, as shown in
/// `verification.expire_at` (10 minutes, Clerk's verification window).
pub const VERIFICATION_WINDOW_MS: i64 = 10 * 60 * 1000;

/// The Clerk verification strategy of an OAuth (OIDC) enterprise account:
/// `oauth_custom_oidc`, `oauth_custom_github` or `oauth_custom_gitlab` (Clerk's schema wants
/// `oauth_[custom_]<letters>`). SAML accounts use `saml`.
pub fn oauth_strategy(provider: enterprise_sso::Provider) -> &'static str {
    match provider {
        enterprise_sso::Provider::OidcGithubEnterprise => "oauth_custom_github",
        enterprise_sso::Provider::OidcGitlab => "oauth_custom_gitlab",
        _ => "oauth_custom_oidc",
    }
}

/// The spec's `EnterpriseAccount`: an identity obtained through a connection
/// ([`EnterpriseAccountJson::new`] builds it from a stored account).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EnterpriseAccountJson<'a> {
    /// Always `enterprise_account`.
    pub object: &'static str,
    /// Account id.
    pub id: &'a str,
    /// `saml` or `oauth`.
    pub protocol: &'static str,
    /// Provider.
    pub provider: &'static str,
    /// Active.
    pub active: bool,
    /// Email address.
    pub email_address: &'a str,
    /// First name from the IdP.
    pub first_name: Option<&'a str>,
    /// Last name from the IdP.
    pub last_name: Option<&'a str>,
    /// The user's id at the IdP.
    pub provider_user_id: Option<&'a str>,
    /// The connection id, `null` once the connection is gone.
    pub enterprise_connection_id: Option<&'a str>,
    /// Public metadata (a JSON object).
    pub public_metadata: &'a serde_json::Map<String, serde_json::Value>,
    /// Verification.
    pub verification: Option<VerificationJson>,
    /// The connection, `null` once it is gone.
    pub enterprise_connection: Option<EnterpriseAccountConnectionJson<'a>>,
    /// Unix ms of the last sign-in.
    pub last_authenticated_at: Option<i64>,
}

impl VerificationJson {
    /// The view of the stored verification of account `a`.
    pub fn new(v: &enterprise_sso::Verification, a: &enterprise_sso::EnterpriseAccount) -> Self {
        let (object, strategy) = match a.protocol {
            enterprise_sso::Protocol::Saml => ("verification_saml", "saml"),
            enterprise_sso::Protocol::Oauth => ("verification_oauth", oauth_strategy(a.provider)),
        };
        VerificationJson {
            object,
            status: v.status.as_str().to_owned(),
            strategy: strategy.to_owned(),
            attempts: None,
            expire_at: Some(
                a.last_authenticated_at
                    .unwrap_or(a.created_at)
                    .get()
                    .saturating_add(VERIFICATION_WINDOW_MS),
            ),
        }
    }
}

impl<'a> EnterpriseAccountJson<'a> {
    /// The view of a stored account; `connection` is its connection when it still exists.
    pub fn new(
        a: &'a enterprise_sso::EnterpriseAccount,
        connection: Option<&'a EnterpriseConnection>,
    ) -> Self {
        EnterpriseAccountJson {
            object: "enterprise_account",
            id: a.id.as_str(),
            protocol: a.protocol.as_str(),
            provider: a.provider.as_str(),
            active: a.active,
            email_address: &a.email_address,
            first_name: a.first_name.as_deref(),
            last_name: a.last_name.as_deref(),
            provider_user_id: a.provider_user_id.as_deref(),
            enterprise_connection_id: a.enterprise_connection_id.as_ref().map(|c| c.as_str()),
            public_metadata: &a.public_metadata,
            verification: a.verification.as_ref().map(|v| VerificationJson::new(v, a)),
            enterprise_connection: connection.map(EnterpriseAccountConnectionJson::new),
            last_authenticated_at: a.last_authenticated_at.map(UnixMillis::get),
        }
    }
}
