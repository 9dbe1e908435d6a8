//! Name resolution with the address rule applied to the answer, before any connection.

use std::fmt;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use async_trait::async_trait;
use enterprise_sso_protocol::limits::Policy;
use enterprise_sso_protocol::url_policy::ip_allowed;

/// Resolves a host name to addresses. The fetcher calls it for every new connection and
/// judges every address it returns; implement it to use another DNS client, or in tests to
/// map names to chosen addresses.
#[async_trait]
pub trait Resolver: Send + Sync + fmt::Debug {
    /// The addresses of `host` (a DNS name, never an IP literal).
    async fn resolve(&self, host: &str) -> io::Result<Vec<IpAddr>>;
}

/// The operating system's resolver (`getaddrinfo` on a blocking thread, through tokio).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemResolver;

#[async_trait]
impl Resolver for SystemResolver {
    async fn resolve(&self, host: &str) -> io::Result<Vec<IpAddr>> {
        Ok(tokio::net::lookup_host((host, 0))
            .await?
            .map(|a| a.ip())
            .collect())
    }
}

/// Why the checked resolver gave no address; found again in reqwest's error chain.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ResolveRefusal {
    /// An answer is an address the rule refuses.
    #[error("refused address {0}")]
    Forbidden(IpAddr),
    /// Resolution failed or found nothing.
    #[error("{0}")]
    Failed(io::Error),
}

/// The resolver reqwest's connector uses: the host's [`Resolver`], then the address rule.
/// A name with any refused address is refused whole (no fallback to its other addresses).
pub(crate) struct CheckedResolver {
    pub(crate) inner: Arc<dyn Resolver>,
    pub(crate) policy: Policy,
    /// The configured proxy's host (lower case), exempt: it is the operator's choice.
    pub(crate) exempt: Option<String>,
}

impl CheckedResolver {
    pub(crate) async fn check(
        inner: &dyn Resolver,
        policy: &Policy,
        exempt: bool,
        host: &str,
    ) -> Result<Vec<IpAddr>, ResolveRefusal> {
        let addrs = inner.resolve(host).await.map_err(ResolveRefusal::Failed)?;
        if addrs.is_empty() {
            return Err(ResolveRefusal::Failed(io::Error::new(
                io::ErrorKind::NotFound,
                "no address",
            )));
        }
        if !exempt {
            if let Some(bad) = addrs.iter().find(|a| !ip_allowed(**a, policy)) {
                return Err(ResolveRefusal::Forbidden(*bad));
            }
        }
        Ok(addrs)
    }
}

impl reqwest::dns::Resolve for CheckedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let inner = Arc::clone(&self.inner);
        let policy = self.policy.clone();
        let host = name.as_str().to_ascii_lowercase();
        let exempt = self.exempt.as_deref() == Some(host.as_str());
        Box::pin(async move {
            let addrs = Self::check(&*inner, &policy, exempt, &host).await?;
            // Port 0: the connector puts the URL's port (or the scheme's) in.
            let addrs: reqwest::dns::Addrs =
                Box::new(addrs.into_iter().map(|ip| SocketAddr::new(ip, 0)));
            Ok(addrs)
        })
    }
}
