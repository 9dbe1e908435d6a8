//! Why a step of the OIDC relying party refused: one typed reason per rule.
//!
//! Every variant names the rule and, where the rule compares values, what was expected and
//! what was received (issuers, audiences, algorithms, key ids, times), so that an IT admin
//! can fix a misconfigured provider from the message alone. A refusal never holds a token,
//! a code, a secret, a nonce, a `state` or a PKCE verifier; text copied from the provider is
//! cut to [`MAX_VALUE_CHARS`] characters with control characters replaced.

use crate::oidc::DiscoveryError;

/// Longest value copied from a provider's answer into a refusal, in characters.
pub const MAX_VALUE_CHARS: usize = 200;

/// The `error` of an authorization or token error response (RFC 6749 §4.1.2.1, §5.2;
/// OpenID Connect Core §3.1.2.6), as a typed reason.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProviderErrorKind {
    /// `access_denied`: the user or the provider refused.
    AccessDenied,
    /// `login_required`.
    LoginRequired,
    /// `interaction_required`.
    InteractionRequired,
    /// `consent_required`.
    ConsentRequired,
    /// `account_selection_required`.
    AccountSelectionRequired,
    /// `invalid_request`.
    InvalidRequest,
    /// `invalid_client` (token endpoint: wrong client id, secret or authentication method).
    InvalidClient,
    /// `invalid_grant` (token endpoint: the code is expired, used, or the PKCE verifier or
    /// redirect URI does not match).
    InvalidGrant,
    /// `unauthorized_client`.
    UnauthorizedClient,
    /// `unsupported_response_type`.
    UnsupportedResponseType,
    /// `unsupported_grant_type`.
    UnsupportedGrantType,
    /// `invalid_scope`.
    InvalidScope,
    /// `server_error`.
    ServerError,
    /// `temporarily_unavailable`.
    TemporarilyUnavailable,
    /// Any other code, as received (cut and cleaned).
    Other(String),
}

impl ProviderErrorKind {
    /// The kind an `error` value stands for.
    pub fn parse(code: &str) -> Self {
        match code {
            "access_denied" => Self::AccessDenied,
            "login_required" => Self::LoginRequired,
            "interaction_required" => Self::InteractionRequired,
            "consent_required" => Self::ConsentRequired,
            "account_selection_required" => Self::AccountSelectionRequired,
            "invalid_request" => Self::InvalidRequest,
            "invalid_client" => Self::InvalidClient,
            "invalid_grant" => Self::InvalidGrant,
            "unauthorized_client" => Self::UnauthorizedClient,
            "unsupported_response_type" => Self::UnsupportedResponseType,
            "unsupported_grant_type" => Self::UnsupportedGrantType,
            "invalid_scope" => Self::InvalidScope,
            "server_error" => Self::ServerError,
            "temporarily_unavailable" => Self::TemporarilyUnavailable,
            other => Self::Other(shown(other)),
        }
    }

    /// The wire value.
    pub fn as_str(&self) -> &str {
        match self {
            Self::AccessDenied => "access_denied",
            Self::LoginRequired => "login_required",
            Self::InteractionRequired => "interaction_required",
            Self::ConsentRequired => "consent_required",
            Self::AccountSelectionRequired => "account_selection_required",
            Self::InvalidRequest => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant => "invalid_grant",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::UnsupportedResponseType => "unsupported_response_type",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::InvalidScope => "invalid_scope",
            Self::ServerError => "server_error",
            Self::TemporarilyUnavailable => "temporarily_unavailable",
            Self::Other(s) => s,
        }
    }
}

impl std::fmt::Display for ProviderErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

fn opt(v: &Option<String>) -> String {
    v.as_ref().map(|s| format!(": {s}")).unwrap_or_default()
}

