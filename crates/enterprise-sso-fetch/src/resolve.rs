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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[derive(Debug)]
    struct Fixed(Vec<IpAddr>);

    #[async_trait]
    impl Resolver for Fixed {
        async fn resolve(&self, _host: &str) -> io::Result<Vec<IpAddr>> {
            Ok(self.0.clone())
        }
    }

    fn check(addrs: &[&str], loopback: bool, exempt: bool) -> Result<Vec<IpAddr>, ResolveRefusal> {
        let inner = Fixed(addrs.iter().map(|a| a.parse().unwrap()).collect());
        let policy = Policy {
            allow_loopback_fetch: loopback,
        };
        block_on(CheckedResolver::check(&inner, &policy, exempt, "n.test"))
    }

    /// A minimal executor: the futures here never wait.
    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    /// Names resolving into every refused range are refused (pure: nothing connects).
    #[test]
    fn every_forbidden_range_in_an_answer_refuses_the_name() {
        for bad in [
            "10.0.0.1",
            "172.16.5.4",
            "192.168.0.1",
            "100.64.0.1",
            "169.254.169.254",
            "0.0.0.0",
            "224.0.0.251",
            "255.255.255.255",
            "192.0.2.10",
            "198.18.0.1",
            "240.0.0.1",
            "fd12::1",
            "fe80::1",
            "ff02::fb",
            "::",
            "2001:db8::1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a00:1",
            "2002:a9fe:a9fe::1",
            "2001:0:4136:e378:8000:63bf:f5ff:fffe",
        ] {
            for loopback in [false, true] {
                match check(&[bad], loopback, false) {
                    Err(ResolveRefusal::Forbidden(ip)) => {
                        assert_eq!(ip, bad.parse::<IpAddr>().unwrap())
                    }
                    other => panic!("{bad}: {other:?}"),
                }
            }
        }
        for lo in ["127.0.0.1", "::1", "::ffff:127.0.0.1"] {
            assert!(check(&[lo], false, false).is_err(), "{lo}");
            assert!(check(&[lo], true, false).is_ok(), "{lo} in test mode");
        }
    }

    /// One bad address among good ones refuses the whole name: the connector never gets
    /// to fall back to it.
    #[test]
    fn a_mixed_answer_is_refused_whole_and_an_empty_one_fails() {
        assert!(matches!(
            check(&["8.8.8.8", "10.0.0.1"], false, false),
            Err(ResolveRefusal::Forbidden(_))
        ));
        assert_eq!(
            check(&["8.8.8.8", "2606:4700::1"], false, false)
                .unwrap()
                .len(),
            2
        );
        assert!(matches!(
            check(&[], false, false),
            Err(ResolveRefusal::Failed(_))
        ));
        // The configured proxy's own name is exempt.
        assert!(check(&["10.0.0.1"], false, true).is_ok());
    }
}
