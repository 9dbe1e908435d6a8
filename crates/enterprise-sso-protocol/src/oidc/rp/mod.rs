//! The OpenID Connect relying party: the authorization code flow with PKCE, and ID token
//! verification written out rule by rule (OpenID Connect Core §3.1), free of the domain
//! model and of network I/O.
//!
//! # The flow
//!
//! 1. [`ProviderMetadata::from_discovery`] (or [`RelyingParty::discover`]) reads the
//!    provider's discovery document; [`RelyingParty::new`] pairs it with the
//!    [`ClientConfig`].
//! 2. [`RelyingParty::authorization_request`] builds the URL (`response_type=code`,
//!    `openid email profile` + the connection's scopes, `state`, `nonce`, PKCE S256 always)
//!    from 64 random bytes the caller draws, and returns the [`PendingAuthorization`] the
//!    caller keeps under the `state` in its pending-request store.
//! 3. [`RelyingParty::callback`] reads the redirect: RFC 9207 `iss` (mix-up defence), the
//!    provider's `error` as a typed reason, `code` and `state`. The caller takes the
//!    pending record by `state`, exactly once (a forged or replayed state finds nothing).
//! 4. [`RelyingParty::complete`] exchanges the code ([`RelyingParty::token_request`]:
//!    `client_secret_basic` or `client_secret_post` from discovery, the PKCE verifier;
//!    public clients send only their id), verifies the ID token
//!    ([`RelyingParty::verify_id_token`]) against the provider's JWKS ([`JwksCache`]),
//!    fetches user info when the token lacks claims (its `sub` must be the token's), and
//!    returns the [`OidcIdentity`].
//!
//! # I/O
//!
//! The relying party never opens a connection. The host implements [`OidcHttp`] (three
//! calls: GET, GET with a bearer token, POST a form with optional Basic authentication);
//! `enterprise-sso-fetch` is the SSRF-safe implementation. Every step is also available
//! without I/O: [`RelyingParty::token_request`] describes the request,
//! [`RelyingParty::parse_token_response`], [`JwksCache::load`],
//! [`RelyingParty::verify_id_token_cached`] and [`RelyingParty::parse_userinfo`] take the
//! answers as bytes. Time is passed in (`now_ms`, Unix ms), and so is randomness.
//!
//! # Signatures
//!
//! aws-lc-rs checks signature bytes, with each JWKS key parsed once per loaded set (not
//! per token) and HS* through its constant-time HMAC check; which algorithm, which key and
//! which claims count is decided here: `none` never, HS* only keyed by the client secret
//! and only when the provider advertises it, keys only from the provider's JWKS by `kid`,
//! `kty`, `use`, `alg` (the `jku`, `x5u`, `jwk`, `x5c` headers are ignored), RSA keys of
//! 2048 bits or more, ambiguous `kid`s refused.
//!
//! # Emails, and Microsoft Entra ID
//!
//! [`OidcIdentity::email`] is set only when the provider vouches for it: `email_verified:
//! true`, or Entra's optional `xms_edov: true` claim, or the connection's
//! [`ClientConfig::provider_emails_verified`]. Entra ID sends no `email_verified`, and its
//! `email` is an attribute any tenant administrator can set to any address (the "nOAuth"
//! account takeover). What we recommend for Entra: key accounts by `sub` (with `tid`),
//! never by email; request the `xms_edov` optional claim in the app registration, which
//! this library honours; set `provider_emails_verified` only for a single-tenant
//! connection whose tenant belongs to the organization the connection's domains route to
//! (the core's tenant boundary then checks the domain), and never for a multi-tenant
//! (`common` / `organizations`) connection. By default an Entra email is not trusted.
//!
//! # Multi-tenant issuers
//!
//! Entra's `common` and `organizations` discovery documents name the issuer template
//! `https://login.microsoftonline.com/{tenantid}/v2.0`. A token from such a provider is
//! accepted only when its `iss` is the template filled with one of
//! [`ClientConfig::allowed_tenants`] (and its `tid`, when present, is that tenant); with
//! no tenant named, every token is refused ([`OidcRefusal::TenantNotAllowed`]).
//!
//! Every refusal is an [`OidcRefusal`] with a stable [`code`](OidcRefusal::code); none holds
//! a token, code, secret, nonce or verifier.

