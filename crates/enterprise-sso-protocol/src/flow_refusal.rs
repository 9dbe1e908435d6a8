//! The typed reasons a sign-in flow refuses, one enum a flow: the SAML SP's
//! ([`SamlRefusal`]), the OIDC RP's ([`OidcSignInRefusal`]) and the hosted API's
//! ([`HostedRefusal`]). Each wraps the engine's own reason where the engine refused, and
//! names the flow's rule otherwise; each names what was expected and what was received,
//! never a code, token, verifier or secret. The flows themselves live in
//! `enterprise-sso-flows`; the reasons live here, beside the engines, so the core's error
//! type can carry them without depending on the flows.

use crate::oidc::rp::OidcRefusal;
use crate::saml::sp::{AuthnRequestError, Refusal};

/// Why a SAML sign-in was refused: a rule of the Response verifier, or of the flow around
/// it. Each names what was expected and what was received; none holds a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SamlRefusal {
    /// The Response broke a rule of the verifier.
    #[error(transparent)]
    Response(#[from] Refusal),
    /// The connection is not a SAML connection.
    #[error("the connection is not a SAML connection")]
    NotSaml,
    /// The connection has no IdP SSO URL or entity id yet.
    #[error("the connection's IdP {missing} is not configured")]
    NotConfigured {
        /// `idp_sso_url` or `idp_entity_id`.
        missing: &'static str,
    },
    /// The AuthnRequest could not be made (RelayState too long, no signing key).
    #[error("the AuthnRequest could not be made: {0}")]
    Request(#[from] AuthnRequestError),
    /// `InResponseTo` names no pending request: unknown, expired, or used already.
    #[error("InResponseTo {in_response_to:?} matches no pending request (unknown, expired or already used)")]
    UnknownRequest {
        /// The verified `InResponseTo`.
        in_response_to: String,
    },
    /// The pending request was made for another connection.
    #[error(
        "the request was made for connection {expected}, the response was posted to {received}"
    )]
    RequestForAnotherConnection {
        /// The connection the request was made for.
        expected: String,
        /// The connection whose ACS received the response.
        received: String,
    },
    /// The response came back in another browser than the one that started the flow.
    #[error("the response was posted from another browser than the one that started the sign-in")]
    BrowserMismatch,
    /// The assertion was used before.
    #[error("assertion {assertion_id:?} was already used")]
    Replayed {
        /// The assertion's ID.
        assertion_id: String,
    },
    /// The response answers a test run's request where a sign-in's was expected, or the
    /// other way round (a test run never signs anyone in).
    #[error("the response answers a {received}, expected a {expected}")]
    RequestKindMismatch {
        /// What the ACS expected: `sign-in` or `test run`.
        expected: &'static str,
        /// What the response answers: `sign-in`, `test run` or `unsolicited response`.
        received: &'static str,
    },
}

impl SamlRefusal {
    /// A stable snake_case code (the verifier's codes start with `saml_` too).
    pub fn code(&self) -> &'static str {
        match self {
            SamlRefusal::Response(r) => r.code(),
            SamlRefusal::NotSaml => "saml_not_a_saml_connection",
            SamlRefusal::NotConfigured { .. } => "saml_connection_not_configured",
            SamlRefusal::Request(_) => "saml_request_invalid",
            SamlRefusal::UnknownRequest { .. } => "saml_unknown_request",
            SamlRefusal::RequestForAnotherConnection { .. } => {
                "saml_request_for_another_connection"
            }
            SamlRefusal::BrowserMismatch => "saml_browser_mismatch",
            SamlRefusal::Replayed { .. } => "saml_assertion_replayed",
            SamlRefusal::RequestKindMismatch { .. } => "saml_request_kind_mismatch",
        }
    }
}

