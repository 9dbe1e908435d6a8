//! [`OidcSettings`]: the host's relying-party settings, the discovery documents and JWKS
//! caches shared by every sign-in of a provider.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use enterprise_sso::ConnectionId;
use enterprise_sso_protocol::oidc::rp::{
    JwksCache, OidcHttp, OidcRefusal, ProviderMetadata, RelyingParty,
};

use crate::pending::millis;

/// How long an authorization request may wait for its callback (ten minutes).
pub const DEFAULT_OIDC_REQUEST_TTL: Duration = Duration::from_secs(600);

/// How long a provider's discovery document is used before it is fetched again (fifteen
/// minutes): start and callback of a sign-in, and every other sign-in of the provider
/// meanwhile, use one fetch.
pub const DEFAULT_OIDC_METADATA_TTL: Duration = Duration::from_secs(900);

/// A discovery document read, and when.
struct CachedProvider {
    metadata: ProviderMetadata,
    fetched_at: i64,
}

/// The host's OIDC relying-party settings, shared by every connection: where callbacks
/// arrive (`{base}/{id}/callback`), the HTTP client, and the providers' JWKS caches.
pub struct OidcSettings {
    base_url: String,
    pub(super) http: Arc<dyn OidcHttp>,
    pub(super) request_ttl: Duration,
    metadata_ttl: Duration,
    /// By discovery URL.
    providers: Mutex<HashMap<String, CachedProvider>>,
    jwks: Mutex<HashMap<String, Arc<JwksCache>>>,
}

impl std::fmt::Debug for OidcSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcSettings")
            .field("base_url", &self.base_url)
            .field("http", &self.http)
            .field("request_ttl", &self.request_ttl)
            .field("metadata_ttl", &self.metadata_ttl)
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
            metadata_ttl: DEFAULT_OIDC_METADATA_TTL,
            providers: Mutex::new(HashMap::new()),
            jwks: Mutex::new(HashMap::new()),
        }
    }

    /// How long an authorization request may wait for its callback.
    pub fn request_ttl(mut self, ttl: Duration) -> Self {
        self.request_ttl = ttl;
        self
    }

    /// How long a discovery document is used before it is fetched again
    /// ([`DEFAULT_OIDC_METADATA_TTL`]; zero fetches it on every call).
    pub fn metadata_ttl(mut self, ttl: Duration) -> Self {
        self.metadata_ttl = ttl;
        self
    }

    /// The provider's metadata from `discovery_url`: the cached copy while younger than
    /// the TTL at `now`, otherwise fetched (and cached when read without a refusal).
    pub(super) async fn provider(
        &self,
        discovery_url: &str,
        policy: &enterprise_sso_protocol::limits::Policy,
        now: i64,
    ) -> std::result::Result<ProviderMetadata, OidcRefusal> {
        let ttl = millis(self.metadata_ttl);
        {
            let m = self.providers.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(c) = m.get(discovery_url) {
                // A clock that went back counts as expired.
                if now >= c.fetched_at && now.saturating_sub(c.fetched_at) < ttl {
                    return Ok(c.metadata.clone());
                }
            }
        }
        let metadata = RelyingParty::discover(self.http.as_ref(), discovery_url, policy).await?;
        if ttl > 0 {
            let mut m = self.providers.lock().unwrap_or_else(|e| e.into_inner());
            m.insert(
                discovery_url.to_owned(),
                CachedProvider {
                    metadata: metadata.clone(),
                    fetched_at: now,
                },
            );
        }
        Ok(metadata)
    }

    /// The redirect URI of a connection: `{base}/{id}/callback` (register it at the
    /// provider).
    pub fn redirect_uri(&self, id: &ConnectionId) -> String {
        format!("{}/{id}/callback", self.base_url)
    }

    pub(super) fn jwks_for(&self, rp: &RelyingParty) -> Arc<JwksCache> {
        let uri = rp.provider().discovery.jwks_uri.clone();
        let mut m = self.jwks.lock().unwrap_or_else(|e| e.into_inner());
        m.entry(uri)
            .or_insert_with(|| Arc::new(rp.new_jwks_cache()))
            .clone()
    }
}
