//! The Clerk error envelope, with stable codes and HTTP statuses.

use serde::Serialize;

use enterprise_sso::DomainError;
use enterprise_sso::Error;
use enterprise_sso::{FieldError, FieldErrorKind};

/// The stable error codes this library emits.
pub mod codes {
    /// A required parameter is missing (also: needed for an active connection).
    pub const PARAM_MISSING: &str = "form_param_missing";
    /// `null` given for a parameter that cannot be null.
    pub const PARAM_NULL: &str = "form_param_null_not_allowed";
    /// A parameter the API does not know.
    pub const PARAM_UNKNOWN: &str = "form_param_unknown";
    /// Wrong type, wrong shape, bad URL, bad domain, control characters.
    pub const PARAM_FORMAT_INVALID: &str = "form_param_format_invalid";
    /// Over a size or count limit.
    pub const PARAM_TOO_LARGE: &str = "form_param_exceeds_allowed_size";
    /// The same value twice in a list.
    pub const PARAM_DUPLICATE: &str = "form_param_duplicate";
    /// A configuration block for the other protocol.
    pub const PARAM_NOT_FOR_PROVIDER: &str = "form_param_not_allowed_for_provider";
    /// A public client (no secret) without PKCE.
    pub const PUBLIC_CLIENT_REQUIRES_PKCE: &str = "form_public_client_requires_pkce";
    /// A public suffix (`com`, `co.uk`) given as a domain.
    pub const DOMAIN_PUBLIC_SUFFIX: &str = "form_domain_public_suffix";
    /// IdP metadata that could not be parsed (DOCTYPE, malformed, too large or deep...).
    pub const SAML_METADATA_INVALID: &str = "saml_failed_to_parse_idp_metadata";
    /// IdP metadata without entityID, IDPSSODescriptor, SSO service or signing certificate.
    pub const SAML_METADATA_MISSING_FIELDS: &str = "saml_metadata_missing_fields";
    /// A metadata aggregate with several IdP entities and no `idp_entity_id` naming one.
    pub const SAML_METADATA_AMBIGUOUS_ENTITY: &str = "saml_metadata_ambiguous_entity";
    /// Activating (or re-certifying) with certificates none of which is valid yet.
    pub const SAML_CERTIFICATE_NOT_YET_VALID: &str = "saml_certificate_not_yet_valid";
    /// An explicit IdP field that contradicts the metadata.
    pub const SAML_METADATA_MISMATCH: &str = "saml_metadata_mismatch";
    /// A certificate that is not an X.509 certificate.
    pub const SAML_CERTIFICATE_INVALID: &str = "saml_certificate_invalid";
    /// Activating (or re-certifying) with an expired certificate.
    pub const SAML_CERTIFICATE_EXPIRED: &str = "saml_certificate_expired";
    /// A fetched URL pointing at a private, loopback, link-local or unique-local address.
    pub const URL_NOT_ALLOWED: &str = "form_param_url_not_allowed";
    /// An OIDC discovery document that failed its checks.
    pub const OIDC_DISCOVERY_INVALID: &str = "oidc_discovery_invalid";
    /// The metadata source could not fetch a document.
    pub const FETCH_FAILED: &str = "metadata_fetch_failed";
    /// An account for this user and connection exists already.
    pub const ACCOUNT_EXISTS: &str = "account_exists";
    /// Sign-in through an inactive connection.
    pub const CONNECTION_INACTIVE: &str = "connection_inactive";
    /// Sign-in through a connection that is not `authenticatable`.
    pub const CONNECTION_NOT_AUTHENTICATABLE: &str = "connection_not_authenticatable";
    /// A sign-in that would create an account with just-in-time provisioning disabled.
    pub const JIT_PROVISIONING_DISABLED: &str = "jit_provisioning_disabled";
    /// Sign-in to a deactivated account.
    pub const ACCOUNT_INACTIVE: &str = "account_inactive";
    /// The assertion carried no subject.
    pub const SIGN_IN_MISSING_SUBJECT: &str = "sign_in_missing_subject";
    /// The assertion carried no email address.
    pub const SIGN_IN_MISSING_EMAIL: &str = "sign_in_missing_email";
    /// The email's domain is not one of the connection's (SSOReady's code).
    pub const EMAIL_OUTSIDE_DOMAINS: &str = "email_outside_organization_domains";
    /// A sign-in refused for a reason without a code of its own.
    pub const SIGN_IN_REFUSED: &str = "sign_in_refused";
    /// The body is not JSON.
    pub const MALFORMED_BODY: &str = "malformed_request_body";
    /// The same key twice in one JSON object of the body (which one would win is
    /// parser-dependent, so neither is taken).
    pub const DUPLICATE_KEY: &str = "form_param_duplicate_key";
    /// No such connection.
    pub const RESOURCE_NOT_FOUND: &str = "resource_not_found";
    /// A domain already claimed by another connection.
    pub const DOMAIN_CLAIMED: &str = "domain_already_claimed";
    /// Another writer changed the connection first.
    pub const CONFLICT: &str = "resource_conflict";
    /// A connection with that id exists already.
    pub const ALREADY_EXISTS: &str = "resource_already_exists";
    /// Storage failure or corrupt data (details are logged by the host, not sent).
    pub const INTERNAL: &str = "internal_error";
    /// HTTP: no `Authorization: Bearer` key was sent.
    pub const AUTHORIZATION_MISSING: &str = "authorization_header_missing";
    /// HTTP: the key sent is not one of the configured keys.
    pub const API_KEY_INVALID: &str = "api_key_invalid";
    /// HTTP: no such route.
    pub const ROUTE_NOT_FOUND: &str = "route_not_found";
    /// HTTP: the route exists, the method does not.
    pub const METHOD_NOT_ALLOWED: &str = "method_not_allowed";
    /// HTTP: the request body is over the server's limit (refused before parsing).
    pub const BODY_TOO_LARGE: &str = "request_body_too_large";
    /// HTTP: `If-Match` named a version that is not the stored one.
    pub const PRECONDITION_FAILED: &str = "precondition_failed";
    /// HTTP: a request body that is not declared `Content-Type: application/json`, or
    /// that has a `Content-Encoding`.
    pub const UNSUPPORTED_MEDIA_TYPE: &str = "unsupported_media_type";
    /// HTTP: the request head or body did not arrive within the server's time limit.
    pub const REQUEST_TIMEOUT: &str = "request_timeout";
    /// HTTP: every connection slot stayed busy; retry after `Retry-After` seconds.
    pub const SERVER_BUSY: &str = "server_busy";
}