mod authorize;
mod callback;
mod config;
mod http;
mod id_token;
mod identity;
mod jwks;
mod refusal;
mod token;

pub use authorize::{
    AuthorizationOptions, AuthorizationRequest, PendingAuthorization, AUTHORIZATION_RANDOM_BYTES,
    BASE_SCOPES,
};
pub use callback::{Callback, CallbackOutcome, MAX_CALLBACK_BYTES};
pub use config::{
    ClientConfig, OidcClientSecret, ProviderMetadata, TokenAuthMethod, DEFAULT_CLOCK_SKEW_MS,
};
pub use http::{HttpError, HttpResponse, OidcHttp};
pub use id_token::{IdTokenClaims, ASYMMETRIC_ALGORITHMS, HMAC_ALGORITHMS, MAX_ID_TOKEN_BYTES};
pub use identity::{EmailVerification, OidcIdentity, MAX_USERINFO_BYTES};
pub use jwks::{
    JwksCache, DEFAULT_JWKS_MAX_AGE_MS, DEFAULT_JWKS_REFETCH_INTERVAL_MS, MAX_JWKS_BYTES,
    MAX_JWKS_KEYS, MIN_RSA_BITS,
};
pub use refusal::{OidcRefusal, ProviderErrorKind, MAX_VALUE_CHARS};
pub use token::{TokenRequest, TokenResponse, MAX_TOKEN_RESPONSE_BYTES};

use crate::limits::Policy;
use crate::oidc::{ENTRA_TENANT_TEMPLATE, MAX_DISCOVERY_BYTES};
use crate::secret::{AuthorizationCode, IdToken};
use refusal::shown;

/// A completed flow ([`RelyingParty::complete`]): the identity, and the ID token it was
/// read from, verified. The provider's access and refresh tokens are not kept: they were
/// used for `at_hash` and user info only.
#[derive(Debug, Clone)]
pub struct OidcCompletion {
    /// The identity.
    pub identity: OidcIdentity,
    /// The verified ID token, as the token endpoint sent it (compact JWS; redacted in
    /// `Debug`). A connection test run records it for the admin.
    pub id_token: IdToken,
}

/// One connection's relying party: the provider's metadata and this client.
#[derive(Debug, Clone)]
pub struct RelyingParty {
    provider: ProviderMetadata,
    client: ClientConfig,
}

impl RelyingParty {
    /// Pairs a provider with a client. Refused: an empty client id or redirect URI, a
    /// negative skew, and a tenant template issuer with no allowed tenant is accepted here
    /// but refuses every token.
    pub fn new(provider: ProviderMetadata, client: ClientConfig) -> Result<Self, OidcRefusal> {
        let problem = if client.client_id.trim().is_empty() {
            Some("the client id is empty")
        } else if client.redirect_uri.trim().is_empty() {
            Some("the redirect URI is empty")
        } else if client.clock_skew_ms < 0 {
            Some("the clock skew is negative")
        } else if client.client_secret.as_ref().is_some_and(|s| s.is_empty()) {
            Some("the client secret is empty (use None for a public client)")
        } else {
            None
        };
        if let Some(p) = problem {
            return Err(OidcRefusal::Config { problem: p.into() });
        }
        Ok(Self { provider, client })
    }

    /// The provider's metadata.
    pub fn provider(&self) -> &ProviderMetadata {
        &self.provider
    }

    /// The client.
    pub fn client(&self) -> &ClientConfig {
        &self.client
    }

    /// A JWKS cache for this provider's `jwks_uri`, with the default intervals. Keep it
    /// per provider, beside the relying party, and share it between requests.
    pub fn new_jwks_cache(&self) -> JwksCache {
        JwksCache::new(self.provider.discovery.jwks_uri.clone())
    }

    /// Fetches and reads a discovery document ([`ProviderMetadata::from_discovery`]).
    pub async fn discover(
        http: &dyn OidcHttp,
        discovery_url: &str,
        policy: &Policy,
    ) -> Result<ProviderMetadata, OidcRefusal> {
        let resp = http
            .get(discovery_url, MAX_DISCOVERY_BYTES)
            .await
            .map_err(|e| OidcRefusal::Transport {
                endpoint: "discovery",
                message: shown(&e.to_string()),
            })?;
        if resp.status != 200 {
            return Err(OidcRefusal::HttpStatus {
                endpoint: "discovery",
                expected: "200",
                status: resp.status,
            });
        }
        ProviderMetadata::from_discovery(&resp.body, discovery_url, policy)
    }