/// Why the relying party refused a configuration, a callback, a token response, an ID
/// token, a JWKS or a user-info answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OidcRefusal {
    // ---- configuration ----
    /// The relying party's own configuration cannot work (an empty client id, a public
    /// client on a provider without `none` authentication...).
    #[error("the OIDC connection is misconfigured: {problem}")]
    Config {
        /// What is wrong.
        problem: String,
    },
    /// The discovery document was refused.
    #[error("the discovery document {0}")]
    Discovery(DiscoveryError),
    /// The caller's random bytes are all equal (an uninitialised buffer, not randomness).
    #[error("the random bytes for state, nonce and PKCE are not random (all bytes equal)")]
    WeakRandomness,
    /// A pending-request record that this crate did not write (or from another version).
    #[error("the pending authorization record is not readable")]
    PendingInvalid,

    // ---- transport ----
    /// The host's HTTP client failed (timeout, refused address, TLS...).
    #[error("the {endpoint} request failed: {message}")]
    Transport {
        /// Which endpoint (`discovery`, `token`, `jwks`, `userinfo`).
        endpoint: &'static str,
        /// The client's message (the fetcher names the host, never the query).
        message: String,
    },
    /// An HTTP status the step does not accept.
    #[error("the {endpoint} endpoint answered HTTP {status}, expected {expected}")]
    HttpStatus {
        /// Which endpoint.
        endpoint: &'static str,
        /// The status expected.
        expected: &'static str,
        /// The status received.
        status: u16,
    },
    /// An answer or input larger than its cap.
    #[error("the {what} is {received} bytes, more than the limit of {limit}")]
    TooLarge {
        /// Which input.
        what: &'static str,
        /// The limit, bytes.
        limit: usize,
        /// The size received.
        received: usize,
    },

    // ---- callback ----
    /// The provider answered the authorization request with an error.
    #[error("the provider refused the sign-in: {kind}{}", opt(.description))]
    ProviderError {
        /// The `error` code, typed.
        kind: ProviderErrorKind,
        /// `error_description`, cut and cleaned.
        description: Option<String>,
    },
    /// A callback parameter is missing.
    #[error("the callback has no `{parameter}` parameter")]
    CallbackMissing {
        /// `code` or `state`.
        parameter: &'static str,
    },
    /// A callback parameter appears twice (parsers disagree on which one counts).
    #[error("the callback carries the `{parameter}` parameter more than once")]
    CallbackDuplicate {
        /// The parameter name, cut and cleaned.
        parameter: String,
    },
    /// The callback's `iss` (RFC 9207) is not this provider's issuer: the response comes
    /// from another provider (a mix-up attack).
    #[error("the callback's iss is {received:?}, expected {expected:?} (RFC 9207 mix-up defence)")]
    CallbackIssuerMismatch {
        /// The provider's issuer.
        expected: String,
        /// The `iss` received.
        received: String,
    },
    /// The provider advertises `authorization_response_iss_parameter_supported` and the
    /// callback has no `iss`.
    #[error("the callback has no iss, and the provider {expected:?} advertises that it sends one (RFC 9207)")]
    CallbackIssuerMissing {
        /// The provider's issuer.
        expected: String,
    },

    // ---- token endpoint ----
    /// The discovery document names no token endpoint.
    #[error("the provider has no token endpoint")]
    NoTokenEndpoint,
    /// No client authentication method this crate implements is supported by the
    /// provider.
    #[error("the token endpoint supports the client authentication methods [{}], expected one of client_secret_basic, client_secret_post{}", .supported.join(", "), if *.public { " (none for a public client)" } else { "" })]
    AuthMethodUnsupported {
        /// `token_endpoint_auth_methods_supported`.
        supported: Vec<String>,
        /// Whether the client is public (no secret).
        public: bool,
    },
    /// The token endpoint answered with an error.
    #[error("the token endpoint refused the code: {kind}{}", opt(.description))]
    TokenError {
        /// The `error` code, typed.
        kind: ProviderErrorKind,
        /// `error_description`, cut and cleaned.
        description: Option<String>,
    },
    /// The token response is not what RFC 6749 §5.1 and OIDC Core §3.1.3.3 require.
    #[error("the token response is invalid: {problem}")]
    TokenResponseInvalid {
        /// What is wrong.
        problem: String,
    },

    // ---- ID token: form and signature ----
    /// Not a JWS in compact serialisation (three base64url parts; a JWE has five).
    #[error("the ID token is malformed: {problem}")]
    IdTokenMalformed {
        /// What is wrong.
        problem: &'static str,
    },
    /// The JOSE header has `crit`: no extension is understood, so none may be critical.
    #[error("the ID token's header lists critical extensions [{}], none of which is supported", .received.join(", "))]
    CriticalHeader {
        /// The `crit` values.
        received: Vec<String>,
    },
    /// `alg` outside the allow-list (`none` never; HS* only keyed by the client secret and
    /// advertised by the provider).
    #[error("the ID token is signed with alg {received:?}, which is not accepted; accepted: [{}]", .allowed.join(", "))]
    AlgorithmNotAllowed {
        /// The algorithms this connection accepts.
        allowed: Vec<String>,
        /// The header's `alg`.
        received: String,
    },
    /// No key in the provider's JWKS has the token's `kid` (and fits its `alg`).
    #[error("no key in the provider's JWKS has kid {kid:?} for alg {alg}{}", if *.refetched { " (the JWKS was fetched again)" } else { " (the JWKS was not fetched again: the last fetch is too recent)" })]
    UnknownKey {
        /// The header's `kid` (empty when absent).
        kid: String,
        /// The header's `alg`.
        alg: String,
        /// Whether the JWKS was fetched again for this token.
        refetched: bool,
    },
    /// More than one key fits the token's `kid` and `alg`: which one is meant is ambiguous.
    #[error("{count} keys in the provider's JWKS fit kid {kid:?} and alg {alg}; ambiguous keys are refused")]
    AmbiguousKey {
        /// The header's `kid` (empty when absent).
        kid: String,
        /// The header's `alg`.
        alg: String,
        /// How many keys fit.
        count: usize,
    },
    /// The key named by `kid` cannot verify the token (wrong type, curve, size, `use`).
    #[error("the provider's key {kid:?} cannot verify alg {alg}: {reason}")]
    KeyUnusable {
        /// The key's `kid`.
        kid: String,
        /// The header's `alg`.
        alg: String,
        /// Why.
        reason: &'static str,
    },
    /// The signature does not verify.
    #[error("the ID token's {alg} signature does not verify with the provider's key {kid:?}")]
    SignatureInvalid {
        /// The header's `alg`.
        alg: String,
        /// The key's `kid` (empty for HS*, keyed by the client secret).
        kid: String,
    },
    /// The JWKS document is not a JSON Web Key Set.
    #[error("the provider's JWKS is invalid: {problem}")]
    JwksInvalid {
        /// What is wrong.
        problem: &'static str,
    },

    // ---- ID token: claims ----
    /// The claims are not a JSON object with the required types.
    #[error("the ID token's claims are invalid: {problem}")]
    ClaimsInvalid {
        /// What is wrong.
        problem: String,
    },
    /// A required claim is absent.
    #[error("the ID token has no `{claim}` claim")]
    MissingClaim {
        /// The claim.
        claim: &'static str,
    },
    /// `iss` differs from the provider's issuer.
    #[error("the ID token's iss is {received:?}, expected {expected:?}")]
    IssuerMismatch {
        /// The provider's issuer (for a multi-tenant template, the issuers of the
        /// allowed tenants).
        expected: String,
        /// The `iss` received.
        received: String,
    },
    /// A multi-tenant provider (the Entra `{tenantid}` template) issued the token in a
    /// tenant the connection does not name.
    #[error("the ID token comes from tenant {received:?}, which this connection does not allow (allowed: [{}])", .allowed.join(", "))]
    TenantNotAllowed {
        /// The tenants the connection names.
        allowed: Vec<String>,
        /// The tenant of the token (from `iss`, or `tid`).
        received: String,
    },
    /// `aud` does not contain the client id.
    #[error("the ID token's aud is [{}], expected it to contain the client id {expected:?}", .received.join(", "))]
    AudienceMismatch {
        /// The client id.
        expected: String,
        /// The audiences received.
        received: Vec<String>,
    },
    /// `azp` is required (several audiences) or present, and is not the client id.
    #[error("the ID token's azp is {}, expected the client id {expected:?}", .received.as_ref().map(|r| format!("{r:?}")).unwrap_or_else(|| "absent (required with several audiences)".into()))]
    AuthorizedPartyMismatch {
        /// The client id.
        expected: String,
        /// The `azp` received.
        received: Option<String>,
    },
    /// `exp` has passed, skew included.
    #[error("the ID token expired: exp is {exp_ms} ms, and now ({now_ms} ms) is at or past it plus the allowed clock skew of {skew_ms} ms")]
    Expired {
        /// `exp`, Unix ms.
        exp_ms: i64,
        /// The verifier's now, Unix ms.
        now_ms: i64,
        /// The allowed skew, ms.
        skew_ms: i64,
    },
    /// `nbf` or `iat` is later than now plus skew.
    #[error("the ID token's {claim} is {at_ms} ms, later than now ({now_ms} ms) plus the allowed clock skew of {skew_ms} ms; check the provider's clock")]
    NotYetValid {
        /// `nbf` or `iat`.
        claim: &'static str,
        /// Its value, Unix ms.
        at_ms: i64,
        /// The verifier's now, Unix ms.
        now_ms: i64,
        /// The allowed skew, ms.
        skew_ms: i64,
    },
    /// The ID token has no `nonce`, and the request sent one.
    #[error("the ID token has no nonce, and the authorization request sent one")]
    NonceMissing,
    /// The ID token's `nonce` is not the one of this browser's request (values not shown).
    #[error(
        "the ID token's nonce is not the one this sign-in sent (a replayed or injected token)"
    )]
    NonceMismatch,
    /// `at_hash` does not match the access token (values not shown).
    #[error("the ID token's at_hash does not match the access token of the same response")]
    AccessTokenHashMismatch,

    // ---- user info ----
    /// The user-info `sub` differs from the ID token's (OIDC Core §5.3.2).
    #[error("the user-info sub is {received:?}, expected the ID token's {expected:?}")]
    UserinfoSubjectMismatch {
        /// The ID token's `sub`.
        expected: String,
        /// The user-info `sub` (empty when absent).
        received: String,
    },
    /// The user-info answer is not a JSON object.
    #[error("the user-info response is invalid: {problem}")]
    UserinfoInvalid {
        /// What is wrong.
        problem: &'static str,
    },
}

