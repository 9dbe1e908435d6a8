//! Why a fetch or a build failed. Every variant names at most the URL's host: never its
//! path, query or credentials, nor a request or response body.

use std::net::IpAddr;
use std::time::Duration;

use enterprise_sso_protocol::url_policy::UrlError;

/// A boxed error source (reqwest's and rustls's errors, stripped of the URL).
type Source = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why a fetch failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    /// The URL (the first or a redirect target) is refused by the URL rule: not an absolute
    /// URL, spelled in a way parsers disagree on, too long, or carrying credentials.
    #[error("the URL is refused by the URL policy ({reason})")]
    InvalidUrl {
        /// The URL policy's reason.
        reason: UrlError,
    },
    /// Not `https` (plain `http` is allowed only to loopback, in test mode).
    #[error("{host}: only https URLs are fetched")]
    InsecureScheme {
        /// The URL's host.
        host: String,
    },
    /// The URL names a host that is never fetched (`localhost` in production mode).
    #[error("{host}: this host is never fetched")]
    ForbiddenHost {
        /// The URL's host.
        host: String,
    },
    /// The URL's IP literal, or an address its name resolved to, is loopback, private,
    /// link-local or another range the address rule refuses.
    #[error("{host}: refused address {addr}")]
    ForbiddenAddress {
        /// The URL's host.
        host: String,
        /// The refused address.
        addr: IpAddr,
    },
    /// The name could not be resolved (or resolved to no address).
    #[error("{host}: name resolution failed: {source}")]
    Resolve {
        /// The URL's host.
        host: String,
        /// The resolver's error.
        source: std::io::Error,
    },
    /// No TCP connection could be made.
    #[error("{host}: cannot connect: {source}")]
    Connect {
        /// The URL's host.
        host: String,
        /// The connector's error.
        source: Source,
    },
    /// The TLS handshake failed (an untrusted or mismatched certificate, among others).
    #[error("{host}: TLS failed: {source}")]
    Tls {
        /// The URL's host.
        host: String,
        /// rustls's error.
        source: Source,
    },
    /// The fetch did not finish within the connect or total timeout.
    #[error("{host}: timed out after {after:?}")]
    Timeout {
        /// The host of the first URL.
        host: String,
        /// The timeout that ran out.
        after: Duration,
    },
    /// More redirects than allowed.
    #[error("{host}: more than {max} redirects")]
    TooManyRedirects {
        /// The host that answered with one redirect too many.
        host: String,
        /// The limit.
        max: usize,
    },
    /// A redirect without a usable `Location`.
    #[error("{host}: a redirect ({status}) without a usable Location")]
    BadRedirect {
        /// The host that answered.
        host: String,
        /// The redirect status.
        status: u16,
    },
    /// A status other than 2xx (after redirects).
    #[error("{host}: HTTP status {status}")]
    Status {
        /// The host that answered.
        host: String,
        /// The status code.
        status: u16,
    },
    /// The body is longer than the cap.
    #[error("{host}: the body is longer than {max} bytes")]
    TooLarge {
        /// The host that answered.
        host: String,
        /// The cap.
        max: usize,
    },
    /// Any other HTTP-level failure (a malformed response, a connection closed mid-body).
    #[error("{host}: HTTP error: {source}")]
    Http {
        /// The URL's host.
        host: String,
        /// reqwest's error, without the URL.
        source: Source,
    },
}

impl FetchError {
    /// The host the error is about, when there is one.
    pub fn host(&self) -> Option<&str> {
        match self {
            Self::InvalidUrl { .. } => None,
            Self::InsecureScheme { host }
            | Self::ForbiddenHost { host }
            | Self::ForbiddenAddress { host, .. }
            | Self::Resolve { host, .. }
            | Self::Connect { host, .. }
            | Self::Tls { host, .. }
            | Self::Timeout { host, .. }
            | Self::TooManyRedirects { host, .. }
            | Self::BadRedirect { host, .. }
            | Self::Status { host, .. }
            | Self::TooLarge { host, .. }
            | Self::Http { host, .. } => Some(host),
        }
    }
}

/// Why a [`crate::Fetcher`] could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// The extra CA bundle has no certificate, or one that cannot be read.
    #[error("the extra CA bundle is not usable: {reason}")]
    InvalidCaBundle {
        /// What is wrong with it.
        reason: String,
    },
    /// No trusted root at all (no system CA store found and no extra bundle).
    #[error("no trusted CA certificates: the system store is empty or unreadable and no extra bundle was given")]
    NoTrustedRoots,
    /// The proxy URL is not usable.
    #[error("the proxy URL is not usable")]
    InvalidProxy,
    /// The TLS configuration could not be made.
    #[error("TLS configuration: {0}")]
    Tls(#[source] rustls::Error),
    /// The HTTP client could not be made.
    #[error("HTTP client: {0}")]
    Client(#[source] reqwest::Error),
}
