//! OIDC sign-in through a connection: the authorization request out (state, nonce, PKCE
//! S256), the callback in, its `state` taken exactly once from the sign-in store and bound
//! to the browser that started the flow, the code exchanged and the ID token verified by
//! the protocol crate's relying party (`enterprise_sso_protocol::oidc::rp`), and the
//! identity recorded as a sign-in ([`Connections::record_sign_in`]). Only a verified
//! email is passed on; the subject is `sub`, never the email.
//!
//! The provider's metadata comes from the connection's discovery URL (fetched through
//! the host's HTTP client, every sign-in); the JWKS cache lives in [`OidcSettings`] and is
//! shared by every sign-in of the provider.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use enterprise_sso_protocol::oidc::rp::{
    AuthorizationOptions, ClientConfig, JwksCache, OidcClientSecret, OidcHttp, OidcIdentity,
    OidcRefusal, PendingAuthorization, RelyingParty,
};

use super::pending::{BoundToBrowser, PendingProblem};
use super::{Connections, SignIn};
use crate::account::Assertion;
use crate::error::{Error, Result};
use crate::ids::ConnectionId;
use crate::repo::Store;
use crate::sign_in_store::{sign_in_key, SignInItem, SignInKind};

/// How long an authorization request may wait for its callback (ten minutes).
pub const DEFAULT_OIDC_REQUEST_TTL: Duration = Duration::from_secs(600);

/// The host's OIDC relying-party settings, shared by every connection: where callbacks
/// arrive (`{base}/{id}/callback`), the HTTP client, and the providers' JWKS caches.
pub struct OidcSettings {
    base_url: String,
    http: Arc<dyn OidcHttp>,
    request_ttl: Duration,
    jwks: Mutex<HashMap<String, Arc<JwksCache>>>,
}

impl std::fmt::Debug for OidcSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcSettings")
            .field("base_url", &self.base_url)
            .field("http", &self.http)
            .field("request_ttl", &self.request_ttl)
            .finish_non_exhaustive()
    }
}

impl OidcSettings {
    /// Settings with callbacks under `base_url`, fetching through `http` (the server uses
    /// the SSRF-safe `enterprise-sso-fetch` client).
    pub fn new(base_url: impl Into<String>, http: Arc<dyn OidcHttp>) -> Self {
        OidcSettings {
            base_url: base_url.into().trim_end_matches('/').to_owned(),
            http,
            request_ttl: DEFAULT_OIDC_REQUEST_TTL,
            jwks: Mutex::new(HashMap::new()),
        }
    }

    /// How long an authorization request may wait for its callback.
    pub fn request_ttl(mut self, ttl: Duration) -> Self {
        self.request_ttl = ttl;
        self
    }

    /// The redirect URI of a connection: `{base}/{id}/callback` (register it at the
    /// provider).
    pub fn redirect_uri(&self, id: &ConnectionId) -> String {
        format!("{}/{id}/callback", self.base_url)
    }

    fn jwks_for(&self, rp: &RelyingParty) -> Arc<JwksCache> {
        let uri = rp.provider().discovery.jwks_uri.clone();
        let mut m = self.jwks.lock().unwrap_or_else(|e| e.into_inner());
        m.entry(uri)
            .or_insert_with(|| Arc::new(rp.new_jwks_cache()))
            .clone()
    }
}

/// What the host gives to start an OIDC sign-in.
#[derive(Debug, Clone, Copy)]
pub struct OidcStart<'a> {
    /// A value bound to the browser (e.g. a random cookie the host set); the callback is
    /// accepted only from the same browser. Stored hashed.
    pub browser: &'a str,
    /// `login_hint` for the provider.
    pub login_hint: Option<&'a str>,
    /// `domain_hint` for the provider (Entra).
    pub domain_hint: Option<&'a str>,
    /// 64 bytes from a CSPRNG (state, nonce and PKCE verifier are made from them).
    pub random: [u8; 64],
}

/// A sign-in finished through OIDC.
#[derive(Debug, Clone)]
pub struct OidcSignIn {
    /// The recorded sign-in.
    pub sign_in: SignIn,
    /// The verified identity it was made from (claims included; no token).
    pub identity: OidcIdentity,
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
        }
    }
}