impl OidcRefusal {
    /// Every code [`OidcRefusal::code`] can return.
    pub const CODES: &'static [&'static str] = &[
        "oidc_config",
        "oidc_discovery",
        "oidc_weak_randomness",
        "oidc_pending_invalid",
        "oidc_transport",
        "oidc_http_status",
        "oidc_too_large",
        "oidc_provider_error",
        "oidc_callback_missing",
        "oidc_callback_duplicate",
        "oidc_callback_iss_mismatch",
        "oidc_callback_iss_missing",
        "oidc_no_token_endpoint",
        "oidc_auth_method_unsupported",
        "oidc_token_error",
        "oidc_token_response_invalid",
        "oidc_id_token_malformed",
        "oidc_id_token_crit",
        "oidc_alg_not_allowed",
        "oidc_unknown_kid",
        "oidc_ambiguous_kid",
        "oidc_key_unusable",
        "oidc_signature_invalid",
        "oidc_jwks_invalid",
        "oidc_claims_invalid",
        "oidc_missing_claim",
        "oidc_iss_mismatch",
        "oidc_tenant_not_allowed",
        "oidc_aud_mismatch",
        "oidc_azp_mismatch",
        "oidc_expired",
        "oidc_not_yet_valid",
        "oidc_nonce_missing",
        "oidc_nonce_mismatch",
        "oidc_at_hash_mismatch",
        "oidc_userinfo_sub_mismatch",
        "oidc_userinfo_invalid",
    ];

    /// A stable machine-readable code, one per variant.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Config { .. } => "oidc_config",
            Self::Discovery(_) => "oidc_discovery",
            Self::WeakRandomness => "oidc_weak_randomness",
            Self::PendingInvalid => "oidc_pending_invalid",
            Self::Transport { .. } => "oidc_transport",
            Self::HttpStatus { .. } => "oidc_http_status",
            Self::TooLarge { .. } => "oidc_too_large",
            Self::ProviderError { .. } => "oidc_provider_error",
            Self::CallbackMissing { .. } => "oidc_callback_missing",
            Self::CallbackDuplicate { .. } => "oidc_callback_duplicate",
            Self::CallbackIssuerMismatch { .. } => "oidc_callback_iss_mismatch",
            Self::CallbackIssuerMissing { .. } => "oidc_callback_iss_missing",
            Self::NoTokenEndpoint => "oidc_no_token_endpoint",
            Self::AuthMethodUnsupported { .. } => "oidc_auth_method_unsupported",
            Self::TokenError { .. } => "oidc_token_error",
            Self::TokenResponseInvalid { .. } => "oidc_token_response_invalid",
            Self::IdTokenMalformed { .. } => "oidc_id_token_malformed",
            Self::CriticalHeader { .. } => "oidc_id_token_crit",
            Self::AlgorithmNotAllowed { .. } => "oidc_alg_not_allowed",
            Self::UnknownKey { .. } => "oidc_unknown_kid",
            Self::AmbiguousKey { .. } => "oidc_ambiguous_kid",
            Self::KeyUnusable { .. } => "oidc_key_unusable",
            Self::SignatureInvalid { .. } => "oidc_signature_invalid",
            Self::JwksInvalid { .. } => "oidc_jwks_invalid",
            Self::ClaimsInvalid { .. } => "oidc_claims_invalid",
            Self::MissingClaim { .. } => "oidc_missing_claim",
            Self::IssuerMismatch { .. } => "oidc_iss_mismatch",
            Self::TenantNotAllowed { .. } => "oidc_tenant_not_allowed",
            Self::AudienceMismatch { .. } => "oidc_aud_mismatch",
            Self::AuthorizedPartyMismatch { .. } => "oidc_azp_mismatch",
            Self::Expired { .. } => "oidc_expired",
            Self::NotYetValid { .. } => "oidc_not_yet_valid",
            Self::NonceMissing => "oidc_nonce_missing",
            Self::NonceMismatch => "oidc_nonce_mismatch",
            Self::AccessTokenHashMismatch => "oidc_at_hash_mismatch",
            Self::UserinfoSubjectMismatch { .. } => "oidc_userinfo_sub_mismatch",
            Self::UserinfoInvalid { .. } => "oidc_userinfo_invalid",
        }
    }
}