/// `meta` of one error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct ApiErrorMeta {
    /// The parameter at fault, as a dotted path (`oidc.requires_pkce`, `domains[2]`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub param_name: Option<String>,
}

/// One entry of the `errors` array.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiError {
    /// Stable machine-readable code (see [`codes`]).
    pub code: &'static str,
    /// Short text.
    pub message: String,
    /// Full sentence naming the parameter; never contains the value.
    pub long_message: String,
    /// Which parameter.
    pub meta: ApiErrorMeta,
}

impl ApiError {
    fn new(code: &'static str, message: &str, long: String, param: Option<String>) -> Self {
        ApiError {
            code,
            message: message.to_owned(),
            long_message: long,
            meta: ApiErrorMeta { param_name: param },
        }
    }
}

/// The error envelope `{"errors": [...]}` plus the HTTP status to send it with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiErrors {
    /// HTTP status (not serialised).
    #[serde(skip)]
    pub status: u16,
    /// The errors.
    pub errors: Vec<ApiError>,
}

impl std::fmt::Display for ApiErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, e) in self.errors.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{}: {}", e.code, e.long_message)?;
        }
        Ok(())
    }
}

impl std::error::Error for ApiErrors {}

impl ApiErrors {
    /// One error: `status`, a stable `code` (see [`codes`]), a short `message`, a full
    /// sentence, and the parameter at fault if any. For hosts' own refusals (auth, routing,
    /// query strings) so they share the envelope and codes.
    pub fn single(
        status: u16,
        code: &'static str,
        message: &str,
        long_message: impl Into<String>,
        param: Option<&str>,
    ) -> Self {
        Self::one(
            status,
            ApiError::new(code, message, long_message.into(), param.map(str::to_owned)),
        )
    }

