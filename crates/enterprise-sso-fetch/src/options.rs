//! What a [`crate::Fetcher`] is built from.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::resolve::{Resolver, SystemResolver};

/// The body cap: 1 MiB (the largest document the core accepts, SAML metadata).
pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;

/// The most redirects a GET follows (also the ceiling of [`FetchOptions::max_redirects`]).
pub const MAX_REDIRECTS: usize = 3;

/// Settings of a [`crate::Fetcher`]. [`FetchOptions::new`] is production mode; the only way
/// to loopback is [`FetchOptions::insecure_allow_loopback_for_tests`].
#[derive(Clone)]
pub struct FetchOptions {
    pub(crate) connect_timeout: Duration,
    pub(crate) total_timeout: Duration,
    pub(crate) max_body_bytes: usize,
    pub(crate) max_redirects: usize,
    pub(crate) system_roots: bool,
    pub(crate) extra_ca_pem: Option<Vec<u8>>,
    pub(crate) proxy: Option<String>,
    pub(crate) resolver: Arc<dyn Resolver>,
    pub(crate) allow_loopback: bool,
    pub(crate) user_agent: String,
}

impl fmt::Debug for FetchOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FetchOptions")
            .field("connect_timeout", &self.connect_timeout)
            .field("total_timeout", &self.total_timeout)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("max_redirects", &self.max_redirects)
            .field("system_roots", &self.system_roots)
            .field("extra_ca_pem", &self.extra_ca_pem.as_ref().map(Vec::len))
            .field("proxy", &self.proxy.as_ref().map(|_| "<set>"))
            .field("resolver", &self.resolver)
            .field("allow_loopback", &self.allow_loopback)
            .finish()
    }
}

impl Default for FetchOptions {
    fn default() -> Self {
        Self::new()
    }
}

impl FetchOptions {
    /// Production mode: `https` only, every forbidden address refused, connect timeout 5 s,
    /// total timeout 15 s, body cap [`DEFAULT_MAX_BODY_BYTES`], [`MAX_REDIRECTS`] redirects,
    /// the system's CA store, the system resolver, no proxy.
    pub fn new() -> Self {
        Self {
            connect_timeout: Duration::from_secs(5),
            total_timeout: Duration::from_secs(15),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            max_redirects: MAX_REDIRECTS,
            system_roots: true,
            extra_ca_pem: None,
            proxy: None,
            resolver: Arc::new(SystemResolver),
            allow_loopback: false,
            user_agent: concat!("enterprise-sso-fetch/", env!("CARGO_PKG_VERSION")).to_owned(),
        }
    }

    /// **TESTS ONLY. NEVER IN PRODUCTION.** Production mode, except that loopback
    /// addresses (`127.0.0.0/8`, `::1`, `localhost`) may be fetched, and over plain `http`
    /// too. Private, link-local and the other ranges stay refused. A fetcher built from
    /// this logs a warning.
    pub fn insecure_allow_loopback_for_tests() -> Self {
        Self {
            allow_loopback: true,
            ..Self::new()
        }
    }

    /// Longest wait for a TCP connection (each connection, each hop).
    #[must_use]
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Longest whole fetch: every redirect hop, connection, TLS handshake and the body.
    #[must_use]
    pub fn total_timeout(mut self, timeout: Duration) -> Self {
        self.total_timeout = timeout;
        self
    }

    /// The body cap, at most [`DEFAULT_MAX_BODY_BYTES`] (a larger value is lowered to it).
    #[must_use]
    pub fn max_body_bytes(mut self, max: usize) -> Self {
        self.max_body_bytes = max.min(DEFAULT_MAX_BODY_BYTES);
        self
    }

    /// How many redirects a GET follows, at most [`MAX_REDIRECTS`] (a larger value is
    /// lowered to it); 0 follows none.
    #[must_use]
    pub fn max_redirects(mut self, max: usize) -> Self {
        self.max_redirects = max.min(MAX_REDIRECTS);
        self
    }

    /// Trust these CA certificates (PEM, one or more `CERTIFICATE` blocks) in addition to
    /// the system's: for IdPs whose certificates a private CA issued.
    #[must_use]
    pub fn extra_ca_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.extra_ca_pem = Some(pem.into());
        self
    }

    /// Do not trust the system's CA store: only the [`FetchOptions::extra_ca_pem`] bundle.
    #[must_use]
    pub fn without_system_roots(mut self) -> Self {
        self.system_roots = false;
        self
    }

    /// Send every request through this proxy (`http://host:port`; `https` targets go
    /// through `CONNECT`). The environment's proxy variables are never read. Through a
    /// proxy, the proxy resolves target names: the fetcher still applies the URL rule
    /// (IP literals included) to every URL, but the address rule then applies only to the
    /// proxy's own address, so the proxy must refuse internal destinations itself. The
    /// proxy's host is exempt from the address rule (it is the operator's choice).
    #[must_use]
    pub fn proxy(mut self, url: impl Into<String>) -> Self {
        self.proxy = Some(url.into());
        self
    }

    /// Resolve names with `resolver` instead of the system's (for a host with its own
    /// DNS client, or tests). Its answers are still judged by the address rule.
    #[must_use]
    pub fn resolver(mut self, resolver: Arc<dyn Resolver>) -> Self {
        self.resolver = resolver;
        self
    }

    /// The `User-Agent` header (default `enterprise-sso-fetch/VERSION`).
    #[must_use]
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = user_agent.into();
        self
    }
}
