//! The token request (RFC 6749 §4.1.3 with PKCE, RFC 7636 §4.5) and its response.

use std::fmt;

use serde::Deserialize;
use zeroize::Zeroizing;

use super::config::TokenAuthMethod;
use super::refusal::{shown, OidcRefusal, ProviderErrorKind};
use super::{PendingAuthorization, RelyingParty};
use crate::secret::{AccessToken, AuthorizationCode};

/// Largest token response accepted, in bytes.
pub const MAX_TOKEN_RESPONSE_BYTES: usize = 128 * 1024;

/// A token request to send: `POST` `url` with `form` as
/// `application/x-www-form-urlencoded`, and HTTP Basic credentials when `basic` is set.
/// Redirects must not be followed (the code and secret would go along).
#[derive(Clone)]
pub struct TokenRequest {
    /// The token endpoint.
    pub url: String,
    /// The form fields (the code, the PKCE verifier and, with `client_secret_post`, the
    /// secret: zeroized on drop, never in `Debug`).
    pub form: Vec<(&'static str, Zeroizing<String>)>,
    /// `client_secret_basic`: the client id and secret, which the HTTP client
    /// form-encodes before base64 (RFC 6749 §2.3.1).
    pub basic: Option<(String, Zeroizing<String>)>,
    /// The method chosen.
    pub auth_method: TokenAuthMethod,
}

impl fmt::Debug for TokenRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenRequest")
            .field("url", &self.url)
            .field(
                "form",
                &self.form.iter().map(|(k, _)| *k).collect::<Vec<_>>(),
            )
            .field("auth_method", &self.auth_method)
            .finish_non_exhaustive()
    }
}

impl TokenRequest {
    /// The form as borrowed pairs, as an HTTP client takes them.
    pub fn form_pairs(&self) -> Vec<(&str, &str)> {
        self.form.iter().map(|(k, v)| (*k, v.as_str())).collect()
    }

    /// The Basic credentials as borrowed pairs.
    pub fn basic_pair(&self) -> Option<(&str, &str)> {
        self.basic.as_ref().map(|(u, p)| (u.as_str(), p.as_str()))
    }
}

/// A successful token response (only what the relying party uses).
#[derive(Clone)]
pub struct TokenResponse {
    /// `access_token` (for user info and `at_hash`).
    pub access_token: AccessToken,
    /// `id_token`, not yet verified.
    pub id_token: Zeroizing<String>,
    /// `expires_in`, seconds, when given.
    pub expires_in: Option<u64>,
    /// `scope`, when given (the scopes granted).
    pub scope: Option<String>,
}

impl fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenResponse")
            .field("access_token", &self.access_token)
            .field("id_token", &"[redacted]")
            .field("expires_in", &self.expires_in)
            .field("scope", &self.scope)
            .finish()
    }
}

#[derive(Deserialize)]
struct RawOk {
    access_token: Option<String>,
    token_type: Option<String>,
    id_token: Option<String>,
    expires_in: Option<serde_json::Value>,
    scope: Option<String>,
}

#[derive(Deserialize)]
struct RawErr {
    error: Option<String>,
    error_description: Option<String>,
}

impl RelyingParty {
    /// The token endpoint authentication method: the configured one, else a public
    /// client's `none`, else `client_secret_basic` when the provider lists it or lists
    /// nothing (the OIDC Discovery default), else `client_secret_post` when listed.
    pub fn token_auth_method(&self) -> Result<TokenAuthMethod, OidcRefusal> {
        let supported = &self.provider.token_endpoint_auth_methods_supported;
        let listed = |m: TokenAuthMethod| supported.iter().any(|s| s == m.as_str());
        let public = self.client.is_public();
        let unsupported = || OidcRefusal::AuthMethodUnsupported {
            supported: supported.iter().map(|s| shown(s)).collect(),
            public,
        };
        if let Some(m) = self.client.token_auth_method {
            if (m == TokenAuthMethod::None) != public {
                return Err(OidcRefusal::Config {
                    problem: format!(
                        "token auth method {} does not fit a {} client",
                        m.as_str(),
                        if public { "public" } else { "confidential" }
                    ),
                });
            }
            return Ok(m);
        }
        if public {
            // A provider that lists methods and not `none` does not take public clients.
            if supported.is_empty() || listed(TokenAuthMethod::None) {
                return Ok(TokenAuthMethod::None);
            }
            return Err(unsupported());
        }
        if supported.is_empty() || listed(TokenAuthMethod::ClientSecretBasic) {
            Ok(TokenAuthMethod::ClientSecretBasic)
        } else if listed(TokenAuthMethod::ClientSecretPost) {
            Ok(TokenAuthMethod::ClientSecretPost)
        } else {
            Err(unsupported())
        }
    }