    pub(crate) fn one(status: u16, e: ApiError) -> Self {
        ApiErrors {
            status,
            errors: vec![e],
        }
    }

    /// 400 for a key given twice in one object, at `path` (dotted, as `param_name`).
    pub(crate) fn duplicate_key(path: &str) -> Self {
        // A key is the client's own text, but may be long: name at most 128 characters of it.
        let path = match path.char_indices().nth(128) {
            Some((at, _)) => format!("{}…", &path[..at]),
            None => path.to_owned(),
        };
        let path = path.as_str();
        Self::one(
            400,
            ApiError::new(
                codes::DUPLICATE_KEY,
                "is a duplicate key",
                format!("{path} appears more than once in its object; send each key once."),
                Some(path.to_owned()),
            ),
        )
    }

    pub(crate) fn param(code: &'static str, message: &str, param: &str, long: String) -> Self {
        Self::one(
            422,
            ApiError::new(code, message, long, Some(param.to_owned())),
        )
    }
}

fn field_error(e: &FieldError) -> ApiError {
    use FieldErrorKind as K;
    let (code, message) = match &e.kind {
        K::Required | K::RequiredWhenActive => (codes::PARAM_MISSING, "is missing"),
        K::NotNullable => (codes::PARAM_NULL, "cannot be null"),
        K::PublicClientRequiresPkce => (
            codes::PUBLIC_CLIENT_REQUIRES_PKCE,
            "PKCE is required for OAuth clients without a secret",
        ),
        K::InvalidDomain(DomainError::PublicSuffix) => {
            (codes::DOMAIN_PUBLIC_SUFFIX, "is a public suffix")
        }
        K::TooLong { .. } | K::TooMany { .. } => (codes::PARAM_TOO_LARGE, "is too large"),
        K::DuplicateDomain => (codes::PARAM_DUPLICATE, "is a duplicate"),
        K::NotAllowedForProvider(_) | K::ProviderMismatch => (
            codes::PARAM_NOT_FOR_PROVIDER,
            "is not allowed for this provider",
        ),
        K::InvalidMetadata(
            enterprise_sso_protocol::saml::MetadataError::MissingFields(_)
            | enterprise_sso_protocol::saml::MetadataError::NoEntityDescriptor,
        ) => (
            codes::SAML_METADATA_MISSING_FIELDS,
            "metadata is missing fields",
        ),
        K::InvalidMetadata(enterprise_sso_protocol::saml::MetadataError::AmbiguousEntity {
            ..
        }) => (
            codes::SAML_METADATA_AMBIGUOUS_ENTITY,
            "metadata holds several IdP entities",
        ),
        K::InvalidMetadata(enterprise_sso_protocol::saml::MetadataError::InvalidCertificate(_)) => {
            (
                codes::SAML_CERTIFICATE_INVALID,
                "metadata holds an invalid certificate",
            )
        }
        K::InvalidMetadata(enterprise_sso_protocol::saml::MetadataError::TooManyCertificates {
            ..
        }) => (
            codes::PARAM_TOO_LARGE,
            "metadata holds too many certificates",
        ),
        K::InvalidMetadata(_) => (codes::SAML_METADATA_INVALID, "metadata is invalid"),
        K::DisagreesWithMetadata => (codes::SAML_METADATA_MISMATCH, "disagrees with the metadata"),
        K::InvalidCertificate(_) => (
            codes::SAML_CERTIFICATE_INVALID,
            "is not a valid certificate",
        ),
        K::CertificateExpired { .. } => {
            (codes::SAML_CERTIFICATE_EXPIRED, "certificate has expired")
        }
        K::CertificateNotYetValid { .. } => (
            codes::SAML_CERTIFICATE_NOT_YET_VALID,
            "no certificate is valid yet",
        ),
        K::ForbiddenHost => (codes::URL_NOT_ALLOWED, "is not an allowed address"),
        K::InvalidDiscovery(_) => (
            codes::OIDC_DISCOVERY_INVALID,
            "discovery document is invalid",
        ),
        _ => (codes::PARAM_FORMAT_INVALID, "is invalid"),
    };
    ApiError::new(code, message, e.to_string(), Some(e.path.clone()))
}