/// Why an OIDC sign-in was refused: a rule of the relying party, or of the flow.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum OidcSignInRefusal {
    /// The relying party refused (provider error, token, ID token, user info).
    #[error(transparent)]
    Rp(#[from] OidcRefusal),
    /// The connection is not an OIDC connection.
    #[error("the connection is not an OIDC connection")]
    NotOidc,
    /// The connection lacks what the flow needs.
    #[error("the connection's {missing} is not configured")]
    NotConfigured {
        /// `client_id` or `discovery_url`.
        missing: &'static str,
    },
    /// The callback's `state` names no pending request (unknown, expired or used).
    #[error("the callback's state matches no pending request (unknown, expired or already used)")]
    UnknownState,
    /// The pending request was made for another connection.
    #[error("the request was made for connection {expected}, the callback arrived for {received}")]
    RequestForAnotherConnection {
        /// The connection the request was made for.
        expected: String,
        /// The connection whose callback received it.
        received: String,
    },
    /// The callback came back in another browser.
    #[error("the callback arrived from another browser than the one that started the sign-in")]
    BrowserMismatch,
    /// The callback answers a test run's request where a sign-in's was expected, or the
    /// other way round (a test run never signs anyone in).
    #[error("the callback answers a {received}, expected a {expected}")]
    RequestKindMismatch {
        /// What was expected: `sign-in` or `test run`.
        expected: &'static str,
        /// What the callback answers.
        received: &'static str,
    },
}

impl OidcSignInRefusal {
    /// A stable snake_case code.
    pub fn code(&self) -> &'static str {
        match self {
            OidcSignInRefusal::Rp(r) => r.code(),
            OidcSignInRefusal::NotOidc => "oidc_not_an_oidc_connection",
            OidcSignInRefusal::NotConfigured { .. } => "oidc_connection_not_configured",
            OidcSignInRefusal::UnknownState => "oidc_unknown_state",
            OidcSignInRefusal::RequestForAnotherConnection { .. } => {
                "oidc_request_for_another_connection"
            }
            OidcSignInRefusal::BrowserMismatch => "oidc_browser_mismatch",
            OidcSignInRefusal::RequestKindMismatch { .. } => "oidc_request_kind_mismatch",
        }
    }
}

/// Why the hosted API refused: each names the expected and received values where there
/// are values, never a code, token, verifier or secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HostedRefusal {
    /// The client's `state` is longer than kept.
    #[error("state is {received} bytes, at most {max} are accepted")]
    StateTooLong {
        /// `MAX_CLIENT_STATE_BYTES` of the hosted API.
        max: usize,
        /// The length sent.
        received: usize,
    },
    /// The RelayState posted to the ACS is longer than the SAML bindings allow.
    #[error("RelayState is {received} bytes, at most {max} are accepted")]
    RelayStateTooLong {
        /// `MAX_RELAY_STATE_BYTES` of the hosted API.
        max: usize,
        /// The length posted.
        received: usize,
    },
    /// `code_challenge` is not an S256 challenge (43 base64url characters).
    #[error("code_challenge is not an S256 challenge: {reason}")]
    InvalidCodeChallenge {
        /// What is wrong.
        reason: &'static str,
    },
    /// The sign-in answers no authorization request of the hosted API (unknown, expired
    /// or used), e.g. a flow started by the library directly.
    #[error(
        "the sign-in answers no pending authorization request (unknown, expired or already used)"
    )]
    NoAuthorizationRequest,
    /// An IdP-initiated sign-in arrived, but no client takes IdP-initiated sign-ins.
    #[error("no client is configured for IdP-initiated sign-ins")]
    NoIdpInitiatedClient,
    /// An IdP-initiated RelayState named a redirect URI the client did not register.
    #[error("the RelayState's redirect_uri {received:?} is not registered for client {client_id}")]
    IdpInitiatedRedirectNotRegistered {
        /// The client.
        client_id: String,
        /// The URI named.
        received: String,
    },
    /// No live code: unknown, expired, or used already.
    #[error("the code has expired, is invalid or was already used")]
    CodeUnknown,
    /// The code was issued to another client.
    #[error("the code was issued to client {expected}, not to {received}")]
    CodeOfAnotherClient {
        /// The client the code was issued to.
        expected: String,
        /// The client that presented it.
        received: String,
    },
    /// The `redirect_uri` sent is not the one the code was issued for.
    #[error("the code was issued for redirect_uri {expected:?}, not {received:?}")]
    RedirectUriMismatch {
        /// The code's redirect URI.
        expected: String,
        /// The one sent.
        received: String,
    },
    /// The code has a PKCE challenge and no `code_verifier` was sent.
    #[error("the code was issued with a PKCE challenge; code_verifier is required")]
    CodeVerifierMissing,
    /// The verifier does not hash to the challenge.
    #[error("code_verifier does not match: the challenge is {expected}, the verifier's S256 is {received}")]
    CodeVerifierMismatch {
        /// The challenge given at authorize.
        expected: String,
        /// BASE64URL(SHA-256(verifier)) of the verifier sent.
        received: String,
    },
    /// A `code_verifier` was sent for a code issued without a challenge (a PKCE
    /// downgrade).
    #[error("code_verifier was sent, but the authorization request had no code_challenge")]
    CodeVerifierUnexpected,
    /// The `code_verifier` is not 43 to 128 unreserved characters (RFC 7636).
    #[error("code_verifier must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~")]
    InvalidCodeVerifier,
    /// Neither a client secret nor PKCE authenticated the exchange.
    #[error("the client is not authenticated: send client_secret, or code_verifier for a code issued with a PKCE challenge")]
    ClientNotAuthenticated,
    /// No live access token: unknown or expired.
    #[error("the access token is invalid or expired")]
    AccessTokenUnknown,
}