    /// Judges an issuer (an ID token's `iss`, a callback's `iss`): `Ok(None)` when it is
    /// exactly the provider's, `Ok(Some(tenant))` when the provider's issuer is a tenant
    /// template and `iss` fills it with an allowed tenant.
    pub(crate) fn judge_issuer(&self, iss: &str) -> Result<Option<String>, OidcRefusal> {
        let expected = self.provider.issuer();
        if !self.provider.is_tenant_template() {
            if iss == expected {
                return Ok(None);
            }
            return Err(OidcRefusal::IssuerMismatch {
                expected: expected.to_owned(),
                received: shown(iss),
            });
        }
        let allowed = &self.client.allowed_tenants;
        let (prefix, suffix) = expected
            .split_once(ENTRA_TENANT_TEMPLATE)
            .unwrap_or((expected, ""));
        let tenant = iss
            .strip_prefix(prefix)
            .and_then(|rest| rest.strip_suffix(suffix))
            .filter(|t| {
                !t.is_empty()
                    && t.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
            });
        let Some(tenant) = tenant else {
            return Err(OidcRefusal::IssuerMismatch {
                expected: if allowed.is_empty() {
                    expected.to_owned()
                } else {
                    allowed
                        .iter()
                        .map(|t| expected.replace(ENTRA_TENANT_TEMPLATE, t))
                        .collect::<Vec<_>>()
                        .join(" or ")
                },
                received: shown(iss),
            });
        };
        match allowed.iter().find(|t| t.eq_ignore_ascii_case(tenant)) {
            Some(t) => Ok(Some(t.clone())),
            None => Err(OidcRefusal::TenantNotAllowed {
                allowed: allowed.clone(),
                received: shown(tenant),
            }),
        }
    }

    /// Whether a callback's `iss` names this provider ([`Self::judge_issuer`]).
    pub(crate) fn accepted_issuer(&self, iss: &str) -> Option<Option<String>> {
        self.judge_issuer(iss).ok()
    }

    /// Sends the token request ([`Self::token_request`]) through `http` and reads the
    /// answer ([`Self::parse_token_response`]).
    pub async fn exchange_code(
        &self,
        http: &dyn OidcHttp,
        code: &AuthorizationCode,
        pending: &PendingAuthorization,
    ) -> Result<TokenResponse, OidcRefusal> {
        let req = self.token_request(code, pending)?;
        let resp = http
            .post_form(
                &req.url,
                &req.form_pairs(),
                req.basic_pair(),
                MAX_TOKEN_RESPONSE_BYTES,
            )
            .await
            .map_err(|e| OidcRefusal::Transport {
                endpoint: "token",
                message: shown(&e.to_string()),
            })?;
        token::parse_token_response(resp.status, &resp.body)
    }

    /// The rest of the flow after the caller took the pending record by the callback's
    /// `state`: exchanges the code, verifies the ID token (with the access token for
    /// `at_hash`), fetches user info when the token lacks claims, and returns the identity
    /// with the verified ID token (never the access or refresh token).
    pub async fn complete(
        &self,
        http: &dyn OidcHttp,
        jwks: &JwksCache,
        callback: &Callback,
        pending: &PendingAuthorization,
        now_ms: i64,
    ) -> Result<OidcCompletion, OidcRefusal> {
        let tokens = self.exchange_code(http, &callback.code, pending).await?;
        let claims = self
            .verify_id_token(
                http,
                jwks,
                &tokens.id_token,
                &pending.nonce,
                Some(&tokens.access_token),
                now_ms,
            )
            .await?;
        let userinfo = if self.needs_userinfo(&claims) {
            Some(self.userinfo(http, &claims, &tokens.access_token).await?)
        } else {
            None
        };
        Ok(OidcCompletion {
            identity: self.identity(&claims, userinfo.as_ref()),
            id_token: IdToken::new(tokens.id_token.as_str()),
        })
    }
}