    /// The token request for `code`: `grant_type=authorization_code`, the code, the
    /// redirect URI and the PKCE verifier of `pending`, with the client authentication of
    /// [`Self::token_auth_method`].
    pub fn token_request(
        &self,
        code: &AuthorizationCode,
        pending: &PendingAuthorization,
    ) -> Result<TokenRequest, OidcRefusal> {
        let url = self
            .provider
            .discovery
            .token_endpoint
            .clone()
            .ok_or(OidcRefusal::NoTokenEndpoint)?;
        let method = self.token_auth_method()?;
        let z = |s: &str| Zeroizing::new(s.to_owned());
        let mut form = vec![
            ("grant_type", z("authorization_code")),
            ("code", z(code.expose_secret())),
            ("redirect_uri", z(&pending.redirect_uri)),
            ("code_verifier", z(pending.pkce_verifier.expose_secret())),
        ];
        let secret = self.client.client_secret.as_ref();
        let mut basic = None;
        match (method, secret) {
            (TokenAuthMethod::ClientSecretBasic, Some(s)) => {
                basic = Some((self.client.client_id.clone(), z(s.expose_secret())));
            }
            (TokenAuthMethod::ClientSecretPost, Some(s)) => {
                form.push(("client_id", z(&self.client.client_id)));
                form.push(("client_secret", z(s.expose_secret())));
            }
            (TokenAuthMethod::None, None) => {
                form.push(("client_id", z(&self.client.client_id)));
            }
            _ => {
                return Err(OidcRefusal::Config {
                    problem: "the token auth method does not fit the client".into(),
                })
            }
        }
        Ok(TokenRequest {
            url,
            form,
            basic,
            auth_method: method,
        })
    }

    /// Reads the token endpoint's answer: 200 with a JSON object holding `access_token`,
    /// `token_type` Bearer and `id_token` (OIDC Core §3.1.3.3); 400 and 401 with an
    /// `error` become [`OidcRefusal::TokenError`]; anything else is refused.
    pub fn parse_token_response(
        &self,
        status: u16,
        body: &[u8],
    ) -> Result<TokenResponse, OidcRefusal> {
        parse_token_response(status, body)
    }
}

fn invalid(problem: &str) -> OidcRefusal {
    OidcRefusal::TokenResponseInvalid {
        problem: problem.to_owned(),
    }
}

pub(crate) fn parse_token_response(status: u16, body: &[u8]) -> Result<TokenResponse, OidcRefusal> {
    if body.len() > MAX_TOKEN_RESPONSE_BYTES {
        return Err(OidcRefusal::TooLarge {
            what: "token response",
            limit: MAX_TOKEN_RESPONSE_BYTES,
            received: body.len(),
        });
    }
    if status != 200 {
        if matches!(status, 400 | 401) {
            if let Ok(RawErr {
                error: Some(e),
                error_description,
            }) = serde_json::from_slice::<RawErr>(body)
            {
                return Err(OidcRefusal::TokenError {
                    kind: ProviderErrorKind::parse(&e),
                    description: error_description.as_deref().map(shown),
                });
            }
        }
        return Err(OidcRefusal::HttpStatus {
            endpoint: "token",
            expected: "200",
            status,
        });
    }
    let raw: RawOk = serde_json::from_slice(body)
        .map_err(|_| invalid("not a JSON object of the expected shape"))?;
    let raw = Zeroizing::new(RawOkSecrets(raw));
    let raw = &raw.0;
    let access_token = raw
        .access_token
        .as_deref()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| invalid("no access_token"))?;
    match raw.token_type.as_deref() {
        Some(t) if t.eq_ignore_ascii_case("bearer") => {}
        Some(t) => {
            return Err(invalid(&format!(
                "token_type is {:?}, expected Bearer",
                shown(t)
            )))
        }
        None => return Err(invalid("no token_type")),
    }
    let id_token = raw
        .id_token
        .as_deref()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| invalid("no id_token (was the openid scope granted?)"))?;
    let expires_in = match &raw.expires_in {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::Number(n)) => n.as_u64(),
        // Some providers send it as a string.
        Some(serde_json::Value::String(s)) => s.parse().ok(),
        Some(_) => return Err(invalid("expires_in is not a number")),
    };
    Ok(TokenResponse {
        access_token: AccessToken::new(access_token),
        id_token: Zeroizing::new(id_token.to_owned()),
        expires_in,
        scope: raw.scope.clone(),
    })
}

/// Zeroizes the secrets of a parsed response when dropped.
struct RawOkSecrets(RawOk);

impl zeroize::Zeroize for RawOkSecrets {
    fn zeroize(&mut self) {
        if let Some(s) = self.0.access_token.as_mut() {
            s.zeroize();
        }
        if let Some(s) = self.0.id_token.as_mut() {
            s.zeroize();
        }
    }
}