impl From<&Error> for ApiErrors {
    fn from(err: &Error) -> Self {
        match err {
            Error::Validation(v) => ApiErrors {
                status: 422,
                errors: v.errors().iter().map(field_error).collect(),
            },
            Error::NotFound { .. } => ApiErrors::one(
                404,
                ApiError::new(
                    codes::RESOURCE_NOT_FOUND,
                    "not found",
                    err.to_string(),
                    None,
                ),
            ),
            Error::DomainConflict { .. } => ApiErrors::one(
                409,
                ApiError::new(
                    codes::DOMAIN_CLAIMED,
                    "domain already claimed",
                    err.to_string(),
                    Some("domains".into()),
                ),
            ),
            Error::VersionConflict { .. } => ApiErrors::one(
                409,
                ApiError::new(
                    codes::CONFLICT,
                    "modified concurrently",
                    err.to_string(),
                    None,
                ),
            ),
            Error::AlreadyExists { .. } => ApiErrors::one(
                409,
                ApiError::new(
                    codes::ALREADY_EXISTS,
                    "already exists",
                    err.to_string(),
                    None,
                ),
            ),
            Error::AccountExists { .. } => ApiErrors::one(
                409,
                ApiError::new(
                    codes::ACCOUNT_EXISTS,
                    "account exists",
                    err.to_string(),
                    None,
                ),
            ),
            Error::SignInRefused(r) => {
                use enterprise_sso::SignInRefusal as R;
                let (status, code, param) = match r {
                    R::ConnectionInactive => (403, codes::CONNECTION_INACTIVE, None),
                    R::AccountInactive => (403, codes::ACCOUNT_INACTIVE, None),
                    R::NotAuthenticatable => (403, codes::CONNECTION_NOT_AUTHENTICATABLE, None),
                    R::JitProvisioningDisabled => (403, codes::JIT_PROVISIONING_DISABLED, None),
                    R::MissingSubject => (422, codes::SIGN_IN_MISSING_SUBJECT, Some("subject")),
                    R::MissingEmail => (422, codes::SIGN_IN_MISSING_EMAIL, Some("email_address")),
                    R::InvalidEmail => (422, codes::PARAM_FORMAT_INVALID, Some("email_address")),
                    R::EmailOutsideDomains => {
                        (403, codes::EMAIL_OUTSIDE_DOMAINS, Some("email_address"))
                    }
                    R::InvalidField {
                        field,
                        kind: FieldErrorKind::TooLong { .. },
                    } => (422, codes::PARAM_TOO_LARGE, Some(*field)),
                    R::InvalidField { field, .. } => {
                        (422, codes::PARAM_FORMAT_INVALID, Some(*field))
                    }
                    // A refusal the core adds later is still a refusal.
                    _ => (403, codes::SIGN_IN_REFUSED, None),
                };
                ApiErrors::one(
                    status,
                    ApiError::new(
                        code,
                        "sign-in refused",
                        err.to_string(),
                        param.map(str::to_owned),
                    ),
                )
            }
            Error::SamlRefused(r) => ApiErrors::one(
                400,
                ApiError::new(r.code(), "SAML sign-in refused", r.to_string(), None),
            ),
            Error::OidcRefused(r) => ApiErrors::one(
                400,
                ApiError::new(r.code(), "OIDC sign-in refused", r.to_string(), None),
            ),
            Error::HostedRefused(r) => ApiErrors::one(
                400,
                ApiError::new(r.oauth_error(), "sign-in refused", r.to_string(), None),
            ),
            Error::InvalidEmail { .. } => ApiErrors::param(
                codes::PARAM_FORMAT_INVALID,
                "is invalid",
                "email_address",
                err.to_string(),
            ),
            Error::Fetch { what, .. } => ApiErrors::one(
                502,
                ApiError::new(
                    codes::FETCH_FAILED,
                    "fetch failed",
                    format!("Fetching {what} failed."),
                    Some((*what).to_owned()),
                ),
            ),
            Error::InvalidArgument { argument, .. } => ApiErrors::param(
                codes::PARAM_FORMAT_INVALID,
                "is invalid",
                argument,
                err.to_string(),
            ),
            // Storage and corruption details stay on the server.
            _ => ApiErrors::one(
                500,
                ApiError::new(
                    codes::INTERNAL,
                    "internal error",
                    "The server could not complete the request.".into(),
                    None,
                ),
            ),
        }
    }
}