fn refused(r: impl Into<OidcSignInRefusal>) -> Error {
    Error::OidcRefused(Box::new(r.into()))
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Pending {
    browser: String,
    authorization: Vec<u8>,
}

impl BoundToBrowser for Pending {
    fn browser_key(&self) -> &str {
        &self.browser
    }
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl<R: Store> Connections<R> {
    async fn relying_party(
        &self,
        settings: &OidcSettings,
        id: &ConnectionId,
    ) -> Result<RelyingParty> {
        let conn = self.get(id).await?;
        let o = conn
            .oidc()
            .ok_or_else(|| refused(OidcSignInRefusal::NotOidc))?;
        let client_id = o.client_id.clone().ok_or_else(|| {
            refused(OidcSignInRefusal::NotConfigured {
                missing: "client_id",
            })
        })?;
        let discovery = o.discovery_url.clone().ok_or_else(|| {
            refused(OidcSignInRefusal::NotConfigured {
                missing: "discovery_url",
            })
        })?;
        let secret = o
            .client_secret
            .as_ref()
            .map(|s| OidcClientSecret::new(s.expose_secret()));
        let provider = RelyingParty::discover(settings.http.as_ref(), &discovery, &self.policy)
            .await
            .map_err(refused)?;
        RelyingParty::new(
            provider,
            ClientConfig::new(client_id, secret, settings.redirect_uri(id)),
        )
        .map_err(refused)
    }

    /// Starts an OIDC sign-in: the authorization URL to send the browser to. The request's
    /// nonce and PKCE verifier are kept in the sign-in store under the hashed `state`,
    /// bound to `start.browser`, until the callback takes them.
    pub async fn oidc_start(
        &self,
        settings: &OidcSettings,
        id: &ConnectionId,
        start: OidcStart<'_>,
    ) -> Result<String> {
        let conn = self.get(id).await?;
        if !conn.active {
            return Err(Error::SignInRefused(
                crate::account::SignInRefusal::ConnectionInactive,
            ));
        }
        let rp = self.relying_party(settings, id).await?;
        let now = (self.clock)();
        let request = rp
            .authorization_request(
                &start.random,
                &AuthorizationOptions {
                    login_hint: start.login_hint.map(str::to_owned),
                    domain_hint: start.domain_hint.map(str::to_owned),
                },
                now,
            )
            .map_err(refused)?;
        let payload = serde_json::to_vec(&Pending {
            browser: sign_in_key(start.browser),
            authorization: request.pending.to_payload().to_vec(),
        })
        .map_err(|_| Error::corrupt("an OIDC pending request could not be encoded"))?;
        let item = SignInItem {
            kind: SignInKind::OidcState,
            key: sign_in_key(request.state.expose_secret()),
            connection_id: Some(id.clone()),
            created_at: now,
            expires_at: now.saturating_add(millis(settings.request_ttl)),
            payload,
        };
        if !self.repo.put_sign_in(&item, now).await? {
            return Err(Error::InvalidArgument {
                argument: "random",
                reason: "the state is already pending",
            });
        }
        Ok(request.url)
    }

    /// Handles the provider's callback to connection `id` (`query`: the callback URL's
    /// query string) and records the sign-in. The pending request is taken (used up) as
    /// soon as the state matches, whatever happens next.
    pub async fn oidc_finish(
        &self,
        settings: &OidcSettings,
        id: &ConnectionId,
        query: &str,
        browser: Option<&str>,
    ) -> Result<OidcSignIn> {
        let rp = self.relying_party(settings, id).await?;
        let callback = rp.callback(query).map_err(refused)?;
        let now = (self.clock)();
        let p: Pending = self
            .take_pending(
                SignInKind::OidcState,
                callback.state.expose_secret(),
                id,
                browser,
                now,
                "an OIDC pending request's payload",
            )
            .await?
            .map_err(|problem| {
                refused(match problem {
                    PendingProblem::Unknown => OidcSignInRefusal::UnknownState,
                    PendingProblem::OtherConnection(expected) => {
                        OidcSignInRefusal::RequestForAnotherConnection {
                            expected,
                            received: id.to_string(),
                        }
                    }
                    PendingProblem::OtherBrowser => OidcSignInRefusal::BrowserMismatch,
                })
            })?;
        let authorization =
            PendingAuthorization::from_payload(&p.authorization).map_err(refused)?;
        let jwks = settings.jwks_for(&rp);
        let identity = rp
            .complete(
                settings.http.as_ref(),
                &jwks,
                &callback,
                &authorization,
                now,
            )
            .await
            .map_err(refused)?;
        let mut attributes = BTreeMap::new();
        let mut put = |name: &str, v: &Option<String>| {
            if let Some(v) = v {
                attributes.insert(name.to_owned(), vec![v.clone()]);
            }
        };
        put("sub", &Some(identity.subject.clone()));
        put("email", &identity.email);
        put("given_name", &identity.given_name);
        put("family_name", &identity.family_name);
        let assertion = Assertion {
            subject: Some(identity.subject.clone()),
            attributes,
        };
        let sign_in = self.record_sign_in(id, &assertion).await?;
        Ok(OidcSignIn { sign_in, identity })
    }
}
