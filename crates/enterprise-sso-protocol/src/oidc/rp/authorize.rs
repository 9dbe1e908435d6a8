//! The authorization request (OIDC Core §3.1.2.1) and the record the caller keeps until
//! the callback.

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::refusal::OidcRefusal;
use super::RelyingParty;
use crate::secret::{CsrfState, Nonce, PkceCodeVerifier};

/// How many random bytes [`RelyingParty::authorization_request`] takes: 16 for `state`,
/// 16 for `nonce` (128 bits each) and 32 for the PKCE verifier.
pub const AUTHORIZATION_RANDOM_BYTES: usize = 64;

/// The scopes always requested.
pub const BASE_SCOPES: [&str; 3] = ["openid", "email", "profile"];

/// Options of one authorization request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthorizationOptions {
    /// `login_hint`: the address the user typed, so the provider can skip its own prompt.
    pub login_hint: Option<String>,
    /// `domain_hint` (Entra ID): the user's domain, to go straight to its federated IdP.
    pub domain_hint: Option<String>,
}

/// What [`RelyingParty::authorization_request`] returns: where to send the browser, and
/// what to keep until the callback. `Debug` shows the URL without its query (which holds
/// the `state` and `nonce`).
#[derive(Clone)]
pub struct AuthorizationRequest {
    /// The authorization URL (send the browser there with a 302 or 303).
    pub url: String,
    /// The `state` sent: the key under which the caller keeps [`Self::pending`] (hash it
    /// for the store), and takes it, exactly once, when the callback arrives.
    pub state: CsrfState,
    /// The record to keep under `state`.
    pub pending: PendingAuthorization,
}

/// What the callback needs from the request that started the flow: kept by the caller
/// under the request's `state`, taken once. [`Self::to_payload`] and
/// [`Self::from_payload`] give it a stable byte form for a store.
#[derive(Debug, Clone)]
pub struct PendingAuthorization {
    /// The `nonce` sent; the ID token must carry it.
    pub nonce: Nonce,
    /// The PKCE verifier whose S256 challenge was sent; the token request sends it.
    pub pkce_verifier: PkceCodeVerifier,
    /// The redirect URI sent (the token request repeats it).
    pub redirect_uri: String,
    /// When the request was made, Unix ms.
    pub created_at_ms: i64,
}

impl std::fmt::Debug for AuthorizationRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let endpoint = self.url.split('?').next().unwrap_or_default();
        f.debug_struct("AuthorizationRequest")
            .field("url", &format_args!("{endpoint}?[redacted]"))
            .field("state", &self.state)
            .field("pending", &self.pending)
            .finish()
    }
}

#[derive(Serialize, Deserialize)]
struct Payload {
    v: u8,
    nonce: String,
    pkce: String,
    redirect_uri: String,
    created_at_ms: i64,
}

impl PendingAuthorization {
    /// The record as bytes for a store (JSON; it holds the PKCE verifier, so the buffer
    /// is zeroized when dropped).
    pub fn to_payload(&self) -> Zeroizing<Vec<u8>> {
        let p = Zeroizing::new(Payload {
            v: 1,
            nonce: self.nonce.expose_secret().to_owned(),
            pkce: self.pkce_verifier.expose_secret().to_owned(),
            redirect_uri: self.redirect_uri.clone(),
            created_at_ms: self.created_at_ms,
        });
        // Serialising a struct of strings and integers cannot fail.
        Zeroizing::new(serde_json::to_vec(&*p).unwrap_or_default())
    }

    /// The record from [`Self::to_payload`]'s bytes.
    pub fn from_payload(bytes: &[u8]) -> Result<Self, OidcRefusal> {
        let p: Payload = serde_json::from_slice(bytes).map_err(|_| OidcRefusal::PendingInvalid)?;
        let p = Zeroizing::new(p);
        if p.v != 1 || p.nonce.is_empty() || p.pkce.len() < 43 {
            return Err(OidcRefusal::PendingInvalid);
        }
        Ok(Self {
            nonce: Nonce::new(p.nonce.as_str()),
            pkce_verifier: PkceCodeVerifier::new(p.pkce.as_str()),
            redirect_uri: p.redirect_uri.clone(),
            created_at_ms: p.created_at_ms,
        })
    }
}

impl zeroize::Zeroize for Payload {
    fn zeroize(&mut self) {
        self.nonce.zeroize();
        self.pkce.zeroize();
    }
}

impl RelyingParty {
    /// The authorization request: `response_type=code`, scopes `openid email profile` and
    /// the connection's, `state` and `nonce` (128 bits each) and a PKCE S256 challenge (for
    /// confidential clients too, as RFC 9700 §2.1.1 advises) from the caller's `random`
    /// bytes (16 + 16 + 32, from a CSPRNG), `login_hint` / `domain_hint` when given.
    pub fn authorization_request(
        &self,
        random: &[u8; AUTHORIZATION_RANDOM_BYTES],
        options: &AuthorizationOptions,
        now_ms: i64,
    ) -> Result<AuthorizationRequest, OidcRefusal> {
        if random.iter().all(|b| *b == random[0]) {
            return Err(OidcRefusal::WeakRandomness);
        }
        let mut s = [0u8; 16];
        let mut n = [0u8; 16];
        let mut v = [0u8; 32];
        s.copy_from_slice(&random[..16]);
        n.copy_from_slice(&random[16..32]);
        v.copy_from_slice(&random[32..]);
        let state = CsrfState::from_random(s);
        let nonce = Nonce::from_random(n);
        let pkce_verifier = PkceCodeVerifier::from_random(v);
        zeroize::Zeroize::zeroize(&mut v);

        let mut url =
            url::Url::parse(&self.provider.discovery.authorization_endpoint).map_err(|_| {
                OidcRefusal::Config {
                    problem: "the authorization endpoint is not a URL".into(),
                }
            })?;
        let mut scopes: Vec<&str> = BASE_SCOPES.to_vec();
        for extra in self.client.extra_scopes.iter().flat_map(|s| s.split(' ')) {
            if !extra.is_empty() && !scopes.contains(&extra) {
                scopes.push(extra);
            }
        }
        let challenge = pkce_verifier.s256_challenge();
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("response_type", "code")
                .append_pair("client_id", &self.client.client_id)
                .append_pair("redirect_uri", &self.client.redirect_uri)
                .append_pair("scope", &scopes.join(" "))
                .append_pair("state", state.expose_secret())
                .append_pair("nonce", nonce.expose_secret())
                .append_pair("code_challenge", &challenge)
                .append_pair("code_challenge_method", "S256");
            if let Some(h) = options.login_hint.as_deref().filter(|h| !h.is_empty()) {
                q.append_pair("login_hint", h);
            }
            if let Some(h) = options.domain_hint.as_deref().filter(|h| !h.is_empty()) {
                q.append_pair("domain_hint", h);
            }
        }
        Ok(AuthorizationRequest {
            url: url.into(),
            state,
            pending: PendingAuthorization {
                nonce,
                pkce_verifier,
                redirect_uri: self.client.redirect_uri.clone(),
                created_at_ms: now_ms,
            },
        })
    }
}