impl From<Error> for ApiErrors {
    fn from(err: Error) -> Self {
        ApiErrors::from(&err)
    }
}

/// Turns a serde decode failure into the envelope, naming the parameter.
pub(crate) fn decode_error(path: String, inner: serde_json::Error) -> ApiErrors {
    let path = if path == "." { String::new() } else { path };
    if matches!(
        inner.classify(),
        serde_json::error::Category::Syntax
            | serde_json::error::Category::Eof
            | serde_json::error::Category::Io
    ) {
        return ApiErrors::one(
            400,
            ApiError::new(
                codes::MALFORMED_BODY,
                "malformed request body",
                "The request body is not valid JSON.".into(),
                None,
            ),
        );
    }
    let text = inner.to_string();
    let join = |field: &str| {
        if path == field || path.ends_with(&format!(".{field}")) {
            // serde_path_to_error already records an unknown key as the last segment.
            path.clone()
        } else if path.is_empty() {
            field.to_owned()
        } else {
            format!("{path}.{field}")
        }
    };
    let quoted = |prefix: &str| {
        text.strip_prefix(prefix)
            .and_then(|rest| rest.split('`').next())
            .map(str::to_owned)
    };
    if let Some(field) = quoted("unknown field `") {
        let param = join(&field);
        return ApiErrors::param(
            codes::PARAM_UNKNOWN,
            "is unknown",
            &param,
            format!("{param} is not a known parameter"),
        );
    }
    if let Some(field) = quoted("missing field `") {
        let param = join(&field);
        return ApiErrors::param(
            codes::PARAM_MISSING,
            "is missing",
            &param,
            format!("{param} is required"),
        );
    }
    let param = if path.is_empty() {
        "body".to_owned()
    } else {
        path
    };
    let what = describe_without_value(&text);
    ApiErrors::param(
        codes::PARAM_FORMAT_INVALID,
        "is invalid",
        &param,
        format!("{param}: {what}"),
    )
}

/// serde's "invalid type: string \"…\", expected a boolean" quotes the value it got, which
/// may be a secret sent in the wrong field. Keep only the kind of value and what was expected.
fn describe_without_value(text: &str) -> String {
    let text = text.split(" at line ").next().unwrap_or(text);
    match text.split_once(", expected ") {
        Some((head, expected)) => {
            let kind = head
                .strip_prefix("invalid type: ")
                .or_else(|| head.strip_prefix("invalid value: "))
                .and_then(|h| h.split_whitespace().next())
                .unwrap_or("value");
            format!("expected {expected}, got {kind}")
        }
        None if text.starts_with("invalid ") => "invalid value".to_owned(),
        // Our own messages (unknown provider) never contain the value.
        None => text.to_owned(),
    }
}