impl HostedRefusal {
    /// A stable snake_case code naming the rule.
    pub fn code(&self) -> &'static str {
        match self {
            HostedRefusal::StateTooLong { .. } => "state_too_long",
            HostedRefusal::RelayStateTooLong { .. } => "relay_state_too_long",
            HostedRefusal::InvalidCodeChallenge { .. } => "invalid_code_challenge",
            HostedRefusal::NoAuthorizationRequest => "no_authorization_request",
            HostedRefusal::NoIdpInitiatedClient => "no_idp_initiated_client",
            HostedRefusal::IdpInitiatedRedirectNotRegistered { .. } => {
                "idp_initiated_redirect_not_registered"
            }
            HostedRefusal::CodeUnknown => "code_unknown",
            HostedRefusal::CodeOfAnotherClient { .. } => "code_of_another_client",
            HostedRefusal::RedirectUriMismatch { .. } => "redirect_uri_mismatch",
            HostedRefusal::CodeVerifierMissing => "code_verifier_missing",
            HostedRefusal::CodeVerifierMismatch { .. } => "code_verifier_mismatch",
            HostedRefusal::CodeVerifierUnexpected => "code_verifier_unexpected",
            HostedRefusal::InvalidCodeVerifier => "invalid_code_verifier",
            HostedRefusal::ClientNotAuthenticated => "client_not_authenticated",
            HostedRefusal::AccessTokenUnknown => "access_token_unknown",
        }
    }

    /// The OAuth 2.0 error code the token endpoint answers with (`invalid_grant`,
    /// `invalid_request`, `invalid_client`; `invalid_token` for an access token).
    pub fn oauth_error(&self) -> &'static str {
        match self {
            HostedRefusal::CodeUnknown
            | HostedRefusal::CodeOfAnotherClient { .. }
            | HostedRefusal::RedirectUriMismatch { .. }
            | HostedRefusal::CodeVerifierMissing
            | HostedRefusal::CodeVerifierMismatch { .. } => "invalid_grant",
            HostedRefusal::ClientNotAuthenticated => "invalid_client",
            HostedRefusal::AccessTokenUnknown => "invalid_token",
            HostedRefusal::NoAuthorizationRequest
            | HostedRefusal::NoIdpInitiatedClient
            | HostedRefusal::IdpInitiatedRedirectNotRegistered { .. } => "access_denied",
            _ => "invalid_request",
        }
    }
}