/// A provider's value as a refusal may show it: at most [`MAX_VALUE_CHARS`] characters,
/// control characters replaced by `?`.
pub(crate) fn shown(value: &str) -> String {
    let mut out: String = value
        .chars()
        .take(MAX_VALUE_CHARS)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    if value.chars().count() > MAX_VALUE_CHARS {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_is_listed_and_unique() {
        let mut seen = std::collections::HashSet::new();
        for c in OidcRefusal::CODES {
            assert!(seen.insert(*c), "duplicate {c}");
            assert!(c.starts_with("oidc_"));
        }
        let samples = [
            OidcRefusal::NonceMismatch,
            OidcRefusal::WeakRandomness,
            OidcRefusal::Expired {
                exp_ms: 1,
                now_ms: 2,
                skew_ms: 3,
            },
        ];
        for s in &samples {
            assert!(OidcRefusal::CODES.contains(&s.code()));
            assert!(!s.to_string().is_empty());
        }
    }

    #[test]
    fn shown_cuts_and_cleans() {
        assert_eq!(shown("a\nb"), "a?b");
        assert_eq!(shown(&"x".repeat(500)).chars().count(), MAX_VALUE_CHARS + 1);
        assert_eq!(
            ProviderErrorKind::parse("access_denied"),
            ProviderErrorKind::AccessDenied
        );
        assert_eq!(ProviderErrorKind::parse("weird\u{7}").as_str(), "weird?");
    }
}
